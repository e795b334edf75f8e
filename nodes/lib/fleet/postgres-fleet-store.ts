import type { Pool, PoolClient } from 'pg';
import { catalogText, CodedError } from '../coded-error';
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
} from './fleet-store';
import { heardRecentlySince, refusals } from './checkout-policy';
import {
  FAILING_LIMIT,
  KEPT_BOUNDS_HOURS,
  PEOPLE_LIMIT,
  type FailingPhone,
  type FailingPort,
  type InsightQuery,
  type PersonUse,
  type StatusChange,
} from './insights';
import { userKey } from './person';
import type { FleetChannels } from './postgres-listener';
import { TOO_MANY_CONNECTIONS } from './postgres-pool';
import { migrated, SCHEMA_VERSION } from './postgres-schema';
import { transaction } from './postgres-transaction';

/** lock_not_available (lock_timeout) and query_canceled (statement_timeout). */
const BUSY = new Set(['55P03', '57014']);
/** What pg's pool says when none of its connections came free in time. */
const POOL_WAIT_TIMED_OUT = 'timeout exceeded when trying to connect';

/** Where every change is announced (LISTEN/NOTIFY), `<udid> <cart>` as payload (the cart that made it). */
export const CHANGES_CHANNEL = 'checkout_changes';

export interface PostgresFleetStoreOptions {
  pool: Pool;
  /** This host's cart in the shared fleet. */
  cart: string;
  now?: () => Date;
}

interface DeviceRow {
  udid: string;
  serial: string | null;
  name: string | null;
  cart: string | null;
  hub_id: string | null;
  hub: string | null;
  port: number | null;
  docked: boolean;
  status: DeviceRecord['status'];
  user_id: string | null;
  user_name: string | null;
  attributes: Record<string, string>;
  battery: number | null;
  healthy: boolean;
  wrong_cart: boolean;
  checked_out_at: Date | null;
  overdue: boolean;
  heard_at: Date | null;
  lost_mode: boolean;
  deadline: Date | null;
  node: string | null;
  message: Record<string, unknown> | null;
}

const SELECT_DEVICES = `SELECT d.udid, d.serial, d.name, d.cart, d.hub_id, d.hub, d.port, d.docked, d.status, d.user_id, d.user_name,
    d.attributes, d.battery, d.healthy, d.wrong_cart, d.checked_out_at, d.overdue, d.heard_at, d.lost_mode, k.deadline, k.node, k.message
  FROM checkout_devices d LEFT JOIN checkout_deadlines k ON k.udid = d.udid`;

/** Which database a pool reaches (host, port, database; never its login): fleets of one database share one audit trail. */
function databaseOf(pool: Pool): string {
  const { connectionString, host, port, database } = pool.options as { connectionString?: string; host?: string; port?: number; database?: string };
  if (!connectionString) return `${host ?? ''}:${port ?? ''}/${database ?? ''}`;
  try {
    const url = new URL(connectionString);
    return `${url.host}${url.pathname}`;
  } catch {
    return connectionString; // keyword form (host=... dbname=...): a key only, never shown
  }
}

interface AuditRow {
  at: Date;
  udid: string;
  what: string;
  from_value: string | null;
  to_value: string | null;
  who: string | null;
  why: string | null;
}

function toEntry({ at, udid, what, from_value, to_value, who, why }: AuditRow): AuditEntry {
  return {
    at: at.toISOString(),
    udid,
    what,
    ...(from_value !== null && { from: from_value }),
    ...(to_value !== null && { to: to_value }),
    ...(who !== null && { who }),
    ...(why !== null && { why }),
  };
}

function toRecord(row: DeviceRow): DeviceRecord {
  const optional = {
    serial: row.serial,
    name: row.name,
    cart: row.cart,
    hubId: row.hub_id,
    hub: row.hub,
    port: row.port,
    user: row.user_id,
    userName: row.user_name,
    battery: row.battery,
    checkedOutAt: row.checked_out_at?.toISOString() ?? null,
    heardAt: row.heard_at?.toISOString() ?? null,
  };
  const record: DeviceRecord = {
    udid: row.udid,
    docked: row.docked,
    status: row.status,
    attributes: row.attributes,
    healthy: row.healthy,
    ...(row.wrong_cart && { wrongCart: true }),
    ...(row.overdue && { overdue: true }),
    ...(row.lost_mode && { lostMode: true }),
  };
  for (const [field, value] of Object.entries(optional)) if (value !== null) (record as unknown as Record<string, unknown>)[field] = value;
  if (row.deadline)
    record.checkout = {
      deadline: row.deadline.toISOString(),
      ...(row.node !== null && { node: row.node }),
      ...(row.message !== null && { message: row.message }),
    };
  return record;
}

