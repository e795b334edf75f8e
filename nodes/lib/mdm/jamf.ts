import { EventEmitter } from 'node:events';
import type { AxiosResponse } from 'axios';
import { catalogText, CodedError } from '../coded-error';
import type { MdmCommand } from './commands';
import { jamfCommandData } from './jamf-commands';
import type { AssignedUser, DeviceFacts, Enrolment, EraseFacts, MdmAdapter, PerformOptions } from './mdm-adapter';
import { clearWithUnlockToken, noteErase } from './enrolment';
import { MdmHttp, type MdmRequest } from './mdm-http';
import { BearerSession, type BearerToken } from './bearer-session';
import { PolledEnrolments } from './polled-enrolments';
import { pollUntil, type PollOptions } from './polling';

export interface JamfOptions {
  url: string;
  /** OAuth API client (preferred), or a user for Basic-authenticated tokens. */
  clientId?: string;
  clientSecret?: string;
  username?: string;
  password?: string;
  maxConcurrent: number;
  timeout: number;
  /** How often a sent command's state is read back, ms. */
  pollInterval?: number;
}

interface JamfDevice {
  id: string;
  udid: string;
  serialNumber?: string;
  managementId: string;
}

/** The fields of `GET /api/v2/mobile-devices/{id}/detail` this package reads. */
interface JamfDetail {
  serialNumber?: string;
  osVersion?: string;
  lastEnrollmentTimestamp?: string;
  ios?: { unlockToken?: string; security?: { activationLockEnabled?: boolean } };
}

/** The extension attribute a smart group reads to scope the locker app's App Lock profile. */
export const APP_LOCK_ATTRIBUTE = 'Device Checkout App Lock';

type CommandState = 'PENDING' | 'ACKNOWLEDGED' | 'NOT_NOW' | 'ERROR';

/**
 * Jamf Pro: Bearer tokens from an OAuth API client or Basic auth, renewed before expiry and
 * once on 401; devices looked up by UDID; commands through `POST /api/v2/mdm/commands` and
 * read back by polling until the device acknowledged them.
 *
 * Events: `token-update` (Enrolment) when polling finds a device enrolled again.
 */
export class JamfPro extends EventEmitter implements MdmAdapter {
  readonly vendor = 'jamf';
  readonly http: MdmHttp;
  private readonly session = new BearerSession(() => this.fetchToken());
  private readonly devices = new Map<string, JamfDevice>();
  private readonly enrolments: PolledEnrolments;
  private closed = false;

  constructor(private readonly options: JamfOptions) {
    super();
    if (!(options.clientId && options.clientSecret) && !(options.username && options.password)) {
      throw new CodedError('INVALID_CONFIG', catalogText('mdm-server.errors.jamf-login'));
    }
    this.http = new MdmHttp({ baseURL: options.url, maxConcurrent: options.maxConcurrent, timeout: options.timeout });
    this.enrolments = new PolledEnrolments(
      this,
      (udid) => this.enrolledAt(udid),
      options.pollInterval ?? 2000,
      () => this.closed,
    );
  }

  async perform(udid: string, command: MdmCommand, { timeout, destructive = false, signal }: PerformOptions): Promise<Record<string, unknown>> {
    const wallpaper = classicWallpaper(command);
    if (wallpaper) return this.sendWallpaper(udid, wallpaper);
    if (command.Command.RequestType === 'DeviceLocation') return this.locate(udid, timeout, signal);
    const commandData = jamfCommandData(command);
    const device = await this.device(udid);
    const sentAt = Date.now();
    const deadline = sentAt + timeout;
    const sent = await this.api<{ id: string }[]>({
      method: 'POST',
      url: '/api/v2/mdm/commands',
      data: { clientData: [{ managementId: device.managementId }], commandData },
      destructive,
    });
    const uuid = sent.data?.[0]?.id;
    if (!uuid) throw new CodedError('MDM_PROTOCOL', catalogText('mdm-server.errors.jamf-no-id'));
    await this.untilAcknowledged(udid, uuid, deadline, timeout, signal);
    // Erased when sent, not when the acknowledgement was read: a phone may enrol again before the next poll.
    noteErase(this.enrolments.of(udid), command, sentAt);
    return {};
  }

  /**
   * Jamf Pro applies profiles by scope: the device's App Lock extension attribute becomes
   * `Locked` or `Unlocked`, and a smart group on it scopes the admin's App Lock profile.
   */
  async setAppLock(udid: string, bundleId: string | undefined): Promise<void> {
    const device = await this.device(udid);
    const value = bundleId ? 'Locked' : 'Unlocked';
    await this.api({
      method: 'PATCH',
      url: `/api/v2/mobile-devices/${device.id}`,
      data: { updatedExtensionAttributes: [{ name: APP_LOCK_ATTRIBUTE, type: 'STRING', value: [value] }] },
    });
  }

