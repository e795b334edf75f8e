import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { NodeMessage } from 'node-red';
import type { CodedError } from '../../nodes/lib/coded-error';
import type { FleetStore } from '../../nodes/lib/fleet/fleet-store';
import { APP_LOCK_IDENTIFIER } from '../../nodes/lib/mdm/profiles';
import { PtyHub } from '../../sim/pty-hub';
import { SimulatedCart } from '../../sim/simulated-cart';
import { SimulatedDevice } from '../../sim/simulated-device';
import { simulatedUsbmuxd, type SimulatedUsbmuxd } from '../../sim/usbmuxd-server';
import { cartWatched, stopCartAndFlow } from '../../harness/cart-fixture';
import { workspaceOneMdm, type VendorMdm } from '../../harness/mdm-vendors';
import { collect, helper, packageNodes, reports, send } from '../../harness/node-red';
import { createCartLogin, createDatabase, startPostgres, startStandby, superuserQuery, type TestServer } from '../../harness/postgres';
import { TcpForwarder } from '../../harness/tcp-forwarder';
import { tempDir, waitFor } from '../../harness/support';

type Msg = NodeMessage & { device: { udid: string; port: number } };

/**
 * A cart on a hospital's database as it runs one: a primary and its streaming standby (Debian's
 * binaries, started here), the carts on an address that moves (a TCP forwarder, as a virtual IP
 * or HAProxy); the primary killed mid-shift, the standby promoted, the address moved.
 */
