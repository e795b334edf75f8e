import { EventEmitter } from 'node:events';
import type { AxiosResponse } from 'axios';
import { catalogText, CodedError } from '../coded-error';
import { installProfile, removeProfile, toPlist, type MdmCommand } from './commands';
import { BearerSession, type BearerToken } from './bearer-session';
import { noteErase } from './enrolment';
import type { AssignedUser, DeviceFacts, Enrolment, EraseFacts, MdmAdapter, PerformOptions } from './mdm-adapter';
import { MdmHttp, type MdmRequest } from './mdm-http';
import { PolledEnrolments } from './polled-enrolments';
import { Lanes, pollUntil, type PollOptions } from './polling';
import { APP_LOCK_IDENTIFIER, appLockProfile } from './profiles';

export interface WorkspaceOneOptions {
  /** The UEM API host, e.g. https://as1831.awmdm.com. */
  url: string;
  /** The tenant's API key, sent as `aw-tenant-code` with every request. */
  tenantCode: string;
  /** OAuth client credentials at the region's token URL (preferred), or basic auth. */
  tokenUrl?: string;
  clientId?: string;
  clientSecret?: string;
  username?: string;
  password?: string;
  maxConcurrent: number;
  timeout: number;
  /** How often a sent command's state and a device's enrolment are read back, ms. */
  pollInterval?: number;
}

/** The fields of the UEM `Device` this package reads (`GET /api/mdm/devices?searchby=Udid`). */
interface Ws1Device {
  Uuid: string;
  Udid?: string;
  SerialNumber?: string;
  OperatingSystem?: string;
  IsActivationLockEnabled?: boolean;
  IsSupervised?: boolean;
  DeviceFriendlyName?: string;
  /** e.g. "85%". */
  BatteryLevel?: string;
  LastEnrolledOn?: string;
}

/** One item of a device's command queue (`DeviceCommandQueueResponse`). */
interface QueueItem {
  CommandName: string;
  LastStatus: string;
  TransactionUuid: string;
}

/** What a sent command is, as UEM names it in the queue, and the request that sends it. */
interface Ws1Call {
  name: string;
  request: MdmRequest;
}

const V1 = 'application/json;version=1';
const V2 = 'application/json;version=2';
/** Queue statuses that end a command (anything else, Queued, Pending, NotNow, is still on its way). */
const DONE = new Set(['Completed', 'Acknowledged']);
const FAILED = new Set(['Error', 'Failed', 'CommandFormatError']);

/**
 * Workspace ONE UEM: OAuth client credentials (or basic auth) with the tenant code on every
 * request; devices found by UDID; UEM's own commands where it has them (DeviceWipe with Apple's
 * erase options, ClearPasscode with the unlock token UEM keeps, Lost Mode, DeviceQuery) and
 * Apple's command plist as a CustomMdmCommand for the rest; each command followed in the
 * device's command queue until the phone acknowledged it or failed. One command at a time per
 * phone, so the queue item is told apart from the ones before.
 *
 * Events: `token-update` (Enrolment) when reading finds a device enrolled again after an erase.
 */
export class WorkspaceOne extends EventEmitter implements MdmAdapter {
  readonly vendor = 'workspace-one';
  readonly http: MdmHttp;
  private readonly session?: BearerSession;
  private readonly devices = new Map<string, Ws1Device>();
  private readonly enrolments: PolledEnrolments;
  private readonly lanes = new Lanes();
  private closed = false;

