import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Client } from 'pg';
import { APP_LOCK_IDENTIFIER } from '../../nodes/lib/mdm/profiles';
import { SimulatedNanoMdm } from '../../sim/nanomdm-server';
import { SimulatedDevice } from '../../sim/simulated-device';
import { PtyHub } from '../../sim/pty-hub';
import { SimulatedCart } from '../../sim/simulated-cart';
import { SimulatedUsbmuxd } from '../../sim/usbmuxd-server';
import { sleep, tempDir, waitFor } from '../../harness/support';
import { cartWatched, reportingCartFlows, type CartParts } from '../../harness/cart-fixture';
import { startNodeRedChild, type NodeRedChild } from '../../harness/node-red-child';
import { createCartLogin, createDatabase, startPostgres, type CartLogin, type TestPostgres } from '../../harness/postgres';

const SECRETS = { apiKey: 'ward-api-key-77a0', webhookSecret: 'ward-hmac-key-1c3e' };
const DEADLINE_S = 5; // the shortest deadline the fleet takes

interface Ward extends CartParts {
  name: string;
  nodeRed?: NodeRedChild;
}

/**
 * Two carts, each its own Node-RED process with its own hub (pty) and usbmuxd, sharing one
 * PostgreSQL fleet and one NanoMDM, which posts its webhooks to cart A only (as a hospital
 * points NanoMDM at one URL). The same flow is deployed on both; only `cart` and the hardware
 * paths differ. Each cart logs in as the editor asks: the database's address in the URL, a
 * role with a password (scram-sha-256, over TCP) in the credentials.
 */
