import assert from 'node:assert/strict';
import { Client } from 'pg';
import type { CodedError } from '../../nodes/lib/coded-error';
import type { FleetStore } from '../../nodes/lib/fleet/fleet-store';
import { helper, packageNodes, reports } from '../../harness/node-red';
import { createCartLogin, createDatabase, startPostgres, superuserQuery, type CartLogin, type TestPostgres } from '../../harness/postgres';
import { sleep, tempDir, waitFor } from '../../harness/support';

const RULES = { deadlineSeconds: 60, userLimit: 1, batteryThreshold: 0.2 };
/** A server as small as a test can make it: 8 connections, 3 of them kept for superusers. */
const MAX_CONNECTIONS = 8;
const FOR_CARTS = MAX_CONNECTIONS - 3;

/**
 * What a cart costs the hospital's database: its pool (`databaseConnections`, 2) and one
 * connection that listens for every cart's changes and webhooks; and a server with every
 * connection taken refuses a tap in words (STORE_BUSY) and serves the next once one is free.
 */
describe('the connection budget: each cart its pool and one listening connection', function () {
  this.timeout(60_000);
  let postgres: TestPostgres;
  let login: CartLogin;

  before(async () => {
    postgres = await startPostgres({ max_connections: MAX_CONNECTIONS, superuser_reserved_connections: 3 });
    await createDatabase(postgres, 'budget');
    login = await createCartLogin(postgres, 'budget');
  });
  after(async () => postgres?.stop());

  afterEach(async () => {
    await helper.unload();
    helper.settings({});
  });

  /** Backends per cart (their application_name), as the DBA sees them. */
  async function backends(): Promise<Record<string, number>> {
    const admin = new Client({ connectionString: postgres.url });
    await admin.connect();
    try {
      const { rows } = await admin.query<{ app: string; n: number }>(
        `SELECT application_name AS app, count(*)::int AS n FROM pg_stat_activity WHERE application_name LIKE 'device-checkout %' GROUP BY 1`,
      );
      return Object.fromEntries(rows.map((r) => [r.app, r.n]));
    } finally {
      await admin.end();
    }
  }

  const fleet = (id: string, cart: string, connections?: string) => ({
    id,
    type: 'device-fleet',
    lockerApp: 'org.example.locker',
    store: 'postgres',
    databaseUrl: login.databaseUrl,
    cart,
    ...(connections && { databaseConnections: connections }),
  });
  const storeOf = (id: string) => (helper.getNode(id) as unknown as { fleet: { store: FleetStore } }).fleet.store;

  /** Phones docked and Checked In at `store`'s cart. */
  async function dockPhones(store: FleetStore, prefix: string, count: number): Promise<void> {
    for (let port = 1; port <= count; port++) {
      const udid = `${prefix}-${port}`;
      await store.docked(udid, { hubId: 'hub', hub: prefix, port });
      await store.setStatus(udid, 'Checked In');
    }
  }

  it('under load a cart holds at most its pool plus one: 1 + 1 with databaseConnections 1, 2 + 1 by default', async () => {
    helper.settings({ userDir: tempDir('userdir') });
    await helper.load(
      packageNodes,
      [fleet('one', 'ward-1', '1'), fleet('two', 'ward-2')] as never,
      {
        one: login.credentials,
        two: login.credentials,
      } as never,
    );
    const [one, two] = [storeOf('one'), storeOf('two')];
    await dockPhones(one, 'W1', 6);
    await dockPhones(two, 'W2', 6);
    let peak: Record<string, number> = {};
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        const now = await backends();
        for (const [app, n] of Object.entries(now)) peak[app] = Math.max(peak[app] ?? 0, n);
        await sleep(20);
      }
    })();
    // Taps and reads at once on both carts: far more than either pool holds.
    const work = [one, two].flatMap((store, s) =>
      Array.from({ length: 12 }, (_, i) => (i % 2 ? store.devices() : store.beginCheckout(`nurse-${s}-${i}`, RULES).catch((err: CodedError) => err.code))),
    );
    const outcomes = await Promise.all(work);
    sampling = false;
    await sampler;
    assert.deepEqual(
      outcomes.filter((o) => typeof o === 'string' && o !== 'CART_BUSY'),
      [],
      'every tap served or refused as a cart refuses one (one check-out at a time per cart)',
    );
    assert.deepEqual(peak, { 'device-checkout ward-1': 2, 'device-checkout ward-2': 3 }, `at the peak: ${JSON.stringify(peak)}`);
    peak = await backends();
    assert.ok(peak['device-checkout ward-1'] <= 2 && peak['device-checkout ward-2'] <= 3);
  });

  it('every connection of the cart in use: STORE_BUSY in words; every connection of the server taken: STORE_BUSY naming max_connections, served once one is free', async () => {
    helper.settings({ userDir: tempDir('userdir') });
    await helper.load(packageNodes, [fleet('one', 'ward-3', '1')] as never, { one: login.credentials } as never);
    const store = storeOf('one');
    await dockPhones(store, 'W3', 2);
    await waitFor('the cart listening, its pool connected', async () => (await backends())['device-checkout ward-3'] === 2);
    const pool = (store as unknown as { options: { pool: { connect(): Promise<{ release(): void }> } } }).options.pool;

    // Its one pooled connection held (a long report, say): the tap waits 5 s for it, then is refused.
    const held = await pool.connect();
    await assert.rejects(store.beginCheckout('alice', RULES), (err: CodedError) => err.code === 'STORE_BUSY' && /database-connections-busy/.test(err.message));
    held.release();

    // The pooled connection ends (the server restarted it, an idle timeout) while other sessions take every slot left.
    await superuserQuery(
      postgres,
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'device-checkout ward-3' AND query NOT LIKE 'LISTEN%'`,
    );
    const { databaseUser: user, databasePassword: password } = login.credentials;
    for (;;) {
      const other = new Client({ host: '127.0.0.1', port: Number(new URL(postgres.url).port), database: 'budget', user, password });
      other.on('error', () => undefined); // ended with the server at the end
      try {
        await other.connect();
        others.push(other);
      } catch (err) {
        assert.equal((err as { code?: string }).code, '53300', (err as Error).message);
        break;
      }
    }
    assert.equal(others.length, FOR_CARTS - 1, 'all but the cart\u2019s listening connection');
    await assert.rejects(store.beginCheckout('alice', RULES), (err: CodedError) => err.code === 'STORE_BUSY' && /database-full/.test(err.message));
    assert.deepEqual(
      await superuserQuery(postgres, `SELECT status FROM checkout_devices WHERE cart = 'ward-3' ORDER BY udid`, 'budget'),
      [{ status: 'Checked In' }, { status: 'Checked In' }],
      'nothing half-written',
    );

    await others.pop()!.end();
    const served = Date.now();
    const udid = await waitFor('a tap served', async () => (await store.beginCheckout('alice', RULES).catch(() => undefined))?.udid, 5000);
    assert.ok(Date.now() - served < 3000, `served ${Date.now() - served} ms after a connection came free`);
    assert.match(udid, /^W3-/);
  });

  it('its listening connection dropped (a DBA ended it): said once, listened to again, said back, and the other carts\u2019 changes heard again', async () => {
    helper.settings({ userDir: tempDir('userdir') });
    await helper.load(
      packageNodes,
      [fleet('one', 'ward-4', '1'), fleet('two', 'ward-5', '1')] as never,
      {
        one: login.credentials,
        two: login.credentials,
      } as never,
    );
    const [one, two] = [storeOf('one'), storeOf('two')];
    const [warned, logged] = [reports('one', 'warn'), reports('one', 'log')];
    const heard: string[] = [];
    one.on('elsewhere', (udid: string) => heard.push(udid));
    await waitFor('both listening', async () => (await backends())['device-checkout ward-4'] >= 1);
    await sleep(300);
    await superuserQuery(
      postgres,
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'device-checkout ward-4' AND query LIKE 'LISTEN%'`,
    );
    await waitFor('said back', () => logged.some((m) => /listening-back/.test(String(m))), 10_000);
    assert.equal(warned.filter((m) => /listening-down/.test(String(m))).length, 1, `said once: ${JSON.stringify(warned)}`);
    await dockPhones(two, 'W5', 1);
    await waitFor('ward 5\u2019s change heard at ward 4', () => heard.includes('W5-1'));
  });

  /** Sessions of other applications that take the server's connections; ended after each test. */
  const others: Client[] = [];
  afterEach(async () => Promise.all(others.splice(0).map((c) => c.end().catch(() => undefined))));
});
