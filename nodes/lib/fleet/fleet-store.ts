import { EventEmitter } from 'node:events';
import { catalogText, CodedError } from '../coded-error';
import type { FailingPhone, FailingPort, InsightQuery, PersonUse, StatusChange } from './insights';
import { checkUserId, hasControl, MAX_TEXT, userKey } from './person';

const STATUSES = ['Unknown', 'Prepping', 'Checked In', 'Checking Out', 'Checked Out', 'Returning', 'Failed', 'Lost', 'Retired'] as const;
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
  /** In a shared fleet: the cart the phone was last docked at. */
  cart?: string;
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
  /** In a shared fleet: docked at another cart than its Device Home. */
  wrongCart?: boolean;
  /** When its user took it (the unplug that completed the check-out), ISO 8601. */
  checkedOutAt?: string;
  /** Still out with its user past the fleet's lending period. */
  overdue?: boolean;
  /** When the phone last answered the MDM (the device information of its check-in), ISO 8601. */
  heardAt?: string;
  /** Sent into Lost Mode (and not yet out of it): lifted before its next check-in. */
  lostMode?: boolean;
}

/** The attribute naming a phone's home cart (`[Device Home]`): set at its first check-in at a cart, or by a flow. */
export const DEVICE_HOME = 'Device Home';
/** Where a phone in Lost Mode last said it was (`52.52, 13.37 ±35 m at <ISO time>`), when an admin located it. */
export const LAST_LOCATION = 'Last Location';
/** When an admin last made a phone in Lost Mode play its sound. */
export const LOST_MODE_SOUND = 'Lost Mode Sound';

/** Kept with the device so a restart, even a killed process, still fails a late check-out. */
export interface PendingCheckout {
  /** When the check-out fails unless the phone was unplugged (ISO 8601). */
  deadline: string;
  /** The node that started it, which reports the failure. */
  node?: string;
  /** The message that started it (what JSON keeps of it), for the failure report. */
  message?: Record<string, unknown>;
}

export interface CheckoutRules {
  /** Devices one user may hold at once. */
  userLimit: number;
  /** Devices below this charge (0 to 1) are not handed out. */
  batteryThreshold: number;
  /** Seconds the person has to unplug the phone. */
  deadlineSeconds: number;
  /** Hours a phone may stay out before it is Overdue; 0: never. */
  lendingHours?: number;
}

/** ISO 8601 instants. */
export interface TimeRange {
  from?: string;
  to?: string;
}

/** Whether `at` (ISO 8601) lies in `range`. */
export const within = (at: string, { from, to }: TimeRange = {}): boolean => (from === undefined || at >= from) && (to === undefined || at < to);

export interface Actor {
  who?: string;
  why?: string;
}

/** A check-out waiting for its phone to be unplugged, with its deadline. */
export type Pending = DeviceRecord & { checkout: PendingCheckout };

/** What one change does to a record; without `what` it is bookkeeping (battery, health) and not audited. */
export interface Change {
  patch: Partial<DeviceRecord>;
  what?: string;
  actor?: Actor;
}

/**
 * The fleet's memory: every device, its status, user and attributes, pending check-outs and
 * an audit trail of every change. Two stores keep it: a file per cart (`FileFleetStore`, one
 * cart, no server) and PostgreSQL (`PostgresFleetStore`, the carts of a ward or hospital).
 * Both keep the same rules, written here once; each change is on the disk (or committed)
 * before it resolves, and one that cannot be fails with a coded error and changes nothing.
 *
 * Events: `storage` (a CodedError while the store cannot write, then undefined once it can);
 * `change` (the DeviceRecord, once a change of it is written); in a shared fleet that follows
 * the other carts, `elsewhere` (the UDID and the cart that changed it).
 */
export abstract class FleetStore extends EventEmitter {
  /** The cart this store speaks for in a shared fleet; undefined: a store of one cart. */
  abstract readonly cart?: string;
  /** Where the records live (a file, a database): two fleets of one source have one audit trail. Never shown: it may name a host. */
  abstract readonly source: string;
  /** What opening found damaged and what was done about it, for the log. */
  readonly notices: string[] = [];
  private failure?: CodedError;

  constructor() {
    super();
    this.setMaxListeners(0); // every node of the fleet listens for `storage`: as many as the flows have
  }

  /** Why writing fails right now, if it does. */
  get storageError(): CodedError | undefined {
    return this.failure;
  }