  constructor(private readonly options: WorkspaceOneOptions) {
    super();
    this.setMaxListeners(0); // every action node of every fleet on this MDM listens
    if (!options.tenantCode) throw new CodedError('INVALID_CONFIG', catalogText('mdm-server.errors.ws1-tenant'));
    const oauth = Boolean(options.clientId && options.clientSecret);
    if (!oauth && !(options.username && options.password)) throw new CodedError('INVALID_CONFIG', catalogText('mdm-server.errors.ws1-login'));
    if (oauth && !/^https?:\/\/\S+$/.test(options.tokenUrl ?? '')) throw new CodedError('INVALID_CONFIG', catalogText('mdm-server.errors.ws1-token-url'));
    this.http = new MdmHttp({ baseURL: options.url, maxConcurrent: options.maxConcurrent, timeout: options.timeout });
    if (oauth) this.session = new BearerSession(() => this.fetchToken());
    this.enrolments = new PolledEnrolments(
      this,
      (udid) => this.enrolledAt(udid),
      options.pollInterval ?? 2000,
      () => this.closed,
    );
  }

  async perform(udid: string, command: MdmCommand, options: PerformOptions): Promise<Record<string, unknown>> {
    const c = command.Command;
    if (c.RequestType === 'DeviceLocation') throw new CodedError('UNSUPPORTED', catalogText('mdm-server.errors.ws1-no-location'));
    if (c.RequestType === 'DeviceInformation') return this.query(udid, c.Queries as string[], options);
    const device = await this.device(udid);
    const sentAt = Date.now();
    await this.send(udid, this.callFor(device, command), options);
    if (c.RequestType === 'EraseDevice') {
      noteErase(this.enrolments.of(udid), command, sentAt);
      this.devices.delete(udid); // enrolled again, it may be a new record
    }
    return {};
  }

  /** UEM keeps the unlock token and sends ClearPasscode with it itself. */
  async unlockToken(): Promise<Buffer | undefined> {
    return undefined;
  }

  async clearPasscode(udid: string, options: PerformOptions): Promise<void> {
    await this.send(udid, byAlternateId(udid, 'ClearPasscode'), options);
  }

  async setAppLock(udid: string, bundleId: string | undefined, options: PerformOptions): Promise<void> {
    await this.perform(udid, bundleId ? installProfile(appLockProfile(bundleId)) : removeProfile(APP_LOCK_IDENTIFIER), options);
  }

  /** UEM's enrolment user stays as enrolled: the locker app's configuration names who has the phone. */
  async assignUser(_udid: string, _user: AssignedUser | undefined): Promise<void> {}

  /** From UEM's inventory, as of the phone's last sample. */
  async readDevice(udid: string): Promise<DeviceFacts> {
    const device = await this.lookUp(udid);
    const battery = Number.parseFloat(device.BatteryLevel ?? '');
    return { ...(Number.isFinite(battery) && { battery: battery / 100 }), ...(device.SerialNumber && { serial: device.SerialNumber }) };
  }

  async readEraseFacts(udid: string): Promise<EraseFacts> {
    const { OperatingSystem: osVersion, IsActivationLockEnabled: activationLock } = await this.lookUp(udid);
    return { ...(osVersion && { osVersion }), ...(typeof activationLock === 'boolean' && { activationLock }) };
  }

  async deleteDevice(udid: string): Promise<void> {
    await this.api({ method: 'DELETE', url: '/api/mdm/devices', params: { searchby: 'Udid', id: udid }, headers: { accept: V1 } });
    this.devices.delete(udid);
  }

  /** Logs in and looks a device up: a 404 for a UDID nobody has means every part of the login works. */
  async checkConnection(): Promise<void> {
    const { status, data } = await this.api<{ message?: string }>({
      method: 'GET',
      url: '/api/mdm/devices',
      params: { searchby: 'Udid', id: 'device-checkout-connection-test' },
      headers: { accept: V1 },
      accept: [401, 403, 404],
    });
    const said = String(data?.message ?? '');
    if (status === 401) throw new CodedError('MDM_AUTH', catalogText('mdm-server.errors.ws1-login-refused', { message: said }), { status });
    if (status === 403) throw new CodedError('MDM_AUTH', catalogText('mdm-server.errors.ws1-forbidden', { message: said }), { status });
  }

