import { CodedError } from '../coded-error';
import { appendFileSync, readFileSync } from 'node:fs';
import { readJson, writeFileAtomically, writeJsonAtomically } from '../json-file';

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

export interface DeviceRecord {
  udid: string;
  serial?: string;
  name?: string;
  hub?: string;
  port?: number;
  docked: boolean;
  status: DeviceStatus;
  /** Device User: who has (or is taking) the phone. */
  user?: string;
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

/**
 * The cart's memory: every device, its status, user and attributes, and an audit trail of
 * every change. Each change is written at once: the devices atomically as a whole (a killed
 * process loses no device, no status and no pending deadline), the audit trail appended as
 * JSON lines next to it, so a change costs the same however long the trail has grown.
 */
export class FleetStore {
  private readonly state: FleetFile;
  private readonly auditFile: string;
  private readonly audited: AuditEntry[];
  /** Lines in the audit file; past twice the limit it is rewritten with the newest only. */
  private auditLines: number;

  constructor(
    private readonly file: string,
    private readonly options: { now?: () => Date; auditLimit?: number } = {},
  ) {
    this.state = readJson<FleetFile>(file, { version: 2, devices: {} });
    this.auditFile = file.replace(/(\.json)?$/, '.audit.jsonl');
    this.audited = readAudit(this.auditFile);
    this.auditLines = this.audited.length;
    this.audited.splice(0, Math.max(0, this.audited.length - this.auditLimit));
  }

  device(udid: string): DeviceRecord | undefined {
    return this.state.devices[udid];
  }

  devices(): DeviceRecord[] {
    return Object.values(this.state.devices);
  }

  audit(udid?: string): AuditEntry[] {
    return udid ? this.audited.filter((e) => e.udid === udid) : [...this.audited];
  }

  /** A phone was identified on a port. */
  docked(udid: string, place: { hub: string; port: number; serial?: string }, actor: Actor = {}): DeviceRecord {
    const record = this.record(udid);
    this.change(record, { ...place, docked: true }, 'docked', actor);
    return record;
  }

  /** The phone left its port; for a phone being checked out that completes the check-out. */
  unplugged(udid: string, actor: Actor = {}): DeviceRecord {
    const record = this.record(udid);
    if (record.status === 'Checking Out') this.change(record, { docked: false, status: 'Checked Out', checkout: undefined }, 'check-out completed', actor);
    else this.change(record, { docked: false }, 'unplugged', actor);
    return record;
  }

  /** The docked phone on a port, as last seen. */
  deviceAt(hub: string, port: number): DeviceRecord | undefined {
    return this.devices().find((d) => d.docked && d.hub === hub && d.port === port);
  }

  setStatus(udid: string, status: DeviceStatus, actor: Actor = {}): DeviceRecord {
    if (!STATUSES.includes(status)) throw new CodedError('INVALID_STATUS', `"${status}" is not a device status`);
    const record = this.record(udid);
    this.change(record, { status }, 'status', actor);
    return record;
  }

  /** Battery and health, as the MDM last reported them. */
  reportHealth(udid: string, battery: number | undefined, healthy: boolean): void {
    const record = this.record(udid);
    record.battery = battery;
    record.healthy = healthy;
    this.save();
  }

  /**
   * Starts a check-out for `user`: the given device, or the best one on the cart. Refuses with
   * CART_BUSY while another unlocked phone waits to be taken, USER_HAS_DEVICE at the per-user
   * limit, NO_DEVICE_AVAILABLE when no docked, checked-in, healthy phone is charged enough.
   */
  beginCheckout(user: string, rules: CheckoutRules, udid?: string, started: Omit<PendingCheckout, 'deadline'> = {}): DeviceRecord {
    const waiting = this.devices().find((d) => d.status === 'Checking Out' && d.docked);
    if (waiting) throw new CodedError('CART_BUSY', `a phone is already waiting to be taken from ${waiting.hub ?? 'the cart'} port ${waiting.port ?? '?'}`, { udid: waiting.udid });
    const held = this.devices().filter((d) => d.user === user && HOLDING.includes(d.status));
    if (held.length >= rules.userLimit) throw new CodedError('USER_HAS_DEVICE', `${user} already has ${held.length} device${held.length === 1 ? '' : 's'} (limit ${rules.userLimit})`);
    const available = (d: DeviceRecord) => d.docked && d.status === 'Checked In' && d.healthy && (d.battery ?? 1) >= rules.batteryThreshold;
    const chosen = udid ? this.device(udid) : this.devices().filter(available).sort((a, b) => (b.battery ?? 1) - (a.battery ?? 1))[0];
    if (!chosen || !available(chosen)) {
      throw new CodedError('NO_DEVICE_AVAILABLE', udid ? `device ${udid} is not docked, checked in, healthy and charged enough` : 'no docked, checked-in, healthy phone is charged enough');
    }
    const deadline = new Date(this.now().getTime() + rules.deadlineSeconds * 1000).toISOString();
    this.change(chosen, { status: 'Checking Out', user, checkout: { deadline, ...started } }, 'check-out started', { who: user });
    return chosen;
  }

