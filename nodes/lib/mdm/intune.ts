import { EventEmitter } from 'node:events';
import type { AxiosResponse } from 'axios';
import { catalogText, CodedError } from '../coded-error';
import type { MdmCommand } from './commands';
import { BearerSession, type BearerToken } from './bearer-session';
import { noteErase } from './enrolment';
import type { AssignedUser, DeviceFacts, Enrolment, EraseFacts, MdmAdapter, PerformOptions } from './mdm-adapter';
import { MdmHttp, type MdmRequest } from './mdm-http';
import { PolledEnrolments } from './polled-enrolments';
import { Lanes, pollUntil } from './polling';

export interface IntuneOptions {
  /** Microsoft Graph, e.g. https://graph.microsoft.com (a national cloud has its own). */
  url: string;
  /** The Entra ID authority, e.g. https://login.microsoftonline.com. */
  tokenUrl: string;
  /** The tenant's id (a GUID) or one of its domains. */
  tenantId: string;
  clientId: string;
  clientSecret: string;
  /** Entra ID group ids: the admin assigns the locker app's configuration to both and App Lock (a kiosk profile) to the locked one. */
  checkedOutGroup?: string;
  lockedGroup?: string;
  maxConcurrent: number;
  timeout: number;
  /** How often an action's state and a device's record are read back, ms. */
  pollInterval?: number;
}

/** One entry of a managed device's `deviceActionResults` (and `locateDeviceActionResult`'s location). */
interface ActionResult {
  actionName: string;
  actionState: string;
  startDateTime: string;
  deviceLocation?: { latitude?: number; longitude?: number; horizontalAccuracy?: number; lastCollectedDateTime?: string };
}

/** The fields of Graph's `managedDevice` (beta) this package reads. */
interface ManagedDevice {
  id: string;
  udid?: string;
  serialNumber?: string;
  deviceName?: string;
  osVersion?: string;
  isSupervised?: boolean;
  azureADDeviceId?: string;
  enrolledDateTime?: string;
  lastSyncDateTime?: string;
  deviceActionResults?: ActionResult[];
  hardwareInformation?: { batteryLevelPercentage?: number };
}

/** A Graph action on one device: its path under the managed device, and whether it is only in beta. */
interface GraphAction {
  name: string;
  beta?: boolean;
  body?: object;
  destructive?: boolean;
}

const DEVICE_FIELDS = 'id,udid,serialNumber,deviceName,osVersion,isSupervised,azureADDeviceId,enrolledDateTime,lastSyncDateTime';
const DONE = 'done';
const FAILED = new Set(['failed', 'canceled', 'notSupported']);
/** The Graph permissions (application) this adapter needs, said when one is missing. */
const PERMISSIONS =
  'DeviceManagementManagedDevices.ReadWrite.All, DeviceManagementManagedDevices.PrivilegedOperations.All, GroupMember.ReadWrite.All, Device.Read.All, User.Read.All';
/** Entra ID's AADSTS codes for what an admin can fix, by the field to look at. */
const TOKEN_PROBLEMS: Record<number, string> = {
  90002: 'tenant',
  900023: 'tenant',
  700016: 'client',
  7000215: 'secret',
  7000222: 'secret',
};

/**
 * Microsoft Intune through Microsoft Graph: an app registration's client credentials (token
 * renewed before it expires), iOS devices found by UDID in the paged device list, Graph's device
 * actions where it has them (wipe, resetPasscode, setDeviceName, Lost Mode, locate, play sound,
 * sync, reboot), each followed in the device's action results until done. What Intune does not do per
 * device on demand (App Lock, the locker app's configuration) follows the device's Entra ID
 * group: it is moved between the admin's "checked out" and "locked" groups, asked to sync, and
 * waited for until it synced since. Anything else is UNSUPPORTED, saying what to set up in Intune.
 *
 * Events: `token-update` (Enrolment) when reading finds a device enrolled again after a wipe.
 */
