import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { Client, Pool } from 'pg';
import type { CodedError } from '../../nodes/lib/coded-error';
import { FileFleetStore } from '../../nodes/lib/fleet/file-fleet-store';
import { Fleet } from '../../nodes/lib/fleet/fleet';
import type { PortIdentity } from '../../nodes/lib/fleet/port-events';
import { FleetDirectory } from '../../nodes/lib/fleet/fleet-directory';
import type { AuditEntry } from '../../nodes/lib/fleet/fleet-store';
import { builtFile } from '../../nodes/lib/package-root';
import { CHANGES_CHANNEL, PostgresFleetStore } from '../../nodes/lib/fleet/postgres-fleet-store';
import { fleetPool } from '../../nodes/lib/fleet/postgres-pool';
import { FleetChannels } from '../../nodes/lib/fleet/postgres-listener';
import { migrate, MIGRATION_LOCK, SCHEMA_VERSION } from '../../nodes/lib/fleet/postgres-schema';
import { WebhookRelay } from '../../nodes/lib/fleet/webhook-relay';
import { toPlist } from '../../nodes/lib/mdm/commands';
import { NanoMdm } from '../../nodes/lib/mdm/nanomdm';
import { SimulatedDevice } from '../../sim/simulated-device';
import { fleetStoreContract } from '../fleet-store-contract';
import { sleep, tempDir, waitFor } from '../../harness/support';
import { createCartLogin, createDatabase, startPostgres, type TestPostgres } from '../../harness/postgres';
import { TcpForwarder } from '../../harness/tcp-forwarder';

const RULES = { userLimit: 1, batteryThreshold: 0.2, deadlineSeconds: 60 };

