import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { parsePlist } from '../nodes/lib/mdm/commands';
import type { SimulatedDevice } from './simulated-device';
import { MdmSimulator } from './mdm-simulator';

export interface SimulatedWorkspaceOneOptions {
  tenantCode: string;
  clientId: string;
  clientSecret: string;
  username?: string;
  password?: string;
  /** Seconds an OAuth token lives (UEM: 3600). */
  tokenLifetime?: number;
  /** How long after a command is queued the device answers it, ms. */
  checkinDelay?: number;
  /** How long an erased phone that comes back by itself takes to enrol again, ms. */
  reenrolDelay?: number;
}

type AppleCommand = { RequestType: string; [key: string]: unknown };

interface Ws1Record {
  id: number;
  uuid: string;
  device: SimulatedDevice;
  lastEnrolledOn: string;
  /** The device's command queue, newest last, as the console's Troubleshooting tab shows it. */
  queue: { CommandName: string; LastStatus: string; CreatedOn: string; TransactionUuid: string }[];
}

/** UEM's error body (`BaseExceptionModel`). */
const failure = (errorCode: number, message: string) => ({ errorCode, message, activityId: randomUUID() });

/**
 * A subset of Workspace ONE UEM over HTTP on loopback, after the tenant's own OpenAPI files
 * (mdmv1, mdmv2): an OAuth token endpoint (`POST /connect/token`, as the region's uemauth host),
 * basic auth, the `aw-tenant-code` header on every API request, device lookup by alternate id,
 * commands by alternate id (ClearPasscode, DeviceQuery, CustomMdmCommand with Apple's command
 * plist) and by device UUID (DeviceWipe v2 with Apple's erase options), Lost Mode, the device's
 * command queue (Queued, NotNow, Completed, Error), device delete; each Apple command checked
 * against Apple's schemas and run on a SimulatedDevice.
 */
export class SimulatedWorkspaceOne extends MdmSimulator {
  private readonly records = new Map<string, Ws1Record>();
  private readonly tokens = new Map<string, number>();
  tokensIssued = 0;
  /** The API account's role lacks the device permissions: every API request is refused with 403. */
  forbidden = false;
  private nextId = 1;

  constructor(private readonly options: SimulatedWorkspaceOneOptions) {
    super();
  }

  get tokenUrl(): string {
    return `${this.url}/connect/token`;
  }

  /** The phone enrols (again): in the inventory, enrolled now. */
  enrol(device: SimulatedDevice): void {
    const existing = [...this.records.values()].find((r) => r.device === device);
    const record = existing ?? { id: this.nextId++, uuid: randomUUID(), device, lastEnrolledOn: '', queue: [] };
    record.lastEnrolledOn = new Date().toISOString();
    device.enrolled = true;
    this.records.set(record.uuid, record);
  }

  /** Every token issued so far stops working, as after a key rotation. */
  revokeTokens(): void {
    this.tokens.clear();
  }

  protected async handle(req: IncomingMessage, res: ServerResponse, raw: Buffer): Promise<void> {
    const body = raw.toString('utf8');
    const url = new URL(req.url ?? '/', 'http://ws1');
    const path = url.pathname;
    const reply = (status: number, payload?: unknown, headers: Record<string, string> = {}): void => this.answer(req, res, path, status, payload, headers);
    if (req.method === 'POST' && path === '/connect/token') {
      const form = new URLSearchParams(body);
      if (form.get('grant_type') !== 'client_credentials') return reply(400, { error: 'unsupported_grant_type' });
      if (form.get('client_id') !== this.options.clientId || form.get('client_secret') !== this.options.clientSecret)
        return reply(400, { error: 'invalid_client' });
      const token = randomUUID();
      const lifetime = this.options.tokenLifetime ?? 3600;
      this.tokens.set(token, Date.now() + lifetime * 1000);
      this.tokensIssued++;
      return reply(200, { access_token: token, token_type: 'Bearer', expires_in: lifetime });
    }
    if (!path.startsWith('/api/')) return reply(404, failure(404, 'Not found'));
    if (!this.authorized(req.headers.authorization)) return reply(401, failure(1005, 'User is not authorized to perform this operation.'));
    if (req.headers['aw-tenant-code'] !== this.options.tenantCode) return reply(401, failure(1013, 'The tenant code is not valid.'));
    if (this.forbidden) return reply(403, failure(1002, 'The user does not have permission to perform this operation.'));
    if (this.latency) await this.timers.delay(this.latency);
    if (this.replyWithFault(reply, (status) => failure(status, 'Service unavailable'))) return;

    if (path === '/api/mdm/devices' && (req.method === 'GET' || req.method === 'DELETE')) {
      const record = this.byAlternateId(url.searchParams);
      if (!record) return reply(404, failure(404, 'Device not found'));
      if (req.method === 'DELETE') {
        this.records.delete(record.uuid);
        return reply(204);
      }
      return reply(200, this.deviceOf(record));
    }
    if (req.method === 'POST' && path === '/api/mdm/devices/commands') {
      const record = this.byAlternateId(url.searchParams);
      if (!record) return reply(404, failure(404, 'Device not found'));
      const command = url.searchParams.get('command') ?? '';
      const apple = this.appleCommandOf(command, body);
      if (typeof apple === 'string') return reply(400, failure(400, apple));
      this.queue(record, command, apple);
      return reply(202);
    }
    const wipe = /^\/api\/mdm\/devices\/([0-9a-f-]{36})\/commands\/DeviceWipe$/.exec(path);
    if (req.method === 'POST' && wipe) {
      const record = this.records.get(wipe[1]);
      if (!record) return reply(404, failure(404, 'Device not found'));
      const options = (JSON.parse(body || '{}') as { deviceWipe?: { preserveDataPlan?: boolean; disallowProximitySetup?: boolean } }).deviceWipe ?? {};
      this.queue(record, 'DeviceWipe', {
        RequestType: 'EraseDevice',
        PreserveDataPlan: options.preserveDataPlan === true,
        DisallowProximitySetup: options.disallowProximitySetup === true,
      });
      return reply(202);
    }
    const lost = /^\/api\/mdm\/devices\/([0-9a-f-]{36})\/lostmode\/(true|false)$/.exec(path);
    if (req.method === 'PUT' && lost) {
      const record = this.records.get(lost[1]);
      if (!record) return reply(404, failure(404, 'Device not found'));
      if (lost[2] === 'false') this.queue(record, 'DisableLostMode', { RequestType: 'DisableLostMode' });
      else {
        const text = JSON.parse(body || '{}') as { message?: string; phone_number?: string; footnote?: string };
        if (!text.message && !text.phone_number) return reply(422, failure(422, 'A message or a phone number is required.'));
        this.queue(record, 'EnableLostMode', {
          RequestType: 'EnableLostMode',
          ...(text.message && { Message: text.message }),
          ...(text.phone_number && { PhoneNumber: text.phone_number }),
          ...(text.footnote && { Footnote: text.footnote }),
        });
      }
      return reply(202);
    }
    const queue = /^\/api\/mdm\/devices\/([0-9a-f-]{36})\/commands$/.exec(path);
    if (req.method === 'GET' && queue) {
      const record = this.records.get(queue[1]);
      if (!record) return reply(404, failure(404, 'Device not found'));
      return reply(200, { items: record.queue.map((item) => ({ ...item, Target: 'Device', CreatedBy: 'api' })), totalCount: record.queue.length });
    }
    return reply(404, failure(404, 'Not found'));
  }

