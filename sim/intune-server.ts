import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { applicationConfiguration, installProfile, removeProfile, settings, type MdmCommand } from '../nodes/lib/mdm/commands';
import { APP_LOCK_IDENTIFIER, appLockProfile } from '../nodes/lib/mdm/profiles';
import type { SimulatedDevice } from './simulated-device';
import { MdmSimulator } from './mdm-simulator';

/** What an Intune admin assigned to an Entra ID group of devices. */
export interface GroupPolicy {
  group: string;
  /** A kiosk profile (Device restrictions > Kiosk): single-app mode for this app. */
  appLock?: string;
  /** An app configuration policy: the app, and its values, with the primary user's tokens (`{{userprincipalname}}`, `{{username}}`). */
  appConfiguration?: { app: string; values: Record<string, string> };
}

export interface EntraUser {
  id: string;
  userPrincipalName: string;
  onPremisesSamAccountName?: string;
  displayName: string;
}

export interface SimulatedIntuneOptions {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  /** Seconds a token lives (Entra ID: 3599). */
  tokenLifetime?: number;
  /** The application permissions granted with admin consent (default: all this package needs). */
  permissions?: string[];
  policies?: GroupPolicy[];
  users?: EntraUser[];
  /** Devices per page of the device list (Graph pages at most 1000). */
  pageSize?: number;
  /** Device writes allowed per window per app (Graph: 200 in 20 s), then 429 with Retry-After. */
  writeLimit?: { requests: number; seconds: number };
  /** How long after an action or a sync the device checks in, ms. */
  checkinDelay?: number;
  /** How long an erased phone that comes back by itself takes to enrol again, ms. */
  reenrolDelay?: number;
}

type AppleCommand = { RequestType: string; [key: string]: unknown };

interface ActionResult {
  actionName: string;
  actionState: 'pending' | 'done' | 'failed';
  startDateTime: string;
  lastUpdatedDateTime: string;
  deviceLocation?: Record<string, unknown>;
}

interface IntuneRecord {
  id: string;
  device: SimulatedDevice;
  azureADDeviceId: string;
  /** The Entra ID device object's id: what groups take as members. */
  directoryId: string;
  enrolledDateTime: string;
  lastSyncDateTime: string;
  actions: Map<string, ActionResult>;
  primaryUser?: EntraUser;
}

export const INTUNE_PERMISSIONS = [
  'DeviceManagementManagedDevices.ReadWrite.All',
  'DeviceManagementManagedDevices.PrivilegedOperations.All',
  'GroupMember.ReadWrite.All',
  'Device.Read.All',
  'User.Read.All',
];
const READ_DEVICES = ['DeviceManagementManagedDevices.Read.All', 'DeviceManagementManagedDevices.ReadWrite.All'];
const PRIVILEGED = ['DeviceManagementManagedDevices.PrivilegedOperations.All'];
const WRITE_DEVICES = ['DeviceManagementManagedDevices.ReadWrite.All'];
/** Actions in v1.0 and beta; the rest are beta only. */
const V1_ACTIONS = new Set(['wipe', 'resetPasscode', 'syncDevice', 'rebootNow', 'retire']);
const BETA_ACTIONS = new Set([...V1_ACTIONS, 'enableLostMode', 'disableLostMode', 'playLostModeSound', 'locateDevice', 'setDeviceName']);

/** Graph's error body. */
const failure = (code: string, message: string) => ({ error: { code, message, innerError: { date: new Date().toISOString(), 'request-id': randomUUID() } } });

/**
 * A subset of Microsoft Graph for Intune and Entra ID over HTTP on loopback, after Graph's own
 * reference pages: the client-credentials token endpoint (AADSTS errors), application permissions,
 * the paged managed device list, device actions followed in `deviceActionResults`, primary users,
 * Entra ID devices, groups and users, write throttling (429 with Retry-After). Each device action
 * and each group policy runs as Apple's command on a SimulatedDevice, checked against Apple's
 * schemas; a sync applies the policies of the device's groups.
 */
export class SimulatedIntune extends MdmSimulator {
  private readonly records = new Map<string, IntuneRecord>();
  private readonly groups = new Map<string, Set<string>>();
  private readonly tokens = new Map<string, { expires: number; permissions: string[] }>();
  private readonly writes: number[] = [];
  tokensIssued = 0;
  /** The application permissions granted; tokens issued from now carry them. */
  permissions: string[];
  /** Pages answer the next link on this origin instead of Graph's own (a proxy gone wrong). */
  nextLinkOrigin?: string;

