import { createReadStream, readdirSync, readFileSync } from 'node:fs';
import { access, appendFile, open, readFile, rename, stat, truncate } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
import { catalogText, CodedError } from '../coded-error';
import { readJson, storageFailed, writeFileAtomically } from '../json-file';
import { available, handOutOrder, holds, refusals } from './checkout-policy';
import { InsightSummary, isFailure, type FailingPhone, type FailingPort, type InsightQuery, type PersonUse, type StatusChange } from './insights';
import { userKey } from './person';
import {
  applyChange,
  AUDIT_PAGE,
  FleetStore,
  newRecord,
  personOf,
  type AuditEntry,
  type Change,
  type CheckoutRules,
  type DeviceRecord,
  type Pending,
  type PendingCheckout,
  type TimeRange,
  within,
} from './fleet-store';

interface FleetFile {
  version: 2;
  devices: Record<string, DeviceRecord>;
}

export interface FileFleetStoreOptions {
  now?: () => Date;
  /**
   * `one` (the default): the audit trail in one file, kept whole. `monthly`: a file a month, all
   * kept (`<fleet>.audit-2026-11.jsonl`...), for an archive or a retention rule to take whole.
   */
  auditFiles?: 'one' | 'monthly';
  /** After a failed write, how often to try writing again, ms. */
  healInterval?: number;
}

/**
 * One cart's fleet in a file (the embedded default: no server). The devices are written
 * atomically as a whole and flushed to the disk (a killed process or a power cut loses no
 * device, no status and no pending deadline), the audit trail appended as JSON lines next to
 * it and kept whole (never rewritten or cut: it is read from the disk when asked for, so memory
 * does not grow with it). Changes run one at a time, each on what the one before left, and memory changes only
 * once the disk has the change. A change the disk refuses (full, read-only) fails with
 * STORAGE_FAILED and changes nothing; the store then tries again every `healInterval`.
 */
export class FileFleetStore extends FleetStore {
  readonly cart = undefined;
  readonly source: string;
  private devicesById: Record<string, DeviceRecord>;
  private readonly auditFile: string;
  /** Bytes of the audit file that hold whole entries written by this store (or before it started). */
  private auditBytes: number;
  /** The month (`2026-12`) of the current audit file's first entry, with monthly files. */
  private auditMonth?: string;
  /** The months' closed audit files, oldest first: listed once at the start, added to as months end. */
  private readonly months: string[];
  /** Why each device last became Failed, and the insights' figures, from the whole trail. */
  private readonly failures = new Map<string, string>();
  private readonly insights = new InsightSummary();
  /** Audit entries the disk has not taken yet; they go with the next write. */
  private unwritten: AuditEntry[] = [];
  /** The audit file may end in a line cut short (a kill, a failed append). */
  private auditTorn: boolean;
  private healTimer?: NodeJS.Timeout;
  /** The change being written: the next waits for it. */
  private writing: Promise<unknown> = Promise.resolve();

  /** A fleet file that is not one fails with STORAGE_DAMAGED and is left as it is: nothing is guessed. */
  constructor(
    private readonly file: string,
    private readonly options: FileFleetStoreOptions = {},
  ) {
    super();
    this.source = `file:${file}`;
    const saved = readJson<FleetFile>(file, { version: 2, devices: {} });
    if (saved?.version !== 2 || typeof saved.devices !== 'object' || saved.devices === null || Array.isArray(saved.devices)) {
      throw new CodedError('STORAGE_DAMAGED', catalogText('device-fleet.errors.not-fleet-file', { path: file }), { path: file });
    }
    this.devicesById = byUdid(saved.devices);
    this.auditFile = file.replace(/(\.json)?$/, '.audit.jsonl');
    // Why phones last failed, and the insights, come from the whole trail, the months before included.
    this.months = this.monthFiles();
    for (const month of this.months) this.note(readAudit(month).entries);
    const { entries, skipped, torn, bytes } = readAudit(this.auditFile);
    if (skipped > 0)
      this.notices.push(
        `${this.auditFile}: skipped ${skipped} damaged line${skipped === 1 ? '' : 's'} (cut short by a kill?); new entries start on a line of their own`,
      );
    this.note(entries);
    this.auditTorn = torn;
    this.auditBytes = bytes;
    this.auditMonth = entries[0]?.at.slice(0, 7);
  }

