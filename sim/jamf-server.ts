import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parsePlist, toPlist } from '../nodes/lib/mdm/commands';
import { appLockProfile } from '../nodes/lib/mdm/profiles';
import type { SimulatedDevice } from './simulated-device';
import { MdmSimulator } from './mdm-simulator';

export interface SimulatedJamfOptions {
  clientId: string;
  clientSecret: string;
  username?: string;
  password?: string;
  /** Seconds a token lives. */
  tokenLifetime?: number;
  /** How long after a command is sent the device answers it, ms. */
  checkinDelay?: number;
  reenrolDelay?: number;
  /**
   * The admin's smart group "App Lock is Locked" scoping an App Lock profile for this bundle
   * id: devices whose extension attribute says Locked get the profile, the others lose it.
   */
  appLockScope?: { attribute: string; bundleId: string };
}

interface JamfRecord {
  id: string;
  managementId: string;
  device: SimulatedDevice;
  lastEnrollmentTimestamp: string;
  location: { username: string; realName: string };
  extensionAttributes: Map<string, string[]>;
  /** The device's last answer to DeviceLocation (its inventory's Security subset tells it). */
  lostLocation?: Record<string, unknown>;
}

interface JamfCommand {
  uuid: string;
  commandType: string;
  commandState: 'PENDING' | 'ACKNOWLEDGED' | 'NOT_NOW' | 'ERROR';
  errorMessage?: string;
  managementId: string;
  dateSent: string;
  dateCompleted?: string;
}

/**
 * A subset of Jamf Pro over HTTP on loopback: OAuth and Basic tokens, mobile device lookup
 * and detail, `POST /api/v2/mdm/commands` with states read back by polling, and the Classic
 * API's device delete. Simulated devices execute the commands.
 */
export class SimulatedJamf extends MdmSimulator {
  private readonly records = new Map<string, JamfRecord>();
  private readonly tokens = new Map<string, number>();
  readonly commands = new Map<string, JamfCommand>();
  tokensIssued = 0;
  private nextId = 1;

  constructor(private readonly options: SimulatedJamfOptions) {
    super();
  }

  /** The device appears in Jamf Pro's inventory, enrolled. */
  enrol(device: SimulatedDevice): void {
    const existing = [...this.records.values()].find((r) => r.device === device);
    const record = existing ?? {
      id: String(this.nextId++),
      managementId: randomUUID(),
      device,
      lastEnrollmentTimestamp: '',
      location: { username: '', realName: '' },
      extensionAttributes: new Map(),
    };
    record.lastEnrollmentTimestamp = new Date().toISOString();
    device.enrolled = true;
    this.records.set(record.id, record);
  }

  /** What Jamf Pro's inventory says of a device: assigned user and extension attributes. */
  inventory(device: SimulatedDevice): { location: JamfRecord['location']; extensionAttributes: Record<string, string[]> } | undefined {
    const record = [...this.records.values()].find((r) => r.device === device);
    return record && { location: { ...record.location }, extensionAttributes: Object.fromEntries(record.extensionAttributes) };
  }

  /** Every token issued so far stops working, as after a server restart. */
  revokeTokens(): void {
    this.tokens.clear();
  }

