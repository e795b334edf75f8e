import { EventEmitter } from 'node:events';
import { catalogText, CodedError } from '../coded-error';
import { deviceLocation, playLostModeSound, type MdmCommand } from '../mdm/commands';
import type { Fleet } from './fleet';
import type { Readiness } from './readiness';
import {
  checkoutsTable,
  failingTable,
  FLEET_WIDE,
  insightQuery,
  keptTable,
  peopleTable,
  portsTable,
  statesTable,
  type FigureAnswer,
  type FigureRequest,
  type FigureTable,
} from './insights';
import { hasControl, MAX_TEXT } from './person';
import { AUDIT_PAGE, LAST_LOCATION, LOST_MODE_SOUND, type AuditEntry, type DeviceRecord, type FleetStore } from './fleet-store';
import { byPerson, phoneNamesOf, rowOf, type AuditQuery, type FleetRow, type PhoneNames } from './fleet-view';

/** What an admin may do to a phone from the fleet view. */
const ADMIN_ACTIONS = ['check-in', 'clear-failed', 'lost', 'retired', 'reinstate', 'attribute', 'locate', 'ring'] as const;
export type AdminAction = (typeof ADMIN_ACTIONS)[number];

export interface AdminRequest {
  /** Why (Lost, Retired, reinstated, a forced check-in): kept in the audit trail. */
  reason?: unknown;
  /** An attribute's name and value. */
  name?: unknown;
  value?: unknown;
}

interface Listed {
  fleet: Fleet;
  stop: () => void;
}

/** How often what other carts changed is read (at most): a shift change announces hundreds of changes a second. */
const ELSEWHERE_MS = 250;

/** How long a forced check-in waits for the phone. */
const CHECK_IN_WAIT_MS = 60_000;
/** How long Locate and Ring wait for a phone in Lost Mode (it may be out of reach). */
const LOST_PHONE_WAIT_MS = 60_000;

/** Where a phone in Lost Mode said it was. */
export interface LostPhoneLocation {
  latitude: number;
  longitude: number;
  /** Metres; undefined when the phone could not tell. */
  accuracy?: number;
  /** When the phone determined it, ISO 8601. */
  at: string;
}

/**
 * Every running fleet of this Node-RED, for the fleet view: one list of every phone (a shared
 * fleet's phones once, answered by the cart they are at), audit trails and exports, and what an
 * admin does to a phone. Events: `row` (a FleetRow, once a change of that phone is written);
 * `stale` (a fleet's store or its database's listening connection came back: changes made
 * meanwhile were not told, so a view reads every row again).
 */
export class FleetDirectory extends EventEmitter {
  private readonly fleets = new Map<string, Listed>();
  /** Phones other carts changed, to be read (each once) through the fleet that heard of them. */
  private readonly elsewhere = new Map<string, string>();
  private elsewhereTimer?: NodeJS.Timeout;

  /** Lists a fleet under its config node's id until the returned function is called. */
  add(id: string, fleet: Fleet): () => void {
    const onChange = (record: DeviceRecord): void => {
      this.rowOf(id, fleet.store, record).then(
        (row) => this.emit('row', row),
        () => undefined, // the store is away: the next change, or a reload, shows it
      );
    };
    // Another cart's change: unless that cart's own fleet is listed here (and says it itself).
    const onElsewhere = (udid: string, cart: string): void => {
      if ([...this.fleets.values()].some((listed) => listed.fleet.store.cart === cart)) return;
      this.elsewhere.set(udid, id);
      this.elsewhereTimer ??= setTimeout(() => this.readElsewhere(), ELSEWHERE_MS);
    };
    fleet.store.on('change', onChange).on('elsewhere', onElsewhere);
    const unstale = fleet.onCompareAgain(() => this.emit('stale'));
    const stop = (): void => {
      fleet.store.off('change', onChange).off('elsewhere', onElsewhere);
      unstale();
    };
    this.fleets.get(id)?.stop();
    this.fleets.set(id, { fleet, stop });
    return () => {
      if (this.fleets.get(id)?.fleet !== fleet) return;
      stop();
      this.fleets.delete(id);
    };
  }