  /** A check-out that cannot complete (not unplugged in time, an action failed): Failed. */
  failCheckout(udid: string, actor: Actor = {}): DeviceRecord {
    const record = this.record(udid);
    this.change(record, { status: 'Failed', checkout: undefined }, 'check-out failed', actor);
    return record;
  }

  /** Locked and charging again: no user. */
  checkIn(udid: string, actor: Actor = {}): DeviceRecord {
    const record = this.record(udid);
    this.change(record, { status: 'Checked In', user: undefined, checkout: undefined }, 'checked in', actor);
    return record;
  }

  /** Check-outs still waiting for an unplug, the earliest deadline first. */
  pendingCheckouts(): (DeviceRecord & { checkout: PendingCheckout })[] {
    return this.devices()
      .filter((d): d is DeviceRecord & { checkout: PendingCheckout } => d.status === 'Checking Out' && d.checkout !== undefined)
      .sort((a, b) => Date.parse(a.checkout.deadline) - Date.parse(b.checkout.deadline));
  }

  /** The device's name, as set on the phone: `[Device Name]` in every later workflow. */
  setName(udid: string, name: string, actor: Actor = {}): DeviceRecord {
    const record = this.record(udid);
    this.change(record, { name }, 'named', actor);
    return record;
  }

  setAttribute(udid: string, name: string, value: string, actor: Actor = {}): void {
    const record = this.record(udid);
    this.change(record, { attributes: { ...record.attributes, [name]: value } }, 'attribute', actor);
  }

  private now(): Date {
    return this.options.now?.() ?? new Date();
  }

  private record(udid: string): DeviceRecord {
    let record = this.state.devices[udid];
    if (!record) {
      record = { udid, docked: false, status: 'Unknown', attributes: {}, healthy: true };
      this.state.devices[udid] = record;
    }
    return record;
  }

  /** Applies `patch`, writes one audit entry per changed field, and saves. */
  private change(record: DeviceRecord, patch: Partial<DeviceRecord>, what: string, { who, why }: Actor): void {
    const at = this.now().toISOString();
    const entries: AuditEntry[] = [];
    for (const [field, value] of Object.entries(patch) as [keyof DeviceRecord, unknown][]) {
      const before = record[field];
      if (JSON.stringify(before) === JSON.stringify(value)) continue;
      const entry = (name: string, from: unknown, to: unknown): void => {
        entries.push({ at, udid: record.udid, what: name, from: display(from), to: display(to), ...(who && { who }), ...(why && { why }) });
      };
      if (field === 'attributes') {
        // One entry per attribute that changed, not the whole set.
        const [old, next] = [(before ?? {}) as Record<string, string>, value as Record<string, string>];
        for (const key of new Set([...Object.keys(old), ...Object.keys(next)])) if (old[key] !== next[key]) entry(`${what}: ${key}`, old[key], next[key]);
      } else if (field === 'checkout') {
        // Audited by its deadline; the message that started it stays out of the trail.
        entry(`${what}: deadline`, (before as PendingCheckout | undefined)?.deadline, (value as PendingCheckout | undefined)?.deadline);
      } else entry(field === 'status' ? 'status' : `${what}: ${field}`, before, value);
      if (value === undefined) delete record[field];
      else (record as unknown as Record<string, unknown>)[field] = value;
    }
    this.save();
    this.appendAudit(entries);
  }

  private get auditLimit(): number {
    return this.options.auditLimit ?? 10_000;
  }

  private save(): void {
    writeJsonAtomically(this.file, this.state);
  }

  private appendAudit(entries: AuditEntry[]): void {
    if (entries.length === 0) return;
    this.audited.push(...entries);
    this.audited.splice(0, Math.max(0, this.audited.length - this.auditLimit));
    this.auditLines += entries.length;
    if (this.auditLines > 2 * this.auditLimit) {
      writeFileAtomically(this.auditFile, this.audited.map((e) => JSON.stringify(e)).join('\n') + '\n');
      this.auditLines = this.audited.length;
    } else {
      appendFileSync(this.auditFile, entries.map((e) => JSON.stringify(e)).join('\n') + '\n');
    }
  }
}

/** The audit trail so far; a line cut short by a killed process is skipped. */
function readAudit(file: string): AuditEntry[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  return text.split('\n').flatMap((line) => {
    try {
      return line ? [JSON.parse(line) as AuditEntry] : [];
    } catch {
      return [];
    }
  });
}

function display(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : JSON.stringify(value);
}