  private authorized(header: string | undefined): boolean {
    const bearer = /^Bearer (.+)$/.exec(header ?? '')?.[1];
    if (bearer) return (this.tokens.get(bearer) ?? 0) > Date.now();
    const { username, password } = this.options;
    return Boolean(username) && header === `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  }

  private byAlternateId(params: URLSearchParams): Ws1Record | undefined {
    const id = params.get('id');
    const by = (params.get('searchby') ?? params.get('searchBy') ?? '').toLowerCase();
    return [...this.records.values()].find((r) => (by === 'udid' ? r.device.udid : by === 'serialnumber' ? r.device.serial : undefined) === id);
  }

  private deviceOf(r: Ws1Record): Record<string, unknown> {
    const d = r.device;
    return {
      Id: { Value: r.id },
      Uuid: r.uuid,
      Udid: d.udid,
      SerialNumber: d.serial,
      DeviceFriendlyName: d.name,
      Platform: 'Apple',
      Model: d.model,
      OperatingSystem: d.osVersion,
      IsSupervised: d.supervised,
      IsActivationLockEnabled: d.activationLock,
      BatteryLevel: `${Math.round(d.batteryLevel * 100)}%`,
      EnrollmentStatus: d.enrolled ? 'Enrolled' : 'Unenrolled',
      LastEnrolledOn: r.lastEnrolledOn,
    };
  }

  /** The Apple command a UEM command by alternate id stands for, or why it is refused. */
  private appleCommandOf(command: string, body: string): AppleCommand | string {
    switch (command) {
      case 'ClearPasscode':
        // UEM keeps the unlock token from the phone's enrolment and sends it itself.
        return { RequestType: 'ClearPasscode' };
      case 'DeviceQuery':
        return { RequestType: 'DeviceInformation', Queries: ['BatteryLevel', 'OSVersion', 'SerialNumber', 'DeviceName'] };
      case 'CustomMdmCommand': {
        const xml = (JSON.parse(body || '{}') as { CommandXml?: string }).CommandXml;
        if (!xml) return 'Command XML cannot be null or empty';
        try {
          const parsed = parsePlist(`<?xml version="1.0" encoding="UTF-8"?><plist version="1.0">${xml}</plist>`) as AppleCommand;
          return typeof parsed?.RequestType === 'string' ? parsed : 'Command XML has no RequestType';
        } catch {
          return 'Command XML is not a valid plist dictionary';
        }
      }
      default:
        return 'Command is not supported.';
    }
  }

  /** Queues `apple` for the phone under UEM's name for it; the phone answers a moment later. */
  private queue(record: Ws1Record, name: string, apple: AppleCommand): void {
    const item = { CommandName: name, LastStatus: 'Queued', CreatedOn: new Date().toISOString(), TransactionUuid: randomUUID() };
    record.queue.push(item);
    if (record.queue.length > 200) record.queue.shift();
    if (apple.RequestType === 'ClearPasscode') apple = { ...apple, UnlockToken: record.device.unlockToken };
    this.checkCommand(apple, item.TransactionUuid);
    const attempt = (): void => {
      const report = record.device.execute(apple);
      if (!report) return; // a silent phone never answers
      if (report.Status === 'NotNow') {
        item.LastStatus = 'NotNow';
        return this.timers.later(this.options.checkinDelay ?? 5, attempt);
      }
      item.LastStatus = report.Status === 'Acknowledged' ? 'Completed' : 'Error';
      if (apple.RequestType === 'EraseDevice' && report.Status === 'Acknowledged' && record.device.erase(apple))
        this.timers.later(this.options.reenrolDelay ?? 50, () => this.enrol(record.device));
    };
    this.timers.later(this.options.checkinDelay ?? 5, attempt);
  }
}
