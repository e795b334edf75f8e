import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';
import Ajv from 'ajv';
import { catalogText, CodedError } from '../coded-error';
import { ERROR_CODES, type ErrorCode } from '../error-codes';
import { CommandResults } from './command-results';
import { deviceInformation, installProfile, parsePlist, removeProfile, toPlist, type MdmCommand } from './commands';
import { APP_LOCK_IDENTIFIER, appLockProfile } from './profiles';
import { MdmHttp } from './mdm-http';
import type { AssignedUser, DeviceFacts, Enrolment, EraseFacts, MdmAdapter, PerformOptions, WebhookLasting } from './mdm-adapter';
import { clearWithUnlockToken, noteErase } from './enrolment';

export interface NanoMdmOptions {
  url: string;
  apiKey: string;
  /** HMAC key NanoMDM signs webhooks with. */
  webhookSecret?: string;
  /** Without a key, whether unsigned webhooks are taken (an explicit choice: anyone could send one). */
  acceptUnsigned?: boolean;
  maxConcurrent: number;
  /** HTTP timeout, ms. */
  timeout: number;
  /** Keeps what check-ins taught across restarts. */
  vault?: { load(): Enrolment[]; save(enrolments: Enrolment[]): Promise<void> };
}

/** What check-ins taught us about a device. */
export interface CheckIn extends Enrolment {
  model?: string;
  /** When NanoMDM created the newest check-in taken for it (ms): an older one is a replay. */
  checkInAt?: number;
}

type EnqueueOutcome = { push_result?: string; push_error?: string; command_error?: string };
/** Per device under `status`, or (a server without a push certificate, a storage failure) at the top level. */
type EnqueueReply = EnqueueOutcome & { status?: Record<string, EnqueueOutcome> };

type Webhook = {
  topic: string;
  event_id?: string;
  created_at?: string;
  acknowledge_event?: { udid: string; status: string; command_uuid?: string; raw_payload?: string };
  checkin_event?: { udid: string; raw_payload?: string };
};

/** Vault saves begin at least this far apart, ms. */
const VAULT_SAVE_GAP_MS = 1000;

const text = (maxLength: number) => ({ type: 'string', minLength: 1, maxLength });
const payload = { type: 'string', maxLength: 1024 * 1024 };
/** Every field this package reads from a webhook, checked before it is read. */
const isWebhook = new Ajv().compile<Webhook>({
  type: 'object',
  required: ['topic'],
  properties: {
    topic: text(100),
    event_id: text(200),
    created_at: text(64),
    acknowledge_event: {
      type: 'object',
      required: ['udid', 'status'],
      properties: { udid: text(200), status: text(64), command_uuid: text(200), raw_payload: payload },
    },
    checkin_event: { type: 'object', required: ['udid'], properties: { udid: text(200), raw_payload: payload } },
  },
});

/**
 * NanoMDM: commands go out through `PUT /v1/enqueue/{udid}`; results and check-ins come
 * back only through the webhook, so this class also keeps what Authenticate (serial) and
 * TokenUpdate (UnlockToken) said, because NanoMDM has no API to read them back.
 *
 * Events: `authenticate`, `token-update`, `checkout` (CheckIn), `warning` (CodedError: a refused
 * webhook, a vault the disk refused), `webhook-status` (the refusal now going on, or undefined),
 * `webhook` ({eventId, body}: one taken from the HTTP route, for carts that share them).
 */
export class NanoMdm extends EventEmitter implements MdmAdapter {
  readonly vendor = 'nanomdm';
  readonly results = new CommandResults();
  readonly http: MdmHttp;
  private readonly devices = new Map<string, CheckIn>();
  /** The newest vault write, awaited on close. */
  private vaultSaved?: Promise<void>;
  /** A save waits for the one being written: it takes every check-in until it starts. */
  private vaultQueued = false;
  /** When the last save began; a save waiting for its turn, and how to start it at once (closing). */
  private vaultSavedAt = 0;
  private saveNow?: () => void;
  private closing = false;
  /** Why webhooks are being refused (a key that does not match, none sent), until one is taken again. */
  webhookProblem?: CodedError;