  /** What we know of the phone's enrolment; after an erase, reading its record until it enrolled again. */
  enrolment(udid: string): Enrolment | undefined {
    return this.enrolments.get(udid);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** How UEM takes `command`: its own command where it has one, else Apple's plist as a custom command. */
  private callFor(device: Ws1Device, command: MdmCommand): Ws1Call {
    const c = command.Command;
    const lostMode = (on: boolean, body?: object): Ws1Call => ({
      name: on ? 'EnableLostMode' : 'DisableLostMode',
      request: { method: 'PUT', url: `/api/mdm/devices/${device.Uuid}/lostmode/${on}`, data: body ?? {}, headers: { accept: V1 } },
    });
    switch (c.RequestType) {
      case 'EraseDevice':
        if (c.ReturnToService) break; // UEM's DeviceWipe takes Return to Service by a UEM profile id, not the profile itself
        return {
          name: 'DeviceWipe',
          request: {
            method: 'POST',
            url: `/api/mdm/devices/${device.Uuid}/commands/DeviceWipe`,
            data: {
              deviceWipe: { wipeType: 'WIPE', preserveDataPlan: c.PreserveDataPlan === true, disallowProximitySetup: c.DisallowProximitySetup === true },
            },
            headers: { accept: V2, 'content-type': 'application/json' },
            destructive: true,
          },
        };
      case 'EnableLostMode':
        return lostMode(true, { message: c.Message, phone_number: c.PhoneNumber, footnote: c.Footnote });
      case 'DisableLostMode':
        return lostMode(false);
    }
    const call = byAlternateId(device.Udid ?? '', 'CustomMdmCommand', { CommandXml: commandXml(command) });
    return { ...call, request: { ...call.request, destructive: c.RequestType === 'EraseDevice' } };
  }

  /** DeviceQuery (the phone reports to UEM), then what UEM's inventory says, as the phone's QueryResponses. */
  private async query(udid: string, queries: string[], options: PerformOptions): Promise<Record<string, unknown>> {
    await this.send(udid, byAlternateId(udid, 'DeviceQuery'), options);
    const device = await this.lookUp(udid);
    const battery = Number.parseFloat(device.BatteryLevel ?? '');
    const known: Record<string, unknown> = {
      UDID: device.Udid,
      SerialNumber: device.SerialNumber,
      OSVersion: device.OperatingSystem,
      IsSupervised: device.IsSupervised,
      IsActivationLockEnabled: device.IsActivationLockEnabled,
      DeviceName: device.DeviceFriendlyName,
      ...(Number.isFinite(battery) && { BatteryLevel: battery / 100 }),
    };
    return { QueryResponses: Object.fromEntries(queries.filter((q) => known[q] !== undefined).map((q) => [q, known[q]])) };
  }

  /** Sends `call` once the phone's last command is done, and follows it in the queue until it is done too. */
  private send(udid: string, call: Ws1Call, { timeout, signal }: PerformOptions): Promise<void> {
    return this.lanes.run(udid, async () => {
      const deadline = Date.now() + timeout;
      const { Uuid } = await this.device(udid);
      const before = new Set((await this.queue(Uuid)).map((item) => item.TransactionUuid));
      await this.api(call.request);
      await pollUntil(
        async () => {
          const item = (await this.queue(Uuid)).find((i) => i.CommandName === call.name && !before.has(i.TransactionUuid));
          if (item && FAILED.has(item.LastStatus))
            throw new CodedError('DEVICE_ERROR', catalogText('mdm-server.errors.ws1-device-error', { udid, command: call.name, status: item.LastStatus }));
          return item && DONE.has(item.LastStatus) ? true : undefined;
        },
        this.polling(
          deadline,
          signal,
          () =>
            new CodedError('DEVICE_TIMEOUT', catalogText('mdm-server.errors.ws1-no-answer', { udid, command: call.name, seconds: Math.round(timeout / 1000) })),
        ),
      );
    });
  }

  private async queue(uuid: string): Promise<QueueItem[]> {
    const { data } = await this.api<{ items?: QueueItem[] }>({ method: 'GET', url: `/api/mdm/devices/${uuid}/commands`, headers: { accept: V1 } });
    return data?.items ?? [];
  }

  private polling(deadline: number, signal: AbortSignal | undefined, timedOut: () => Error): PollOptions {
    return { deadline, interval: this.options.pollInterval ?? 2000, signal, closed: () => this.closed, timedOut };
  }

  /** The phone's record, known or looked up. */
  private async device(udid: string): Promise<Ws1Device> {
    return this.devices.get(udid) ?? this.lookUp(udid);
  }

  /** The phone's record as UEM has it now. */
  private async lookUp(udid: string): Promise<Ws1Device> {
    const found = await this.api<Ws1Device>({ method: 'GET', url: '/api/mdm/devices', params: { searchby: 'Udid', id: udid }, headers: { accept: V1 } }).catch(
      (err: CodedError) => {
        if ((err.details as { status?: number }).status === 404) throw new CodedError('DEVICE_UNKNOWN', catalogText('mdm-server.errors.ws1-unknown', { udid }));
        throw err;
      },
    );
    const device = found.data;
    if (!device?.Uuid) throw new CodedError('MDM_PROTOCOL', catalogText('mdm-server.errors.ws1-no-device-id', { udid }));
    this.devices.set(udid, device);
    if (device.SerialNumber) this.enrolments.of(udid).serial = device.SerialNumber;
    return device;
  }

  /** When UEM says the phone last enrolled. */
  private async enrolledAt(udid: string): Promise<{ at: number; serial?: string } | undefined> {
    const device = await this.lookUp(udid);
    const at = device.LastEnrolledOn ? Date.parse(device.LastEnrolledOn) : NaN;
    return Number.isFinite(at) ? { at, serial: device.SerialNumber } : undefined;
  }

  /** Every request carries the tenant code, and the bearer token or basic auth. */
  private api<T>(request: MdmRequest): Promise<AxiosResponse<T>> {
    const withTenant = { ...request, headers: { ...request.headers, 'aw-tenant-code': this.options.tenantCode } };
    if (this.session) return this.session.request<T>(this.http, withTenant);
    return this.http.request<T>({ ...withTenant, auth: { username: this.options.username!, password: this.options.password! } });
  }

  private async fetchToken(): Promise<BearerToken> {
    const { tokenUrl, clientId, clientSecret } = this.options;
    const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId!, client_secret: clientSecret! });
    const { status, data } = await this.http.request<{ access_token?: string; expires_in?: number; error?: string }>({
      method: 'POST',
      url: tokenUrl,
      data: form.toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      accept: [400, 401],
    });
    // OAuth answers a wrong client id or secret with 400 or 401 and `invalid_client`.
    if (status === 400 || status === 401)
      throw new CodedError(
        data?.error === 'invalid_client' || data?.error === 'unauthorized_client' || status === 401 ? 'MDM_AUTH' : 'MDM_REJECTED',
        catalogText('mdm-server.errors.ws1-token-refused', { status, error: String(data?.error ?? '') }),
        { status },
      );
    if (!data?.access_token) throw new CodedError('MDM_PROTOCOL', catalogText('mdm-server.errors.ws1-no-token'));
    return { value: data.access_token, expiresAt: Date.now() + (data.expires_in ?? 3600) * 1000 };
  }
}

/** A UEM command for the phone found by its UDID (`POST /api/mdm/devices/commands`), with a body for a custom command. */
function byAlternateId(udid: string, command: string, body?: object): Ws1Call {
  return {
    name: command,
    request: {
      method: 'POST',
      url: '/api/mdm/devices/commands',
      params: { command, searchby: 'Udid', id: udid },
      data: body ?? {},
      headers: { accept: V1, 'content-type': 'application/json' },
    },
  };
}

/** Apple's command dictionary as UEM's CommandXml takes it: the `<dict>` alone, without the plist document around it. */
function commandXml(command: MdmCommand): string {
  const document = toPlist(command.Command);
  return /<plist[^>]*>\s*([\s\S]*?)\s*<\/plist>/.exec(document)?.[1] ?? document;
}