export class Intune extends EventEmitter implements MdmAdapter {
  readonly vendor = 'intune';
  readonly http: MdmHttp;
  private readonly session = new BearerSession(() => this.fetchToken());
  /** Managed device id by UDID, as last listed. */
  private readonly ids = new Map<string, string>();
  private listing?: Promise<void>;
  private readonly enrolments: PolledEnrolments;
  private readonly lanes = new Lanes();
  private closed = false;

  constructor(private readonly options: IntuneOptions) {
    super();
    this.setMaxListeners(0); // every action node of every fleet on this MDM listens
    if (!/^[\w.-]+$/.test(options.tenantId)) throw new CodedError('INVALID_CONFIG', catalogText('mdm-server.errors.intune-tenant'));
    if (!options.clientId || !options.clientSecret) throw new CodedError('INVALID_CONFIG', catalogText('mdm-server.errors.intune-login'));
    if (!/^https?:\/\/\S+$/.test(options.tokenUrl)) throw new CodedError('INVALID_CONFIG', catalogText('mdm-server.errors.intune-token-url'));
    for (const group of [options.checkedOutGroup, options.lockedGroup])
      if (group && !/^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$/i.test(group))
        throw new CodedError('INVALID_CONFIG', catalogText('mdm-server.errors.intune-group-id', { group }));
    if (Boolean(options.checkedOutGroup) !== Boolean(options.lockedGroup))
      throw new CodedError('INVALID_CONFIG', catalogText('mdm-server.errors.intune-groups'));
    this.http = new MdmHttp({ baseURL: options.url, maxConcurrent: options.maxConcurrent, timeout: options.timeout });
    this.enrolments = new PolledEnrolments(
      this,
      (udid) => this.enrolledAt(udid),
      this.interval,
      () => this.closed,
    );
  }

  async perform(udid: string, command: MdmCommand, options: PerformOptions): Promise<Record<string, unknown>> {
    const c = command.Command;
    if (c.RequestType === 'DeviceInformation') return this.query(udid, c.Queries as string[], options);
    const action = actionFor(command);
    const sentAt = Date.now();
    const result = await this.act(udid, action, options);
    if (c.RequestType === 'EraseDevice') {
      noteErase(this.enrolments.of(udid), command, sentAt);
      this.ids.delete(udid); // a wipe removes the record; enrolled again, the phone has a new one
    }
    const where = result?.deviceLocation;
    if (c.RequestType !== 'DeviceLocation') return {};
    if (where?.latitude === undefined || where.longitude === undefined)
      throw new CodedError('DEVICE_ERROR', catalogText('mdm-server.errors.intune-no-location', { udid }));
    return { Latitude: where.latitude, Longitude: where.longitude, HorizontalAccuracy: where.horizontalAccuracy ?? -1, Timestamp: where.lastCollectedDateTime };
  }

  /** Intune keeps the unlock token and clears the passcode itself. */
  async unlockToken(): Promise<Buffer | undefined> {
    return undefined;
  }

  async clearPasscode(udid: string, options: PerformOptions): Promise<void> {
    await this.act(udid, { name: 'resetPasscode' }, options);
  }

  /**
   * App Lock by group: locked, the phone joins the locked group (its kiosk profile) and leaves the
   * checked-out one; unlocked, the other way round. Then it is asked to sync, and waited for.
   */
  async setAppLock(udid: string, bundleId: string | undefined, options: PerformOptions): Promise<void> {
    const { checkedOutGroup, lockedGroup } = this.groups('app-lock');
    const [join, leave] = bundleId ? [lockedGroup, checkedOutGroup] : [checkedOutGroup, lockedGroup];
    await this.lanes.run(udid, async () => {
      const member = await this.directoryObject(udid);
      const ref = { '@odata.id': `${this.options.url}/v1.0/directoryObjects/${member}` };
      // Already a member: 400 "already exist"; not one: 404. Either way the phone is where it should be.
      const added = await this.api<GraphError>({ method: 'POST', url: `/v1.0/groups/${join}/members/$ref`, data: ref, accept: [400] });
      if (added.status === 400 && !/already exist/i.test(added.data?.error?.message ?? ''))
        throw new CodedError('MDM_REJECTED', catalogText('mdm-server.errors.answered-with', { status: 400, body: added.data?.error?.message ?? '' }));
      await this.api({ method: 'DELETE', url: `/v1.0/groups/${leave}/members/${member}/$ref`, accept: [404] });
      await this.synced(udid, options);
    });
  }

