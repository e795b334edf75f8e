import type { EventEmitter } from 'node:events';
import type { Pool } from 'pg';
import type { WebhookLasting } from '../mdm/mdm-adapter';
import { packSealed, seal, unpackSealed, unseal } from '../sealed';
import type { FleetChannels } from './postgres-listener';
import { migrated } from './postgres-schema';

/** Where a cart announces a webhook it received (`<row id> <about> <cart>` as payload). */
const WEBHOOKS_CHANNEL = 'checkout_webhooks';

/** An MDM adapter whose webhooks can be shared: NanoMDM's. Its `webhook` events say what each is `about` (no spaces) and how long it is `lasting`. */
export interface RelayingAdapter extends EventEmitter {
  takeRelayed(body: Buffer): void;
  /** Whether a webhook another cart kept, announced as `about`, is one this cart needs now. */
  needs(about: string): boolean;
}

export interface WebhookRelayOptions {
  pool: Pool;
  /** Which database (its URL): relays of one MDM connection on one database in this process work as one. */
  database: string;
  /** The cart's channels, on which carts announce the webhooks they kept. */
  channels: FleetChannels;
  cart: string;
  adapter: RelayingAdapter;
  /** Seals the bodies in the database (check-ins carry unlock tokens): the MDM's API key, the same on every cart. */
  secret: string;
  log: { warn(message: string): void };
  /** The user-facing text of a catalog key (`device-fleet.errors.…`). */
  text: (key: string, vars?: Record<string, unknown>) => string;
  /** How long received results are kept for carts that were down, days (check-ins are kept while they teach). */
  keepDays?: number;
  /** At most this many webhooks held in memory while the database is away (the oldest not yet kept is lost, and said). */
  hold?: number;
}

/** A webhook this cart received, held until kept, and a while after (see `keepHeld`). */
interface Held {
  eventId: string;
  about: string;
  lasting: WebhookLasting;
  sealed: Buffer;
  at: number;
  kept: boolean;
}

/**
 * The relays of one MDM connection (shared by the fleets of several carts on one Node-RED) on one
 * database: the first keeps what the connection received (each would keep it again), and a
 * webhook one of them read is not given to the connection again by the others.
 */
interface Siblings {
  relays: WebhookRelay[];
  /** The webhooks read in the lookback window, by event id (a failover may give a row id again), with their row. */
  read: Map<string, number>;
}
const siblingsOf = new WeakMap<RelayingAdapter, Map<string, Siblings>>();

function siblings(adapter: RelayingAdapter, database: string): Siblings {
  let byDatabase = siblingsOf.get(adapter);
  if (!byDatabase) siblingsOf.set(adapter, (byDatabase = new Map()));
  let found = byDatabase.get(database);
  if (!found) byDatabase.set(database, (found = { relays: [], read: new Map() }));
  return found;
}

const PURPOSE = 'webhooks';
/**
 * Rows are read again this far behind the newest one read: two carts' inserts may commit out of
 * id order, and reading one twice does no harm (an answer nobody waits for is dropped, an older
 * check-in changes nothing).
 */
const LOOKBACK = 200;
/**
 * Webhooks kept this long ago are kept again after the listening connection comes back: with
 * asynchronous replication the primary that died may have taken the newest rows with it.
 */
const KEEP_AGAIN_MS = 10 * 60_000;

/**
 * NanoMDM posts its webhooks to one URL, so with carts sharing a fleet one cart receives what
 * every cart needs: the answers to the commands it sent and what check-ins teach (serials,
 * unlock tokens). Each webhook a cart takes is kept in the database, sealed with the MDM's API
 * key, and announced; every other cart takes it as if it had received it. A cart reads on from
 * where it was, so one that was down has missed nothing another received (results within
 * `keepDays`), and one new to the fleet learns every phone enrolled before it joined.
 * A webhook received while the database is away (NanoMDM never sends it again) is held and kept
 * once it is back; after a failover, what was kept in the last minutes is kept again (a webhook
 * kept twice is stored once).
 */