  /**
   * Every phone of every fleet, once: a phone of a shared fleet as its cart's fleet sees it.
   * With `unreachable`, a fleet whose store cannot be read is told to it and left out (the others
   * are still listed); without, its failure is the answer.
   */
  async rows(only?: (id: string) => boolean, unreachable?: (id: string, err: Error) => void): Promise<FleetRow[]> {
    const rows = new Map<string, FleetRow>();
    for (const [id, { fleet }] of this.fleets) {
      if (only && !only(id)) continue;
      let records: DeviceRecord[];
      let failures: Map<string, string>;
      try {
        [records, failures] = await Promise.all([fleet.store.devices(), fleet.store.lastFailures()]);
      } catch (err) {
        if (!unreachable) throw err;
        unreachable(id, err as Error);
        continue;
      }
      for (const record of records) {
        // Known to two fleets (one database; a phone moved between carts of their own files): as the cart it is at sees it.
        const seen = rows.get(record.udid);
        if (seen && (record.cart !== fleet.store.cart || (seen.docked && !record.docked))) continue;
        rows.set(record.udid, rowOf(id, record, failures.get(record.udid)));
      }
    }
    return [...rows.values()];
  }

  /** Every phone's name and serial, of every fleet that can be read now. */
  async phoneNames(): Promise<PhoneNames> {
    const records = await Promise.all([...this.fleets.values()].map(({ fleet }) => fleet.store.devices().catch(() => [])));
    return phoneNamesOf(records.flat());
  }

  /** One phone's audit trail, oldest first. */
  async trail(udid: string): Promise<AuditEntry[]> {
    const { fleet } = await this.holding(udid);
    return fleet.store.audit(udid);
  }

  /** The audit entries `query` asks for, of every fleet (a shared fleet's once), oldest first. */
  async audit(query: AuditQuery): Promise<AuditEntry[]> {
    const entries: AuditEntry[] = [];
    for await (const page of this.auditPages(query)) entries.push(...page);
    return entries;
  }

  /** A fleet's cart's readiness for its next shift change, and the minimum it should have; undefined without shift changes. */
  async readiness(id: string): Promise<(Readiness & { minimum: number }) | undefined> {
    const watch = this.fleets.get(id)?.fleet.readiness;
    return watch && { ...(await watch.forecast()), minimum: watch.minimum };
  }

  /**
   * One insights figure of a fleet over the range ending `now`: every cart of its database, or
   * `cart`; hours of day in the Node-RED host's time zone.
   */
  async figure(id: string, request: FigureRequest, now = new Date()): Promise<FigureAnswer> {
    const fleet = this.fleets.get(id)?.fleet;
    if (!fleet) throw new CodedError('FLEET_NOT_FOUND', catalogText('device-fleet.errors.fleet-unknown'));
    const { store } = fleet;
    // A fleet of its own file is one cart: there is no other to tell apart.
    if (request.cart !== undefined && store.cart === undefined) throw new CodedError('INVALID_QUERY', catalogText('device-fleet.errors.figure-one-cart'));
    // A phone taken at one cart and returned at another: a cart's own changes count neither its phones nor its people.
    if (request.cart !== undefined && FLEET_WIDE.includes(request.figure))
      throw new CodedError('INVALID_QUERY', catalogText('device-fleet.errors.figure-whole-fleet'));
    const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    const query = insightQuery(request.range, now, timeZone, request.cart);
    let table: FigureTable;
    if (request.figure === 'checkouts-by-hour') table = checkoutsTable(await store.checkoutsByHour(query));
    else if (request.figure === 'kept') table = keptTable(await store.keptHours(query));
    else if (request.figure === 'people') table = peopleTable(await store.people(query));
    else if (request.figure === 'failing-ports') table = portsTable(await store.failingPorts(query));
    else if (request.figure === 'states') table = statesTable(await store.statusChanges(query), query, request.range);
    else {
      const phones = await store.failingPhones(query);
      table = failingTable(phones, phoneNamesOf(await store.devices(phones.map((phone) => phone.udid))));
    }
    return {
      ...request,
      from: query.from.toISOString(),
      to: query.to.toISOString(),
      timeZone,
      ...(request.figure === 'kept' && { lendingHours: fleet.rules.lendingHours }),
      ...table,
    };
  }

  /**
   * `audit` a page at a time, for exports of any length: each source of records (a file, a
   * database two carts share) read once, their pages merged in time order.
   */
  async *auditPages(query: AuditQuery): AsyncIterable<AuditEntry[]> {
    const sources = new Map<string, FleetStore>();
    for (const { fleet } of this.fleets.values()) if (!sources.has(fleet.store.source)) sources.set(fleet.store.source, fleet.store);
    for await (const page of mergedInTime([...sources.values()].map((store) => store.auditPages(query.udid, query)))) {
      const kept = byPerson(page, query.user);
      if (kept.length > 0) yield kept;
    }
  }