  /** Jamf Pro has no per-command DeviceInformation here; its inventory (charge, serial) is not read yet. */
  async readDevice(): Promise<DeviceFacts> {
    return {};
  }

  /** From the inventory (`osVersion`, `ios.security.activationLockEnabled`), as of the phone's last inventory update. */
  async readEraseFacts(udid: string): Promise<EraseFacts> {
    const { osVersion, ios } = await this.detail(udid);
    const activationLock = ios?.security?.activationLockEnabled;
    return { ...(osVersion && { osVersion }), ...(typeof activationLock === 'boolean' && { activationLock }) };
  }

  async assignUser(udid: string, user: AssignedUser | undefined): Promise<void> {
    const device = await this.device(udid);
    await this.api({
      method: 'PATCH',
      url: `/api/v2/mobile-devices/${device.id}`,
      data: { location: { username: user?.id ?? '', realName: user?.name ?? '' } },
    });
  }

  /**
   * The Jamf Pro API has no wallpaper command; the Classic API does. It answers with the
   * command queued, and gives nothing to follow it by, so queued is done here.
   */
  private async sendWallpaper(udid: string, { image, where }: { image: Buffer; where: number }): Promise<Record<string, unknown>> {
    const device = await this.device(udid);
    const xml =
      '<mobile_device_command><general><command>Wallpaper</command>' +
      `<wallpaper_setting>${where}</wallpaper_setting><wallpaper_content>${image.toString('base64')}</wallpaper_content></general>` +
      `<mobile_devices><mobile_device><id>${Number(device.id)}</id></mobile_device></mobile_devices></mobile_device_command>`;
    await this.api({
      method: 'POST',
      url: '/JSSResource/mobiledevicecommands/command/Wallpaper',
      data: xml,
      headers: { 'content-type': 'application/xml', accept: 'application/xml' },
    });
    return {};
  }

  async unlockToken(udid: string): Promise<Buffer | undefined> {
    const token = (await this.detail(udid)).ios?.unlockToken;
    return token ? Buffer.from(token, 'base64') : undefined;
  }

  clearPasscode(udid: string, options: PerformOptions): Promise<void> {
    return clearWithUnlockToken(this, udid, options);
  }

  /** Logs in and reads one mobile device: a 403 is an API role without Read Mobile Devices. */
  async checkConnection(): Promise<void> {
    const { status } = await this.api({ method: 'GET', url: '/api/v2/mobile-devices', params: { 'page-size': 1 }, accept: [403] });
    if (status === 403) throw new CodedError('MDM_AUTH', catalogText('mdm-server.errors.jamf-forbidden'), { status });
  }

  /** Jamf Pro API has no delete for mobile devices; the Classic API does. */
  async deleteDevice(udid: string): Promise<void> {
    const device = await this.device(udid);
    await this.api({ method: 'DELETE', url: `/JSSResource/mobiledevices/id/${device.id}`, headers: { accept: 'application/xml' } });
    this.devices.delete(udid);
  }