export class WebhookRelay {
  private unlisten?: () => void;
  /** The newest row read. */
  private newest = 0;
  /** The cursor is in the database: announcements are read from then on (the first catch-up reads those before). */
  private prepared = false;
  private readonly siblings: Siblings;
  private reading: Promise<void> = Promise.resolve();
  private readWaiting = false;
  /** What this cart received, oldest first; kept one batch after the other, in the order received. */
  private held: Held[] = [];
  private keeping: Promise<void> = Promise.resolve();
  /** Keeping failed (said once until it works again); webhooks lost from the hold meanwhile. */
  private failing = false;
  private lost = 0;
  private readonly onWebhook = ({ eventId, body, about, lasting }: { eventId: string; body: Buffer; about: string; lasting: WebhookLasting }): void => {
    if (this.siblings.relays[0] !== this) return;
    const { secret, hold = 1000 } = this.options;
    this.held.push({ eventId, about, lasting, sealed: packSealed(seal(body, secret, PURPOSE)), at: Date.now(), kept: false });
    const past = Date.now() - KEEP_AGAIN_MS;
    while (this.held.length > hold || (this.held[0]?.kept && this.held[0].at < past)) if (!this.held.shift()!.kept) this.lost++;
    this.keepHeld(false);
  };

  constructor(private readonly options: WebhookRelayOptions) {
    this.siblings = siblings(options.adapter, options.database);
    this.siblings.relays.push(this);
    options.adapter.on('webhook', this.onWebhook);
  }

  /**
   * Listens, and takes what other carts received while this one was away (a database out of
   * reach is tried again with backoff); resolves once it first caught up.
   */
  start(): Promise<void> {
    const { channels, cart } = this.options;
    return new Promise((caughtUp) => {
      this.unlisten = channels.listen(WEBHOOKS_CHANNEL, {
        // Another cart's webhook this cart needs (a check-in, a result it waits for): read it and
        // anything before it. A hundred carts do not each read every other cart's results.
        onNotification: (payload) => {
          const [, about = '', ...from] = payload.split(' ');
          if (this.prepared && from.join(' ') !== cart && this.options.adapter.needs(about)) this.readOn();
        },
        // Takes what other carts received while this one was away, and keeps again what it received.
        onListening: async () => {
          await this.prepare();
          this.prepared = true;
          await this.keepHeld(true);
          this.readOn();
          await this.reading;
          caughtUp();
        },
      });
    });
  }

  async close(): Promise<void> {
    this.options.adapter.off('webhook', this.onWebhook);
    this.siblings.relays.splice(this.siblings.relays.indexOf(this), 1);
    this.unlisten?.();
    await Promise.all([this.keeping, this.reading]);
  }

  /**
   * The schema, webhooks that teach nothing more dropped (results after `keepDays`, a check-in
   * once a later enrolment of its device began again), and this cart's cursor: a cart new to
   * the fleet reads from the start, to learn the phones enrolled before it joined (the results
   * kept, other carts', stay sealed).
   */
  private async prepare(): Promise<void> {
    const { pool, cart, keepDays = 7 } = this.options;
    await migrated(pool);
    await pool.query(
      `DELETE FROM checkout_webhooks w WHERE received_at < now() - make_interval(days => $1)
         AND (coalesce(lasting, 'read-once') = 'read-once'
              OR EXISTS (SELECT 1 FROM checkout_webhooks later WHERE later.lasting = 'begins' AND later.about = w.about AND later.id > w.id))`,
      [keepDays],
    );
    await pool.query(`INSERT INTO checkout_webhook_cursors (cart, last_id) VALUES ($1, 0) ON CONFLICT (cart) DO NOTHING`, [cart]);
    if (this.newest === 0)
      this.newest = Number((await pool.query<{ last_id: string }>('SELECT last_id FROM checkout_webhook_cursors WHERE cart = $1', [cart])).rows[0].last_id);
    // Rows past the newest one here went with a primary that failed over: read on from what there is.
    const { rows } = await pool.query<{ newest: string }>('SELECT coalesce(max(id), 0) AS newest FROM checkout_webhooks');
    this.newest = Math.min(this.newest, Number(rows[0].newest));
  }

