import { catalogText, CodedError } from '../coded-error';
import type { AuditEntry } from './fleet-store';
import { csvCell, type PhoneNames } from './fleet-view';

/** The ranges an admin chooses from, hours back from now. */
const INSIGHT_RANGES = { '24h': 24, '7d': 7 * 24, '30d': 30 * 24 } as const;
export type InsightRange = keyof typeof INSIGHT_RANGES;

/**
 * Figures are counted in quarter hours: every time zone's offset is a whole number of them, so
 * a quarter hour lies within one local hour anywhere; a range ends with the current one.
 */
const QUARTER_MS = 15 * 60_000;

/** What a figure is asked for: a range of whole quarter hours, hours of day in `timeZone`, one cart or the whole fleet. */
export interface InsightQuery {
  from: Date;
  to: Date;
  /** The IANA time zone hours of day are counted in (the Node-RED host's). */
  timeZone: string;
  /** One cart of a shared fleet (where the phone was taken, returned, failed); none: every cart. */
  cart?: string;
}

/** Upper bounds of the keep-time histogram's buckets, hours; one more bucket holds the longer ones. */
export const KEPT_BOUNDS_HOURS = [1, 2, 4, 8, 12, 24, 48];

/**
 * What the states chart counts phones as: free to hand out, out with someone, failed, and the
 * rest (being prepared, taken or returned; unknown; lost or retired).
 */
export const STATES = ['ready', 'out', 'failed', 'other'] as const;
const STATE_OF = new Map([
  ['Checked In', 0],
  ['Checked Out', 1],
  ['Failed', 2],
]);
const stateOf = (status: string): number => STATE_OF.get(status) ?? 3;

/** How many phones went from one status to another: in one quarter hour of the range (ms), or (`quarter` undefined) before it. */
export interface StatusChange {
  quarter?: number;
  /** None: the phone's first status in the trail (it enters the count). */
  from?: string;
  to: string;
  count: number;
}

/** Where the states chart has a point, hours apart, by range. */
const STATE_STEP_HOURS: Record<InsightRange, number> = { '24h': 1, '7d': 4, '30d': 24 };

/** The phones that failed most in a range. */
export const FAILING_LIMIT = 20;

/** A port phones failed at (each failure at the port its phone was last docked at): how often, how many phones, the last time. */
export interface FailingPort {
  /** In a shared fleet: the cart the failure was recorded at. */
  cart?: string;
  hub: string;
  port: string;
  failures: number;
  phones: number;
  lastAt: string;
}

/** One person's phones in a range, by the id each check-out recorded: check-outs, Overdue phones, the most held at once (out at the range's start included). */
export interface PersonUse {
  user: string;
  checkouts: number;
  overdue: number;
  mostAtOnce: number;
}

/** The people listed at most, most check-outs first. */
export const PEOPLE_LIMIT = 50;

/** Several phones failing at one port, not one phone failing often: the port or its cable, flagged. */
export const portFlagged = ({ failures, phones }: FailingPort): boolean => phones >= 2 && failures >= 3;

export interface FailingPhone {
  udid: string;
  failures: number;
  /** The last failure in the range: when, and why. */
  lastAt: string;
  lastWhy?: string;
}

/** The query for a named range up to the end of the current quarter hour (what happened just now counts). */
export function insightQuery(range: InsightRange, now: Date, timeZone: string, cart?: string): InsightQuery {
  const to = (Math.floor(now.getTime() / QUARTER_MS) + 1) * QUARTER_MS;
  return { from: new Date(to - INSIGHT_RANGES[range] * 3_600_000), to: new Date(to), timeZone, cart };
}

/** A check-out in the audit trail: the phone taken off its cart. */
const isCheckout = (e: Pick<AuditEntry, 'what' | 'to'>): boolean => e.what === 'status' && e.to === 'Checked Out';
/** A return: a phone that was out docked again. */
const isReturn = (e: Pick<AuditEntry, 'what' | 'from' | 'to'>): boolean =>
  e.what === 'status' && e.from === 'Checked Out' && (e.to === 'Returning' || e.to === 'Checked In');
export const isFailure = (e: Pick<AuditEntry, 'what' | 'to'>): boolean => e.what === 'status' && e.to === 'Failed';

/** The histogram bucket of a phone kept `hours`. */
function keptBucket(hours: number): number {
  const bucket = KEPT_BOUNDS_HOURS.findIndex((bound) => hours < bound);
  return bucket === -1 ? KEPT_BOUNDS_HOURS.length : bucket;
}