  constructor(private readonly options: NanoMdmOptions) {
    super();
    this.setMaxListeners(0); // every action node of every fleet on this MDM listens for `webhook-status`
    this.http = new MdmHttp({ baseURL: options.url, maxConcurrent: options.maxConcurrent, timeout: options.timeout });
    for (const known of options.vault?.load() ?? []) this.devices.set(known.udid, known);
  }

  /** Sends `command` to the device and resolves with its answer once it acknowledged it. */
  async setAppLock(udid: string, bundleId: string | undefined, options: PerformOptions): Promise<void> {
    await this.perform(udid, bundleId ? installProfile(appLockProfile(bundleId)) : removeProfile(APP_LOCK_IDENTIFIER), options);
  }

  async readDevice(udid: string, options: PerformOptions): Promise<DeviceFacts> {
    const answer = await this.perform(udid, deviceInformation(['BatteryLevel', 'SerialNumber']), options);
    const { BatteryLevel: battery, SerialNumber: serial } = (answer.QueryResponses ?? {}) as { BatteryLevel?: unknown; SerialNumber?: unknown };
    const known = this.remember(udid);
    if (typeof serial === 'string' && serial && known.serial !== serial) {
      known.serial = serial; // an Authenticate webhook lost while Node-RED was down: learnt here instead
      this.saveVault();
    }
    return { ...(typeof battery === 'number' && { battery }), ...(typeof serial === 'string' && serial && { serial }) };
  }

  async readEraseFacts(udid: string, options: PerformOptions): Promise<EraseFacts> {
    const answer = await this.perform(udid, deviceInformation(['OSVersion', 'IsActivationLockEnabled']), options);
    const { OSVersion: osVersion, IsActivationLockEnabled: activationLock } = (answer.QueryResponses ?? {}) as Record<string, unknown>;
    return { ...(typeof osVersion === 'string' && { osVersion }), ...(typeof activationLock === 'boolean' && { activationLock }) };
  }

  clearPasscode(udid: string, options: PerformOptions): Promise<void> {
    return clearWithUnlockToken(this, udid, options);
  }

  /** NanoMDM keeps no users. */
  async assignUser(_udid: string, _user: AssignedUser | undefined): Promise<void> {}

  async perform(udid: string, command: MdmCommand, { timeout, destructive = false, signal }: PerformOptions): Promise<Record<string, unknown>> {
    const answer = this.results.wait(udid, command.CommandUUID, timeout, signal);
    // Stopped (a redeploy) or timed out while the enqueue is still on its way: rejected before
    // it is awaited below, which must not count as an unhandled rejection (that ends Node.js).
    answer.catch(() => undefined);
    try {
      await this.enqueue(udid, command, destructive);
      this.results.asked(udid, command.CommandUUID);
    } catch (err) {
      this.results.cancel(udid, command.CommandUUID, err as Error);
    }
    const result = await answer;
    noteErase(this.remember(udid), command, Date.now());
    return result;
  }

  /** What the device's check-ins taught: serial, unlock token, when it enrolled. */
  enrolment(udid: string): CheckIn | undefined {
    return this.devices.get(udid);
  }

  private remember(udid: string): CheckIn {
    let known = this.devices.get(udid);
    if (!known) this.devices.set(udid, (known = { udid }));
    return known;
  }

  private async enqueue(udid: string, command: MdmCommand, destructive: boolean): Promise<void> {
    const response = await this.http.request<EnqueueReply>({
      method: 'PUT',
      url: `/v1/enqueue/${encodeURIComponent(udid)}`,
      data: toPlist(command),
      headers: { 'content-type': 'application/xml' },
      auth: { username: 'nanomdm', password: this.options.apiKey },
      destructive,
      // NanoMDM also answers 500 when only the push failed: the body tells which.
      accept: [500],
    });
    const reply = response.data && typeof response.data === 'object' ? response.data : {};
    // Any command_error, top level or for the device: not queued. A push_error alone: queued, not
    // pushed (a fresh server has no push certificate), and the device gets it at its next poll.
    const outcome = reply.status?.[udid] ?? (reply.command_error || reply.push_error ? reply : undefined);
    const commandError = reply.command_error ?? outcome?.command_error;
    if (commandError) throw new CodedError('MDM_REJECTED', catalogText('mdm-server.errors.nanomdm-refused', { udid, reason: commandError }));
    if (!outcome) {
      const code = response.status === 500 ? (destructive ? 'MDM_UNCERTAIN' : 'MDM_SERVER_ERROR') : 'MDM_PROTOCOL';
      throw new CodedError(code, catalogText('mdm-server.errors.nanomdm-unclear', { status: response.status, udid }), { status: response.status });
    }
  }

