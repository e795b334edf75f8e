import assert from 'node:assert/strict';
import { Pool } from 'pg';
import { beginSharedCheckout, type SharedCheckoutRequest } from '../../nodes/lib/fleet/postgres-checkout';
import { migrate } from '../../nodes/lib/fleet/postgres-schema';
import type { CodedError } from '../../nodes/lib/coded-error';
import { startPostgres, type TestPostgres } from './postgres';

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

  async function freshDatabase(): Promise<string> {
    const admin = watched(new Pool({ connectionString: postgres.url }));
    const name = `fleet_${++databases}`;
    await admin.query(`CREATE DATABASE ${name}`);
    return postgres.url.replace(/\/postgres$/, `/${name}`);
  }

  /** One pool per cart: each cart is its own host with its own connections. */
  function cartPool(url: string): Pool {
    return watched(new Pool({ connectionString: url, max: 4 }));
  }

  async function dockedPhone(db: Pool, udid: string, cart: string, port: number, battery = 0.9): Promise<void> {
    await db.query(`INSERT INTO checkout_devices (udid, cart, hub_id, hub, port, docked, status, battery) VALUES ($1, $2, $3, $4, $5, true, 'Checked In', $6)`, [udid, cart, `${cart}-hub`, cart, port, battery]);
  }

  const tap = (db: Pool, cart: string, user: string, extra: Partial<SharedCheckoutRequest> = {}) =>
    beginSharedCheckout(db, { cart, user, rules: RULES, started: { node: `checkout-${cart}` }, ...extra }).then(
      (ok) => ok.udid,
      (err: CodedError) => err.code ?? err.message,
    );

  it('creates its tables on first connect, once, however many carts start at the same moment', async () => {
    const url = await freshDatabase();
    const carts = Array.from({ length: 6 }, () => cartPool(url));
    assert.deepEqual(await Promise.all(carts.map((pool) => migrate(pool))), [1, 1, 1, 1, 1, 1]);
    const applied = await carts[0].query('SELECT version FROM checkout_migrations ORDER BY version');
    assert.deepEqual(applied.rows, [{ version: 1 }]);
    assert.equal(await migrate(carts[0]), 1, 'started again: nothing to do');
  });

  it('keeps the audit trail append-only', async () => {
    const db = cartPool(await freshDatabase());
    await migrate(db);
    await dockedPhone(db, 'P1', 'ward-3', 1);
    await tap(db, 'ward-3', 'alice');
    await assert.rejects(db.query(`UPDATE checkout_audit SET who = 'mallory'`), /append-only/);
    await assert.rejects(db.query('DELETE FROM checkout_audit'), /append-only/);
    const trail = await db.query('SELECT udid, cart, what, from_value, to_value, who FROM checkout_audit');
    assert.deepEqual(trail.rows, [{ udid: 'P1', cart: 'ward-3', what: 'status', from_value: 'Checked In', to_value: 'Checking Out', who: 'alice' }]);
  });

  it('one badge tapped at two carts at the same instant hands out one phone, every time', async () => {
    const url = await freshDatabase();
    const [ward3, ward5] = [cartPool(url), cartPool(url)];
    await migrate(ward3);
    const rounds = 20;
    for (let round = 0; round < rounds; round++) {
      await dockedPhone(ward3, `W3-${round}`, 'ward-3', 1);
      await dockedPhone(ward5, `W5-${round}`, 'ward-5', 1);
      const nurse = `nurse-${round}`;
      // The same person, written two ways: one person however the id is spelt.
      const results = await Promise.all([tap(ward3, 'ward-3', nurse), tap(ward5, 'ward-5', nurse.toUpperCase())]);
      assert.equal(results.filter((r) => r.startsWith('W')).length, 1, `round ${round}: ${results.join(', ')}`);
      assert.ok(results.includes('USER_HAS_DEVICE'), `round ${round}: ${results.join(', ')}`);
      // The handed-out phone leaves; the next round's phones are new ones.
      await ward3.query(`UPDATE checkout_devices SET docked = false, status = CASE WHEN status = 'Checking Out' THEN 'Checked Out' ELSE 'Retired' END WHERE cart IN ('ward-3', 'ward-5') AND docked`);
    }
    const out = await ward3.query(`SELECT user_key, count(*)::int AS phones FROM checkout_devices WHERE status = 'Checked Out' GROUP BY user_key`);
    assert.equal(out.rows.length, rounds);
    assert.ok(out.rows.every((r: { phones: number }) => r.phones === 1));
  });

  it('two people at two carts at once both get a phone; a cart hands out one at a time (CART_BUSY there only)', async () => {
    const url = await freshDatabase();
    const [ward3, ward5] = [cartPool(url), cartPool(url)];
    await migrate(ward3);
    await dockedPhone(ward3, 'A', 'ward-3', 1, 0.9);
    await dockedPhone(ward3, 'B', 'ward-3', 2, 0.8);
    await dockedPhone(ward5, 'C', 'ward-5', 1, 0.7);
    const [atWard3, atWard5] = await Promise.all([tap(ward3, 'ward-3', 'alice'), tap(ward5, 'ward-5', 'bob')]);
    assert.deepEqual([atWard3, atWard5], ['A', 'C'], 'the most charged phone of each cart');
    assert.equal(await tap(ward3, 'ward-3', 'carol'), 'CART_BUSY', 'A still waits to be taken from ward 3');
    assert.equal(await tap(ward5, 'ward-5', 'dave'), 'CART_BUSY');
    const deadline = await ward3.query(`SELECT cart, node, deadline > now() + interval '50 seconds' AS later FROM checkout_deadlines WHERE udid = 'A'`);
    assert.deepEqual(deadline.rows, [{ cart: 'ward-3', node: 'checkout-ward-3', later: true }], 'owned by the cart that started it');
  });

  it('a phone that failed while out with her still counts toward her limit, at any cart', async () => {
    const url = await freshDatabase();
    const db = cartPool(url);
    await migrate(db);
    await dockedPhone(db, 'A', 'ward-3', 1);
    await dockedPhone(db, 'B', 'ward-5', 1);
    assert.equal(await tap(db, 'ward-3', 'erin'), 'A');
    await db.query(`UPDATE checkout_devices SET docked = false, status = 'Failed' WHERE udid = 'A'`);
    await db.query(`DELETE FROM checkout_deadlines WHERE udid = 'A'`);
    assert.equal(await tap(db, 'ward-5', 'erin'), 'USER_HAS_DEVICE');
    assert.equal(await tap(db, 'ward-5', 'frank'), 'B');
  });
});