/**
 * The fleet of many carts in one PostgreSQL database (PRODUCT.md, "Many carts"): devices keyed
 * by UDID across carts, each change one transaction with its audit rows, announced on
 * `checkout_changes`. A phone docked at any cart is recognised there and its record moves to
 * that cart; the per-user limit holds across carts, `CART_BUSY` per cart; deadlines are rows
 * owned by the cart that started them. The schema is created or migrated on first use. While
 * the database cannot be reached every call fails with STORE_UNAVAILABLE (and `storage` says
 * so once); nothing is half-written, and the first call that works again heals it.
 */
/** A quarter hour, ms: the insights' time step. */
const QUARTER = 15 * 60_000;
/** Every phone of the trail, one index probe each (a loose index scan): `phones (udid)`. */
const PHONES = `phones AS (
  (SELECT udid FROM checkout_audit ORDER BY udid LIMIT 1)
  UNION ALL
  SELECT (SELECT a.udid FROM checkout_audit a WHERE a.udid > p.udid ORDER BY a.udid LIMIT 1) FROM phones p WHERE p.udid IS NOT NULL)`;
/** Each phone's status at $1 (its last change before), one index probe each: `(udid, status)`. */
const STATUS_AT_START = `SELECT p.udid, s.to_value AS status FROM phones p CROSS JOIN LATERAL (
  SELECT to_value FROM checkout_audit WHERE udid = p.udid AND what = 'status' AND at < $1 ORDER BY at DESC, id DESC LIMIT 1) s`;
/** The user of the last check-out before $1 of the phone `s.udid`: `(person)`. */
const USER_AT_START = `SELECT to_value AS person FROM checkout_audit
  WHERE udid = s.udid AND what = 'check-out started: user' AND at < $1 ORDER BY at DESC, id DESC LIMIT 1`;

export class PostgresFleetStore extends FleetStore {
  readonly cart: string;

  readonly source: string;

  constructor(private readonly options: PostgresFleetStoreOptions) {
    super();
    this.cart = options.cart;
    this.source = `postgres:${databaseOf(options.pool)}`;
  }

  async device(udid: string): Promise<DeviceRecord | undefined> {
    const rows = await this.query<DeviceRow>(`${SELECT_DEVICES} WHERE d.udid = $1`, [udid]);
    return rows[0] && toRecord(rows[0]);
  }

  async devices(udids?: string[]): Promise<DeviceRecord[]> {
    return (await this.query<DeviceRow>(`${SELECT_DEVICES} WHERE $1::text[] IS NULL OR d.udid = ANY($1) ORDER BY d.udid`, [udids ?? null])).map(toRecord);
  }

  async lastFailures(udid?: string): Promise<Map<string, string>> {
    const rows = await this.query<{ udid: string; why: string | null }>(
      `SELECT DISTINCT ON (udid) udid, why FROM checkout_audit WHERE what = 'status' AND to_value = 'Failed' AND ($1::text IS NULL OR udid = $1) ORDER BY udid, id DESC`,
      [udid ?? null],
    );
    return new Map(rows.map((row) => [row.udid, row.why ?? '']));
  }

  async checkoutsByHour({ from, to, timeZone, cart }: InsightQuery): Promise<number[]> {
    const rows = await this.query<{ hour: number; count: string }>(
      `SELECT extract(hour FROM at AT TIME ZONE $3)::int AS hour, count(*) AS count FROM checkout_audit
        WHERE what = 'status' AND to_value = 'Checked Out' AND at >= $1 AND at < $2 AND ($4::text IS NULL OR cart = $4) GROUP BY 1`,
      [from, to, timeZone, cart ?? null],
    );
    const hours = new Array<number>(24).fill(0);
    for (const row of rows) hours[row.hour] = Number(row.count);
    return hours;
  }