  constructor(private readonly options: SimulatedIntuneOptions) {
    super();
    this.permissions = options.permissions ?? INTUNE_PERMISSIONS;
    for (const policy of options.policies ?? []) this.groups.set(policy.group, new Set());
  }

  /** The phone enrols (again): a new managed device and Entra ID device, in no group yet. */
  enrol(device: SimulatedDevice): void {
    for (const [id, r] of this.records) if (r.device === device) this.records.delete(id);
    const now = new Date().toISOString();
    const record = {
      id: randomUUID(),
      device,
      azureADDeviceId: randomUUID(),
      directoryId: randomUUID(),
      enrolledDateTime: now,
      lastSyncDateTime: now,
      actions: new Map(),
    };
    device.enrolled = true;
    this.records.set(record.id, record);
  }

  /** Adds a group (none of the policies') so the Test connection finds it. */
  addGroup(id: string): void {
    this.groups.set(id, new Set());
  }

  /** The groups `device` is in now. */
  groupsOf(device: SimulatedDevice): string[] {
    const record = this.recordOf(device);
    return [...this.groups].filter(([, members]) => record && members.has(record.directoryId)).map(([group]) => group);
  }

  /** Its primary user's UPN. */
  primaryUserOf(device: SimulatedDevice): string | undefined {
    return this.recordOf(device)?.primaryUser?.userPrincipalName;
  }

  /** Every token issued so far stops working, as after a secret rotation. */
  revokeTokens(): void {
    this.tokens.clear();
  }

  private recordOf(device: SimulatedDevice): IntuneRecord | undefined {
    return [...this.records.values()].find((r) => r.device === device);
  }