const hourFormats = new Map<string, Intl.DateTimeFormat>();

/** The hour of day (0-23) of `at` in `timeZone`. */
export function hourOfDay(at: number, timeZone: string): number {
  let format = hourFormats.get(timeZone);
  if (!format) hourFormats.set(timeZone, (format = new Intl.DateTimeFormat('en-US', { timeZone, hour: 'numeric', hourCycle: 'h23' })));
  return Number(format.format(at));
}

/**
 * The file store's figures, kept as it writes: fed each audit entry once, in the trail's order,
 * it answers any range without reading the trail again. Counted per quarter hour.
 */
export class InsightSummary {
  private readonly checkouts = new Map<number, number>();
  /** Returns per quarter hour: a count per keep-time bucket. */
  private readonly returns = new Map<number, number[]>();
  /** When each phone was last taken (a return is paired with it, as the database does). */
  private readonly takenAt = new Map<string, number>();
  private readonly failures = new Map<string, { at: string; why?: string; hub?: string; port?: string }[]>();
  /** Whose each phone is (its last check-out's user), and per person: check-outs, Overdue marks and phones held after each change (ms). */
  private readonly owners = new Map<string, string>();
  private readonly uses = new Map<string, { checkouts: number[]; overdue: number[]; held: [number, number][] }>();
  /** Where each phone was last docked (its trail's `docked: hub` and `docked: port`). */
  private readonly places = new Map<string, { hub?: string; port?: string }>();
  /** Status changes per quarter hour: a count per "from<TAB>to"; the phones with a status so far. */
  private readonly changes = new Map<number, Map<string, number>>();
  private readonly counted = new Set<string>();

  add(entry: AuditEntry): void {
    this.addUse(entry);
    if (entry.what === 'docked: hub' || entry.what === 'docked: port') {
      const place = this.places.get(entry.udid) ?? {};
      place[entry.what === 'docked: hub' ? 'hub' : 'port'] = entry.to === undefined ? undefined : String(entry.to);
      this.places.set(entry.udid, place);
    }
    if (entry.what !== 'status') return;
    const at = Date.parse(entry.at);
    const quarter = Math.floor(at / QUARTER_MS);
    const changes = this.changes.get(quarter) ?? new Map<string, number>();
    // A phone's first status says where it starts (from Unknown, as a new record is): counted as entering.
    const first = !this.counted.has(entry.udid);
    this.counted.add(entry.udid);
    const change = `${first ? '' : (entry.from ?? '')}\t${String(entry.to)}`;
    changes.set(change, (changes.get(change) ?? 0) + 1);
    this.changes.set(quarter, changes);
    if (isCheckout(entry)) {
      this.checkouts.set(quarter, (this.checkouts.get(quarter) ?? 0) + 1);
      this.takenAt.set(entry.udid, at);
    } else if (isReturn(entry)) {
      const taken = this.takenAt.get(entry.udid);
      if (taken === undefined) return;
      const counts = this.returns.get(quarter) ?? new Array<number>(KEPT_BOUNDS_HOURS.length + 1).fill(0);
      counts[keptBucket((at - taken) / 3_600_000)]++;
      this.returns.set(quarter, counts);
    } else if (isFailure(entry)) {
      const failures = this.failures.get(entry.udid) ?? [];
      failures.push({ at: entry.at, why: entry.why, ...this.places.get(entry.udid) });
      this.failures.set(entry.udid, failures);
    }
  }

  checkoutsByHour({ from, to, timeZone }: InsightQuery): number[] {
    const hours = new Array<number>(24).fill(0);
    for (const [quarter, count] of this.checkouts) if (within(quarter * QUARTER_MS, from, to)) hours[hourOfDay(quarter * QUARTER_MS, timeZone)] += count;
    return hours;
  }

  keptHours({ from, to }: InsightQuery): number[] {
    const buckets = new Array<number>(KEPT_BOUNDS_HOURS.length + 1).fill(0);
    for (const [quarter, counts] of this.returns) if (within(quarter * QUARTER_MS, from, to)) counts.forEach((count, bucket) => (buckets[bucket] += count));
    return buckets;
  }

  statusChanges({ from, to }: InsightQuery): StatusChange[] {
    const all: StatusChange[] = [];
    for (const [quarter, changes] of this.changes) {
      if (quarter * QUARTER_MS >= to.getTime()) continue;
      const within = quarter * QUARTER_MS >= from.getTime();
      for (const [change, count] of changes) {
        const [was, now] = change.split('\t');
        all.push({ ...(within && { quarter: quarter * QUARTER_MS }), ...(was && { from: was }), to: now, count });
      }
    }
    return all;
  }