  /** Each return paired with the phone's check-out before it (`checkout_audit_taken`), counted by the cart it was taken from. */
  async people({ from, to }: InsightQuery): Promise<PersonUse[]> {
    // Whose each phone is: its last check-out's user. The phones each person held at the range's
    // start, then each change in the range by the phone's user, the phones she held after it a
    // running sum from there: a year of trail is not read for a month's figure.
    const rows = await this.query<{ person: string; checkouts: string; overdue: string; most: string }>(
      `WITH RECURSIVE ${PHONES},
       held_at_start AS (
         SELECT u.person, count(*) AS holding FROM (${STATUS_AT_START}) s
           CROSS JOIN LATERAL (${USER_AT_START}) u
          WHERE s.status = 'Checked Out' GROUP BY u.person),
       during AS (
         SELECT id, udid, what, from_value, to_value,
                count(*) FILTER (WHERE what = 'check-out started: user') OVER (PARTITION BY udid ORDER BY id) AS taking
           FROM checkout_audit
          WHERE at >= $1 AND at < $2 AND (what = 'check-out started: user'
                OR (what = 'status' AND (to_value = 'Checked Out' OR from_value = 'Checked Out')) OR (what = 'overdue: overdue' AND to_value = 'true'))),
       owned AS (
         SELECT d.id, d.what, d.to_value, coalesce(d.person, before.person) AS person FROM (
           SELECT *, CASE WHEN taking > 0 THEN first_value(to_value) OVER (PARTITION BY udid, taking ORDER BY id) END AS person FROM during) d
           LEFT JOIN LATERAL (
             SELECT to_value AS person FROM checkout_audit
              WHERE d.taking = 0 AND udid = d.udid AND what = 'check-out started: user' AND at < $1 ORDER BY at DESC, id DESC LIMIT 1) before ON true
          WHERE d.what <> 'check-out started: user'),
       held AS (
         SELECT o.person, o.what, o.to_value, coalesce(h.holding, 0)
                + sum(CASE WHEN o.what <> 'status' THEN 0 WHEN o.to_value = 'Checked Out' THEN 1 ELSE -1 END) OVER (PARTITION BY o.person ORDER BY o.id) AS holding
           FROM owned o LEFT JOIN held_at_start h USING (person) WHERE o.person IS NOT NULL),
       used AS (
         SELECT person,
                count(*) FILTER (WHERE what = 'status' AND to_value = 'Checked Out') AS checkouts,
                count(*) FILTER (WHERE what = 'overdue: overdue') AS overdue,
                count(*) FILTER (WHERE what = 'status') AS changes,
                max(holding) FILTER (WHERE what = 'status') AS during
           FROM held GROUP BY person)
       SELECT person, coalesce(u.checkouts, 0) AS checkouts, coalesce(u.overdue, 0) AS overdue,
              greatest(coalesce(u.during, 0), coalesce(h.holding, 0)) AS most
         FROM used u FULL JOIN held_at_start h USING (person)
        WHERE coalesce(u.changes, 0) > 0 OR coalesce(u.overdue, 0) > 0 OR coalesce(h.holding, 0) > 0
        ORDER BY checkouts DESC, most DESC, person COLLATE "C" LIMIT $3`,
      [from, to, PEOPLE_LIMIT],
    );
    return rows.map((row) => ({ user: row.person, checkouts: Number(row.checkouts), overdue: Number(row.overdue), mostAtOnce: Number(row.most) }));
  }

  async failingPorts({ from, to, cart }: InsightQuery): Promise<FailingPort[]> {
    // Each failure at the port its phone was last docked at before it (the trail names hub and port when they change).
    const rows = await this.query<{ cart: string | null; hub: string; port: string; failures: string; phones: string; last_at: Date }>(
      `SELECT f.cart, h.to_value AS hub, p.to_value AS port, count(*) AS failures, count(DISTINCT f.udid) AS phones, max(f.at) AS last_at
         FROM checkout_audit f
         JOIN LATERAL (SELECT to_value FROM checkout_audit WHERE udid = f.udid AND what = 'docked: hub' AND id < f.id ORDER BY id DESC LIMIT 1) h ON true
         JOIN LATERAL (SELECT to_value FROM checkout_audit WHERE udid = f.udid AND what = 'docked: port' AND id < f.id ORDER BY id DESC LIMIT 1) p ON true
        WHERE f.what = 'status' AND f.to_value = 'Failed' AND f.at >= $1 AND f.at < $2 AND ($3::text IS NULL OR f.cart = $3)
          AND h.to_value IS NOT NULL AND p.to_value IS NOT NULL
        GROUP BY 1, 2, 3 ORDER BY failures DESC, last_at DESC, h.to_value COLLATE "C", p.to_value COLLATE "C" LIMIT $4`,
      [from, to, cart ?? null, FAILING_LIMIT],
    );
    return rows.map((row) => ({
      ...(row.cart !== null && { cart: row.cart }),
      hub: row.hub,
      port: row.port,
      failures: Number(row.failures),
      phones: Number(row.phones),
      lastAt: row.last_at.toISOString(),
    }));
  }

