import type { Pool } from 'pg';
import { transaction } from './postgres-transaction';

/**
 * The shared fleet's tables, one migration per release step, applied in order and never
 * edited once released (a change is a new migration).
 */
const MIGRATIONS: string[] = [
  // 1: devices keyed by UDID across carts, check-out deadlines owned by the cart that started
  //    them, and an append-only audit trail.
  `CREATE TABLE checkout_devices (
     udid text PRIMARY KEY,
     serial text,
     name text,
     cart text,
     hub_id text,
     hub text,
     port integer,
     docked boolean NOT NULL DEFAULT false,
     status text NOT NULL DEFAULT 'Unknown',
     user_id text,
     user_key text,
     user_name text,
     attributes jsonb NOT NULL DEFAULT '{}',
     battery real,
     healthy boolean NOT NULL DEFAULT true,
     updated_at timestamptz NOT NULL DEFAULT now()
   );
   CREATE INDEX checkout_devices_user ON checkout_devices (user_key) WHERE user_key IS NOT NULL;
   CREATE INDEX checkout_devices_cart ON checkout_devices (cart, status);
   CREATE TABLE checkout_deadlines (
     udid text PRIMARY KEY REFERENCES checkout_devices (udid),
     cart text NOT NULL,
     node text,
     deadline timestamptz NOT NULL,
     message jsonb
   );
   CREATE TABLE checkout_audit (
     id bigserial PRIMARY KEY,
     at timestamptz NOT NULL DEFAULT now(),
     udid text NOT NULL,
     cart text,
     what text NOT NULL,
     from_value text,
     to_value text,
     who text,
     why text
   );
   CREATE FUNCTION checkout_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
     BEGIN RAISE EXCEPTION 'the audit trail is append-only'; END $$;
   CREATE TRIGGER checkout_audit_append_only BEFORE UPDATE OR DELETE ON checkout_audit
     FOR EACH ROW EXECUTE FUNCTION checkout_audit_append_only();`,
  // 2: a phone docked away from its Device Home cart is flagged; NanoMDM's webhooks, received by
  //    any one cart, are kept (sealed) for every cart, each cart reading on from where it was.
  `ALTER TABLE checkout_devices ADD COLUMN wrong_cart boolean NOT NULL DEFAULT false;
   CREATE TABLE checkout_webhooks (
     id bigserial PRIMARY KEY,
     event_id text NOT NULL UNIQUE,
     cart text NOT NULL,
     received_at timestamptz NOT NULL DEFAULT now(),
     sealed bytea NOT NULL
   );
   CREATE TABLE checkout_webhook_cursors (
     cart text PRIMARY KEY,
     last_id bigint NOT NULL
   );`,
  // 3: when a phone was taken, and whether it is out past the lending period.
  `ALTER TABLE checkout_devices ADD COLUMN checked_out_at timestamptz, ADD COLUMN overdue boolean NOT NULL DEFAULT false;
   CREATE INDEX checkout_devices_out ON checkout_devices (cart, checked_out_at) WHERE status = 'Checked Out' AND NOT overdue;`,
  // 4: when the phone last answered the MDM (phones heard from recently are handed out first),
  //    whether it was sent into Lost Mode; the fleet view reads a device's trail, why phones last
  //    failed, and exports a time range.
  `ALTER TABLE checkout_devices ADD COLUMN heard_at timestamptz, ADD COLUMN lost_mode boolean NOT NULL DEFAULT false;
   CREATE INDEX checkout_audit_device ON checkout_audit (udid, id);
   CREATE INDEX checkout_audit_at ON checkout_audit (at);
   CREATE INDEX checkout_audit_failed ON checkout_audit (udid, id) WHERE what = 'status' AND to_value = 'Failed';`,
  // 5: the insights: status changes by time (check-outs, returns, failures in a range), and
  //    when a returned phone was taken.
  `CREATE INDEX checkout_audit_status_at ON checkout_audit (at) WHERE what = 'status';
   CREATE INDEX checkout_audit_taken ON checkout_audit (udid, id) WHERE what = 'status' AND to_value = 'Checked Out';`,
  // 6: what each relayed webhook is about (as announced): a cart reading on takes only those it
  //    needs (check-ins, its own commands' results), not every other cart's results.
  `ALTER TABLE checkout_webhooks ADD COLUMN about text;`,
  // 7: how long each relayed webhook teaches (WebhookLasting): a cart joining the fleet later
  //    learns every enrolled phone from the check-ins kept, however old.
  `ALTER TABLE checkout_webhooks ADD COLUMN lasting text;
   CREATE INDEX checkout_webhooks_begins ON checkout_webhooks (about, id) WHERE lasting = 'begins';`,
  // 8: the insights over a year of trail read each phone's status and user at the range's start
  //    directly, not every change before it.
  `CREATE INDEX checkout_audit_status_udid ON checkout_audit (udid, at, id) WHERE what = 'status';
   CREATE INDEX checkout_audit_user ON checkout_audit (udid, at, id) WHERE what = 'check-out started: user';`,
];

/** The newest schema this version of the package knows. */
export const SCHEMA_VERSION = MIGRATIONS.length;

/** Serialises migrators across carts starting at once: the same key on every cart. */
export const MIGRATION_LOCK = 0x64657663; // "devc"
/** How long a cart waits for another cart's migration: far longer than a busy tap (the pool's lock timeout), since nothing works before. */
const MIGRATION_WAIT = '120s';

/**
 * Brings the database to the newest schema and returns its version. Safe when several carts
 * start at once: one migrates while the others wait on an advisory lock, then find nothing
 * left to do. A database newer than this package is left alone (a cart not upgraded yet).
 */
export function migrate(pool: Pool): Promise<number> {
  return transaction(pool, async (db) => {
    // Waiting for another cart that is migrating is not the database being busy: no 3 s lock timeout here.
    await db.query(`SET LOCAL lock_timeout = '${MIGRATION_WAIT}'`);
    await db.query(`SET LOCAL statement_timeout = '${MIGRATION_WAIT}'`);
    await db.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await db.query('CREATE TABLE IF NOT EXISTS checkout_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())');
    const { rows } = await db.query<{ version: number }>('SELECT coalesce(max(version), 0) AS version FROM checkout_migrations');
    let version = rows[0].version;
    for (; version < MIGRATIONS.length; version++) {
      await db.query(MIGRATIONS[version]);
      await db.query('INSERT INTO checkout_migrations (version) VALUES ($1)', [version + 1]);
    }
    return version;
  });
}

const migrations = new WeakMap<Pool, Promise<number>>();

/** `migrate`, once per pool however many ask at once; a failure is tried again by the next to ask. */
export function migrated(pool: Pool): Promise<number> {
  let migration = migrations.get(pool);
  if (!migration) {
    migration = migrate(pool).catch((err: Error) => {
      migrations.delete(pool);
      throw err;
    });
    migrations.set(pool, migration);
  }
  return migration;
}