  /** The locker app's configuration is the app configuration policy of the phone's group, its user the phone's primary user. */
  async configureApp(): Promise<void> {
    this.groups('app-config');
  }

  /**
   * The phone's primary user: the Entra ID user with her user name as UPN or on-premises account
   * name (the app configuration's user tokens then name her). Nobody found: no primary user.
   */
  async assignUser(udid: string, user: AssignedUser | undefined): Promise<void> {
    const device = await this.device(udid);
    const users = `/beta/deviceManagement/managedDevices/${device.id}/users/$ref`;
    const id = user && (await this.entraUser(user.id));
    if (!id) return void (await this.api({ method: 'DELETE', url: users, accept: [404] }));
    await this.api({ method: 'POST', url: users, data: { '@odata.id': `${this.options.url}/beta/users/${id}` } });
  }

  /** From Intune's inventory, as of the phone's last sync. */
  async readDevice(udid: string): Promise<DeviceFacts> {
    const device = await this.record(udid, 'hardwareInformation');
    const battery = device.hardwareInformation?.batteryLevelPercentage;
    return { ...(typeof battery === 'number' && { battery: battery / 100 }), ...(device.serialNumber && { serial: device.serialNumber }) };
  }

  /** Graph reports no Activation Lock state: only the version. */
  async readEraseFacts(udid: string): Promise<EraseFacts> {
    const { osVersion } = await this.record(udid);
    return osVersion ? { osVersion } : {};
  }

  async deleteDevice(udid: string): Promise<void> {
    const device = await this.device(udid);
    await this.api({ method: 'DELETE', url: `/v1.0/deviceManagement/managedDevices/${device.id}` });
    this.ids.delete(udid);
  }

  /** Logs in, lists one device, and reads the two groups: each says what is wrong with it. */
  async checkConnection(): Promise<void> {
    const listed = await this.api<GraphError>({
      method: 'GET',
      url: '/v1.0/deviceManagement/managedDevices',
      params: { $top: 1, $select: 'id' },
      accept: [403],
    });
    if (listed.status === 403)
      throw new CodedError(
        'MDM_AUTH',
        catalogText('mdm-server.errors.intune-forbidden', { message: listed.data?.error?.message ?? '', permissions: PERMISSIONS }),
      );
    for (const group of [this.options.checkedOutGroup, this.options.lockedGroup]) {
      if (!group) continue;
      const read = await this.api<GraphError>({ method: 'GET', url: `/v1.0/groups/${group}`, params: { $select: 'id' }, accept: [403, 404] });
      if (read.status === 404) throw new CodedError('INVALID_CONFIG', catalogText('mdm-server.errors.intune-no-group', { group }));
      if (read.status === 403)
        throw new CodedError(
          'MDM_AUTH',
          catalogText('mdm-server.errors.intune-forbidden', { message: read.data?.error?.message ?? '', permissions: PERMISSIONS }),
        );
    }
  }