  protected async handle(req: IncomingMessage, res: ServerResponse, raw: Buffer): Promise<void> {
    const body = raw.toString('utf8');
    const url = new URL(req.url ?? '/', 'http://graph');
    const path = url.pathname;
    const method = req.method ?? '';
    const reply = (status: number, payload?: unknown, headers: Record<string, string> = {}): void => this.answer(req, res, path, status, payload, headers);
    const token = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(path);
    if (method === 'POST' && token) return reply(...this.issueToken(decodeURIComponent(token[1]), new URLSearchParams(body)));

    const version = /^\/(v1\.0|beta)(\/.*)$/.exec(path);
    if (!version) return reply(404, failure('UnknownError', 'Not found'));
    const granted = this.tokens.get(/^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? '');
    if (!granted || granted.expires < Date.now())
      return reply(401, failure('InvalidAuthenticationToken', granted ? 'Lifetime validation failed, the token is expired.' : 'Access token is empty.'));
    if (this.latency) await this.timers.delay(this.latency);
    if (this.replyWithFault(reply, (status) => failure(status === 429 ? 'TooManyRequests' : 'ServiceUnavailable', 'Service unavailable'))) return;
    const [, api, rest] = version;
    const allowed = (needed: string[]): boolean => needed.some((p) => granted.permissions.includes(p));
    const forbidden = (needed: string[]) =>
      reply(
        403,
        failure(
          'Forbidden',
          `Application is not authorized to perform this operation. Application must have one of the following scopes: ${needed.join(', ')}`,
        ),
      );
    const json = (): Record<string, unknown> => {
      try {
        return (JSON.parse(body || '{}') as Record<string, unknown>) ?? {};
      } catch {
        return {};
      }
    };

    if (rest.startsWith('/deviceManagement/') && method !== 'GET' && !this.writeAllowed()) {
      const retryAfter = Math.ceil((this.writes[0] + this.writeWindow.seconds * 1000 - Date.now()) / 1000);
      return reply(429, failure('TooManyRequests', 'Too many requests'), { 'retry-after': String(Math.max(1, retryAfter)) });
    }

    if (method === 'GET' && rest === '/deviceManagement/managedDevices') {
      if (!allowed(READ_DEVICES)) return forbidden(READ_DEVICES);
      return reply(200, this.page(api, url.searchParams));
    }
    const device = /^\/deviceManagement\/managedDevices\/([0-9a-f-]{36})(?:\/(.+))?$/.exec(rest);
    if (device) {
      const record = this.records.get(device[1]);
      if (!record) return reply(404, failure('ResourceNotFound', `Resource not found: managedDevice ${device[1]}`));
      const action = device[2];
      if (!action && method === 'GET') {
        if (!allowed(READ_DEVICES)) return forbidden(READ_DEVICES);
        return reply(200, select(this.managedDevice(record, api), url.searchParams.get('$select')));
      }
      if (!action && method === 'DELETE') {
        if (!allowed(WRITE_DEVICES)) return forbidden(WRITE_DEVICES);
        this.records.delete(record.id);
        return reply(204);
      }
      if (action === 'users/$ref' && api === 'beta') {
        if (!allowed(WRITE_DEVICES)) return forbidden(WRITE_DEVICES);
        if (method === 'DELETE') {
          if (!record.primaryUser) return reply(404, failure('ResourceNotFound', 'No primary user'));
          record.primaryUser = undefined;
          return reply(204);
        }
        const userId = /\/users\/([^/]+)$/.exec(String(json()['@odata.id'] ?? ''))?.[1];
        const user = this.options.users?.find((u) => u.id === userId);
        if (!user) return reply(400, failure('BadRequest', 'Invalid user reference'));
        record.primaryUser = user;
        return reply(204);
      }
      if (method === 'POST' && action && (api === 'beta' ? BETA_ACTIONS : V1_ACTIONS).has(action)) {
        if (!allowed(PRIVILEGED)) return forbidden(PRIVILEGED);
        const refused = this.act(record, action, json());
        return refused ? reply(400, failure('BadRequest', refused)) : reply(204);
      }
      return reply(400, failure('BadRequest', `Resource not found for the segment '${action ?? ''}'.`));
    }

    if (method === 'GET' && rest === '/devices') {
      if (!allowed(['Device.Read.All'])) return forbidden(['Device.Read.All']);
      const deviceId = /^deviceId eq '([^']*)'$/.exec(url.searchParams.get('$filter') ?? '')?.[1];
      const found = [...this.records.values()].filter((r) => r.azureADDeviceId === deviceId);
      return reply(200, { value: found.map((r) => ({ id: r.directoryId, deviceId: r.azureADDeviceId })) });
    }
    if (method === 'GET' && rest === '/users') {
      if (!allowed(['User.Read.All'])) return forbidden(['User.Read.All']);
      const filter = url.searchParams.get('$filter') ?? '';
      // Filtering on onPremisesSamAccountName is an advanced query: counted, with eventual consistency.
      if (filter.includes('onPremisesSamAccountName') && (req.headers.consistencylevel !== 'eventual' || url.searchParams.get('$count') !== 'true'))
        return reply(
          400,
          failure(
            'Request_UnsupportedQuery',
            "Unsupported or invalid query filter clause specified for property 'onPremisesSamAccountName' of resource 'User'.",
          ),
        );
      const wanted = [...filter.matchAll(/(userPrincipalName|onPremisesSamAccountName) eq '((?:[^']|'')*)'/g)].map(([, field, value]) => ({
        field: field as 'userPrincipalName' | 'onPremisesSamAccountName',
        value: value.replace(/''/g, "'"),
      }));
      const found = (this.options.users ?? []).filter((u) => wanted.some(({ field, value }) => u[field]?.toLowerCase() === value.toLowerCase()));
      return reply(200, { '@odata.count': found.length, value: found.map((u) => ({ id: u.id })) });
    }
    const group = /^\/groups\/([0-9a-f-]{36})(?:\/members\/(?:\$ref|([0-9a-f-]{36})\/\$ref))?$/.exec(rest);
    if (group && api === 'v1.0') {
      const members = this.groups.get(group[1]);
      if (!members)
        return reply(
          404,
          failure('Request_ResourceNotFound', `Resource '${group[1]}' does not exist or one of its queried reference-property objects are not present.`),
        );
      const needed = method === 'GET' ? ['GroupMember.Read.All', 'GroupMember.ReadWrite.All'] : ['GroupMember.ReadWrite.All'];
      if (!allowed(needed)) return reply(403, failure('Authorization_RequestDenied', 'Insufficient privileges to complete the operation.'));
      if (method === 'GET' && !rest.includes('/members')) return reply(200, { id: group[1] });
      if (method === 'POST' && !group[2]) {
        const member = /\/directoryObjects\/([0-9a-f-]{36})$/.exec(String(json()['@odata.id'] ?? ''))?.[1] ?? '';
        if (![...this.records.values()].some((r) => r.directoryId === member))
          return reply(404, failure('Request_ResourceNotFound', `Resource '${member}' does not exist.`));
        if (members.has(member))
          return reply(
            400,
            failure('Request_BadRequest', "One or more added object references already exist for the following modified properties: 'members'."),
          );
        members.add(member);
        return reply(204);
      }
      if (method === 'DELETE' && group[2]) {
        if (!members.delete(group[2])) return reply(404, failure('Request_ResourceNotFound', `Resource '${group[2]}' does not exist.`));
        return reply(204);
      }
    }
    return reply(400, failure('BadRequest', `Resource not found for the segment '${rest}'.`));
  }

  /** Client credentials for Graph's scope, as Entra ID answers them (AADSTS codes). */
  private issueToken(tenant: string, form: URLSearchParams): [number, object] {
    const refuse = (status: number, error: string, code: number, text: string): [number, object] => [
      status,
      { error, error_description: `AADSTS${code}: ${text}`, error_codes: [code], timestamp: new Date().toISOString(), trace_id: randomUUID() },
    ];
    if (tenant !== this.options.tenantId) return refuse(400, 'invalid_request', 90002, `Tenant '${tenant}' not found.`);
    if (form.get('grant_type') !== 'client_credentials') return refuse(400, 'unsupported_grant_type', 70003, 'The app requested an unsupported grant type.');
    if (form.get('client_id') !== this.options.clientId)
      return refuse(400, 'unauthorized_client', 700016, `Application with identifier '${form.get('client_id')}' was not found in the directory.`);
    if (form.get('client_secret') !== this.options.clientSecret) return refuse(401, 'invalid_client', 7000215, 'Invalid client secret provided.');
    if (form.get('scope') !== `${this.url}/.default`)
      return refuse(400, 'invalid_scope', 1002012, `The provided value for scope ${form.get('scope')} is not valid.`);
    const lifetime = this.options.tokenLifetime ?? 3599;
    const token = randomUUID();
    this.tokens.set(token, { expires: Date.now() + lifetime * 1000, permissions: [...this.permissions] });
    this.tokensIssued++;
    return [200, { token_type: 'Bearer', expires_in: lifetime, ext_expires_in: lifetime, access_token: token }];
  }

  private get writeWindow(): { requests: number; seconds: number } {
    return this.options.writeLimit ?? { requests: 200, seconds: 20 };
  }

  private writeAllowed(): boolean {
    const { requests, seconds } = this.writeWindow;
    while (this.writes.length && this.writes[0] < Date.now() - seconds * 1000) this.writes.shift();
    if (this.writes.length >= requests) return false;
    this.writes.push(Date.now());
    return true;
  }

  /** One page of iOS devices (the only filter it honours), the next one linked by a skip token. */
  private page(api: string, params: URLSearchParams): object {
    const skip = Number(params.get('$skiptoken') ?? 0);
    const size = Math.min(Number(params.get('$top') ?? Infinity), this.options.pageSize ?? 100);
    const all = [...this.records.values()]; // every simulated device is an iPhone: the iOS filter keeps them all
    const next = new URLSearchParams(params);
    next.set('$skiptoken', String(skip + size));
    next.delete('$top');
    const more = skip + size < all.length && !params.has('$top');
    return {
      value: all.slice(skip, skip + size).map((r) => select(this.managedDevice(r, api), params.get('$select'))),
      ...(more && { '@odata.nextLink': `${this.nextLinkOrigin ?? this.url}/${api}/deviceManagement/managedDevices?${next}` }),
    };
  }

  private managedDevice(r: IntuneRecord, api: string): Record<string, unknown> {
    const d = r.device;
    return {
      id: r.id,
      udid: d.udid,
      serialNumber: d.serial,
      deviceName: d.name,
      operatingSystem: 'iOS',
      osVersion: d.osVersion,
      model: d.model,
      isSupervised: d.supervised,
      azureADDeviceId: r.azureADDeviceId,
      enrolledDateTime: r.enrolledDateTime,
      lastSyncDateTime: r.lastSyncDateTime,
      managementState: 'managed',
      userPrincipalName: r.primaryUser?.userPrincipalName ?? '',
      deviceActionResults: [...r.actions.values()],
      ...(api === 'beta' && {
        lostModeState: d.lostMode ? 'enabled' : 'disabled',
        hardwareInformation: { serialNumber: d.serial, isSupervised: d.supervised, batteryLevelPercentage: Math.round(d.batteryLevel * 100) },
      }),
    };
  }

  /** Starts `action` on the device (it checks in a moment later), or says why the request is refused. */
  private act(record: IntuneRecord, action: string, body: Record<string, unknown>): string | undefined {
    if (action === 'syncDevice') {
      this.timers.later(this.options.checkinDelay ?? 5, () => this.sync(record));
      return undefined;
    }
    let apple = appleCommandOf(action, body);
    if (typeof apple === 'string') return apple;
    if (apple.RequestType === 'ClearPasscode') apple = { ...apple, UnlockToken: record.device.unlockToken };
    const now = new Date().toISOString();
    const result: ActionResult = { actionName: action, actionState: 'pending', startDateTime: now, lastUpdatedDateTime: now };
    record.actions.set(action, result);
    const attempt = (): void => {
      if (this.records.get(record.id) !== record) return;
      const report = this.run(record.device, apple);
      if (!report) return; // a silent phone: pending for ever
      if (report.Status === 'NotNow') return this.timers.later(this.options.checkinDelay ?? 5, attempt);
      result.actionState = report.Status === 'Acknowledged' ? 'done' : 'failed';
      result.lastUpdatedDateTime = new Date().toISOString();
      if (action === 'locateDevice' && report.Status === 'Acknowledged')
        result.deviceLocation = {
          latitude: report.Latitude,
          longitude: report.Longitude,
          horizontalAccuracy: report.HorizontalAccuracy,
          lastCollectedDateTime: report.Timestamp,
        };
      if (action === 'wipe' && report.Status === 'Acknowledged') {
        this.records.delete(record.id); // Intune removes a wiped device's record
        if (record.device.erase(apple)) this.timers.later(this.options.reenrolDelay ?? 50, () => this.enrol(record.device));
      }
    };
    this.timers.later(this.options.checkinDelay ?? 5, attempt);
    return undefined;
  }

  /** The phone checks in: the policies of its groups are applied, and the sync is recorded. */
  private sync(record: IntuneRecord): void {
    const device = record.device;
    if (device.silent || this.records.get(record.id) !== record) return;
    const mine = new Set(this.groupsOf(device));
    for (const policy of this.options.policies ?? []) {
      const assigned = mine.has(policy.group);
      if (policy.appLock && assigned && !device.profiles.has(APP_LOCK_IDENTIFIER)) this.run(device, installProfile(appLockProfile(policy.appLock)).Command);
      if (policy.appLock && !assigned && device.profiles.has(APP_LOCK_IDENTIFIER)) this.run(device, removeProfile(APP_LOCK_IDENTIFIER).Command);
      if (policy.appConfiguration && assigned) {
        const user = record.primaryUser;
        const values = Object.fromEntries(
          Object.entries(policy.appConfiguration.values).map(([key, value]) => [
            key,
            value.replace(/\{\{userprincipalname\}\}/gi, user?.userPrincipalName ?? '').replace(/\{\{username\}\}/gi, user?.displayName ?? ''),
          ]),
        );
        this.run(device, settings(applicationConfiguration(policy.appConfiguration.app, values)).Command);
      }
    }
    record.lastSyncDateTime = new Date().toISOString();
  }

  /** Apple's command on the phone, checked against Apple's schemas on its way. */
  private run(device: SimulatedDevice, apple: AppleCommand | MdmCommand['Command']): ReturnType<SimulatedDevice['execute']> {
    const command = apple as AppleCommand;
    this.checkCommand(command);
    return device.execute(command);
  }
}