  async unlockToken(udid: string): Promise<Buffer | undefined> {
    return this.devices.get(udid)?.unlockToken;
  }

  /** NanoMDM has no API to delete a device record; saying so beats pretending. */
  async deleteDevice(udid: string): Promise<void> {
    throw new CodedError('UNSUPPORTED', catalogText('mdm-server.errors.nanomdm-no-delete', { udid }));
  }

  /**
   * One webhook POST, exactly as received. Returns the HTTP status to answer with: 401 for a
   * bad or missing signature when a key is set (or for any webhook without a key, unless
   * unsigned ones are accepted), 400 for a body that is not NanoMDM's. A refusal is also a
   * `warning` event naming the likely cause (never the body or a secret).
   */
  handleWebhook(body: Buffer, signature: string | undefined): number {
    const { webhookSecret, acceptUnsigned } = this.options;
    if (webhookSecret && !signatureMatches(body, signature, webhookSecret)) {
      return signature
        ? this.refuse('WEBHOOK_BAD_SIGNATURE', 'mdm-server.errors.webhook-bad-signature')
        : this.refuse('WEBHOOK_UNSIGNED', 'mdm-server.errors.webhook-not-signed');
    }
    if (!webhookSecret && !acceptUnsigned) {
      return this.refuse('WEBHOOK_UNSIGNED', 'mdm-server.errors.webhook-no-secret');
    }
    const event = parseWebhook(body);
    if (event === 'not JSON') return this.refuse('WEBHOOK_INVALID', 'mdm-server.errors.webhook-not-json');
    if (!event) return this.refuse('WEBHOOK_INVALID', 'mdm-server.errors.webhook-not-event');
    if (this.webhookProblem) {
      this.webhookProblem = undefined;
      this.emit('webhook-status', undefined);
    }
    const status = this.take(event);
    // For the other carts (see `WebhookRelay`): what teaches something, never the Idle connect that ends each poll.
    const about = status === 200 ? aboutOf(event) : undefined;
    if (about) this.emit('webhook', { eventId: event.event_id ?? createHash('sha256').update(body).digest('hex'), body, about, lasting: lastingOf(event) });
    return status;
  }

  /** Whether a webhook another cart kept is one this cart needs: every check-in, and the results of its own commands. */
  needs(about: string): boolean {
    return about.startsWith('checkin:') || (about.startsWith('result:') && this.results.waitsFor(about.slice('result:'.length)));
  }

  /** A webhook another cart received and checked (see `WebhookRelay`): taken as if it came here. */
  takeRelayed(body: Buffer): void {
    const event = parseWebhook(body);
    if (event && event !== 'not JSON') this.take(event);
  }

  /** What one webhook says: a command's result, or what a check-in teaches. */
  private take(event: Webhook): number {
    const ack = event.acknowledge_event;
    const checkin = event.checkin_event;
    if (event.topic === 'mdm.Connect' && ack) {
      // Every poll ends with an Idle connect that carries no result.
      if (ack.command_uuid) this.results.report({ udid: ack.udid, commandUUID: ack.command_uuid, status: ack.status, payload: decodePayload(ack.raw_payload) });
      return 200;
    }
    if (checkin) {
      const message = decodePayload(checkin.raw_payload);
      const known = this.remember(checkin.udid);
      // A check-in older than the newest taken (a replay, or one delivered late) changes nothing.
      const createdAt = event.created_at === undefined ? undefined : timeOf(event.created_at);
      if (createdAt !== undefined && known.checkInAt !== undefined && createdAt < known.checkInAt) return 200;
      if (createdAt !== undefined) known.checkInAt = createdAt;
      if (event.topic === 'mdm.Authenticate') {
        Object.assign(known, {
          serial: message.SerialNumber as string | undefined,
          model: message.Model as string | undefined,
          unlockToken: undefined,
          enrolledAt: undefined,
        });
        this.emit('authenticate', known);
      } else if (event.topic === 'mdm.TokenUpdate') {
        if (Buffer.isBuffer(message.UnlockToken)) known.unlockToken = message.UnlockToken;
        known.awaitingConfiguration = message.AwaitingConfiguration === true;
        known.enrolledAt = Date.now();
        this.emit('token-update', known);
      } else if (event.topic === 'mdm.CheckOut') {
        this.devices.delete(checkin.udid);
        this.emit('checkout', known);
      }
      this.saveVault();
      return 200;
    }
    return 400;
  }