  async device(udid: string): Promise<DeviceRecord | undefined> {
    return this.devicesById[udid];
  }

  async devices(udids?: string[]): Promise<DeviceRecord[]> {
    return udids ? udids.flatMap((udid) => this.devicesById[udid] ?? []) : Object.values(this.devicesById);
  }

  /** Read from the disk as far as it holds whole entries, then what it has not taken yet. */
  async *auditPages(udid?: string, range?: TimeRange): AsyncIterable<AuditEntry[]> {
    const wanted = (e: AuditEntry) => (udid === undefined || e.udid === udid) && within(e.at, range);
    const unwritten = [...this.unwritten];
    const files: [string, number | undefined][] = [...this.months.map((month): [string, undefined] => [month, undefined]), [this.auditFile, this.auditBytes]];
    let page: AuditEntry[] = [];
    for (const [file, bytes] of files) {
      // The current file as far as it holds whole entries; a month's file is closed.
      if (bytes === 0) continue;
      const lines = createInterface({ input: createReadStream(file, { end: bytes === undefined ? undefined : bytes - 1 }), crlfDelay: Infinity });
      for await (const line of lines) {
        const entry = parseEntry(line);
        if (entry && wanted(entry)) page.push(entry);
        if (page.length < AUDIT_PAGE) continue;
        yield page;
        page = [];
      }
    }
    page.push(...unwritten.filter(wanted));
    if (page.length > 0) yield page;
  }

  async checkoutsByHour(query: InsightQuery): Promise<number[]> {
    return this.insights.checkoutsByHour(query);
  }

  async keptHours(query: InsightQuery): Promise<number[]> {
    return this.insights.keptHours(query);
  }

  async people(query: InsightQuery): Promise<PersonUse[]> {
    return this.insights.people(query);
  }

  async failingPorts(query: InsightQuery): Promise<FailingPort[]> {
    return this.insights.failingPorts(query);
  }

  async statusChanges(query: InsightQuery): Promise<StatusChange[]> {
    return this.insights.statusChanges(query);
  }

  async failingPhones(query: InsightQuery): Promise<FailingPhone[]> {
    return this.insights.failingPhones(query);
  }

  async lastFailures(udid?: string): Promise<Map<string, string>> {
    return new Map([...this.failures].filter(([device]) => udid === undefined || device === udid));
  }

  async deviceAt(hubId: string, port: number): Promise<DeviceRecord | undefined> {
    return Object.values(this.devicesById).find((d) => d.docked && d.hubId === hubId && d.port === port);
  }

  async pendingCheckouts(): Promise<Pending[]> {
    return Object.values(this.devicesById)
      .filter((d): d is Pending => d.status === 'Checking Out' && d.checkout !== undefined)
      .sort((a, b) => Date.parse(a.checkout.deadline) - Date.parse(b.checkout.deadline));
  }

  async outstanding(): Promise<(DeviceRecord & { checkedOutAt: string })[]> {
    return Object.values(this.devicesById)
      .filter((d): d is DeviceRecord & { checkedOutAt: string } => d.status === 'Checked Out' && d.checkedOutAt !== undefined && !d.overdue)
      .sort((a, b) => Date.parse(a.checkedOutAt) - Date.parse(b.checkedOutAt));
  }