  /** What we know of the phone's enrolment; after a wipe, reading the device list until it enrolled again. */
  enrolment(udid: string): Enrolment | undefined {
    return this.enrolments.get(udid);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private get interval(): number {
    return this.options.pollInterval ?? 2000;
  }

  /** Both groups, or UNSUPPORTED saying what to set up for `what`. */
  private groups(what: 'app-lock' | 'app-config'): { checkedOutGroup: string; lockedGroup: string } {
    const { checkedOutGroup, lockedGroup } = this.options;
    if (!checkedOutGroup || !lockedGroup) throw new CodedError('UNSUPPORTED', catalogText(`mdm-server.errors.intune-no-groups-${what}`));
    return { checkedOutGroup, lockedGroup };
  }

  /**
   * Sends `action` once the phone's last one is done, and reads the phone's action results until
   * this one is: a new entry of its name, `done` (or, for a wipe, the record gone with it).
   */
  private act(udid: string, action: GraphAction, { timeout, signal }: PerformOptions): Promise<ActionResult | undefined> {
    return this.lanes.run(udid, async () => {
      const deadline = Date.now() + timeout;
      const wipe = action.name === 'wipe';
      const { id } = await this.device(udid);
      const results = async () => (await this.record(udid, 'deviceActionResults', wipe)).deviceActionResults ?? [];
      const before = (await results()).find((r) => r.actionName === action.name)?.startDateTime;
      await this.api({
        method: 'POST',
        url: `/${action.beta ? 'beta' : 'v1.0'}/deviceManagement/managedDevices/${id}/${action.name}`,
        data: action.body ?? {},
        destructive: action.destructive,
      });
      const result = await pollUntil(
        async () => {
          const device = await this.record(udid, 'deviceActionResults', wipe);
          if (!device.udid) return null; // the record went with the wipe: done
          const result = device.deviceActionResults?.find((r) => r.actionName === action.name && r.startDateTime !== before);
          if (result && FAILED.has(result.actionState))
            throw new CodedError(
              'DEVICE_ERROR',
              catalogText('mdm-server.errors.intune-device-error', { udid, action: action.name, state: result.actionState }),
            );
          return result?.actionState === DONE ? result : undefined;
        },
        {
          deadline,
          interval: this.interval,
          signal,
          closed: () => this.closed,
          timedOut: () =>
            new CodedError(
              'DEVICE_TIMEOUT',
              catalogText('mdm-server.errors.intune-no-answer', { udid, action: action.name, seconds: Math.round(timeout / 1000) }),
            ),
        },
      );
      return result ?? undefined;
    });
  }

  /** Asks the phone to sync and waits until Intune says it synced since it was asked. */
  private async synced(udid: string, { timeout, signal }: PerformOptions): Promise<void> {
    const { id, lastSyncDateTime: before } = await this.record(udid);
    await this.api({ method: 'POST', url: `/v1.0/deviceManagement/managedDevices/${id}/syncDevice` });
    await pollUntil(async () => ((await this.record(udid)).lastSyncDateTime !== before ? true : undefined), {
      deadline: Date.now() + timeout,
      interval: this.interval,
      signal,
      closed: () => this.closed,
      timedOut: () => new CodedError('DEVICE_TIMEOUT', catalogText('mdm-server.errors.intune-no-sync', { udid, seconds: Math.round(timeout / 1000) })),
    });
  }

  /** syncDevice (the phone reports to Intune), then what Intune's inventory says, as the phone's QueryResponses. */
  private async query(udid: string, queries: string[], options: PerformOptions): Promise<Record<string, unknown>> {
    await this.lanes.run(udid, () => this.synced(udid, options));
    const device = await this.record(udid, 'hardwareInformation');
    const battery = device.hardwareInformation?.batteryLevelPercentage;
    const known: Record<string, unknown> = {
      UDID: device.udid,
      SerialNumber: device.serialNumber,
      OSVersion: device.osVersion,
      IsSupervised: device.isSupervised,
      DeviceName: device.deviceName,
      ...(typeof battery === 'number' && { BatteryLevel: battery / 100 }),
    };
    return { QueryResponses: Object.fromEntries(queries.filter((q) => known[q] !== undefined).map((q) => [q, known[q]])) };
  }

  /** The phone's managed device id, listed if not known. */
  private async device(udid: string): Promise<{ id: string }> {
    if (!this.ids.has(udid)) await this.list();
    const id = this.ids.get(udid);
    if (!id) throw new CodedError('DEVICE_UNKNOWN', catalogText('mdm-server.errors.intune-unknown', { udid }));
    return { id };
  }

  /**
   * The phone's record now, with `extra` fields; a record gone (a wipe removed it, an admin deleted
   * it) is listed again once, and with `gone` resolves empty instead of failing.
   */
  private async record(udid: string, extra?: string, gone = false): Promise<ManagedDevice> {
    const { id } = await this.device(udid);
    const read = await this.api<ManagedDevice>({
      method: 'GET',
      url: `/beta/deviceManagement/managedDevices/${id}`,
      params: { $select: extra ? `${DEVICE_FIELDS},${extra}` : DEVICE_FIELDS },
      accept: [404],
    });
    if (read.status !== 404) return read.data;
    this.ids.delete(udid);
    if (gone) return { id };
    return this.record(udid, extra, true).then((device) => (device.udid ? device : Promise.reject(unknown(udid))));
  }

  /**
   * Every iOS device, page by page (`@odata.nextLink`, followed only on Graph's own host: it carries
   * the token), matched by UDID here: Graph ignores filters it does not support rather than refuse them.
   * Lookups at the same moment share one listing.
   */
  private list(): Promise<void> {
    this.listing ??= (async () => {
      const origin = new URL(this.options.url).origin;
      let next: string | undefined = '/beta/deviceManagement/managedDevices';
      let params: object | undefined = { $filter: "operatingSystem eq 'iOS'", $select: DEVICE_FIELDS };
      while (next) {
        const page: AxiosResponse<{ value?: ManagedDevice[]; '@odata.nextLink'?: string }> = await this.api({ method: 'GET', url: next, params });
        for (const device of page.data?.value ?? []) if (device.udid && device.id) this.ids.set(device.udid, device.id);
        next = page.data?.['@odata.nextLink'];
        params = undefined;
        if (next && new URL(next, origin).origin !== origin)
          throw new CodedError('MDM_PROTOCOL', catalogText('mdm-server.errors.intune-next-link', { origin }));
      }
    })().finally(() => (this.listing = undefined));
    return this.listing;
  }

  /** When Intune says the phone last enrolled: its (new) record in the device list. */
  private async enrolledAt(udid: string): Promise<{ at: number; serial?: string } | undefined> {
    if (!this.ids.has(udid)) await this.list();
    if (!this.ids.has(udid)) return undefined;
    const device = await this.record(udid);
    const at = device.enrolledDateTime ? Date.parse(device.enrolledDateTime) : NaN;
    return Number.isFinite(at) ? { at, serial: device.serialNumber } : undefined;
  }

  /** The Entra ID device object a group takes as member (not the managed device id). */
  private async directoryObject(udid: string): Promise<string> {
    const { azureADDeviceId } = await this.record(udid);
    const found = await this.api<{ value?: { id: string }[] }>({
      method: 'GET',
      url: '/v1.0/devices',
      params: { $filter: `deviceId eq '${odataString(azureADDeviceId ?? '')}'`, $select: 'id,deviceId' },
    });
    const id = azureADDeviceId && found.data?.value?.length === 1 ? found.data.value[0].id : undefined;
    if (!id) throw new CodedError('DEVICE_UNKNOWN', catalogText('mdm-server.errors.intune-no-entra-device', { udid }));
    return id;
  }

  /** Her Entra ID object id, by UPN or on-premises account name (an advanced query: counted, eventual consistency). */
  private async entraUser(name: string): Promise<string | undefined> {
    const value = odataString(name);
    const found = await this.api<{ value?: { id: string }[] }>({
      method: 'GET',
      url: '/v1.0/users',
      params: { $filter: `userPrincipalName eq '${value}' or onPremisesSamAccountName eq '${value}'`, $select: 'id', $count: 'true' },
      headers: { consistencylevel: 'eventual' },
    });
    return found.data?.value?.length === 1 ? found.data.value[0].id : undefined;
  }

  private api<T>(request: MdmRequest): Promise<AxiosResponse<T>> {
    return this.session.request<T>(this.http, { ...request, headers: { accept: 'application/json', ...request.headers } });
  }

  /** Client credentials at the tenant's token endpoint, for Graph's scope; Entra's AADSTS code says what is wrong. */
  private async fetchToken(): Promise<BearerToken> {
    const { tokenUrl, tenantId, clientId, clientSecret, url } = this.options;
    const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, scope: `${url}/.default` });
    const { status, data } = await this.http.request<{ access_token?: string; expires_in?: number; error?: string; error_codes?: number[] }>({
      method: 'POST',
      url: `${tokenUrl.replace(/\/+$/, '')}/${encodeURIComponent(tenantId)}/oauth2/v2.0/token`,
      data: form.toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      accept: [400, 401],
    });
    if (status === 400 || status === 401) {
      const code = data?.error_codes?.[0];
      const field = (code !== undefined && TOKEN_PROBLEMS[code]) || 'other';
      throw new CodedError('MDM_AUTH', catalogText(`mdm-server.errors.intune-token-${field}`, { code: code ?? '', error: String(data?.error ?? status) }), {
        status,
      });
    }
    if (!data?.access_token) throw new CodedError('MDM_PROTOCOL', catalogText('mdm-server.errors.intune-no-token'));
    return { value: data.access_token, expiresAt: Date.now() + (data.expires_in ?? 3599) * 1000 };
  }
}