  /**
   * Memory keeps what the check-in taught even when the disk refuses: the next check-in writes it.
   * One save at a time, of the newest state, at most one a second: a thousand phones enrolling
   * at once cost a few saves of the whole vault, not a thousand (a cart relayed five thousand
   * phones' check-ins saved its vault back to back).
   */
  private saveVault(): void {
    const { vault } = this.options;
    if (!vault || this.vaultQueued) return;
    this.vaultQueued = true;
    this.vaultSaved = (this.vaultSaved ?? Promise.resolve())
      .then(() => this.vaultGap())
      .then(() => {
        this.vaultQueued = false;
        this.vaultSavedAt = Date.now();
        return vault.save([...this.devices.values()]);
      })
      .catch((err: Error) => void this.emit('warning', err));
  }

  /** Resolves a second after the last save began, or at once when closing. */
  private vaultGap(): Promise<void> {
    const wait = this.vaultSavedAt + VAULT_SAVE_GAP_MS - Date.now();
    if (wait <= 0 || this.closing) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, wait);
      this.saveNow = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  /** Refuses a webhook with its code's HTTP status. */
  private refuse(code: ErrorCode, key: string): number {
    const { http: status } = ERROR_CODES[code];
    const problem = new CodedError(code, catalogText(key));
    this.emit('warning', problem);
    if (status === 401 && this.webhookProblem?.code !== code) {
      this.webhookProblem = problem;
      this.emit('webhook-status', problem);
    }
    return status;
  }

  /** Waits for what the check-ins taught to be on disk: the next start reads it. */
  async close(): Promise<void> {
    this.results.rejectAll(new CodedError('MDM_CLOSED', catalogText('mdm-server.errors.closed')));
    this.closing = true;
    this.saveNow?.();
    await this.vaultSaved;
  }
}

/** NanoMDM's RFC 3339 times carry nanoseconds; milliseconds are enough to order check-ins. */
function timeOf(created: string): number | undefined {
  const ms = Date.parse(created.replace(/(\.\d{3})\d+/, '$1'));
  return Number.isNaN(ms) ? undefined : ms;
}

function parseWebhook(body: Buffer): Webhook | 'not JSON' | undefined {
  let event: unknown;
  try {
    event = JSON.parse(body.toString('utf8'));
  } catch {
    return 'not JSON';
  }
  return isWebhook(event) ? event : undefined;
}

function signatureMatches(body: Buffer, signature: string | undefined, key: string): boolean {
  if (!signature) return false;
  const expected = createHmac('sha256', key).update(body).digest();
  const given = Buffer.from(signature, 'base64');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function decodePayload(raw: string | undefined): Record<string, unknown> {
  if (!raw) return {};
  try {
    return (parsePlist(Buffer.from(raw, 'base64')) as Record<string, unknown>) ?? {};
  } catch {
    return {};
  }
}

/**
 * How long a relayed webhook teaches (see `WebhookLasting`): a device's check-ins from its
 * newest Authenticate (or CheckOut) on, for as long as it stays enrolled; a result until read.
 */
function lastingOf(event: Webhook): WebhookLasting {
  if (!event.checkin_event) return 'read-once';
  return event.topic === 'mdm.Authenticate' || event.topic === 'mdm.CheckOut' ? 'begins' : 'adds';
}

/** What a webhook is about, for the carts it is relayed to: `checkin:<udid>`, `result:<udid>/<command uuid>`, or nothing to relay. */
function aboutOf(event: Webhook): string | undefined {
  if (event.checkin_event) return `checkin:${event.checkin_event.udid}`;
  const ack = event.acknowledge_event;
  return ack?.command_uuid ? `result:${ack.udid}/${ack.command_uuid}` : undefined;
}