  async statusChanges({ from, to }: InsightQuery): Promise<StatusChange[]> {
    // Each phone's status at the range's start, as entering it (the states there are the same
    // as from every change before), then the range's changes by quarter hour, a phone's first
    // ever entering its status.
    const rows = await this.query<{ quarter: string | null; from_value: string | null; to_value: string; count: string }>(
      `WITH RECURSIVE ${PHONES},
       at_start AS (${STATUS_AT_START}),
       during AS (
         SELECT at, udid, from_value, to_value, lag(id) OVER (PARTITION BY udid ORDER BY id) IS NULL AS first_here
           FROM checkout_audit WHERE what = 'status' AND at >= $1 AND at < $2)
       SELECT NULL AS quarter, NULL AS from_value, status AS to_value, count(*) AS count FROM at_start GROUP BY status
       UNION ALL
       SELECT floor(extract(epoch FROM at) * 1000 / ${QUARTER}) * ${QUARTER},
              CASE WHEN first_here AND NOT EXISTS (SELECT 1 FROM at_start s WHERE s.udid = d.udid) THEN NULL ELSE from_value END,
              to_value, count(*)
         FROM during d GROUP BY 1, 2, 3`,
      [from, to],
    );
    return rows.map((row) => ({
      ...(row.quarter !== null && { quarter: Number(row.quarter) }),
      ...(row.from_value !== null && { from: row.from_value }),
      to: row.to_value,
      count: Number(row.count),
    }));
  }

  async keptHours({ from, to, cart }: InsightQuery): Promise<number[]> {
    const rows = await this.query<{ bucket: number; count: string }>(
      `SELECT width_bucket(extract(epoch FROM r.at - taken.at) / 3600, $4::float8[]) AS bucket, count(*) AS count
         FROM checkout_audit r
         CROSS JOIN LATERAL (
           SELECT o.at, o.cart FROM checkout_audit o
            WHERE o.udid = r.udid AND o.id < r.id AND o.what = 'status' AND o.to_value = 'Checked Out' ORDER BY o.id DESC LIMIT 1) taken
        WHERE r.what = 'status' AND r.from_value = 'Checked Out' AND r.to_value IN ('Returning', 'Checked In')
          AND r.at >= $1 AND r.at < $2 AND ($3::text IS NULL OR taken.cart = $3)
        GROUP BY 1`,
      [from, to, cart ?? null, KEPT_BOUNDS_HOURS],
    );
    const buckets = new Array<number>(KEPT_BOUNDS_HOURS.length + 1).fill(0);
    for (const row of rows) buckets[row.bucket] = Number(row.count);
    return buckets;
  }

  async failingPhones({ from, to, cart }: InsightQuery): Promise<FailingPhone[]> {
    const rows = await this.query<{ udid: string; failures: string; last_at: Date; last_why: string | null }>(
      `SELECT udid, count(*) AS failures, max(at) AS last_at, (array_agg(why ORDER BY id DESC))[1] AS last_why FROM checkout_audit
        WHERE what = 'status' AND to_value = 'Failed' AND at >= $1 AND at < $2 AND ($3::text IS NULL OR cart = $3)
        GROUP BY udid ORDER BY failures DESC, last_at DESC, udid COLLATE "C" LIMIT $4`,
      [from, to, cart ?? null, FAILING_LIMIT],
    );
    return rows.map((row) => ({
      udid: row.udid,
      failures: Number(row.failures),
      lastAt: row.last_at.toISOString(),
      ...(row.last_why !== null && { lastWhy: row.last_why }),
    }));
  }