  /**
   * What we know of the device's enrolment. Jamf sends no check-ins here, so this also
   * starts reading the device record until it shows an enrolment after the last erase.
   */
  enrolment(udid: string): Enrolment | undefined {
    return this.enrolments.get(udid);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  /** When Jamf Pro says the phone last enrolled. */
  private async enrolledAt(udid: string): Promise<{ at: number; serial?: string } | undefined> {
    const detail = await this.detail(udid);
    const at = detail.lastEnrollmentTimestamp ? Date.parse(detail.lastEnrollmentTimestamp) : NaN;
    return Number.isFinite(at) ? { at, serial: detail.serialNumber } : undefined;
  }

  /**
   * The Jamf Pro API has no DeviceLocation; the Classic API's command does, and the phone's answer
   * lands in its inventory (the Security subset), read until it is newer than the question. Answers
   * as the phone would (Latitude, Longitude, HorizontalAccuracy, Timestamp).
   */
  private async locate(udid: string, timeout: number, signal?: AbortSignal): Promise<Record<string, unknown>> {
    const { id } = await this.device(udid);
    const asked = Date.now();
    const deadline = asked + timeout;
    await this.api({
      method: 'POST',
      url: `/JSSResource/mobiledevicecommands/command/DeviceLocation/id/${Number(id)}`,
      headers: { accept: 'application/xml' },
    });
    return pollUntil(
      async () => {
        const { data } = await this.api<{ mobile_device?: { security?: ClassicSecurity } }>({
          method: 'GET',
          url: `/JSSResource/mobiledevices/id/${Number(id)}/subset/Security`,
          headers: { accept: 'application/json' },
        });
        const security = data?.mobile_device?.security;
        if (!security || security.lost_location_epoch < asked) return undefined;
        return {
          Latitude: security.lost_location_latitude,
          Longitude: security.lost_location_longitude,
          HorizontalAccuracy: security.lost_location_horizontal_accuracy,
          Timestamp: new Date(security.lost_location_epoch).toISOString(),
        };
      },
      this.polling(deadline, signal, () => this.noAnswer(udid, 'DeviceLocation', timeout)),
    );
  }

  private polling(deadline: number, signal: AbortSignal | undefined, timedOut: () => Error): PollOptions {
    return { deadline, interval: this.options.pollInterval ?? 2000, signal, closed: () => this.closed, timedOut };
  }

  private noAnswer(udid: string, command: string, timeout: number): CodedError {
    return new CodedError('DEVICE_TIMEOUT', catalogText('mdm-server.errors.jamf-no-answer', { udid, command, seconds: Math.round(timeout / 1000) }));
  }

  private async untilAcknowledged(udid: string, uuid: string, deadline: number, timeout: number, signal?: AbortSignal): Promise<void> {
    await pollUntil(
      async () => {
        const found = await this.api<{ results?: { commandState?: CommandState; errorMessage?: string }[] }>({
          method: 'GET',
          url: '/api/v2/mdm/commands',
          params: { filter: `uuid==${uuid}` },
        });
        const state = found.data?.results?.[0];
        if (state?.commandState === 'ERROR')
          throw new CodedError(
            'DEVICE_ERROR',
            state.errorMessage
              ? catalogText('mdm-server.errors.device-refused', { udid, reason: state.errorMessage })
              : catalogText('mdm-server.errors.jamf-device-error', { udid }),
          );
        return state?.commandState === 'ACKNOWLEDGED' ? true : undefined;
      },
      this.polling(deadline, signal, () => this.noAnswer(udid, uuid, timeout)),
    );
  }

  private async device(udid: string): Promise<JamfDevice> {
    const cached = this.devices.get(udid);
    if (cached) return cached;
    const found = await this.api<{ results?: JamfDevice[] }>({
      method: 'GET',
      url: '/api/v2/mobile-devices',
      params: { filter: `udid=="${udid.replace(/"/g, '')}"` },
    });
    const device = found.data?.results?.find((d) => d.udid === udid);
    if (!device) throw new CodedError('DEVICE_UNKNOWN', catalogText('mdm-server.errors.jamf-unknown', { udid }));
    this.devices.set(udid, device);
    this.enrolments.of(udid).serial = device.serialNumber;
    return device;
  }

  private async detail(udid: string): Promise<JamfDetail> {
    const device = await this.device(udid);
    return (await this.api<JamfDetail>({ method: 'GET', url: `/api/v2/mobile-devices/${device.id}/detail` })).data;
  }

  /** A request with a Bearer token; a 401 renews the token and tries once more. */
  private api<T>(request: MdmRequest): Promise<AxiosResponse<T>> {
    return this.session.request<T>(this.http, request);
  }

  private async fetchToken(): Promise<BearerToken> {
    const { clientId, clientSecret, username, password } = this.options;
    if (clientId && clientSecret) {
      const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret });
      const { data } = await this.http.request<{ access_token: string; expires_in: number }>({
        method: 'POST',
        url: '/api/v1/oauth/token',
        data: form.toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
      });
      return { value: data.access_token, expiresAt: Date.now() + data.expires_in * 1000 };
    }
    const { data } = await this.http.request<{ token: string; expires: string }>({
      method: 'POST',
      url: '/api/v1/auth/token',
      auth: { username: username!, password: password! },
    });
    return { value: data.token, expiresAt: Date.parse(data.expires) };
  }
}

/** A Settings command that only sets a wallpaper, as the Classic API takes it. */
function classicWallpaper(command: MdmCommand): { image: Buffer; where: number } | undefined {
  const items = command.Command.RequestType === 'Settings' ? (command.Command.Settings as Record<string, unknown>[]) : [];
  if (items.length !== 1 || items[0].Item !== 'Wallpaper') return undefined;
  return { image: items[0].Image as Buffer, where: items[0].Where as number };
}

/** What the Classic API's Security subset says of a phone's last Lost Mode location (epoch in ms; 0: none). */
interface ClassicSecurity {
  lost_location_epoch: number;
  lost_location_latitude: number;
  lost_location_longitude: number;
  lost_location_horizontal_accuracy: number;
}