  /**
   * Does what an admin asked to a phone, as `who`: force its check-in (through the MDM, as a
   * Return does), clear Failed, mark it Lost or Retired with a reason, reinstate it (Unknown
   * until its next Return), or set an attribute. Resolves with its row.
   */
  async act(udid: string, action: string, request: AdminRequest, who: string): Promise<FleetRow> {
    const { id, fleet } = await this.holding(udid);
    const store = fleet.store;
    const reason = textOf(request.reason, 'reason');
    switch (action as AdminAction) {
      case 'check-in':
        // A Retired phone stays Retired at a check-in: saying "done" would hide that nothing changed.
        if ((await store.device(udid))?.status === 'Retired') throw new CodedError('RETIRED', catalogText('device-fleet.errors.retired'));
        await this.checkIn(fleet, udid, { who, why: reason ?? 'checked in by an admin' });
        break;
      case 'clear-failed': {
        // Docked: checked in (locked, no user), as its Return would. Out with her: hers again. Else Unknown until its next Return.
        const record = await store.device(udid);
        if (record?.status !== 'Failed') throw new CodedError('NOT_FAILED', catalogText('device-fleet.errors.not-failed', { status: record?.status }));
        const actor = { who, why: reason ?? 'cleared by an admin' };
        if (record.docked) await this.checkIn(fleet, udid, actor);
        else await store.setStatus(udid, record.user === undefined ? 'Unknown' : 'Checked Out', actor);
        break;
      }
      case 'lost':
      case 'retired':
        if (!reason) throw new CodedError('INVALID_REASON', catalogText('device-fleet.errors.no-reason', { action, max: MAX_TEXT }));
        await store.setStatus(udid, action === 'lost' ? 'Lost' : 'Retired', { who, why: reason });
        // With the fleet's Lost Mode: its Lock Screen asks whoever finds it to bring it back.
        if (action === 'lost') await fleet.enableLostMode(udid, { who, why: reason });
        break;
      case 'reinstate': {
        // A phone in Lost Mode stays so until its next check-in (docked at any cart) lifts it.
        const status = (await store.device(udid))?.status;
        if (status !== 'Lost' && status !== 'Retired') throw new CodedError('NOT_LOST', catalogText('device-fleet.errors.not-lost', { status }));
        await store.setStatus(udid, 'Unknown', { who, why: reason ?? 'reinstated by an admin' });
        break;
      }
      case 'locate':
        return (await this.locate(udid, request, who)).device;
      case 'ring':
        await this.askLostPhone(fleet, udid, playLostModeSound());
        await store.setAttribute(udid, LOST_MODE_SOUND, new Date().toISOString(), { who, why: reason ?? 'rung by an admin' });
        break;
      case 'attribute': {
        const name = textOf(request.name, 'name');
        const value = textOf(request.value, 'value') ?? '';
        if (!name) throw new CodedError('INVALID_ATTRIBUTE', catalogText('device-fleet.errors.attribute-name'));
        await store.setAttribute(udid, name, value, { who, why: reason ?? 'set by an admin' });
        break;
      }
      default:
        throw new CodedError(
          'INVALID_ACTION',
          catalogText('device-fleet.errors.action', { action: String(action).slice(0, 40), allowed: ADMIN_ACTIONS.join(', ') }),
        );
    }
    return this.rowOf(id, store, (await store.device(udid))!);
  }

  /**
   * Where a phone in Lost Mode is, as it answers (DeviceLocation), as `who`: kept in its record
   * and audit trail (the attribute `Last Location`). NOT_LOST for a phone not in Lost Mode.
   */
  async locate(udid: string, request: AdminRequest, who: string): Promise<{ device: FleetRow; location: LostPhoneLocation }> {
    const { id, fleet } = await this.holding(udid);
    const answer = await this.askLostPhone(fleet, udid, deviceLocation());
    const [latitude, longitude, accuracy] = [answer.Latitude, answer.Longitude, answer.HorizontalAccuracy].map(Number);
    if (!Number.isFinite(latitude) || !Number.isFinite(longitude) || Math.abs(latitude) > 90 || Math.abs(longitude) > 180)
      throw new CodedError('MDM_PROTOCOL', catalogText('device-fleet.errors.no-location'));
    const at = Number.isNaN(Date.parse(String(answer.Timestamp))) ? new Date().toISOString() : new Date(String(answer.Timestamp)).toISOString();
    // Apple: a negative accuracy is one the phone could not tell.
    const location = { latitude, longitude, ...(accuracy >= 0 && { accuracy }), at };
    const told = `${latitude}, ${longitude}${location.accuracy === undefined ? '' : ` ±${Math.round(location.accuracy)} m`} at ${at}`;
    const why = textOf(request.reason, 'reason') ?? 'located by an admin';
    const record = await fleet.store.setAttribute(udid, LAST_LOCATION, told, { who, why });
    return { device: await this.rowOf(id, fleet.store, record), location };
  }