describe('two carts, two Node-RED processes, one PostgreSQL fleet', function () {
  this.timeout(120_000);
  let postgres: TestPostgres;
  /** The superuser's URL, for the test's own look into the tables. */
  let databaseUrl: string;
  let login: CartLogin;
  let mdm: SimulatedNanoMdm;
  let collector: Server;
  let collectorUrl: string;
  const hits: string[] = [];
  const wards: Ward[] = [];

  before(async () => {
    postgres = await startPostgres();
    databaseUrl = await createDatabase(postgres, 'ward');
    login = await createCartLogin(postgres, 'ward');
    mdm = new SimulatedNanoMdm(SECRETS);
    await mdm.start();
    collector = createServer((req, res) => {
      hits.push(req.url ?? '');
      res.end('ok');
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    collectorUrl = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
    for (const name of ['ward-a', 'ward-b']) {
      const pty = await PtyHub.start(join(tempDir('hub'), 'ttyHUB'), { ports: 8 });
      const usb = new SimulatedUsbmuxd(join(tempDir('usb'), 'usbmuxd.sock'));
      await usb.start();
      const ward: Ward = { name, pty, usb, cart: new SimulatedCart([pty.hub], usb, 100) };
      wards.push(ward);
      await start(ward);
    }
    mdm.webhookUrl = `${wards[0].nodeRed!.url}device-checkout/webhook`;
  });

  after(async () => {
    for (const { cart, nodeRed, pty, usb } of wards) {
      cart.stop();
      await nodeRed?.stop();
      await Promise.all([pty.stop(), usb.stop()]);
    }
    await mdm?.stop();
    collector?.closeAllConnections();
    await new Promise((resolve) => collector?.close(resolve));
    await postgres?.stop();
  });

  const flows = ({ name, pty, usb }: Ward) =>
    reportingCartFlows({
      hubPath: pty.hostPath,
      mdmUrl: mdm.url,
      mdmSecrets: SECRETS,
      usbSocket: usb.socketPath,
      deadlineSeconds: DEADLINE_S,
      waitSeconds: 10,
      reportUrl: `${collectorUrl}/${name}`,
      taps: { tap: 'erin' },
      fleet: { store: 'postgres', databaseUrl: login.databaseUrl, cart: name, credentials: login.credentials },
    });

  /** Starts (or, after a kill, restarts on its user directory and port) the ward's Node-RED and deploys its flow. */
  async function start(ward: Ward): Promise<void> {
    const previous = ward.nodeRed;
    ward.nodeRed = await startNodeRedChild(previous && { userDir: previous.userDir, url: previous.url });
    if (previous) return; // its flow is in its user directory
    const watched = cartWatched(ward);
    await ward.nodeRed.deploy(flows(ward));
    await watched();
  }

  async function record(
    udid: string,
  ): Promise<{ status: string; cart: string; wrong_cart: boolean; user_id: string | null; attributes: Record<string, string> } | undefined> {
    const db = new Client({ connectionString: databaseUrl });
    await db.connect();
    try {
      return (await db.query('SELECT status, cart, wrong_cart, user_id, attributes FROM checkout_devices WHERE udid = $1', [udid])).rows[0];
    } catch {
      return undefined; // no tables yet
    } finally {
      await db.end();
    }
  }

  const count = (hit: string) => hits.filter((h) => h === hit).length;
  const handedAnywhere = () => count('/ward-a/handed') + count('/ward-b/handed');
  const returnedAnywhere = () => count('/ward-a/returned') + count('/ward-b/returned');
  const errorsAnywhere = (code: string) => count(`/ward-a/error/${code}`) + count(`/ward-b/error/${code}`);
  /** The phone waiting to be taken at a cart, if one is. */
  const waiting = async (cart: string): Promise<string | undefined> => {
    const db = new Client({ connectionString: databaseUrl });
    await db.connect();
    try {
      return (await db.query<{ udid: string }>(`SELECT udid FROM checkout_devices WHERE cart = $1 AND status = 'Checking Out'`, [cart])).rows[0]?.udid;
    } finally {
      await db.end();
    }
  };
  const tap = async (ward: Ward) => assert.equal((await fetch(`${ward.nodeRed!.url}inject/tap`, { method: 'POST' })).status, 200);

  /** A new enrolled phone docked on `port` of `ward`, through that ward's Return: Checked In there. */
  async function dockedPhone(ward: Ward, port: number): Promise<SimulatedDevice> {
    const phone = new SimulatedDevice();
    await mdm.enrol(phone);
    const returned = count(`/${ward.name}/returned`);
    ward.cart.dock(phone, 0, port);
    await waitFor(
      `checked in at ${ward.name}`,
      async () => (await record(phone.udid))?.status === 'Checked In' && count(`/${ward.name}/returned`) > returned,
      20_000,
    );
    return phone;
  }

  it('checked out at cart A, docked at cart B: the Return runs at B (its answers came to A), flagged wrong cart', async () => {
    const [a, b] = wards;
    const phone = await dockedPhone(a, 1);
    assert.equal((await record(phone.udid))?.attributes['Device Home'], 'ward-a');
    await tap(a);
    await waitFor('handed out at A', () => count('/ward-a/handed') === 1, 20_000);
    a.cart.unplug(0, 1);
    await waitFor('Checked Out', async () => (await record(phone.udid))?.status === 'Checked Out', 10_000);
    assert.ok(!phone.profiles.has(APP_LOCK_IDENTIFIER), 'unlocked for her');

    b.cart.dock(phone, 0, 3); // she returns it to the nearest cart
    await waitFor('the Return ran at B', () => count('/ward-b/returned') === 1, 20_000);
    const back = await record(phone.udid);
    assert.deepEqual([back?.status, back?.cart, back?.wrong_cart, back?.user_id], ['Checked In', 'ward-b', true, null]);
    assert.ok(phone.profiles.has(APP_LOCK_IDENTIFIER), 'locked again, by B, through answers NanoMDM posted to A');
    b.cart.unplug(0, 3);
    assert.deepEqual(mdm.invalidCommands, []);
  });

  it('the same badge at A and B at the same instant: one phone, the other tap refused USER_HAS_DEVICE', async () => {
    const [a, b] = wards;
    await dockedPhone(a, 2);
    await dockedPhone(b, 2);
    const before = {
      handed: handedAnywhere(),
      refused: errorsAnywhere('USER_HAS_DEVICE'),
      timeouts: errorsAnywhere('UNPLUG_TIMEOUT'),
      returned: returnedAnywhere(),
    };
    await Promise.all([tap(a), tap(b)]);
    await waitFor(
      'one handed out, one refused',
      () => handedAnywhere() === before.handed + 1 && errorsAnywhere('USER_HAS_DEVICE') === before.refused + 1,
      20_000,
    );
    // Nobody takes it: its deadline fails it, at the cart that handed it out, and it is returned there.
    await waitFor('UNPLUG_TIMEOUT', () => errorsAnywhere('UNPLUG_TIMEOUT') === before.timeouts + 1, 20_000);
    await waitFor('returned', () => returnedAnywhere() === before.returned + 1, 20_000);
    assert.equal(handedAnywhere(), before.handed + 1, 'never a second phone');
  });

  it('cart A killed while its phone waits to be taken: after its restart the deadline fires there (UNPLUG_TIMEOUT) and the phone is returned', async () => {
    const [a] = wards;
    const before = { timeouts: count('/ward-a/error/UNPLUG_TIMEOUT'), returned: count('/ward-a/returned') };
    await tap(a);
    const udid = await waitFor('a phone waits to be taken at A', () => waiting('ward-a'), 20_000);
    const handedAt = Date.now();
    await a.nodeRed!.kill();
    await sleep(Math.max(0, handedAt + DEADLINE_S * 1000 + 500 - Date.now()));
    assert.equal((await record(udid))?.status, 'Checking Out', 'nobody else fired its deadline while A was down');
    await start(a);
    await waitFor('the deadline fired at A after its restart', () => count('/ward-a/error/UNPLUG_TIMEOUT') === before.timeouts + 1, 20_000);
    await waitFor('On Failure ran the Return at A', () => count('/ward-a/returned') > before.returned, 20_000);
    assert.equal((await record(udid))?.status, 'Checked In');
  });
});