describe('a database failover under a cart (a primary, its streaming standby, an address that moves)', function () {
  this.timeout(120_000);
  let primary: TestServer;
  let standby: TestServer & { promote(): Promise<void> };
  let address: TcpForwarder;
  let mdm: VendorMdm;
  let pty: PtyHub;
  let usb: SimulatedUsbmuxd;
  let cart: SimulatedCart;

  before(async () => {
    primary = await startPostgres();
    await createDatabase(primary, 'hospital');
    const login = await createCartLogin(primary, 'hospital');
    standby = await startStandby(primary);
    address = await TcpForwarder.create(primary.port);
    await address.up();
    mdm = await workspaceOneMdm();
    helper.settings({ userDir: tempDir('userdir') });
    pty = await PtyHub.start(join(tempDir('hub'), 'ttyHUB'), { ports: 8 });
    usb = await simulatedUsbmuxd('failover');
    cart = new SimulatedCart([pty.hub], usb, 100);
    const watched = cartWatched({ pty, usb, cart });
    const action = (id: string, type: string, next: string, extra: object = {}) => ({ id, type, fleet: 'fleet', timeout: '10', wires: [[next]], ...extra });
    await helper.load(
      packageNodes,
      [
        { id: 'hub', type: 'smart-hub', name: 'Cart', serialPort: pty.hostPath, baudRate: '115200', pollInterval: '100', model: 'auto' },
        { id: 'mdm', type: 'mdm-server', vendor: mdm.vendor, maxConcurrent: '5', timeout: '5000', webhookPath: 'device-checkout/webhook', ...mdm.fields },
        {
          id: 'fleet',
          type: 'device-fleet',
          mdm: 'mdm',
          usb: 'sim:failover',
          usbWindow: '1',
          lockerApp: 'org.example.locker',
          checkoutDeadline: '60',
          store: 'postgres',
          databaseUrl: login.databaseUrl.replace(/:\d+\//, `:${address.port}/`),
          cart: 'ward-3',
        },
        { id: 'in', type: 'hub-input', hub: 'hub', fleet: 'fleet', wires: [['checkin'], []] },
        action('checkin', 'check-in-device', 'passcode'),
        action('passcode', 'clear-passcode', 'returned'),
        action('checkout', 'check-out-device', 'handed', { suppressBlueLed: true }),
        { id: 'returned', type: 'helper' },
        { id: 'handed', type: 'helper' },
      ] as never,
      { mdm: mdm.credentials, fleet: login.credentials } as never,
    );
    await watched();
  });

  after(async () => {
    await stopCartAndFlow({ pty, usb, cart });
    await mdm?.stop();
    await address?.down();
    await Promise.all([primary?.stop(), standby?.stop()]);
  });

  const store = () => (helper.getNode('fleet') as unknown as { fleet: { store: FleetStore } }).fleet.store;

  it('the primary killed mid-shift: taps refused in words meanwhile (a read-only standby too), the cart back by itself once promoted, said once; check-outs the standby never received put right from the hub (a phone taken, a phone still unlocked)', async () => {
    const returned = collect('returned') as Msg[];
    const handed = collect('handed') as Msg[];
    const refused = reports('checkout', 'error') as CodedError[];
    const [warned, logged] = [reports('fleet', 'warn'), reports('fleet', 'log')];
    const phones = [1, 2, 3].map((port) => new SimulatedDevice({ serial: `FAILOVER${port}` }));
    // One at a time, as a shift's phones come back: each dock told apart by USB.
    for (const [i, phone] of phones.entries()) {
      await mdm.enrol(phone);
      cart.dock(phone, 0, i + 1);
      await waitFor(`phone ${i + 1} returned`, () => returned.length === i + 1, 20_000);
    }

    /** A tap for `user`: the phone handed out, or the code it was refused with. */
    const tap = async (user: string): Promise<Msg | string> => {
      const [before, errors] = [handed.length, refused.length];
      send('checkout', { user: { id: user } });
      await waitFor(`${user}'s tap answered`, () => handed.length > before || refused.length > errors, 20_000);
      return handed.length > before ? handed.at(-1)! : refused.at(-1)!.code;
    };
    const takeAway = async (msg: Msg) => {
      cart.unplug(0, msg.device.port);
      await waitFor('Checked Out', async () => (await store().device(msg.device.udid))?.status === 'Checked Out');
    };

    const alice = (await tap('alice')) as Msg;
    await takeAway(alice);
    // The standby has everything so far; from here on it receives nothing (replication cut, as
    // asynchronous replication loses the newest commits when the primary dies).
    await waitFor('the standby caught up', async () => {
      const [{ lsn }] = await superuserQuery(primary, 'SELECT pg_current_wal_lsn()::text AS lsn');
      const [{ caught }] = await superuserQuery(standby, `SELECT pg_last_wal_replay_lsn() >= '${String(lsn)}'::pg_lsn AS caught`);
      return caught === true;
    });
    await superuserQuery(standby, "ALTER SYSTEM SET primary_conninfo = ''");
    await superuserQuery(standby, 'SELECT pg_reload_conf()');
    await waitFor('replication stopped', async () => (await superuserQuery(standby, 'SELECT count(*)::int AS n FROM pg_stat_wal_receiver'))[0].n === 0);
    const bob = (await tap('bob')) as Msg;
    await takeAway(bob);
    // Dave's phone is unlocked for him and flashing white when the primary dies: his tap never reached the standby.
    const dave = (await tap('dave')) as Msg;
    const daves = phones.find((p) => p.udid === dave.device.udid)!;
    assert.ok(!daves.profiles.has(APP_LOCK_IDENTIFIER), 'unlocked for dave');
    const returnsBefore = returned.length;

    await primary.kill();
    assert.equal(await tap('carol'), 'STORE_UNAVAILABLE', 'the database away: refused in words');
    // The address moves to the standby before it is promoted: read-only, still the database away.
    address.moveTo(standby.port);
    await waitFor(
      'a tap reaching the standby',
      async () => {
        assert.equal(await tap('carol'), 'STORE_UNAVAILABLE', 'a standby in recovery: the database away, not a user error');
        return /read-only|recovery|25006/.test(String(refused.at(-1)!.message));
      },
      20_000,
    );

    await standby.promote();
    await waitFor('listening again', () => logged.some((m) => /listening-back/.test(String(m))), 40_000);
    assert.equal(warned.filter((m) => /listening-down/.test(String(m))).length, 1, 'said once');
    // Bob's check-out never reached the standby: the hub says his phone is gone, and so the records say too.
    await waitFor('put right from the hub', async () => (await store().device(bob.device.udid))?.docked === false, 20_000);

    // Dave's phone is still docked, unlocked, for a check-out the records lost: locked again by its Return before anyone gets it.
    await waitFor('dave\u2019s phone locked again', () => returned.slice(returnsBefore).some((m) => m.device.udid === dave.device.udid), 20_000);
    assert.ok(daves.profiles.has(APP_LOCK_IDENTIFIER), 'locked again');
    assert.equal((await store().device(dave.device.udid))?.status, 'Checked In');

    const carol = await tap('carol');
    assert.equal(typeof carol, 'object', `carol's tap served: ${String(carol)}`);
    const given = (carol as Msg).device.udid;
    assert.equal(given, dave.device.udid, 'the phone on the cart, locked and checked in again: not one in a nurse\u2019s hand');
    assert.deepEqual(
      [(await store().device(alice.device.udid))?.status, (await store().device(alice.device.udid))?.user],
      ['Checked Out', 'alice'],
      'alice\u2019s phone still hers',
    );
  });
});