  beginCheckout(user: string, rules: CheckoutRules, udid?: string, started: Omit<PendingCheckout, 'deadline'> = {}, userName?: string): Promise<DeviceRecord> {
    return this.serially(() => {
      const { id, key } = personOf(user);
      const devices = Object.values(this.devicesById);
      const waiting = devices.find((d) => d.status === 'Checking Out' && d.docked);
      if (waiting) throw refusals.cartBusy(waiting);
      const held = devices.filter((d) => holds(d) && userKey(d.user!) === key).length;
      if (held >= rules.userLimit) throw refusals.userHasDevice(id, held, rules.userLimit);
      const chosen = udid ? this.devicesById[udid] : devices.filter((d) => available(d, rules)).sort(handOutOrder(this.now()))[0];
      if (!chosen || !available(chosen, rules)) throw refusals.noDevice(udid);
      return this.write(chosen, this.checkoutStarted(id, rules, started, userName));
    });
  }

  /** Stops trying to write again after a failure. */
  async close(): Promise<void> {
    clearInterval(this.healTimer);
    this.healTimer = undefined;
  }

  protected update(udid: string, decide: (record: DeviceRecord) => Change | undefined): Promise<DeviceRecord> {
    return this.serially(async () => {
      const record = this.devicesById[udid] ?? newRecord(udid);
      const change = decide(record);
      return change ? this.write(record, change) : record;
    });
  }

  protected override failed(err: CodedError): void {
    super.failed(err);
    this.healTimer ??= setInterval(() => void this.serially(() => this.heal()), this.options.healInterval ?? 5000).unref();
  }

  protected override healed(): void {
    if (this.unwritten.length > 0) return;
    void this.close();
    super.healed();
  }

  protected now(): Date {
    return this.options.now?.() ?? new Date();
  }

  /** Runs `work` once every change before it is written (or refused). */
  private serially<T>(work: () => T | Promise<T>): Promise<T> {
    const run = this.writing.then(work);
    this.writing = run.catch(() => undefined);
    return run;
  }

  private async write(record: DeviceRecord, change: Change): Promise<DeviceRecord> {
    const { next, entries } = applyChange(record, change, this.now().toISOString());
    await this.commit(next);
    await this.appendAudit(entries);
    this.emit('change', next);
    return next;
  }

  /** Memory changes only once the disk has the change. */
  private async commit(record: DeviceRecord): Promise<void> {
    const devices = byUdid(this.devicesById, { [record.udid]: record });
    try {
      await this.writeDevices(devices);
    } catch (err) {
      const failure = storageFailed('write', this.file, err);
      this.failed(failure);
      throw failure;
    }
    this.devicesById = devices;
    this.healed();
  }

  private async appendAudit(entries: AuditEntry[]): Promise<void> {
    if (entries.length === 0) return;
    this.note(entries);
    this.unwritten.push(...entries);
    if (await this.writeAudit()) this.healed();
  }

  /** Puts the unwritten entries on disk; false (and a storage failure) when it cannot. */
  private async writeAudit(): Promise<boolean> {
    if (this.unwritten.length === 0) return true;
    const writing = this.unwritten;
    try {
      await this.startNewMonth(writing[0].at.slice(0, 7));
      // A new entry never continues a line cut short.
      const lead = this.auditTorn && !(await endsWithNewline(this.auditFile)) ? '\n' : '';
      const text = lead + writing.map((e) => JSON.stringify(e)).join('\n') + '\n';
      // After a failed append the file may hold part of a line this store does not know of: its size then
      // comes from the disk, once; otherwise it is what was there plus what was written.
      const before = this.auditTorn ? (await stat(this.auditFile).catch(() => ({ size: 0 }))).size : this.auditBytes;
      await appendFile(this.auditFile, text);
      this.auditBytes = before + Buffer.byteLength(text);
      this.auditTorn = false;
      this.auditMonth ??= writing[0].at.slice(0, 7);
      this.unwritten = this.unwritten.slice(writing.length);
      return true;
    } catch (err) {
      this.auditTorn = true; // a failed append may have left part of a line
      this.failed(storageFailed('write', this.auditFile, err));
      return false;
    }
  }