  /**
   * Pages of AUDIT_PAGE rows in time order (carts' clocks differ a little: the order the entries
   * happened in, not the order they were written), each read after the last row of the one before
   * (no cursor held open between pages).
   */
  async *auditPages(udid?: string, { from, to }: TimeRange = {}): AsyncIterable<AuditEntry[]> {
    // The last row's time as the database has it (to the microsecond), not as a JS Date rounds it.
    for (let after = { at_key: '-infinity', id: '0' }; ;) {
      const rows = await this.query<AuditRow & { id: string; at_key: string }>(
        `SELECT id, at, at::text AS at_key, udid, what, from_value, to_value, who, why FROM checkout_audit
          WHERE (at, id) > ($4::timestamptz, $5) AND ($1::text IS NULL OR udid = $1) AND ($2::timestamptz IS NULL OR at >= $2) AND ($3::timestamptz IS NULL OR at < $3)
          ORDER BY at, id LIMIT $6`,
        [udid ?? null, from ?? null, to ?? null, after.at_key, after.id, AUDIT_PAGE],
      );
      if (rows.length > 0) yield rows.map(toEntry);
      if (rows.length < AUDIT_PAGE) return;
      after = rows.at(-1)!;
    }
  }

  async deviceAt(hubId: string, port: number): Promise<DeviceRecord | undefined> {
    const rows = await this.query<DeviceRow>(`${SELECT_DEVICES} WHERE d.cart = $1 AND d.docked AND d.hub_id = $2 AND d.port = $3 LIMIT 1`, [
      this.cart,
      hubId,
      port,
    ]);
    return rows[0] && toRecord(rows[0]);
  }

  async pendingCheckouts(): Promise<Pending[]> {
    const rows = await this.query<DeviceRow>(`${SELECT_DEVICES} WHERE k.cart = $1 AND d.status = 'Checking Out' ORDER BY k.deadline`, [this.cart]);
    return rows.map(toRecord) as Pending[];
  }

  async outstanding(): Promise<(DeviceRecord & { checkedOutAt: string })[]> {
    const rows = await this.query<DeviceRow>(
      `${SELECT_DEVICES} WHERE d.cart = $1 AND d.status = 'Checked Out' AND d.checked_out_at IS NOT NULL AND NOT d.overdue ORDER BY d.checked_out_at`,
      [this.cart],
    );
    return rows.map(toRecord) as (DeviceRecord & { checkedOutAt: string })[];
  }

  /**
   * One transaction: every tap of one person, at any cart, waits on her lock, so her limit
   * holds across carts (two carts tapping one badge at the same instant hand out one phone);
   * a cart's taps wait on the cart's lock. The locks are always taken person first, then cart,
   * so two taps never wait on each other in a circle.
   */
  async beginCheckout(
    user: string,
    rules: CheckoutRules,
    udid?: string,
    started: Omit<PendingCheckout, 'deadline'> = {},
    userName?: string,
  ): Promise<DeviceRecord> {
    const { id, key } = personOf(user);
    const record = await this.write(async (db) => {
      await db.query(`SELECT pg_advisory_xact_lock(hashtext('device-checkout user ' || $1))`, [key]);
      await db.query(`SELECT pg_advisory_xact_lock(hashtext('device-checkout cart ' || $1))`, [this.cart]);
      const waiting = await db.query<DeviceRow>(`${SELECT_DEVICES} WHERE d.cart = $1 AND d.status = 'Checking Out' AND d.docked LIMIT 1`, [this.cart]);
      if (waiting.rows[0]) throw refusals.cartBusy(toRecord(waiting.rows[0]));
      // As on one cart: out with her, or failed while out with her, counts toward her limit.
      const held = await db.query<{ count: number }>(
        `SELECT count(*)::int AS count FROM checkout_devices
          WHERE user_key = $1 AND (status IN ('Checking Out', 'Checked Out') OR (status = 'Failed' AND NOT docked))`,
        [key],
      );
      const count = held.rows[0].count;
      if (count >= rules.userLimit) throw refusals.userHasDevice(id, count, rules.userLimit);
      const chosen = await db.query<DeviceRow>(
        `${SELECT_DEVICES}
          WHERE d.cart = $1 AND d.docked AND d.status = 'Checked In' AND d.healthy AND coalesce(d.battery, 1) >= $2 AND ($3::text IS NULL OR d.udid = $3)
          ORDER BY coalesce(d.heard_at >= $4, false) DESC, coalesce(d.battery, 1) DESC, d.udid LIMIT 1 FOR UPDATE OF d`,
        [this.cart, rules.batteryThreshold, udid ?? null, heardRecentlySince(this.now())],
      );
      if (!chosen.rows[0]) throw refusals.noDevice(udid);
      return this.apply(db, toRecord(chosen.rows[0]), this.checkoutStarted(id, rules, started, userName));
    });
    this.emit('change', record);
    return record;
  }

