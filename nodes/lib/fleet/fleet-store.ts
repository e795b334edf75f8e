import { EventEmitter } from 'node:events';
import { appendFileSync, closeSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { CodedError } from '../coded-error';
import { readJson, storageFailed, writeFileAtomically, writeJsonAtomically } from '../json-file';
import { checkUserId, MAX_TEXT, userKey } from './person';

export const STATUSES = ['Unknown', 'Prepping', 'Checked In', 'Checking Out', 'Checked Out', 'Returning', 'Failed'] as const;
export type DeviceStatus = (typeof STATUSES)[number];

/** One change to one device: what, who, when, why. */
export interface AuditEntry {
  at: string;
  udid: string;
  what: string;
  from?: string;
  to?: string;
  who?: string;
  why?: string;
}

/** Where a phone sits: a port of a hub, the hub keyed by its config node's id and shown by its name. */
export interface HubPort {
  hubId: string;
  hub: string;
  port: number;
}

export interface DeviceRecord {
  udid: string;
  serial?: string;
  name?: string;
  /** The hub's name, as people read it. */
  hub?: string;
  /** The hub's config node id: what ports are keyed on. */
  hubId?: string;
  port?: number;
  docked: boolean;
  status: DeviceStatus;
  /** Device User: who has (or is taking) the phone. */
  user?: string;
  /** Her display name, when the badge lookup (or the flow) gave one. */
  userName?: string;
  attributes: Record<string, string>;
  /** 0 to 1, as the MDM's DeviceInformation reports it. */
  battery?: number;
  healthy: boolean;
  /** A check-out waiting for the phone to be unplugged. */
  checkout?: PendingCheckout;
}

/** Kept with the device so a restart, even a killed process, still fails a late check-out. */
export interface PendingCheckout {
  /** When the check-out fails unless the phone was unplugged (ISO 8601). */
  deadline: string;
  /** The node that started it, which reports the failure. */
  node?: string;
  /** The message that started it (what JSON keeps of it), for the failure report. */
  message?: Record<string, unknown>;
}

interface FleetFile {
  version: 2;
  devices: Record<string, DeviceRecord>;
}

export interface CheckoutRules {
  /** Devices one user may hold at once. */
  userLimit: number;
  /** Devices below this charge (0 to 1) are not handed out. */
  batteryThreshold: number;
  /** Seconds the person has to unplug the phone. */
  deadlineSeconds: number;
}

export interface Actor {
  who?: string;
  why?: string;
}

const HOLDING: DeviceStatus[] = ['Checking Out', 'Checked Out'];
/** Whether a person holds the phone: being taken or out, or Failed while out with her (a workflow failed on it). */
const holds = (d: DeviceRecord): boolean => d.user !== undefined && (HOLDING.includes(d.status) || (d.status === 'Failed' && !d.docked));

export interface FleetStoreOptions {
  now?: () => Date;
  auditLimit?: number;
  /** After a failed write, how often to try writing again, ms. */
  healInterval?: number;
}

/**
 * The cart's memory: every device, its status, user and attributes, and an audit trail of
 * every change. Each change is written at once: the devices atomically as a whole and flushed
 * to the disk (a killed process or a power cut loses no device, no status and no pending
 * deadline), the audit trail appended as JSON lines next to it. A change the disk refuses
 * (full, read-only) fails with STORAGE_FAILED and changes nothing in memory either; the store
 * then tries again every `healInterval` and says when writing works again.
 *
 * Events: `storage` (a CodedError while writing fails, then undefined once it works again).
 */
export class FleetStore extends EventEmitter {
  private devicesById: Record<string, DeviceRecord>;
  private readonly auditFile: string;
  private readonly audited: AuditEntry[];
  /** Lines in the audit file; past twice the limit it is rewritten with the newest only. */
  private auditLines: number;
  /** Audit entries the disk has not taken yet; they go with the next write. */
  private unwritten: AuditEntry[] = [];
  /** The audit file may end in a line cut short (a kill, a failed append). */
  private auditTorn: boolean;
  private failure?: CodedError;
  private healTimer?: NodeJS.Timeout;
  /** What opening found damaged and what was done about it, for the log. */
  readonly notices: string[] = [];

  /** A fleet file that is not one fails with STORAGE_DAMAGED and is left as it is: nothing is guessed. */
  constructor(
    private readonly file: string,
    private readonly options: FleetStoreOptions = {},
  ) {
    super();
    this.setMaxListeners(0); // every node of the fleet listens for `storage`: as many as the flows have
    const saved = readJson<FleetFile>(file, { version: 2, devices: {} });
    if (saved?.version !== 2 || typeof saved.devices !== 'object' || saved.devices === null || Array.isArray(saved.devices)) {
      throw new CodedError('STORAGE_DAMAGED', `${file} is damaged (not a version 2 fleet file)`, { path: file });
    }
    this.devicesById = saved.devices;
    this.auditFile = file.replace(/(\.json)?$/, '.audit.jsonl');
    const { entries, skipped, torn } = readAudit(this.auditFile);
    if (skipped > 0) this.notices.push(`${this.auditFile}: skipped ${skipped} damaged line${skipped === 1 ? '' : 's'} (cut short by a kill?); new entries start on a line of their own`);
    this.audited = entries;
    this.auditTorn = torn;
    this.auditLines = entries.length;
    this.audited.splice(0, Math.max(0, this.audited.length - this.auditLimit));
  }

  /** Why writing fails right now, if it does. */
  get storageError(): CodedError | undefined {
    return this.failure;
  }

  device(udid: string): DeviceRecord | undefined {
    return this.devicesById[udid];
  }

  devices(): DeviceRecord[] {
    return Object.values(this.devicesById);
  }

  audit(udid?: string): AuditEntry[] {
    return udid ? this.audited.filter((e) => e.udid === udid) : [...this.audited];
  }

  /** A phone was identified on a port. */
  docked(udid: string, place: HubPort & { serial?: string }, actor: Actor = {}): DeviceRecord {
    return this.change(this.record(udid), { ...place, docked: true }, 'docked', actor);
  }

  /** The phone left its port; for a phone being checked out that completes the check-out. */
  unplugged(udid: string, actor: Actor = {}): DeviceRecord {
    const record = this.record(udid);
    if (record.status === 'Checking Out') return this.change(record, { docked: false, status: 'Checked Out', checkout: undefined }, 'check-out completed', actor);
    return this.change(record, { docked: false }, 'unplugged', actor);
  }

  /**
   * Brings a hub's records up to date with its config node: records written before hubs were
   * keyed by id (they name the hub only) take its id, the first hub of that name to start
   * taking them; a renamed hub's records take its new name.
   */
  updateHub(hubId: string, name: string): void {
    for (const record of this.devices()) {
      const named = record.hubId === undefined && record.hub === name;
      const renamed = record.hubId === hubId && record.hub !== name;
      if (named || renamed) this.change(record, { hubId, hub: name }, 'hub', { who: 'fleet', why: named ? 'hubs are keyed by id' : 'hub renamed' });
    }
  }

  /** The docked phone on a port, as last seen. */
  deviceAt(hubId: string, port: number): DeviceRecord | undefined {
    return this.devices().find((d) => d.docked && d.hubId === hubId && d.port === port);
  }

  setStatus(udid: string, status: DeviceStatus, actor: Actor = {}): DeviceRecord {
    if (!STATUSES.includes(status)) throw new CodedError('INVALID_STATUS', `"${status}" is not a device status`);
    return this.change(this.record(udid), { status }, 'status', actor);
  }

  /** Battery and health (and the serial, when the phone said it), as the MDM last reported them. */
  reportHealth(udid: string, battery: number | undefined, healthy: boolean, serial?: string): DeviceRecord {
    const record: DeviceRecord = { ...this.record(udid), healthy, ...(serial && { serial }) };
    if (battery === undefined) delete record.battery;
    else record.battery = battery;
    this.commit(record);
    return record;
  }

  /**
   * Starts a check-out for `user`: the given device, or the best one on the cart. Refuses with
   * CART_BUSY while another unlocked phone waits to be taken, USER_HAS_DEVICE at the per-user
   * limit (however the id is written: see `userKey`), NO_DEVICE_AVAILABLE when no docked,
   * checked-in, healthy phone is charged enough, INVALID_USER for an id no person has.
   */
  beginCheckout(user: string, rules: CheckoutRules, udid?: string, started: Omit<PendingCheckout, 'deadline'> = {}, userName?: string): DeviceRecord {
    const id = checkUserId(user);
    const waiting = this.devices().find((d) => d.status === 'Checking Out' && d.docked);
    if (waiting) throw new CodedError('CART_BUSY', `a phone is already waiting to be taken from ${waiting.hub ?? 'the cart'} port ${waiting.port ?? '?'}`, { udid: waiting.udid });
    const key = userKey(id);
    const held = this.devices().filter((d) => holds(d) && userKey(d.user!) === key);
    if (held.length >= rules.userLimit) throw new CodedError('USER_HAS_DEVICE', `${id} already has ${held.length} device${held.length === 1 ? '' : 's'} (limit ${rules.userLimit})`);
    const available = (d: DeviceRecord) => d.docked && d.status === 'Checked In' && d.healthy && (d.battery ?? 1) >= rules.batteryThreshold;
    const chosen = udid ? this.device(udid) : this.devices().filter(available).sort((a, b) => (b.battery ?? 1) - (a.battery ?? 1))[0];
    if (!chosen || !available(chosen)) {
      throw new CodedError('NO_DEVICE_AVAILABLE', udid ? `device ${udid} is not docked, checked in, healthy and charged enough` : 'no docked, checked-in, healthy phone is charged enough');
    }
    const deadline = new Date(this.now().getTime() + rules.deadlineSeconds * 1000).toISOString();
    return this.change(chosen, { status: 'Checking Out', user: id, userName, checkout: { deadline, ...started } }, 'check-out started', { who: id });
  }

  /** A device whose workflow failed (not unplugged in time, an action failed): Failed, never handed out so. */
  fail(udid: string, actor: Actor = {}): DeviceRecord {
    return this.change(this.record(udid), { status: 'Failed', checkout: undefined }, 'failed', actor);
  }

  /** Locked and charging again: no user. */
  checkIn(udid: string, actor: Actor = {}): DeviceRecord {
    return this.change(this.record(udid), { status: 'Checked In', user: undefined, userName: undefined, checkout: undefined }, 'checked in', actor);
  }

  /** Check-outs still waiting for an unplug, the earliest deadline first. */
  pendingCheckouts(): (DeviceRecord & { checkout: PendingCheckout })[] {
    return this.devices()
      .filter((d): d is DeviceRecord & { checkout: PendingCheckout } => d.status === 'Checking Out' && d.checkout !== undefined)
      .sort((a, b) => Date.parse(a.checkout.deadline) - Date.parse(b.checkout.deadline));
  }

  /** The device's name, as set on the phone: `[Device Name]` in every later workflow. */
  setName(udid: string, name: string, actor: Actor = {}): DeviceRecord {
    return this.change(this.record(udid), { name }, 'named', actor);
  }

  /** A custom attribute (`[name]` in text fields); names and values are 1 to 256 characters. */
  setAttribute(udid: string, name: string, value: string, actor: Actor = {}): DeviceRecord {
    for (const text of [name, value]) {
      if (typeof text !== 'string' || text.length > MAX_TEXT) throw new CodedError('INVALID_ATTRIBUTE', `attribute names and values are text of at most ${MAX_TEXT} characters`);
    }
    const record = this.record(udid);
    return this.change(record, { attributes: { ...record.attributes, [name]: value } }, 'attribute', actor);
  }

  /** Stops trying to write again after a failure. */
  close(): void {
    clearInterval(this.healTimer);
    this.healTimer = undefined;
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  /** The device's record, or a new one that exists once a change of it was written. */
  private record(udid: string): DeviceRecord {
    return this.devicesById[udid] ?? { udid, docked: false, status: 'Unknown', attributes: {}, healthy: true };
  }

  /** Writes `record` with `patch` applied and one audit entry per changed field; returns the new record. */
  private change(record: DeviceRecord, patch: Partial<DeviceRecord>, what: string, { who, why }: Actor): DeviceRecord {
    const at = this.now().toISOString();
    const entries: AuditEntry[] = [];
    const next: DeviceRecord = { ...record };
    for (const [field, value] of Object.entries(patch) as [keyof DeviceRecord, unknown][]) {
      const before = record[field];
      if (JSON.stringify(before) === JSON.stringify(value)) continue;
      const entry = (name: string, from: unknown, to: unknown): void => {
        entries.push({ at, udid: record.udid, what: name, from: display(from), to: display(to), ...(who && { who }), ...(why && { why }) });
      };
      if (field === 'attributes') {
        // One entry per attribute that changed, not the whole set.
        const [old, nextValues] = [(before ?? {}) as Record<string, string>, value as Record<string, string>];
        for (const key of new Set([...Object.keys(old), ...Object.keys(nextValues)])) if (old[key] !== nextValues[key]) entry(`${what}: ${key}`, old[key], nextValues[key]);
      } else if (field === 'checkout') {
        // Audited by its deadline; the message that started it stays out of the trail.
        entry(`${what}: deadline`, (before as PendingCheckout | undefined)?.deadline, (value as PendingCheckout | undefined)?.deadline);
      } else entry(field === 'status' ? 'status' : `${what}: ${field}`, before, value);
      if (value === undefined) delete next[field];
      else (next as unknown as Record<string, unknown>)[field] = value;
    }
    this.commit(next);
    this.appendAudit(entries);
    return next;
  }

  /** Memory changes only once the disk has the change. */
  private commit(record: DeviceRecord): void {
    const devices = { ...this.devicesById, [record.udid]: record };
    try {
      writeJsonAtomically(this.file, { version: 2, devices } satisfies FleetFile);
    } catch (err) {
      this.failed(storageFailed('write', this.file, err));
      throw this.failure;
    }
    this.devicesById = devices;
    this.healed();
  }

  private get auditLimit(): number {
    return this.options.auditLimit ?? 10_000;
  }

  private appendAudit(entries: AuditEntry[]): void {
    if (entries.length === 0) return;
    this.audited.push(...entries);
    this.audited.splice(0, Math.max(0, this.audited.length - this.auditLimit));
    this.unwritten.push(...entries);
    if (this.writeAudit()) this.healed();
  }

  /** Puts the unwritten entries on disk; false (and a storage failure) when it cannot. */
  private writeAudit(): boolean {
    if (this.unwritten.length === 0) return true;
    try {
      if (this.auditLines + this.unwritten.length > 2 * this.auditLimit) {
        writeFileAtomically(this.auditFile, this.audited.map((e) => JSON.stringify(e)).join('\n') + '\n');
        this.auditLines = this.audited.length;
      } else {
        // A new entry never continues a line cut short.
        const lead = this.auditTorn && !endsWithNewline(this.auditFile) ? '\n' : '';
        appendFileSync(this.auditFile, lead + this.unwritten.map((e) => JSON.stringify(e)).join('\n') + '\n');
        this.auditLines += this.unwritten.length;
      }
      this.auditTorn = false;
      this.unwritten = [];
      return true;
    } catch (err) {
      this.auditTorn = true; // a failed append may have left part of a line
      this.failed(storageFailed('write', this.auditFile, err));
      return false;
    }
  }

  private failed(err: CodedError): void {
    const news = err.message !== this.failure?.message;
    this.failure = err;
    if (news) this.emit('storage', err);
    this.healTimer ??= setInterval(() => this.heal(), this.options.healInterval ?? 5000).unref();
  }

  /** Tries to write what memory holds (the last state the disk took, plus unwritten audit entries). */
  private heal(): void {
    try {
      writeJsonAtomically(this.file, { version: 2, devices: this.devicesById } satisfies FleetFile);
    } catch (err) {
      return this.failed(storageFailed('write', this.file, err));
    }
    if (this.writeAudit()) this.healed();
  }

  private healed(): void {
    if (!this.failure || this.unwritten.length > 0) return;
    this.close();
    this.failure = undefined;
    this.emit('storage', undefined);
  }
}

/** The audit trail so far; lines cut short by a killed process are skipped and counted. */
function readAudit(file: string): { entries: AuditEntry[]; skipped: number; torn: boolean } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], skipped: 0, torn: false };
    throw storageFailed('read', file, err);
  }
  let skipped = 0;
  const entries = text.split('\n').flatMap((line) => {
    if (!line) return [];
    try {
      return [JSON.parse(line) as AuditEntry];
    } catch {
      skipped++;
      return [];
    }
  });
  return { entries, skipped, torn: text.length > 0 && !text.endsWith('\n') };
}

function endsWithNewline(file: string): boolean {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return true; // no file yet: nothing to continue
  }
  try {
    const size = statSync(file).size;
    if (size === 0) return true;
    const last = Buffer.alloc(1);
    readSync(fd, last, 0, 1, size - 1);
    return last[0] === 0x0a;
  } finally {
    closeSync(fd);
  }
}

function display(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : JSON.stringify(value);
}