/** Graph's error body. */
interface GraphError {
  error?: { code?: string; message?: string };
}

const unknown = (udid: string) => new CodedError('DEVICE_UNKNOWN', catalogText('mdm-server.errors.intune-unknown', { udid }));

/** A value inside an OData string literal: a quote doubled, so a name cannot end the literal. */
const odataString = (value: string): string => value.replace(/'/g, "''");

/** The Graph action that does `command`, or UNSUPPORTED saying what to do in Intune instead. */
function actionFor(command: MdmCommand): GraphAction {
  const c = command.Command;
  switch (c.RequestType) {
    case 'EraseDevice':
      if (c.ReturnToService) throw new CodedError('UNSUPPORTED', catalogText('mdm-server.errors.intune-no-rts'));
      return { name: 'wipe', body: { keepEnrollmentData: false, keepUserData: false, persistEsimDataPlan: c.PreserveDataPlan === true }, destructive: true };
    case 'ClearPasscode':
      return { name: 'resetPasscode' };
    case 'EnableLostMode':
      return { name: 'enableLostMode', beta: true, body: { message: c.Message, phoneNumber: c.PhoneNumber, footer: c.Footnote } };
    case 'DisableLostMode':
      return { name: 'disableLostMode', beta: true };
    case 'PlayLostModeSound':
      return { name: 'playLostModeSound', beta: true };
    case 'DeviceLocation':
      return { name: 'locateDevice', beta: true };
    case 'RestartDevice':
      return { name: 'rebootNow' };
    case 'Settings': {
      const items = (c.Settings ?? []) as { Item: string; DeviceName?: string }[];
      const other = items.find((item) => item.Item !== 'DeviceName');
      if (other || items.length !== 1)
        throw new CodedError('UNSUPPORTED', catalogText('mdm-server.errors.intune-no-setting', { item: other?.Item ?? 'Settings' }));
      return { name: 'setDeviceName', beta: true, body: { deviceName: items[0].DeviceName } };
    }
    case 'InstallProfile':
    case 'RemoveProfile':
      throw new CodedError('UNSUPPORTED', catalogText('mdm-server.errors.intune-profiles'));
    default:
      throw new CodedError('UNSUPPORTED', catalogText('mdm-server.errors.intune-no-command', { command: String(c.RequestType) }));
  }
}