  /** Hears what other carts change (`checkout_changes` on the cart's channels): `elsewhere` with the UDID and that cart. Returns what stops it. */
  followOtherCarts(channels: FleetChannels): () => void {
    return channels.listen(CHANGES_CHANNEL, {
      onNotification: (payload) => {
        const space = payload.indexOf(' ');
        const cart = payload.slice(space + 1);
        if (cart !== this.cart) this.emit('elsewhere', payload.slice(0, space), cart);
      },
    });
  }

  /** The pool belongs to whoever made it: it is theirs to end. */
  async close(): Promise<void> {}

  protected async update(udid: string, decide: (record: DeviceRecord) => Change | undefined): Promise<DeviceRecord> {
    let changed = false;
    const record = await this.write(async (db) => {
      const { rows } = await db.query<DeviceRow>(`${SELECT_DEVICES} WHERE d.udid = $1 FOR UPDATE OF d`, [udid]);
      const current = rows[0] ? toRecord(rows[0]) : newRecord(udid);
      const change = decide(current);
      changed = change !== undefined;
      return change ? this.apply(db, current, change) : current;
    });
    // Said once committed: a rolled-back change never was.
    if (changed) this.emit('change', record);
    return record;
  }

  protected now(): Date {
    return this.options.now?.() ?? new Date();
  }

  /** Writes `change` of `record` with its audit rows and announces it, inside the caller's transaction. */
  private async apply(db: PoolClient, record: DeviceRecord, change: Change): Promise<DeviceRecord> {
    const { next, entries } = applyChange(record, change, this.now().toISOString());
    await this.writeRecord(db, next, record.checkout, entries);
    return next;
  }

  /**
   * Takes over a device from a cart's file store (`importFileStore`) with its audit trail, as
   * this cart's; false, and nothing written, when the database knows it already.
   */
  adopt(record: DeviceRecord, trail: AuditEntry[]): Promise<boolean> {
    return this.write(async (db) => {
      // Two imports at once (of one file, say) must not both find it new.
      await db.query(`SELECT pg_advisory_xact_lock(hashtext('device-checkout device ' || $1))`, [record.udid]);
      const { rows } = await db.query('SELECT 1 FROM checkout_devices WHERE udid = $1', [record.udid]);
      if (rows.length > 0) return false;
      await this.writeRecord(db, { ...record, cart: this.cart }, undefined, trail);
      return true;
    });
  }