describe('the shared fleet on a real PostgreSQL (started on a temporary data directory)', function () {
  this.timeout(60_000);
  let postgres: TestPostgres;
  let databases = 0;
  const pools: Pool[] = [];

  before(async () => {
    postgres = await startPostgres();
  });

  /** Errors on idle connections (a pool's 'error' event): none while the tests run. */
  const poolErrors: string[] = [];
  let stopping = false;

  after(async () => {
    await Promise.all(pools.map((p) => p.end()));
    // A connection end() let go of may still be closing when the server stops; that is expected now.
    stopping = true;
    await postgres?.stop();
    assert.deepEqual(poolErrors, []);
  });

  /** A database of its own for each test, as a hospital's would be. */
  function watched(pool: Pool): Pool {
    pool.on('error', (err) => {
      if (!stopping) poolErrors.push(err.message);
    });
    pools.push(pool);
    return pool;
  }

  const freshDatabase = (): Promise<string> => createDatabase(postgres, `fleet_${++databases}`);

  /** One pool per cart: each cart is its own host with its own connections. */
  function cartPool(url: string): Pool {
    return watched(new Pool({ connectionString: url, max: 4 }));
  }

  /** A cart's listening connection, as device-fleet makes it; `onLost` hears it drop. */
  const cartChannels = (url: string, onLost: (err: Error) => void): FleetChannels =>
    new FleetChannels({
      connect: async () => {
        const client = new Client({ connectionString: url });
        await client.connect();
        return client;
      },
      onLost,
    });

  /** A cart's store on its own pool, as each cart is its own host with its own connections. */
  const cartStore = (url: string, cart: string, now?: () => Date) => new PostgresFleetStore({ pool: cartPool(url), cart, now });

  /** A cart's fleet on `store`, as device-fleet makes one without MDM or USB. */
  const cartFleet = (store: PostgresFleetStore, rules: typeof RULES = RULES): Fleet =>
    new Fleet({
      id: store.cart,
      dataDir: tempDir('fleet'),
      store,
      rules,
      lockerApp: 'org.example.locker',
      badgeLookupUrl: '',
      mdm: () => undefined,
      text: (key) => key,
      log: { info: () => undefined, warn: () => undefined, error: () => undefined },
    });

  /** A pool that reaches the database through `link` (cut on purpose: its idle errors are expected). */
  function linkedPool(url: string, link: { port: number }): Pool {
    const pool = new Pool({ connectionString: url.replace(/:\d+\//, `:${link.port}/`), connectionTimeoutMillis: 1000 });
    pool.on('error', () => undefined);
    return pool;
  }

  async function dockedPhone(store: PostgresFleetStore, udid: string, port: number, battery = 0.9): Promise<void> {
    await store.docked(udid, { hubId: `${store.cart}-hub`, hub: store.cart, port });
    await store.setStatus(udid, 'Checked In');
    await store.reportHealth(udid, battery, true);
  }

  const tap = (store: PostgresFleetStore, user: string) =>
    store.beginCheckout(user, RULES, undefined, { node: `checkout-${store.cart}` }).then(
      (record) => record.udid,
      (err: CodedError) => err.code ?? err.message,
    );

  describe('the same contract as the file store', () => {
    fleetStoreContract(async () => {
      const url = await freshDatabase();
      return (now) => cartStore(url, 'ward-3', now);
    });
  });

  it('creates its tables on first connect, once, however many carts start at the same moment', async () => {
    const url = await freshDatabase();
    const carts = Array.from({ length: 6 }, () => cartPool(url));
    assert.deepEqual(await Promise.all(carts.map((pool) => migrate(pool))), new Array(6).fill(SCHEMA_VERSION));
    const applied = await carts[0].query<{ version: number }>('SELECT version FROM checkout_migrations ORDER BY version');
    assert.deepEqual(
      applied.rows.map((row) => row.version),
      Array.from({ length: SCHEMA_VERSION }, (_, i) => i + 1),
    );
    assert.equal(await migrate(carts[0]), SCHEMA_VERSION, 'started again: nothing to do');
  });

  it('a cart that starts while another migrates waits for it, however long past the 3 s lock timeout of a tap, and is not busy', async () => {
    const url = await freshDatabase();
    const store = new PostgresFleetStore({ pool: watched(fleetPool({ url, applicationName: 'device-checkout waiting' })), cart: 'ward-3' });
    const migrating = new Client({ connectionString: url });
    await migrating.connect();
    try {
      await migrating.query('BEGIN');
      await migrating.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]); // another cart, slow to migrate
      const devices = store.devices();
      await new Promise((resolve) => setTimeout(resolve, 4000));
      await migrating.query('COMMIT');
      assert.deepEqual(await devices, []);
    } finally {
      await migrating.end();
    }
  });

  it('keeps the audit trail append-only', async () => {
    const url = await freshDatabase();
    const store = cartStore(url, 'ward-3');
    await dockedPhone(store, 'P1', 1);
    await tap(store, 'alice');
    const db = cartPool(url);
    await assert.rejects(db.query(`UPDATE checkout_audit SET who = 'mallory'`), /append-only/);
    await assert.rejects(db.query('DELETE FROM checkout_audit'), /append-only/);
    const trail = await db.query(`SELECT udid, cart, what, from_value, to_value, who FROM checkout_audit WHERE what = 'status' ORDER BY id`);
    assert.deepEqual(trail.rows.at(-1), { udid: 'P1', cart: 'ward-3', what: 'status', from_value: 'Checked In', to_value: 'Checking Out', who: 'alice' });
  });

  it('a database a newer package migrated is refused in words (SCHEMA_TOO_NEW, said once), and nothing is written to it', async () => {
    const url = await freshDatabase();
    const store = cartStore(url, 'ward-3');
    await dockedPhone(store, 'A', 1);
    await cartPool(url).query('INSERT INTO checkout_migrations (version) VALUES ($1)', [SCHEMA_VERSION + 1]); // what the next version does
    const old = cartStore(url, 'ward-3');
    const said: (string | undefined)[] = [];
    old.on('storage', (err?: CodedError) => said.push(err?.message));
    await assert.rejects(
      old.beginCheckout('alice', RULES),
      (err: CodedError) => err.code === 'SCHEMA_TOO_NEW' && err.message.includes(`schema-too-new {"version":${SCHEMA_VERSION + 1},"known":${SCHEMA_VERSION}}`),
    );
    await assert.rejects(old.device('A'), (err: CodedError) => err.code === 'SCHEMA_TOO_NEW');
    assert.equal(said.length, 1, 'said once');
    assert.equal((await store.device('A'))?.status, 'Checked In', 'nothing written');
  });

  it('a lock another session holds: the tap is refused STORE_BUSY within seconds (the database is not called away); released, taps work again', async () => {
    const url = await freshDatabase();
    const store = new PostgresFleetStore({ pool: watched(fleetPool({ url, applicationName: 'device-checkout busy' })), cart: 'ward-3' });
    await dockedPhone(store, 'A', 1);
    const said: (string | undefined)[] = [];
    store.on('storage', (err?: CodedError) => said.push(err?.code));
    const holder = new Client({ connectionString: url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT pg_advisory_xact_lock(hashtext('device-checkout cart ' || $1))`, ['ward-3']); // a stuck session of this cart
      const started = Date.now();
      await assert.rejects(store.beginCheckout('alice', RULES), (err: CodedError) => err.code === 'STORE_BUSY' && /busy/.test(err.message));
      assert.ok(Date.now() - started < 9000, 'refused in seconds, not left waiting');
      assert.deepEqual(said, [], 'busy is not out of reach');
      await holder.query('ROLLBACK');
      assert.equal(await tap(store, 'alice'), 'A');
    } finally {
      await holder.end();
    }
  });

  it('one badge tapped at two carts at the same instant hands out one phone, every time', async () => {
    const url = await freshDatabase();
    const [ward3, ward5] = [cartStore(url, 'ward-3'), cartStore(url, 'ward-5')];
    const rounds = 20;
    for (let round = 0; round < rounds; round++) {
      await dockedPhone(ward3, `W3-${round}`, round + 1);
      await dockedPhone(ward5, `W5-${round}`, round + 1);
      const nurse = `nurse-${round}`;
      // The same person, written two ways: one person however the id is spelt.
      const results = await Promise.all([tap(ward3, nurse), tap(ward5, nurse.toUpperCase())]);
      const handed = results.filter((r) => r.startsWith('W'));
      assert.equal(handed.length, 1, `round ${round}: ${results.join(', ')}`);
      assert.ok(results.includes('USER_HAS_DEVICE'), `round ${round}: ${results.join(', ')}`);
      for (const udid of handed) await (udid.startsWith('W3') ? ward3 : ward5).unplugged(udid); // she takes it
    }
    const out = await cartPool(url).query(`SELECT user_key, count(*)::int AS phones FROM checkout_devices WHERE status = 'Checked Out' GROUP BY user_key`);
    assert.equal(out.rows.length, rounds);
    assert.ok(out.rows.every((r: { phones: number }) => r.phones === 1));
  });

  it('two people at two carts at once both get a phone; a cart hands out one at a time (CART_BUSY there only)', async () => {
    const url = await freshDatabase();
    const [ward3, ward5] = [cartStore(url, 'ward-3'), cartStore(url, 'ward-5')];
    await dockedPhone(ward3, 'A', 1, 0.9);
    await dockedPhone(ward3, 'B', 2, 0.8);
    await dockedPhone(ward5, 'C', 1, 0.7);
    const [atWard3, atWard5] = await Promise.all([tap(ward3, 'alice'), tap(ward5, 'bob')]);
    assert.deepEqual([atWard3, atWard5], ['A', 'C'], 'the most charged phone of each cart');
    assert.equal(await tap(ward3, 'carol'), 'CART_BUSY', 'A still waits to be taken from ward 3');
    assert.equal(await tap(ward5, 'dave'), 'CART_BUSY');
    assert.deepEqual(
      (await ward3.pendingCheckouts()).map((d) => d.udid),
      ['A'],
      'each cart fires its own deadlines',
    );
    assert.deepEqual(
      (await ward5.pendingCheckouts()).map((d) => [d.udid, d.checkout.node]),
      [['C', 'checkout-ward-5']],
    );
  });

  it('a phone checked out at one cart and docked at another is known there: its user and status follow it, its record moves', async () => {
    const url = await freshDatabase();
    const [ward3, ward5] = [cartStore(url, 'ward-3'), cartStore(url, 'ward-5')];
    await dockedPhone(ward3, 'A', 1);
    await ward3.setAttribute('A', 'Ward', '3');
    assert.equal(await tap(ward3, 'alice'), 'A');
    await ward3.unplugged('A');
    const docked = await ward5.docked('A', { hubId: 'ward-5-hub', hub: 'ward-5', port: 4 });
    assert.deepEqual([docked.cart, docked.port, docked.status, docked.user, docked.attributes.Ward], ['ward-5', 4, 'Checked Out', 'alice', '3']);
    assert.equal((await ward5.deviceAt('ward-5-hub', 4))?.udid, 'A');
    assert.equal(await ward3.deviceAt('ward-3-hub', 1), undefined, 'gone from the cart it left');
    assert.ok((await ward5.audit('A')).some((e) => e.what === 'docked: cart' && e.from === 'ward-3' && e.to === 'ward-5'));
  });

  it('a phone checked in at ward 3 has its Device Home there; docked at ward 5 it is flagged wrong cart, back home the flag goes', async () => {
    const url = await freshDatabase();
    const [ward3, ward5] = [cartStore(url, 'ward-3'), cartStore(url, 'ward-5')];
    await ward3.docked('A', { hubId: 'ward-3-hub', hub: 'ward-3', port: 1 });
    await ward3.checkIn('A', { who: 'check-in' });
    assert.equal((await ward3.device('A'))?.attributes['Device Home'], 'ward-3', 'the first cart that checks it in');
    await ward3.unplugged('A');
    const away = await ward5.docked('A', { hubId: 'ward-5-hub', hub: 'ward-5', port: 2 });
    assert.equal(away.wrongCart, true);
    assert.ok(
      (await ward5.audit('A')).some((e) => e.what === 'docked: wrongCart' && e.to === 'true'),
      'in the audit trail',
    );
    await ward5.checkIn('A', { who: 'check-in' });
    assert.equal((await ward5.device('A'))?.attributes['Device Home'], 'ward-3', 'checking in elsewhere does not move its home');
    await ward5.unplugged('A');
    assert.equal((await ward3.docked('A', { hubId: 'ward-3-hub', hub: 'ward-3', port: 1 })).wrongCart, undefined, 'home again');
    await ward3.setAttribute('A', 'Device Home', 'ward-5', { who: 'admin' }); // moved by a flow
    assert.equal((await ward3.docked('A', { hubId: 'ward-3-hub', hub: 'ward-3', port: 1 })).wrongCart, true);
  });

  it('the same hub id on two carts (one flow imported on both) keeps their ports apart', async () => {
    const url = await freshDatabase();
    const [ward3, ward5] = [cartStore(url, 'ward-3'), cartStore(url, 'ward-5')];
    await ward3.docked('ON-3', { hubId: 'imported-hub', hub: 'Cart', port: 1 });
    await ward5.docked('ON-5', { hubId: 'imported-hub', hub: 'Cart', port: 1 });
    assert.equal((await ward3.deviceAt('imported-hub', 1))?.udid, 'ON-3');
    assert.equal((await ward5.deviceAt('imported-hub', 1))?.udid, 'ON-5');
  });

  it('announces every change on checkout_changes (LISTEN/NOTIFY)', async () => {
    const url = await freshDatabase();
    const store = cartStore(url, 'ward-3');
    await dockedPhone(store, 'A', 1);
    const listener = new Client({ connectionString: url });
    await listener.connect();
    try {
      const heard: string[] = [];
      listener.on('notification', (n) => heard.push(`${n.channel}:${n.payload}`));
      await listener.query(`LISTEN ${CHANGES_CHANNEL}`);
      await tap(store, 'alice');
      await waitFor('the check-out announced', () => heard.includes(`${CHANGES_CHANNEL}:A ward-3`));
    } finally {
      await listener.end();
    }
  });

  it('a cart hears what other carts change, and says which cart, for the fleet view', async () => {
    const url = await freshDatabase();
    const [ward3, ward5] = [cartStore(url, 'ward-3'), cartStore(url, 'ward-5')];
    const heard: string[] = [];
    ward3.on('elsewhere', (udid: string, cart: string) => heard.push(`${udid} ${cart}`));
    const channels = cartChannels(url, (err) => assert.fail(err.message));
    const unfollow = ward3.followOtherCarts(channels);
    try {
      await sleep(200); // listening
      await dockedPhone(ward5, 'B', 1);
      await waitFor('the other cart\u2019s change heard', () => heard.includes('B ward-5'));
      await dockedPhone(ward3, 'A', 1);
      await sleep(300);
      assert.ok(!heard.some((line) => line.startsWith('A ')), 'its own changes are said as they are written');
      assert.deepEqual(
        (await ward3.devices(['B', 'NOPE'])).map((d) => [d.udid, d.cart]),
        [['B', 'ward-5']],
      );
    } finally {
      unfollow();
      channels.close();
    }
  });

  it('a database out of reach: STORE_UNAVAILABLE, said once, nothing written; healed by the first call that works', async () => {
    const url = await freshDatabase();
    const store = cartStore(url, 'ward-3');
    await dockedPhone(store, 'A', 1);
    // The cart reaches the database through a link that is down, then comes back.
    const link = await TcpForwarder.create(Number(new URL(url).port));
    const pool = new Pool({ connectionString: url.replace(/:\d+\//, `:${link.port}/`), connectionTimeoutMillis: 2000 });
    pool.on('error', () => undefined); // its link goes at the end of the test: expected here
    const cart = new PostgresFleetStore({ pool, cart: 'ward-3' });
    const said: (string | undefined)[] = [];
    cart.on('storage', (err?: CodedError) => said.push(err?.code));
    try {
      await assert.rejects(cart.beginCheckout('alice', RULES), (err: CodedError) => err.code === 'STORE_UNAVAILABLE' && /ECONNREFUSED/.test(err.message));
      await assert.rejects(cart.device('A'), (err: CodedError) => err.code === 'STORE_UNAVAILABLE');
      assert.deepEqual(said, ['STORE_UNAVAILABLE'], 'said once');
      assert.equal((await store.device('A'))?.status, 'Checked In', 'nothing half-written');
      await link.up();
      assert.equal(await tap(cart, 'alice'), 'A');
      assert.deepEqual(said, ['STORE_UNAVAILABLE', undefined], 'healed');
    } finally {
      await pool.end();
      await link.down();
    }
  });

  describe('NanoMDM webhooks posted to one cart reach every cart (sealed in the database)', () => {
    const API_KEY = 'relay-api-key-31f0';
    let url: string;
    let events = 0;
    const carts: { nano: NanoMdm; relay: WebhookRelay; channels: FleetChannels }[] = [];
    const said: string[] = [];

    /** A cart's MDM connection (or one it shares with another cart of its Node-RED) and its relay; `start: false` for a cart that is down. */
    async function cartMdm(
      cart: string,
      start = true,
      nano = new NanoMdm({ url: 'http://127.0.0.1:9', apiKey: API_KEY, acceptUnsigned: true, maxConcurrent: 1, timeout: 1000 }),
    ): Promise<{ nano: NanoMdm; relay: WebhookRelay }> {
      const channels = cartChannels(url, (err) => said.push(err.message));
      const relay = new WebhookRelay({
        pool: cartPool(url),
        database: url,
        channels,
        cart,
        adapter: nano,
        secret: API_KEY,
        text: (key, vars) => `${key} ${JSON.stringify(vars)}`,
        log: { warn: (m) => said.push(m) },
      });
      if (start) await relay.start();
      carts.push({ nano, relay, channels });
      return { nano, relay };
    }
    const post = (nano: NanoMdm, event: object) =>
      nano.handleWebhook(Buffer.from(JSON.stringify({ event_id: `event-${++events}`, created_at: new Date().toISOString(), ...event })), undefined);
    const plist = (message: object) => Buffer.from(toPlist(message)).toString('base64');
    const checkIn = (nano: NanoMdm, phone: SimulatedDevice, topic: string, message: object) =>
      post(nano, { topic, checkin_event: { udid: phone.udid, raw_payload: plist(message) } });

    beforeEach(async () => {
      url = await freshDatabase();
    });

    afterEach(async () => {
      for (const { nano, relay, channels } of carts.splice(0)) {
        await Promise.all([relay.close(), nano.close()]);
        channels.close();
      }
      assert.deepEqual(said, []);
    });

    it('an answer received by ward 3 completes the command ward 5 waits for; what a check-in teaches reaches ward 5 too', async () => {
      const [ward3, ward5] = [await cartMdm('ward-3'), await cartMdm('ward-5')];
      const phone = new SimulatedDevice();
      const answer = ward5.nano.results.wait(phone.udid, 'CMD-1', 5000);
      const ack = {
        udid: phone.udid,
        status: 'Acknowledged',
        command_uuid: 'CMD-1',
        raw_payload: plist({ UDID: phone.udid, Status: 'Acknowledged', CommandUUID: 'CMD-1', QueryResponses: { BatteryLevel: 0.7 } }),
      };
      assert.equal(post(ward3.nano, { topic: 'mdm.Connect', acknowledge_event: ack }), 200);
      assert.deepEqual((await answer).QueryResponses, { BatteryLevel: 0.7 });
      assert.equal(checkIn(ward3.nano, phone, 'mdm.Authenticate', phone.authenticateMessage()), 200);
      assert.equal(checkIn(ward3.nano, phone, 'mdm.TokenUpdate', phone.tokenUpdateMessage()), 200);
      await waitFor('ward 5 learnt the unlock token', async () => (await ward5.nano.unlockToken(phone.udid))?.equals(phone.unlockToken));
      assert.equal(ward5.nano.enrolment(phone.udid)?.serial, phone.serial);
      const kept = await cartPool(url).query<{ sealed: Buffer }>('SELECT sealed FROM checkout_webhooks');
      assert.equal(kept.rows.length, 3, 'the answer and two check-ins');
      for (const { sealed } of kept.rows)
        for (const secret of [phone.unlockToken.toString('base64'), phone.serial, phone.udid])
          assert.ok(!sealed.toString('latin1').includes(secret), 'sealed: nothing readable');
    });

    it('a cart that was down takes what the others received meanwhile, once it starts', async () => {
      const ward3 = await cartMdm('ward-3');
      const first = await cartMdm('ward-5');
      await first.relay.close(); // ward 5 goes down
      const phone = new SimulatedDevice();
      checkIn(ward3.nano, phone, 'mdm.Authenticate', phone.authenticateMessage());
      checkIn(ward3.nano, phone, 'mdm.TokenUpdate', phone.tokenUpdateMessage());
      await waitFor('kept', async () => (await cartPool(url).query('SELECT id FROM checkout_webhooks')).rows.length === 2);
      const restarted = await cartMdm('ward-5');
      assert.deepEqual(await restarted.nano.unlockToken(phone.udid), phone.unlockToken);
    });

    it('a cart joining the fleet a month later learns every phone enrolled before; a result, and a check-in a later enrolment replaced, are dropped after keepDays', async () => {
      const ward3 = await cartMdm('ward-3');
      const [erased, kept] = [new SimulatedDevice(), new SimulatedDevice()];
      const enrol = (phone: SimulatedDevice) => {
        checkIn(ward3.nano, phone, 'mdm.Authenticate', phone.authenticateMessage());
        checkIn(ward3.nano, phone, 'mdm.TokenUpdate', phone.tokenUpdateMessage());
      };
      enrol(erased);
      enrol(kept);
      post(ward3.nano, { topic: 'mdm.Connect', acknowledge_event: { udid: kept.udid, status: 'Acknowledged', command_uuid: 'CMD-1' } });
      const before = erased.unlockToken;
      erased.wipe(); // erased, it enrols again with a new unlock token
      assert.ok(!erased.unlockToken.equals(before));
      enrol(erased);
      const rows = async () => (await cartPool(url).query<{ about: string }>('SELECT about FROM checkout_webhooks ORDER BY id')).rows.map((r) => r.about);
      await waitFor('kept', async () => (await rows()).length === 7);
      await cartPool(url).query(`UPDATE checkout_webhooks SET received_at = now() - interval '30 days'`);
      const joined = await cartMdm('ward-9');
      for (const phone of [erased, kept]) {
        assert.deepEqual(await joined.nano.unlockToken(phone.udid), phone.unlockToken, 'the newest unlock token');
        assert.equal(joined.nano.enrolment(phone.udid)?.serial, phone.serial);
      }
      const checkins = (phone: SimulatedDevice) => [`checkin:${phone.udid}`, `checkin:${phone.udid}`];
      assert.deepEqual(await rows(), [...checkins(kept), ...checkins(erased)], 'the result and the first enrolment dropped');
    });

    it('a cart whose start waits (another cart migrating) while check-ins come: its cursor in the database follows what it read (a restart does not read them all again)', async () => {
      const ward3 = await cartMdm('ward-3');
      const migrating = await cartPool(url).connect();
      await migrating.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
      const joining = await cartMdm('ward-9', false);
      const started = joining.relay.start();
      await waitFor('ward 9 listening, its schema check waiting for the lock', async () =>
        Boolean((await cartPool(url).query(`SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND NOT granted`)).rows.length),
      );
      const phones = Array.from({ length: 20 }, () => new SimulatedDevice());
      for (const phone of phones) checkIn(ward3.nano, phone, 'mdm.Authenticate', phone.authenticateMessage());
      await waitFor('every check-in kept', async () => (await cartPool(url).query('SELECT id FROM checkout_webhooks')).rows.length === phones.length);
      await sleep(300); // the announcements heard meanwhile
      await migrating.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]);
      migrating.release();
      await started;
      assert.ok(
        phones.every((phone) => joining.nano.enrolment(phone.udid)?.serial === phone.serial),
        'ward 9 knows every phone',
      );
      const { rows } = await cartPool(url).query<{ behind: boolean }>(
        `SELECT last_id < (SELECT max(id) FROM checkout_webhooks) AS behind FROM checkout_webhook_cursors WHERE cart = 'ward-9'`,
      );
      assert.deepEqual(rows, [{ behind: false }], 'its cursor at the newest webhook');
    });

    it('a cart reading on is given the check-ins, not other carts\u2019 results (each row says what it is about); a row from a cart not yet upgraded is given', async () => {
      const ward3 = await cartMdm('ward-3');
      await (await cartMdm('ward-5')).relay.close(); // ward 5 goes down
      const phone = new SimulatedDevice();
      const result = (command: string) => ({ topic: 'mdm.Connect', acknowledge_event: { udid: phone.udid, status: 'Acknowledged', command_uuid: command } });
      post(ward3.nano, result('CMD-3'));
      const unlabelled = `event-${events + 1}`;
      post(ward3.nano, result('CMD-4'));
      checkIn(ward3.nano, phone, 'mdm.Authenticate', phone.authenticateMessage());
      const checkin = `event-${events}`;
      await waitFor('kept', async () => (await cartPool(url).query('SELECT id FROM checkout_webhooks')).rows.length === 3);
      await cartPool(url).query('UPDATE checkout_webhooks SET about = NULL WHERE event_id = $1', [unlabelled]);
      const restarted = await cartMdm('ward-5', false);
      const given: string[] = [];
      const take = restarted.nano.takeRelayed.bind(restarted.nano);
      restarted.nano.takeRelayed = (body) => {
        given.push((JSON.parse(body.toString()) as { event_id: string }).event_id);
        take(body);
      };
      await restarted.relay.start();
      assert.deepEqual(given, [unlabelled, checkin], 'ward 3\u2019s result CMD-3 stays sealed');
      assert.equal(restarted.nano.enrolment(phone.udid)?.serial, phone.serial);
    });

    it('two carts of one Node-RED sharing its MDM connection: what it receives is kept once, what another cart kept is given to it once', async () => {
      const ward5 = await cartMdm('ward-5');
      const shared = (await cartMdm('ward-3a')).nano;
      await cartMdm('ward-3b', true, shared);
      const phone = new SimulatedDevice();
      post(shared, { topic: 'mdm.Connect', acknowledge_event: { udid: phone.udid, status: 'Acknowledged', command_uuid: 'CMD-1' } });
      await waitFor('kept', async () => (await cartPool(url).query('SELECT id FROM checkout_webhooks')).rows.length === 1);
      let given = 0;
      const take = shared.takeRelayed.bind(shared);
      shared.takeRelayed = (body) => {
        given++;
        take(body);
      };
      checkIn(ward5.nano, phone, 'mdm.Authenticate', phone.authenticateMessage());
      await waitFor('ward 5\u2019s check-in taken at ward 3', () => shared.enrolment(phone.udid)?.serial === phone.serial);
      await sleep(300); // the second cart's read, had it taken the check-in again
      assert.equal(given, 1, 'given to the shared connection once, not once per cart');
      const past = async () =>
        (
          await cartPool(url).query<{ n: number }>(
            `SELECT count(*)::int AS n FROM checkout_webhook_cursors WHERE cart LIKE 'ward-3_' AND last_id >= (SELECT max(id) FROM checkout_webhooks)`,
          )
        ).rows[0].n;
      await waitFor('both carts\u2019 cursors past it (a restart does not read it again)', async () => (await past()) === 2);
      const [{ inserts }] = (await cartPool(url).query<{ inserts: string }>('SELECT last_value AS inserts FROM checkout_webhooks_id_seq')).rows;
      assert.equal(Number(inserts), 2, 'each webhook inserted once: not once per cart of the Node-RED that received it');
    });

    it('one webhook posted twice (a retry through a load balancer) is kept once', async () => {
      const ward3 = await cartMdm('ward-3');
      const result = (command: string) => ({ topic: 'mdm.Connect', acknowledge_event: { udid: 'U', status: 'Acknowledged', command_uuid: command } });
      const body = { event_id: 'same-event', ...result('CMD-1') };
      ward3.nano.handleWebhook(Buffer.from(JSON.stringify(body)), undefined);
      ward3.nano.handleWebhook(Buffer.from(JSON.stringify(body)), undefined);
      post(ward3.nano, { topic: 'mdm.Connect', acknowledge_event: { udid: 'U', status: 'Idle' } }); // the Idle connect ending a poll: nothing to relay
      post(ward3.nano, result('CMD-2')); // kept after both
      const kept = async () =>
        (await cartPool(url).query<{ event_id: string }>('SELECT event_id FROM checkout_webhooks ORDER BY id')).rows.map((r) => r.event_id);
      await waitFor('the next one kept', async () => (await kept()).length > 1);
      assert.deepEqual(await kept(), ['same-event', `event-${events}`]);
    });
  });

  describe('logging in as the editor asks: the address in the URL, a role and its password (scram-sha-256) in the credentials', () => {
    /** Client backends connected (or still authenticating) as the cart's application, as the superuser sees them. */
    async function cartBackends(application: string): Promise<number> {
      const admin = new Client({ connectionString: postgres.url });
      await admin.connect();
      try {
        const { rows } = await admin.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM pg_stat_activity WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND (application_name = $1 OR usename IS NULL)`,
          [application],
        );
        return rows[0].n;
      } finally {
        await admin.end();
      }
    }

    it('connects with a password that needs escaping in a URL (@ : / %) and shares the fleet', async () => {
      const url = await freshDatabase();
      const { databaseUrl, credentials } = await createCartLogin(postgres, new URL(url).pathname.slice(1));
      assert.doesNotMatch(databaseUrl, /@/, 'no user in the URL, as the editor demands');
      const pool = watched(
        fleetPool({ url: databaseUrl, user: credentials.databaseUser, password: credentials.databasePassword, applicationName: 'device-checkout ward-3' }),
      );
      const store = new PostgresFleetStore({ pool, cart: 'ward-3' });
      await dockedPhone(store, 'A', 1);
      assert.equal(await tap(store, 'alice'), 'A');
      const { rows } = await pool.query<{ user: string; application: string }>('SELECT current_user AS user, current_setting($1) AS application', [
        'application_name',
      ]);
      assert.deepEqual(rows[0], { user: credentials.databaseUser, application: 'device-checkout ward-3' });
    });

    for (const [what, password] of [
      ['no password', undefined],
      ['a wrong password', 'not-the-password'],
    ] as const) {
      it(`with ${what}: STORE_UNAVAILABLE naming why, and 40 calls in 3 s hold no connection on the server (failed connects back off)`, async () => {
        const url = await freshDatabase();
        const { databaseUrl, credentials } = await createCartLogin(postgres, new URL(url).pathname.slice(1));
        const application = `device-checkout ${what}`;
        const pool = watched(fleetPool({ url: databaseUrl, user: credentials.databaseUser, password, applicationName: application }));
        const store = new PostgresFleetStore({ pool, cart: 'ward-3' });
        const answers: string[] = [];
        const calls = Array.from({ length: 40 }, async (_, i) => {
          await sleep(i * 75);
          await store.device('A').then(
            () => answers.push('answered'),
            (err: CodedError) => answers.push(`${err.code} ${err.message}`),
          );
        });
        await sleep(1500);
        assert.ok((await cartBackends(application)) <= 1, 'at most one attempt on the server at a time');
        await Promise.all(calls);
        assert.equal(answers.length, 40);
        assert.ok(
          answers.every((a) => a.startsWith('STORE_UNAVAILABLE')),
          answers[0],
        );
        assert.match(answers[0], password ? /password authentication failed/ : /password/);
        assert.ok(
          answers.some((a) => /not-tried-again/.test(a)),
          'backed off',
        );
        await sleep(200);
        assert.equal(await cartBackends(application), 0, 'nothing left waiting in authentication');
        // The superuser is never refused for want of connections.
        const admin = new Client({ connectionString: postgres.url });
        await admin.connect();
        await admin.end();
      });
    }
  });

  it('an unplug seen while the database is away is recorded once it is back (the check-out completes), and its event waits for that', async () => {
    const url = await freshDatabase();
    const link = await TcpForwarder.create(Number(new URL(url).port));
    await link.up();
    const pool = linkedPool(url, link);
    const fleet = cartFleet(new PostgresFleetStore({ pool, cart: 'ward-3' }));
    try {
      await dockedPhone(fleet.store as PostgresFleetStore, 'A', 1);
      await fleet.beginCheckout({ id: 'alice' }, 'A', { node: 'checkout' });
      await link.down(); // the database goes away...
      let told: PortIdentity | undefined;
      void fleet.recordUnplug({ hubId: 'ward-3-hub', hub: 'ward-3', port: 1 }).then((identity) => (told = identity)); // ...as she takes the phone
      await sleep(2500);
      assert.equal(told, undefined, 'not told while it cannot be recorded');
      await link.up();
      await waitFor('recorded once the database is back', () => told, 40_000);
      assert.deepEqual([told!.device?.udid, told!.device?.status], ['A', 'Checked Out']);
      const completed = (await fleet.store.audit('A')).filter((e) => e.what === 'status' && e.to === 'Checked Out');
      assert.equal(completed.length, 1, 'recorded once');
    } finally {
      await fleet.close();
      await pool.end();
      await link.down();
    }
  });

  it('the database away while she takes the phone and until past its deadline: the unplug the hub saw first decides (Checked Out, never Failed)', async () => {
    const url = await freshDatabase();
    const link = await TcpForwarder.create(Number(new URL(url).port));
    await link.up();
    const pool = linkedPool(url, link);
    const fleet = cartFleet(new PostgresFleetStore({ pool, cart: 'ward-3' }), { ...RULES, deadlineSeconds: 2 });
    const events: string[] = [];
    const expired: string[] = [];
    fleet.onEvent(({ event }) => events.push(event));
    fleet.watchCheckouts('checkout', ({ device }) => expired.push(device.udid!));
    try {
      const hub = { id: 'ward-3-hub', name: 'ward-3' };
      await dockedPhone(fleet.store as PostgresFleetStore, 'A', 1);
      await fleet.reconcile(hub, [1], () => undefined);
      await fleet.beginCheckout({ id: 'alice' }, 'A', { node: 'checkout' });
      await link.down(); // the database goes away...
      let told: PortIdentity | undefined;
      void fleet.recordUnplug({ hubId: hub.id, hub: hub.name, port: 1 }).then((identity) => (told = identity)); // ...as she takes the phone
      await sleep(3500); // past the 2 s deadline
      await link.up();
      await waitFor('the unplug recorded', () => told, 40_000);
      await sleep(1500); // a deadline judged wrongly would act now
      assert.equal((await fleet.store.device('A'))?.status, 'Checked Out');
      assert.equal((await fleet.store.device('A'))?.user, 'alice', 'still hers');
      assert.deepEqual([events, expired], [[], []], 'no failure, no UNPLUG_TIMEOUT for On Failure to lock her phone with');
    } finally {
      await fleet.close();
      await pool.end();
      await link.down();
    }
  });

  it('exports a long trail a page at a time, in time order, each entry once, however many carts of the fleet run here', async () => {
    const url = await freshDatabase();
    const [a, b] = [cartStore(url, 'ward-3'), cartStore(url, 'ward-5')];
    await dockedPhone(a, 'A', 1);
    // 4,500 entries more (over two pages), written by two carts whose clocks differ: ward 5's rows are older but written later.
    const db = cartPool(url);
    await db.query(
      `INSERT INTO checkout_audit (at, udid, cart, what, to_value) SELECT timestamptz '2026-12-01' + n * interval '1 second', 'A', 'ward-3', 'counter', n::text FROM generate_series(1, 2500) AS n`,
    );
    await db.query(
      `INSERT INTO checkout_audit (at, udid, cart, what, to_value) SELECT timestamptz '2026-11-30' + n * interval '1 second', 'A', 'ward-5', 'counter', n::text FROM generate_series(1, 2000) AS n`,
    );
    const directory = new FleetDirectory();
    const fleets = [a, b].map((store) => cartFleet(store));
    fleets.forEach((fleet, i) => directory.add(`fleet-${i}`, fleet));
    try {
      const pages: number[] = [];
      const entries: AuditEntry[] = [];
      for await (const page of directory.auditPages({ from: '2026-11-01T00:00:00.000Z' })) {
        pages.push(page.length);
        entries.push(...page);
      }
      const once = await a.audit(undefined, { from: '2026-11-01T00:00:00.000Z' });
      assert.ok(once.length > 4500);
      assert.equal(entries.length, once.length, 'each entry once, though two fleets read one database');
      assert.ok(pages.length >= 3 && Math.max(...pages) <= 2000, `pages of at most 2000 (${pages.join()})`);
      assert.ok(
        entries.every((e, i) => i === 0 || entries[i - 1].at <= e.at),
        'in time order, across the carts',
      );
      assert.deepEqual([entries[0].to, entries[1999].to, entries[2000].to], ['1', '2000', '1'], 'ward 5\u2019s older rows first');
    } finally {
      await Promise.all(fleets.map((fleet) => fleet.close()));
    }
  });

  it('imports a cart\u2019s file store, devices and audit trail and pending deadline, once however often it runs (device-checkout-import-fleet)', async () => {
    const url = await freshDatabase();
    const file = join(tempDir('fleet'), 'fleet-cart.json');
    const local = new FileFleetStore(file);
    for (const [udid, port] of [
      ['A', 1],
      ['B', 2],
    ] as const) {
      await local.docked(udid, { hubId: 'hub', hub: 'Cart', port });
      await local.setStatus(udid, 'Checked In');
    }
    await local.setAttribute('A', 'Ward', '3');
    await local.beginCheckout('alice', RULES, 'B', { node: 'checkout' });
    const run = () =>
      execFileSync(process.execPath, [builtFile('bin', 'import-fleet.js'), file, 'ward-3'], { env: { ...process.env, DATABASE_URL: url }, encoding: 'utf8' });
    assert.match(run(), /2 devices imported with \d+ audit entries; 0 already in the database/);
    const store = cartStore(url, 'ward-3');
    const [a, b] = [await store.device('A'), await store.device('B')];
    assert.deepEqual([a?.cart, a?.status, a?.attributes.Ward, b?.status, b?.user], ['ward-3', 'Checked In', '3', 'Checking Out', 'alice']);
    assert.deepEqual(
      (await store.pendingCheckouts()).map((d) => [d.udid, d.checkout.node]),
      [['B', 'checkout']],
      'its deadline is this cart\u2019s to fire',
    );
    const trail = await store.audit('A');
    assert.deepEqual(
      trail.map((e) => e.what),
      [...(await local.audit('A')).map((e) => e.what), 'imported'],
    );
    assert.match(run(), /0 devices imported with 0 audit entries; 2 already in the database, left as they are/);
    assert.equal((await store.audit('A')).length, trail.length, 'nothing written twice');
    assert.throws(
      () => execFileSync(process.execPath, [builtFile('bin', 'import-fleet.js')], { env: { ...process.env, DATABASE_URL: url }, stdio: 'pipe' }),
      /usage/,
    );
  });

  it('a phone that failed while out with her still counts toward her limit, at any cart', async () => {
    const url = await freshDatabase();
    const [ward3, ward5] = [cartStore(url, 'ward-3'), cartStore(url, 'ward-5')];
    await dockedPhone(ward3, 'A', 1);
    await dockedPhone(ward5, 'B', 1);
    assert.equal(await tap(ward3, 'erin'), 'A');
    await ward3.unplugged('A');
    await ward3.fail('A', { who: 'mdm-command', why: 'DEVICE_TIMEOUT' });
    assert.equal(await tap(ward5, 'erin'), 'USER_HAS_DEVICE');
    assert.equal(await tap(ward5, 'frank'), 'B');
  });
});