  protected async handle(req: IncomingMessage, res: ServerResponse, raw: Buffer): Promise<void> {
    const body = raw.toString('utf8');
    const url = new URL(req.url ?? '/', 'http://jamf');
    const path = url.pathname;
    const reply = (status: number, payload?: unknown, type = 'application/json'): void =>
      this.answer(req, res, path, status, payload, { 'content-type': type });
    if (req.method === 'POST' && path === '/api/v1/oauth/token') {
      const form = new URLSearchParams(body);
      if (
        form.get('grant_type') !== 'client_credentials' ||
        form.get('client_id') !== this.options.clientId ||
        form.get('client_secret') !== this.options.clientSecret
      )
        return reply(401, { error: 'invalid_client' });
      const token = this.issue();
      return reply(200, { access_token: token, token_type: 'Bearer', expires_in: this.options.tokenLifetime ?? 1200, scope: 'api-role:1' });
    }
    if (req.method === 'POST' && path === '/api/v1/auth/token') {
      const expected = `Basic ${Buffer.from(`${this.options.username}:${this.options.password}`).toString('base64')}`;
      if (!this.options.username || req.headers.authorization !== expected) return reply(401, { httpStatus: 401, errors: [] });
      const token = this.issue();
      return reply(200, { token, expires: new Date(Date.now() + (this.options.tokenLifetime ?? 1200) * 1000).toISOString() });
    }
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (!bearer || (this.tokens.get(bearer) ?? 0) < Date.now()) return reply(401, { httpStatus: 401, errors: [{ code: 'INVALID_TOKEN' }] });

    const fault = this.faults.find((f) => f.times > 0);
    if (fault && req.method === 'POST' && path === '/api/v2/mdm/commands') {
      fault.times--;
      if (!fault.queueAnyway) return reply(fault.status, { httpStatus: fault.status, errors: [] });
      this.send(JSON.parse(body));
      return reply(fault.status, { httpStatus: fault.status, errors: [] });
    }
    if (req.method === 'GET' && path === '/api/v2/mobile-devices') {
      const match = /^(udid|serialNumber)=="([^"]*)"$/.exec(url.searchParams.get('filter') ?? '');
      const results = [...this.records.values()]
        .filter((r) => match && (match[1] === 'udid' ? r.device.udid : r.device.serial) === match[2])
        .map((r) => ({ id: r.id, udid: r.device.udid, serialNumber: r.device.serial, managementId: r.managementId, name: r.device.name }));
      return reply(200, { totalCount: results.length, results });
    }
    const detail = /^\/api\/v2\/mobile-devices\/(\d+)\/detail$/.exec(path);
    if (req.method === 'GET' && detail) {
      const r = this.records.get(detail[1]);
      if (!r) return reply(404, { httpStatus: 404 });
      return reply(200, {
        id: r.id,
        udid: r.device.udid,
        serialNumber: r.device.serial,
        managementId: r.managementId,
        name: r.device.name,
        lastEnrollmentTimestamp: r.lastEnrollmentTimestamp,
        osVersion: r.device.osVersion,
        ios: {
          supervised: r.device.supervised,
          unlockToken: r.device.unlockToken.toString('base64'),
          security: { activationLockEnabled: r.device.activationLock },
        },
      });
    }
    if (req.method === 'POST' && path === '/api/v2/mdm/commands') {
      const sent = this.send(JSON.parse(body));
      return sent
        ? reply(201, [{ id: sent.uuid, href: `/api/v2/mdm/commands?filter=uuid==${sent.uuid}` }])
        : reply(400, { httpStatus: 400, errors: [{ description: 'unknown managementId' }] });
    }
    if (req.method === 'GET' && path === '/api/v2/mdm/commands') {
      const uuid = /^uuid==(.+)$/.exec(url.searchParams.get('filter') ?? '')?.[1];
      const found = uuid ? this.commands.get(uuid) : undefined;
      const results = found
        ? [
            {
              uuid: found.uuid,
              commandType: found.commandType,
              commandState: found.commandState,
              errorMessage: found.errorMessage,
              dateSent: found.dateSent,
              dateCompleted: found.dateCompleted,
              client: { managementId: found.managementId, clientType: 'MOBILE_DEVICE' },
            },
          ]
        : [];
      return reply(200, { totalCount: results.length, results });
    }
    const patch = /^\/api\/v2\/mobile-devices\/(\d+)$/.exec(path);
    if (req.method === 'PATCH' && patch) {
      const r = this.records.get(patch[1]);
      if (!r) return reply(404, { httpStatus: 404 });
      const update = JSON.parse(body) as { location?: Partial<JamfRecord['location']>; updatedExtensionAttributes?: { name: string; value: string[] }[] };
      Object.assign(r.location, update.location);
      for (const { name, value } of update.updatedExtensionAttributes ?? []) r.extensionAttributes.set(name, value);
      this.applyScope(r);
      return reply(200, { id: r.id, udid: r.device.udid, location: r.location });
    }
    if (req.method === 'POST' && path === '/JSSResource/mobiledevicecommands/command/Wallpaper') {
      // The Classic API's XML, read as far as this command needs.
      const field = (name: string) => new RegExp(`<${name}>([^<]*)</${name}>`).exec(body)?.[1];
      const r = this.records.get(field('id') ?? '');
      const where = Number(field('wallpaper_setting'));
      const content = field('wallpaper_content');
      if (!r || ![1, 2, 3].includes(where) || !content) return reply(400, '<html>Bad Request</html>', 'text/html');
      this.deliver(r, { RequestType: 'Settings', Settings: [{ Item: 'Wallpaper', Image: Buffer.from(content, 'base64'), Where: where }] });
      return reply(
        201,
        `<?xml version="1.0" encoding="UTF-8"?><mobile_device_command><command>Wallpaper</command><mobile_devices><mobile_device><id>${r.id}</id></mobile_device></mobile_devices></mobile_device_command>`,
        'application/xml',
      );
    }
    // DeviceLocation by the Classic API's URL form; the answer lands in the device's inventory (its Security subset).
    const locate = /^\/JSSResource\/mobiledevicecommands\/command\/DeviceLocation\/id\/(\d+)$/.exec(path);
    if (req.method === 'POST' && locate) {
      const r = this.records.get(locate[1]);
      if (!r) return reply(404, '<html>Not Found</html>', 'text/html');
      this.check(randomUUID(), { RequestType: 'DeviceLocation' });
      this.timers.later(this.options.checkinDelay ?? 5, () => {
        const report = r.device.execute({ RequestType: 'DeviceLocation' });
        if (report?.Status === 'Acknowledged') r.lostLocation = report;
      });
      return reply(
        201,
        `<?xml version="1.0" encoding="UTF-8"?><mobile_device_command><command>DeviceLocation</command></mobile_device_command>`,
        'application/xml',
      );
    }
    const security = /^\/JSSResource\/mobiledevices\/id\/(\d+)\/subset\/Security$/.exec(path);
    if (req.method === 'GET' && security) {
      const r = this.records.get(security[1]);
      if (!r) return reply(404, '<html>Not Found</html>', 'text/html');
      const at = r.lostLocation ? Date.parse(String(r.lostLocation.Timestamp)) : 0;
      return reply(200, {
        mobile_device: {
          security: {
            lost_mode_enabled: r.device.lostMode ? 'true' : 'false',
            lost_location_epoch: at,
            lost_location_utc: at ? new Date(at).toISOString() : '',
            lost_location_latitude: r.lostLocation?.Latitude ?? 0,
            lost_location_longitude: r.lostLocation?.Longitude ?? 0,
            lost_location_horizontal_accuracy: r.lostLocation?.HorizontalAccuracy ?? -1,
          },
        },
      });
    }
    const classicDelete = /^\/JSSResource\/mobiledevices\/id\/(\d+)$/.exec(path);
    if (req.method === 'DELETE' && classicDelete) {
      if (!this.records.delete(classicDelete[1])) return reply(404, '<html>Not Found</html>', 'text/html');
      return reply(200, `<?xml version="1.0" encoding="UTF-8"?><mobile_device><id>${classicDelete[1]}</id></mobile_device>`, 'application/xml');
    }
    reply(404, { httpStatus: 404 });
  }

  private issue(): string {
    const token = randomBytes(16).toString('hex');
    this.tokens.set(token, Date.now() + (this.options.tokenLifetime ?? 1200) * 1000);
    this.tokensIssued++;
    return token;
  }

  /** The admin's App Lock smart group: Jamf installs or removes the scoped profile itself. */
  private applyScope(record: JamfRecord): void {
    const scope = this.options.appLockScope;
    if (!scope) return;
    const locked = record.extensionAttributes.get(scope.attribute)?.[0] === 'Locked';
    const profile = appLockProfile(scope.bundleId);
    const installed = record.device.profiles.has(profile.PayloadIdentifier as string);
    if (locked && !installed) this.deliver(record, { RequestType: 'InstallProfile', Payload: Buffer.from(toPlist(profile)) });
    if (!locked && installed) this.deliver(record, { RequestType: 'RemoveProfile', Identifier: profile.PayloadIdentifier });
  }

  /** Records a command that breaks Apple's schema, whichever way it reached the device. */
  private check(uuid: string, command: { RequestType: string; [key: string]: unknown }): void {
    this.checkCommand(command, uuid);
  }

  /** A command Jamf Pro sends on its own (scoping, Classic API). */
  private deliver(record: JamfRecord, command: { RequestType: string; [key: string]: unknown }): void {
    this.check(randomUUID(), command);
    this.timers.later(this.options.checkinDelay ?? 5, () => record.device.execute(command));
  }

  /** Queues a command for the device, which answers it shortly after. */
  private send(request: { clientData?: { managementId: string }[]; commandData?: Record<string, unknown> }): JamfCommand | undefined {
    const managementId = request.clientData?.[0]?.managementId;
    const record = [...this.records.values()].find((r) => r.managementId === managementId);
    if (!record || !request.commandData) return undefined;
    const command: JamfCommand = {
      uuid: randomUUID(),
      commandType: String(request.commandData.commandType),
      commandState: 'PENDING',
      managementId: record.managementId,
      dateSent: new Date().toISOString(),
    };
    this.commands.set(command.uuid, command);
    const apple = appleCommand(request.commandData);
    this.check(command.uuid, apple);
    const attempt = (): void => {
      const report = record.device.execute(apple);
      if (!report) return; // a silent device never answers
      if (report.Status === 'NotNow') {
        command.commandState = 'NOT_NOW';
        return this.timers.later(this.options.checkinDelay ?? 5, attempt);
      }
      command.commandState = report.Status === 'Acknowledged' ? 'ACKNOWLEDGED' : 'ERROR';
      command.errorMessage = report.ErrorChain?.map((e) => e.USEnglishDescription).join('; ');
      command.dateCompleted = new Date().toISOString();
      if (apple.RequestType === 'EraseDevice' && report.Status === 'Acknowledged') {
        if (record.device.erase(apple)) this.timers.later(this.options.reenrolDelay ?? 50, () => this.enrol(record.device));
      }
    };
    this.timers.later(this.options.checkinDelay ?? 5, attempt);
    return command;
  }
}