  abstract device(udid: string): Promise<DeviceRecord | undefined>;
  /** Every device, or those of `udids` (the ones known). */
  abstract devices(udids?: string[]): Promise<DeviceRecord[]>;
  /**
   * The audit trail, oldest first: of one device, or all; within a time range (`to` not
   * included), a page at a time, so an export of a year holds one page in memory, not the year.
   */
  abstract auditPages(udid?: string, range?: TimeRange): AsyncIterable<AuditEntry[]>;

  /** `auditPages` as one list (one phone's trail, a day's export). */
  async audit(udid?: string, range?: TimeRange): Promise<AuditEntry[]> {
    const entries: AuditEntry[] = [];
    for await (const page of this.auditPages(udid, range)) entries.push(...page);
    return entries;
  }
  /** Check-outs (a phone taken) in the range by hour of day, 0 to 23. */
  abstract checkoutsByHour(query: InsightQuery): Promise<number[]>;
  /** Returns in the range by how long the phone was out: a count per bucket of `KEPT_BOUNDS_HOURS`, and one for longer. */
  abstract keptHours(query: InsightQuery): Promise<number[]>;
  /** Per person, by the id each check-out recorded: check-outs, Overdue phones, the most held at once (PEOPLE_LIMIT at most); every cart's. */
  abstract people(query: InsightQuery): Promise<PersonUse[]>;
  /** The ports phones failed at most in the range, each failure at the port its phone was last docked at (FAILING_LIMIT at most). */
  abstract failingPorts(query: InsightQuery): Promise<FailingPort[]>;
  /** The fleet's status changes up to the range's end: those before it summed, those within per quarter hour (see StatusChange); every cart's (phones move between carts). */
  abstract statusChanges(query: InsightQuery): Promise<StatusChange[]>;
  /** The phones that failed most in the range, most first (`FAILING_LIMIT`). */
  abstract failingPhones(query: InsightQuery): Promise<FailingPhone[]>;
  /** Why each device (or the one given) last became Failed, by UDID; devices never Failed are not in it. */
  abstract lastFailures(udid?: string): Promise<Map<string, string>>;
  /** The docked phone on a port of this cart, as last seen. */
  abstract deviceAt(hubId: string, port: number): Promise<DeviceRecord | undefined>;
  /** This cart's check-outs still waiting for an unplug, the earliest deadline first. */
  abstract pendingCheckouts(): Promise<Pending[]>;
  /** The phones checked out from this cart and still out, not yet Overdue, the longest out first. */
  abstract outstanding(): Promise<(DeviceRecord & { checkedOutAt: string })[]>;
  /**
   * Starts a check-out for `user`: the given device, or the best one on the cart. Refuses with
   * CART_BUSY while another unlocked phone waits to be taken here, USER_HAS_DEVICE at the
   * per-user limit (however the id is written: see `userKey`), NO_DEVICE_AVAILABLE when no
   * docked, checked-in, healthy phone is charged enough, INVALID_USER for an id no person has.
   */
  abstract beginCheckout(
    user: string,
    rules: CheckoutRules,
    udid?: string,
    started?: Omit<PendingCheckout, 'deadline'>,
    userName?: string,
  ): Promise<DeviceRecord>;
  abstract close(): Promise<void>;
  protected abstract now(): Date;
  /**
   * Writes what `decide` makes of the device's record (a new one if there is none) with its
   * audit entries, as one step; `decide` returning undefined changes nothing.
   */
  protected abstract update(udid: string, decide: (record: DeviceRecord) => Change | undefined): Promise<DeviceRecord>;

  /**
   * A phone was identified on a port. In a shared fleet its record moves to this cart with it,
   * and a phone away from its Device Home is flagged `wrongCart` (the Return runs here all the same).
   */
  docked(udid: string, place: HubPort & { serial?: string }, actor: Actor = {}): Promise<DeviceRecord> {
    return this.update(udid, (record) => {
      if (this.cart === undefined) return { patch: { ...place, docked: true }, what: 'docked', actor };
      const home = record.attributes[DEVICE_HOME];
      return {
        patch: { ...place, cart: this.cart, docked: true, wrongCart: home !== undefined && home !== this.cart ? true : undefined },
        what: 'docked',
        actor,
      };
    });
  }

  /** The phone left its port; for a phone being checked out that completes the check-out. */
  unplugged(udid: string, actor: Actor = {}): Promise<DeviceRecord> {
    return this.update(udid, (record) =>
      record.status === 'Checking Out'
        ? { patch: { docked: false, status: 'Checked Out', checkout: undefined, checkedOutAt: this.now().toISOString() }, what: 'check-out completed', actor }
        : { patch: { docked: false }, what: 'unplugged', actor },
    );
  }