/** The Apple command a Graph device action stands for, or why Graph refuses its body. */
function appleCommandOf(action: string, body: Record<string, unknown>): AppleCommand | string {
  switch (action) {
    case 'wipe':
      return { RequestType: 'EraseDevice', ...(body.persistEsimDataPlan === true && { PreserveDataPlan: true }) };
    case 'resetPasscode':
      return { RequestType: 'ClearPasscode' }; // Intune keeps the unlock token and adds it itself
    case 'enableLostMode':
      if (!body.message && !body.phoneNumber) return 'A message or a phone number is required.';
      return {
        RequestType: 'EnableLostMode',
        ...(body.message ? { Message: body.message } : {}),
        ...(body.phoneNumber ? { PhoneNumber: body.phoneNumber } : {}),
        ...(body.footer ? { Footnote: body.footer } : {}),
      };
    case 'disableLostMode':
      return { RequestType: 'DisableLostMode' };
    case 'playLostModeSound':
      return { RequestType: 'PlayLostModeSound' };
    case 'locateDevice':
      return { RequestType: 'DeviceLocation' };
    case 'setDeviceName':
      if (typeof body.deviceName !== 'string' || !body.deviceName) return 'deviceName is required.';
      return { RequestType: 'Settings', Settings: [{ Item: 'DeviceName', DeviceName: body.deviceName }] };
    case 'rebootNow':
      return { RequestType: 'RestartDevice' };
    default:
      return `The action ${action} is not supported for iOS devices.`;
  }
}

/** The fields `$select` names (all of them without one). */
function select(item: Record<string, unknown>, fields: string | null): Record<string, unknown> {
  if (!fields) return item;
  return Object.fromEntries(
    fields
      .split(',')
      .map((f) => [f.trim(), item[f.trim()]])
      .filter(([, v]) => v !== undefined),
  );
}