  private addUse(entry: AuditEntry): void {
    if (entry.what === 'check-out started: user') return void this.owners.set(entry.udid, String(entry.to));
    const owner = this.owners.get(entry.udid);
    if (owner === undefined) return;
    const use = this.uses.get(owner) ?? { checkouts: [], overdue: [], held: [] };
    const at = Date.parse(entry.at);
    const holding = use.held.at(-1)?.[1] ?? 0;
    if (entry.what === 'overdue: overdue' && entry.to === 'true') use.overdue.push(at);
    else if (isCheckout(entry)) {
      use.checkouts.push(at);
      use.held.push([at, holding + 1]);
    } else if (entry.what === 'status' && entry.from === 'Checked Out') use.held.push([at, holding - 1]);
    else return;
    this.uses.set(owner, use);
  }

  people({ from, to }: InsightQuery): PersonUse[] {
    const people: PersonUse[] = [];
    for (const [user, use] of this.uses) {
      const inRange = (at: number) => within(at, from, to);
      const before = use.held.filter(([at]) => at < from.getTime()).at(-1)?.[1] ?? 0;
      const during = use.held.filter(([at]) => inRange(at)).map(([, held]) => held);
      const person = {
        user,
        checkouts: use.checkouts.filter(inRange).length,
        overdue: use.overdue.filter(inRange).length,
        mostAtOnce: Math.max(before, ...during),
      };
      if (during.length > 0 || person.overdue > 0 || before > 0) people.push(person);
    }
    return people.sort(byUse).slice(0, PEOPLE_LIMIT);
  }

  failingPorts({ from, to }: InsightQuery): FailingPort[] {
    const ports = new Map<string, FailingPort & { udids: Set<string> }>();
    for (const [udid, all] of this.failures) {
      for (const { at, hub, port } of all) {
        if (hub === undefined || port === undefined || !within(Date.parse(at), from, to)) continue;
        const key = `${hub}\t${port}`;
        const found = ports.get(key) ?? { hub, port, failures: 0, phones: 0, lastAt: at, udids: new Set<string>() };
        found.failures++;
        found.udids.add(udid);
        found.phones = found.udids.size;
        if (at > found.lastAt) found.lastAt = at;
        ports.set(key, found);
      }
    }
    return [...ports.values()]
      .map(({ udids: _, ...port }) => port)
      .sort(byPortFailures)
      .slice(0, FAILING_LIMIT);
  }

  failingPhones({ from, to }: InsightQuery): FailingPhone[] {
    const failing: FailingPhone[] = [];
    for (const [udid, all] of this.failures) {
      const inRange = all.filter(({ at }) => within(Date.parse(at), from, to));
      const last = inRange.at(-1);
      if (last) failing.push({ udid, failures: inRange.length, lastAt: last.at, ...(last.why !== undefined && { lastWhy: last.why }) });
    }
    return failing.sort(byFailures).slice(0, FAILING_LIMIT);
  }
}

/** Most failures first; of as many, the latest first, then by UDID (code points, as the database's `COLLATE "C"`). */
const byFailures = (a: FailingPhone, b: FailingPhone): number =>
  b.failures - a.failures || b.lastAt.localeCompare(a.lastAt) || (a.udid < b.udid ? -1 : a.udid > b.udid ? 1 : 0);

/** Most check-outs first, then most held at once, then by id (code points). */
const byUse = (a: PersonUse, b: PersonUse): number => b.checkouts - a.checkouts || b.mostAtOnce - a.mostAtOnce || codePoints(a.user, b.user);

/** Most failures first; of as many, the latest first, then by hub and port (code points, as the database's `COLLATE "C"`). */
const byPortFailures = (a: FailingPort, b: FailingPort): number =>
  b.failures - a.failures || b.lastAt.localeCompare(a.lastAt) || codePoints(a.hub, b.hub) || codePoints(a.port, b.port);
const codePoints = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

const within = (at: number, from: Date, to: Date): boolean => at >= from.getTime() && at < to.getTime();

/** The figures an admin can ask for, each its own endpoint. */
const FIGURES = ['checkouts-by-hour', 'kept', 'failing', 'failing-ports', 'states', 'people'] as const;
/** The figures counted for the whole fleet only: phones and people move between carts. */
export const FLEET_WIDE: readonly string[] = ['states', 'people'];
export type Figure = (typeof FIGURES)[number];