  /** Tries to write what memory holds (the last state the disk took, plus unwritten audit entries). */
  private async heal(): Promise<void> {
    try {
      await this.writeDevices(this.devicesById);
    } catch (err) {
      return this.failed(storageFailed('write', this.file, err));
    }
    if (await this.writeAudit()) this.healed();
  }

  /** With monthly files: the current file becomes its month's (kept) when an entry of a later month comes. */
  private async startNewMonth(month: string): Promise<void> {
    if (this.options.auditFiles !== 'monthly' || !this.auditMonth || month <= this.auditMonth || this.auditBytes === 0) return;
    const target = this.monthFile(this.auditMonth);
    // That month has a file already (monthly, then one file, then monthly again): added to it, never over it.
    const taken = await access(target).then(
      () => true,
      () => false,
    );
    if (taken) {
      await appendFile(target, await readFile(this.auditFile));
      await truncate(this.auditFile);
    } else {
      await rename(this.auditFile, target);
      this.months.push(target);
    }
    this.auditBytes = 0;
    this.auditTorn = false;
    this.auditMonth = month;
  }

  private monthFile(month: string): string {
    return this.auditFile.replace(/\.jsonl$/, `-${month}.jsonl`);
  }

  /** The months' audit files, oldest first (also after a switch back to one file: nothing is dropped). */
  private monthFiles(): string[] {
    const pattern = new RegExp(`^${escapeRegExp(basename(this.auditFile).replace(/\.jsonl$/, ''))}-\\d{4}-\\d{2}\\.jsonl$`);
    let names: string[];
    try {
      names = readdirSync(dirname(this.auditFile));
    } catch {
      return [];
    }
    return names
      .filter((name) => pattern.test(name))
      .sort()
      .map((name) => join(dirname(this.auditFile), name));
  }

  private note(entries: AuditEntry[]): void {
    for (const e of entries) {
      if (isFailure(e)) this.failures.set(e.udid, e.why ?? '');
      this.insights.add(e);
    }
  }

  private writeDevices(devices: Record<string, DeviceRecord>): Promise<void> {
    return writeFileAtomically(this.file, JSON.stringify({ version: 2, devices } satisfies FleetFile, null, 2));
  }
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Devices by UDID in an object without a prototype: `__proto__` or `constructor` finds nothing that is not a device. */
function byUdid(...sources: Record<string, DeviceRecord>[]): Record<string, DeviceRecord> {
  return Object.assign(Object.create(null) as Record<string, DeviceRecord>, ...sources);
}

/** One line of the audit file, or undefined for a line cut short by a killed process. */
function parseEntry(line: string): AuditEntry | undefined {
  if (!line) return undefined;
  try {
    return JSON.parse(line) as AuditEntry;
  } catch {
    return undefined;
  }
}

/** The audit trail so far; lines cut short by a killed process are skipped and counted. */
function readAudit(file: string): { entries: AuditEntry[]; skipped: number; torn: boolean; bytes: number } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { entries: [], skipped: 0, torn: false, bytes: 0 };
    throw storageFailed('read', file, err);
  }
  let skipped = 0;
  const entries = text.split('\n').flatMap((line) => {
    const entry = parseEntry(line);
    if (line && !entry) skipped++;
    return entry ?? [];
  });
  return { entries, skipped, torn: text.length > 0 && !text.endsWith('\n'), bytes: Buffer.byteLength(text) };
}

async function endsWithNewline(file: string): Promise<boolean> {
  const handle = await open(file, 'r').catch(() => undefined);
  if (!handle) return true; // no file yet: nothing to continue
  try {
    const { size } = await stat(file);
    if (size === 0) return true;
    const { buffer } = await handle.read(Buffer.alloc(1), 0, 1, size - 1);
    return buffer[0] === 0x0a;
  } finally {
    await handle.close();
  }
}