  /**
   * Keeps the held webhooks not yet kept (`again`: every one held, as after a failover) for the
   * other carts, in one statement, once each (NanoMDM's event id). Resolves when tried.
   */
  private keepHeld(again: boolean): Promise<void> {
    return (this.keeping = this.keeping.then(async () => {
      const { pool, cart, log, text } = this.options;
      const batch = this.held.filter((held) => again || !held.kept);
      if (batch.length === 0) return;
      try {
        await migrated(pool); // a webhook may come before the relay has started
        // Kept and announced in one statement; a webhook kept before (the same event id) is neither.
        await pool.query(
          `WITH batch AS (SELECT * FROM unnest($1::text[], $3::bytea[], $5::text[], $6::text[]) AS w(event_id, sealed, about, lasting)),
           kept AS (
             INSERT INTO checkout_webhooks (event_id, cart, sealed, about, lasting) SELECT event_id, $2, sealed, about, lasting FROM batch
             ON CONFLICT (event_id) DO NOTHING RETURNING id, event_id)
           SELECT pg_notify($4, kept.id || ' ' || batch.about || ' ' || $2) FROM kept JOIN batch USING (event_id)`,
          [
            batch.map((held) => held.eventId),
            cart,
            batch.map((held) => held.sealed),
            WEBHOOKS_CHANNEL,
            batch.map((held) => held.about),
            batch.map((held) => held.lasting),
          ],
        );
      } catch (err) {
        if (!this.failing) log.warn(text('device-fleet.errors.relay-keep-failed', { message: (err as Error).message }));
        this.failing = true;
        return;
      }
      for (const held of batch) held.kept = true;
      this.failing = false;
      if (this.lost > 0) log.warn(text('device-fleet.errors.relay-lost', { count: this.lost }));
      this.lost = 0;
    }));
  }

  /**
   * Reads what was kept since the last read, one read at a time; announcements while one waits
   * to run need no read of their own (it reads them all): with a hundred carts busy, a cart reads
   * in batches instead of once per webhook.
   */
  private readOn(): void {
    if (this.readWaiting) return;
    this.readWaiting = true;
    this.reading = this.reading
      .then(() => {
        this.readWaiting = false;
        return this.readNew();
      })
      .catch((err: Error) => this.options.channels.lost(err));
  }

  private async readNew(): Promise<void> {
    const { pool, cart, adapter } = this.options;
    for (;;) {
      // What each row is about first: the sealed bytes only of those this cart takes.
      const { rows } = await pool.query<{ id: string; event_id: string; cart: string; about: string | null }>(
        'SELECT id, event_id, cart, about FROM checkout_webhooks WHERE id > $1 ORDER BY id LIMIT 500',
        [Math.max(0, this.newest - LOOKBACK)],
      );
      const { read, relays } = this.siblings;
      // Rows a cart sharing this MDM connection read are this cart's too: its cursor moves past them.
      const newest = rows.reduce((max, row) => Math.max(max, Number(row.id)), this.newest);
      const fresh = rows.filter((row) => !read.has(row.event_id));
      if (fresh.length === 0 && newest === this.newest) return;
      this.newest = newest;
      for (const row of fresh) read.set(row.event_id, Number(row.id));
      const taken = fresh.filter(
        (row) =>
          !relays.some((relay) => relay.options.cart === row.cart) && // taken when it arrived here
          // A result no command of this cart waits for (another cart's) stays sealed. A row from a cart not yet upgraded says nothing: taken.
          (row.about === null || adapter.needs(row.about)),
      );
      await this.take(taken.map((row) => row.id));
      for (const [eventId, id] of read) if (id <= this.newest - LOOKBACK) read.delete(eventId);
      await pool.query('UPDATE checkout_webhook_cursors SET last_id = $2 WHERE cart = $1 AND last_id < $2', [cart, this.newest]);
    }
  }

  /** Gives the adapter the webhooks kept as rows `ids`, in order (one dropped meanwhile taught nothing more). */
  private async take(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    const { pool, secret, adapter, log, text } = this.options;
    const { rows } = await pool.query<{ cart: string; sealed: Buffer }>('SELECT cart, sealed FROM checkout_webhooks WHERE id = ANY($1::bigint[]) ORDER BY id', [
      ids,
    ]);
    for (const row of rows) {
      try {
        adapter.takeRelayed(unseal(unpackSealed(row.sealed), secret, PURPOSE));
      } catch {
        log.warn(text('device-fleet.errors.relay-unreadable', { cart: row.cart }));
      }
    }
  }
}