  /** The device's row, its deadline row when it changed from `checkout`, its audit rows, and the announcement. */
  private async writeRecord(db: PoolClient, next: DeviceRecord, checkout: PendingCheckout | undefined, entries: AuditEntry[]): Promise<void> {
    await db.query(
      `INSERT INTO checkout_devices (udid, serial, name, cart, hub_id, hub, port, docked, status, user_id, user_key, user_name, attributes, battery, healthy, wrong_cart,
         checked_out_at, overdue, heard_at, lost_mode, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, now())
       ON CONFLICT (udid) DO UPDATE SET serial = $2, name = $3, cart = $4, hub_id = $5, hub = $6, port = $7, docked = $8, status = $9,
         user_id = $10, user_key = $11, user_name = $12, attributes = $13, battery = $14, healthy = $15, wrong_cart = $16,
         checked_out_at = $17, overdue = $18, heard_at = $19, lost_mode = $20, updated_at = now()`,
      [
        next.udid,
        next.serial ?? null,
        next.name ?? null,
        next.cart ?? null,
        next.hubId ?? null,
        next.hub ?? null,
        next.port ?? null,
        next.docked,
        next.status,
        next.user ?? null,
        next.user === undefined ? null : userKey(next.user),
        next.userName ?? null,
        JSON.stringify(next.attributes),
        next.battery ?? null,
        next.healthy,
        next.wrongCart === true,
        next.checkedOutAt ?? null,
        next.overdue === true,
        next.heardAt ?? null,
        next.lostMode === true,
      ],
    );
    if (JSON.stringify(next.checkout) !== JSON.stringify(checkout)) {
      if (next.checkout) {
        const { deadline, node, message } = next.checkout;
        await db.query(
          `INSERT INTO checkout_deadlines (udid, cart, node, deadline, message) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (udid) DO UPDATE SET cart = $2, node = $3, deadline = $4, message = $5`,
          [next.udid, this.cart, node ?? null, deadline, message === undefined ? null : JSON.stringify(message)],
        );
      } else await db.query('DELETE FROM checkout_deadlines WHERE udid = $1', [next.udid]);
    }
    // The change's audit rows in one statement, and the announcement with them.
    const column = (pick: (entry: AuditEntry) => string | undefined) => entries.map((entry) => pick(entry) ?? null);
    await db.query(
      `WITH audited AS (
         INSERT INTO checkout_audit (at, udid, cart, what, from_value, to_value, who, why)
         SELECT at, $2, $3, what, from_value, to_value, who, why
           FROM unnest($4::timestamptz[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[]) AS e (at, what, from_value, to_value, who, why))
       SELECT pg_notify($1, $2 || ' ' || $3)`,
      [
        CHANGES_CHANNEL,
        next.udid,
        this.cart,
        column((e) => e.at),
        column((e) => e.what),
        column((e) => e.from),
        column((e) => e.to),
        column((e) => e.who),
        column((e) => e.why),
      ],
    );
  }

  /**
   * The database, its schema brought up to date. One that a newer version of the package has
   * migrated is refused (SCHEMA_TOO_NEW, said once): writing rows it does not know could break it.
   */
  private async ready(): Promise<Pool> {
    const version = await migrated(this.options.pool);
    if (version > SCHEMA_VERSION) {
      const tooNew = new CodedError('SCHEMA_TOO_NEW', catalogText('device-fleet.errors.schema-too-new', { version, known: SCHEMA_VERSION }));
      this.failed(tooNew);
      throw tooNew;
    }
    return this.options.pool;
  }

  private async query<Row extends object>(text: string, values: unknown[] = []): Promise<Row[]> {
    return this.reaching(async () => (await (await this.ready()).query<Row>(text, values)).rows);
  }

  private write<T>(work: (db: PoolClient) => Promise<T>): Promise<T> {
    return this.reaching(async () => transaction(await this.ready(), work));
  }

  /** A refusal (a CodedError) passes as it is; anything else means the database is out of reach. */
  private async reaching<T>(work: () => Promise<T>): Promise<T> {
    try {
      const result = await work();
      this.healed();
      return result;
    } catch (err) {
      if (err instanceof CodedError) {
        if (err.code !== 'SCHEMA_TOO_NEW') this.healed();
        throw err;
      }
      // The database answers, but another session holds what this change needs: busy, not away.
      if (BUSY.has((err as { code?: string }).code ?? '')) {
        this.healed();
        throw new CodedError('STORE_BUSY', catalogText('device-fleet.errors.database-busy'));
      }
      // Every connection the server allows is taken (max_connections), or every one of this cart's
      // is in use: one is free again in a moment, so busy, said in words, and nothing to heal.
      if ((err as { code?: string }).code === TOO_MANY_CONNECTIONS) throw new CodedError('STORE_BUSY', catalogText('device-fleet.errors.database-full'));
      if ((err as Error).message === POOL_WAIT_TIMED_OUT) throw new CodedError('STORE_BUSY', catalogText('device-fleet.errors.database-connections-busy'));
      const unavailable = new CodedError(
        'STORE_UNAVAILABLE',
        catalogText('device-fleet.errors.database-unusable', {
          reason: `${(err as NodeJS.ErrnoException).code ?? ''} ${(err as Error).message}`.replace(/\s+/g, ' ').trim(),
        }),
      );
      this.failed(unavailable);
      throw unavailable;
    }
  }
}