/** Jamf's commandData back into the Apple command the device receives. */
function appleCommand(data: Record<string, unknown>): { RequestType: string; [key: string]: unknown } {
  switch (data.commandType) {
    case 'ERASE_DEVICE': {
      const service = data.returnToService as { enabled: boolean; wifiProfileData?: string; mdmProfileData?: string } | undefined;
      return {
        RequestType: 'EraseDevice',
        PreserveDataPlan: data.preserveDataPlan,
        DisallowProximitySetup: data.disallowProximitySetup,
        ...(service && {
          ReturnToService: {
            Enabled: service.enabled,
            ...(service.wifiProfileData && { WiFiProfileData: Buffer.from(service.wifiProfileData, 'base64') }),
            ...(service.mdmProfileData && { MDMProfileData: Buffer.from(service.mdmProfileData, 'base64') }),
          },
        }),
      };
    }
    case 'CLEAR_PASSCODE':
      return { RequestType: 'ClearPasscode', UnlockToken: Buffer.from(String(data.unlockToken), 'base64') };
    case 'RESTART_DEVICE':
      return { RequestType: 'RestartDevice', NotifyUser: data.notifyUser };
    case 'ENABLE_LOST_MODE':
      return { RequestType: 'EnableLostMode', Message: data.lostModeMessage, PhoneNumber: data.lostModePhone, Footnote: data.lostModeFootnote };
    case 'DISABLE_LOST_MODE':
      return { RequestType: 'DisableLostMode' };
    case 'PLAY_LOST_MODE_SOUND':
      return { RequestType: 'PlayLostModeSound' };
    case 'SETTINGS': {
      const settings: Record<string, unknown>[] = [];
      if (data.deviceName !== undefined) settings.push({ Item: 'DeviceName', DeviceName: data.deviceName });
      const app = data.applicationConfiguration as { identifier: string; configuration: string } | undefined;
      if (app) settings.push({ Item: 'ApplicationConfiguration', Identifier: app.identifier, Configuration: parsePlist(app.configuration) });
      return { RequestType: 'Settings', Settings: settings };
    }
    default:
      return { RequestType: String(data.commandType) };
  }
}