  /**
   * Brings a hub's records up to date with its config node: records written before hubs were
   * keyed by id (they name the hub only) take its id, the first hub of that name to start
   * taking them; a renamed hub's records take its new name.
   */
  async updateHub(hubId: string, name: string): Promise<void> {
    for (const record of await this.devices()) {
      if (record.cart !== this.cart) continue;
      const named = record.hubId === undefined && record.hub === name;
      const renamed = record.hubId === hubId && record.hub !== name;
      if (named || renamed)
        await this.update(record.udid, () => ({
          patch: { hubId, hub: name },
          what: 'hub',
          actor: { who: 'fleet', why: named ? 'hubs are keyed by id' : 'hub renamed' },
        }));
    }
  }

  setStatus(udid: string, status: DeviceStatus, actor: Actor = {}): Promise<DeviceRecord> {
    if (!STATUSES.includes(status)) return Promise.reject(new CodedError('INVALID_STATUS', catalogText('device-fleet.errors.status', { status })));
    return this.update(udid, () => ({ patch: { status }, what: 'status', actor }));
  }

  /** Battery and health (and the serial, when the phone said it), as the phone just told the MDM. */
  reportHealth(udid: string, battery: number | undefined, healthy: boolean, serial?: string): Promise<DeviceRecord> {
    return this.update(udid, () => ({ patch: { battery, healthy, heardAt: this.now().toISOString(), ...(serial && { serial }) } }));
  }

  /**
   * A docked phone about to be erased becomes Prepping, nobody's to take until it is checked in
   * again; false, and nothing changed, when someone is taking it at the cart right now.
   */
  async beginPrep(udid: string, actor: Actor): Promise<boolean> {
    let taken = false;
    await this.update(udid, (current) => {
      taken = current.docked && current.status === 'Checking Out';
      return taken || !current.docked || current.status === 'Prepping' ? undefined : { patch: { status: 'Prepping' }, what: 'status', actor };
    });
    return !taken;
  }

  /** A device whose workflow failed (not unplugged in time, an action failed): Failed, never handed out so. */
  fail(udid: string, actor: Actor = {}): Promise<DeviceRecord> {
    return this.update(udid, (current) => ({ patch: failedPatch(current), what: 'failed', actor }));
  }

  /** Fails a check-out whose deadline passed, unless it was completed (or started again) meanwhile: undefined then. */
  async expireCheckout(udid: string, deadline: string, actor: Actor): Promise<DeviceRecord | undefined> {
    let expired = false;
    const record = await this.update(udid, (current) => {
      expired = current.status === 'Checking Out' && current.checkout?.deadline === deadline;
      return expired ? { patch: failedPatch(current), what: 'failed', actor } : undefined;
    });
    return expired ? record : undefined;
  }

  /** A phone still out past the lending period: Overdue, unless it came back (or went out again) meanwhile: undefined then. */
  async markOverdue(udid: string, checkedOutAt: string, actor: Actor): Promise<DeviceRecord | undefined> {
    let marked = false;
    const record = await this.update(udid, (current) => {
      marked = current.status === 'Checked Out' && current.checkedOutAt === checkedOutAt && !current.overdue;
      return marked ? { patch: { overdue: true }, what: 'overdue', actor } : undefined;
    });
    return marked ? record : undefined;
  }

  /**
   * Locked and charging again: no user. A Retired phone stays Retired (locked, never handed out).
   * In a shared fleet, the first cart a phone is checked in at becomes its Device Home.
   */
  checkIn(udid: string, actor: Actor = {}): Promise<DeviceRecord> {
    return this.update(udid, (record) => {
      const home =
        this.cart === undefined || record.attributes[DEVICE_HOME] !== undefined ? {} : { attributes: { ...record.attributes, [DEVICE_HOME]: this.cart } };
      return {
        patch: {
          status: record.status === 'Retired' ? 'Retired' : 'Checked In',
          user: undefined,
          userName: undefined,
          checkout: undefined,
          checkedOutAt: undefined,
          overdue: undefined,
          ...home,
        },
        what: 'checked in',
        actor,
      };
    });
  }

  /** Whether the phone was sent into Lost Mode (true) or taken out of it (false). */
  setLostMode(udid: string, on: boolean, actor: Actor = {}): Promise<DeviceRecord> {
    return this.update(udid, () => ({ patch: { lostMode: on || undefined }, what: 'lost mode', actor }));
  }