/** A figure as a table: what a chart draws, the table behind it shows, and the CSV holds. */
export interface FigureTable {
  columns: string[];
  rows: (string | number | null)[][];
}

/** What a figure's request asks: which figure, over which range, of which cart (none: the whole fleet). */
export interface FigureRequest {
  figure: Figure;
  range: InsightRange;
  cart?: string;
}

/** A figure with what it was asked for, the range's ends, and the fleet's lending period for the keep times. */
export type FigureAnswer = FigureRequest & FigureTable & { from: string; to: string; timeZone: string; lendingHours?: number };

/** Reads a figure's request (`range` 24h, 7d or 30d, 7d if none); anything else: INVALID_QUERY. */
export function figureRequest(figure: string, raw: Record<string, unknown>): FigureRequest {
  const invalid = (what: string) => new CodedError('INVALID_QUERY', catalogText('device-fleet.errors.figure-query', { what }));
  if (!(FIGURES as readonly string[]).includes(figure)) throw invalid('figure');
  const range = raw.range ?? '7d';
  if (typeof range !== 'string' || !Object.hasOwn(INSIGHT_RANGES, range)) throw invalid('range');
  const cart = raw.cart;
  if (cart !== undefined && (typeof cart !== 'string' || cart.length === 0 || cart.length > 200)) throw invalid('cart');
  return { figure: figure as Figure, range: range as InsightRange, ...(cart !== undefined && { cart }) };
}

export const checkoutsTable = (hours: number[]): FigureTable => ({ columns: ['hour', 'checkouts'], rows: hours.map((count, hour) => [hour, count]) });

/** Each bucket from its lower bound to its upper (none for the last, the longer ones), hours. */
export const keptTable = (buckets: number[]): FigureTable => ({
  columns: ['from_hours', 'to_hours', 'returns'],
  rows: buckets.map((count, i) => [i === 0 ? 0 : KEPT_BOUNDS_HOURS[i - 1], KEPT_BOUNDS_HOURS[i] ?? null, count]),
});

/**
 * The phones in each state at each point of the range (every STATE_STEP_HOURS, the last at its
 * end): the changes before it summed (entered less left), then each quarter hour's as it comes.
 */
export function statesTable(changes: StatusChange[], { from, to }: InsightQuery, range: InsightRange): FigureTable {
  const counts = [0, 0, 0, 0];
  const move = ({ from: was, to: now, count }: StatusChange): void => {
    if (was !== undefined) counts[stateOf(was)] -= count;
    counts[stateOf(now)] += count;
  };
  changes.filter((change) => change.quarter === undefined).forEach(move);
  const within = changes.filter((change) => change.quarter !== undefined).sort((a, b) => a.quarter! - b.quarter!);
  const step = STATE_STEP_HOURS[range] * 3_600_000;
  const rows: FigureTable['rows'] = [];
  let next = 0;
  for (let at = from.getTime() + step; at <= to.getTime(); at += step) {
    while (next < within.length && within[next].quarter! < at) move(within[next++]);
    rows.push([new Date(at).toISOString(), ...counts]);
  }
  return { columns: ['at', ...STATES], rows };
}

export const peopleTable = (people: PersonUse[]): FigureTable => ({
  columns: ['user', 'checkouts', 'overdue', 'most_at_once'],
  rows: people.map((p) => [p.user, p.checkouts, p.overdue, p.mostAtOnce]),
});

export const portsTable = (ports: FailingPort[]): FigureTable => ({
  columns: ['cart', 'hub', 'port', 'failures', 'phones', 'last_at', 'flagged'],
  rows: ports.map((p) => [p.cart ?? null, p.hub, p.port, p.failures, p.phones, p.lastAt, String(portFlagged(p))]),
});

export const failingTable = (phones: FailingPhone[], names: PhoneNames): FigureTable => ({
  columns: ['udid', 'name', 'serial', 'failures', 'last_at', 'last_why'],
  rows: phones.map((p) => [p.udid, names.get(p.udid)?.name ?? null, names.get(p.udid)?.serial ?? null, p.failures, p.lastAt, p.lastWhy ?? null]),
});

/** RFC 4180, a header row first. */
export const tableCsv = ({ columns, rows }: FigureTable): string => [columns, ...rows].map((row) => row.map(csvCell).join(',') + '\r\n').join('');