  /** Sends a Lost Mode command (DeviceLocation, PlayLostModeSound) to a phone that is in Lost Mode; resolves with its answer. */
  private async askLostPhone(fleet: Fleet, udid: string, command: MdmCommand): Promise<Record<string, unknown>> {
    const record = await fleet.store.device(udid);
    if (!record?.lostMode) throw new CodedError('NOT_LOST', catalogText('device-fleet.errors.not-in-lost-mode', { status: record?.status }));
    const mdm = fleet.mdm;
    if (!mdm) throw new CodedError('NO_MDM', catalogText('device-fleet.errors.lost-phone-no-mdm'));
    return mdm.perform(udid, command, { timeout: LOST_PHONE_WAIT_MS });
  }

  /** Reads the phones other carts changed, all at once per fleet, and tells their rows. */
  private readElsewhere(): void {
    this.elsewhereTimer = undefined;
    const byFleet = new Map<string, string[]>();
    for (const [udid, id] of this.elsewhere) byFleet.set(id, [...(byFleet.get(id) ?? []), udid]);
    this.elsewhere.clear();
    for (const [id, udids] of byFleet) {
      const store = this.fleets.get(id)?.fleet.store;
      store?.devices(udids).then(
        (records) =>
          records.forEach((record) =>
            this.rowOf(id, store, record).then(
              (row) => this.emit('row', row),
              () => undefined,
            ),
          ),
        () => undefined, // out of reach: the next change, or a reload, shows it
      );
    }
  }

  /** The check-in action through the fleet's MDM. */
  private checkIn(fleet: Fleet, udid: string, actor: { who: string; why: string }): Promise<unknown> {
    const mdm = fleet.mdm;
    if (!mdm) throw new CodedError('NO_MDM', catalogText('device-fleet.errors.check-in-no-mdm'));
    return fleet.checkIn(udid, mdm, { timeout: CHECK_IN_WAIT_MS }, actor);
  }

  /** The fleet answering for a phone: the one of the cart it is at, else any that knows it. */
  private async holding(udid: string): Promise<{ id: string; fleet: Fleet }> {
    // `__proto__` or `constructor` is a name every object has, never a phone's.
    if (!udid || udid.length > MAX_TEXT || hasControl(udid) || udid in Object.prototype)
      throw new CodedError('INVALID_UDID', catalogText('device-fleet.errors.udid'));
    let found: { id: string; fleet: Fleet } | undefined;
    for (const [id, { fleet }] of this.fleets) {
      const record = await fleet.store.device(udid);
      if (!record) continue;
      if (record.cart === fleet.store.cart) return { id, fleet };
      found ??= { id, fleet };
    }
    if (!found) throw new CodedError('DEVICE_NOT_FOUND', catalogText('device-fleet.errors.phone-unknown'));
    return found;
  }

  private async rowOf(id: string, store: FleetStore, record: DeviceRecord): Promise<FleetRow> {
    const failure = record.status === 'Failed' ? (await store.lastFailures(record.udid)).get(record.udid) : undefined;
    return rowOf(id, record, failure);
  }
}

/** A text field of an admin's request: trimmed, at most MAX_TEXT characters, undefined when empty. */
function textOf(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string' || value.length > MAX_TEXT)
    throw new CodedError('INVALID_REQUEST', catalogText('device-fleet.errors.field-text', { field, max: MAX_TEXT }));
  return value.trim() || undefined;
}

/** Pages of several streams, each in time order, as one stream in time order (pages of at most AUDIT_PAGE). */
async function* mergedInTime(streams: AsyncIterable<AuditEntry[]>[]): AsyncIterable<AuditEntry[]> {
  const heads = streams.map((stream) => ({ pages: stream[Symbol.asyncIterator](), page: [] as AuditEntry[], at: 0, done: false }));
  const fill = async (head: (typeof heads)[number]): Promise<void> => {
    while (!head.done && head.at >= head.page.length) {
      const next = await head.pages.next();
      head.done = next.done === true;
      head.page = next.done ? [] : next.value;
      head.at = 0;
    }
  };
  await Promise.all(heads.map(fill));
  let out: AuditEntry[] = [];
  for (;;) {
    let earliest: (typeof heads)[number] | undefined;
    for (const head of heads) if (head.at < head.page.length && (!earliest || head.page[head.at].at < earliest.page[earliest.at].at)) earliest = head;
    if (!earliest) break;
    out.push(earliest.page[earliest.at++]);
    await fill(earliest);
    if (out.length < AUDIT_PAGE) continue;
    yield out;
    out = [];
  }
  if (out.length > 0) yield out;
}