  /** The device's name, as set on the phone: `[Device Name]` in every later workflow. */
  setName(udid: string, name: string, actor: Actor = {}): Promise<DeviceRecord> {
    return this.update(udid, () => ({ patch: { name }, what: 'named', actor }));
  }

  /** A custom attribute (`[name]` in text fields); names and values are 1 to 256 characters. */
  setAttribute(udid: string, name: string, value: string, actor: Actor = {}): Promise<DeviceRecord> {
    for (const text of [name, value]) {
      if (typeof text !== 'string' || text.length > MAX_TEXT)
        return Promise.reject(new CodedError('INVALID_ATTRIBUTE', catalogText('device-fleet.errors.attribute-text', { max: MAX_TEXT })));
      if (hasControl(text)) return Promise.reject(new CodedError('INVALID_ATTRIBUTE', catalogText('device-fleet.errors.attribute-control')));
    }
    return this.update(udid, (record) => ({ patch: { attributes: { ...record.attributes, [name]: value } }, what: 'attribute', actor }));
  }

  /** The change that starts `user`'s check-out, its unplug deadline counted from now: the same in every store. */
  protected checkoutStarted(user: string, rules: CheckoutRules, started: Omit<PendingCheckout, 'deadline'>, userName?: string): Change {
    const deadline = new Date(this.now().getTime() + rules.deadlineSeconds * 1000).toISOString();
    return { patch: { status: 'Checking Out', user, userName, checkout: { deadline, ...started } }, what: 'check-out started', actor: { who: user } };
  }

  /** Writing fails: said once per distinct reason. */
  protected failed(err: CodedError): void {
    const news = err.message !== this.failure?.message;
    this.failure = err;
    if (news) this.emit('storage', err);
  }

  /** Writing works again. */
  protected healed(): void {
    if (!this.failure) return;
    this.failure = undefined;
    this.emit('storage', undefined);
  }
}

/**
 * Failed: a phone still in the cart was never hers (her check-out failed before she took it), so
 * it shows nobody's name; one out with her stays hers (it counts toward her limit).
 */
const failedPatch = (current: DeviceRecord): Partial<DeviceRecord> => ({
  status: 'Failed',
  checkout: undefined,
  ...(current.docked && current.status === 'Checking Out' && { user: undefined, userName: undefined }),
});

/** Audit entries read and handed on at once (an export of a year holds a page, not the year). */
export const AUDIT_PAGE = 2000;

/** A device nobody recorded yet: it exists once a change of it was written. */
export const newRecord = (udid: string): DeviceRecord => ({ udid, docked: false, status: 'Unknown', attributes: {}, healthy: true });

/** `record` with the change applied, and one audit entry per changed field (one per changed attribute). */
export function applyChange(record: DeviceRecord, { patch, what, actor = {} }: Change, at: string): { next: DeviceRecord; entries: AuditEntry[] } {
  const { who, why } = actor;
  const entries: AuditEntry[] = [];
  const next: DeviceRecord = { ...record };
  const entry = (name: string, from: unknown, to: unknown): void => {
    if (what) entries.push({ at, udid: record.udid, what: name, from: display(from), to: display(to), ...(who && { who }), ...(why && { why }) });
  };
  for (const [field, value] of Object.entries(patch) as [keyof DeviceRecord, unknown][]) {
    const before = record[field];
    if (JSON.stringify(before) === JSON.stringify(value)) continue;
    if (field === 'attributes') {
      const [old, nextValues] = [(before ?? {}) as Record<string, string>, value as Record<string, string>];
      for (const key of new Set([...Object.keys(old), ...Object.keys(nextValues)]))
        if (old[key] !== nextValues[key]) entry(`${what}: ${key}`, old[key], nextValues[key]);
    } else if (field === 'checkout') {
      // Audited by its deadline; the message that started it stays out of the trail.
      entry(`${what}: deadline`, (before as PendingCheckout | undefined)?.deadline, (value as PendingCheckout | undefined)?.deadline);
    } else entry(field === 'status' ? 'status' : `${what}: ${field}`, before, value);
    if (value === undefined) delete next[field];
    else (next as unknown as Record<string, unknown>)[field] = value;
  }
  return { next, entries };
}

/** The checked user id and the key its limit is counted by. */
export function personOf(user: string): { id: string; key: string } {
  const id = checkUserId(user);
  return { id, key: userKey(id) };
}

function display(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  return typeof value === 'string' ? value : JSON.stringify(value);
}
