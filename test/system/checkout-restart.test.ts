import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { APP_LOCK_IDENTIFIER } from '../../nodes/lib/mdm/profiles';
import { SimulatedNanoMdm } from '../../sim/nanomdm-server';
import { SimulatedDevice } from '../../sim/simulated-device';
import { PtyHub } from '../../sim/pty-hub';
import { SimulatedCart } from '../../sim/simulated-cart';
import { SimulatedUsbmuxd } from '../../sim/usbmuxd-server';
import { startNodeRedChild, type NodeRedChild } from '../../harness/node-red-child';
import { cartWatched, reportingCartFlows } from '../../harness/cart-fixture';
import { sleep, tempDir, waitFor } from '../../harness/support';

const SECRETS = { apiKey: 'restart-api-key-5e10', webhookSecret: 'restart-hmac-key-8d21' };
const DEADLINE_S = 5; // the shortest deadline the fleet takes

type FleetFile = { devices: Record<string, { status: string; user?: string; docked: boolean; checkout?: { deadline: string; message?: object } }> };

/** The cart's host loses power mid-check-out or mid-return, and the world moves on while it is down. */
describe('a check-out survives Node-RED being killed (real processes, hub over a pty)', function () {
  this.timeout(90_000);
  let mdm: SimulatedNanoMdm;
  let pty: PtyHub;
  let usb: SimulatedUsbmuxd;
  let cart: SimulatedCart;
  let collector: Server;
  let collectorUrl: string;
  const hits: string[] = [];
  let nodeRed: NodeRedChild | undefined;

  before(async () => {
    mdm = new SimulatedNanoMdm(SECRETS);
    await mdm.start();
    pty = await PtyHub.start(join(tempDir('hub'), 'ttyHUB'), { ports: 8 });
    usb = new SimulatedUsbmuxd(join(tempDir('usb'), 'usbmuxd.sock'));
    await usb.start();
    cart = new SimulatedCart([pty.hub], usb, 100);
    collector = createServer((req, res) => {
      hits.push(req.url ?? '');
      res.end('ok');
    });
    await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
    collectorUrl = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
  });

  after(async () => {
    cart.stop();
    await nodeRed?.stop();
    await Promise.all([mdm.stop(), pty.stop(), usb.stop()]);
    collector.closeAllConnections();
    await new Promise((resolve) => collector.close(resolve));
  });

  // Each test starts a cart of its own: no phone of the last one left on the hub.
  afterEach(() => {
    for (let port = 1; port <= pty.hub.portCount; port++) if (pty.hub.isDocked(port)) cart.unplug(0, port);
  });

  const flows = () =>
    reportingCartFlows({
      hubPath: pty.hostPath,
      mdmUrl: mdm.url,
      mdmSecrets: SECRETS,
      usbSocket: usb.socketPath,
      deadlineSeconds: DEADLINE_S,
      waitSeconds: 5,
      reportUrl: collectorUrl,
      taps: { tap: 'erin', 'tap-frank': 'frank' },
    });

  it('killed while the phone waits to be taken, restarted after the deadline: UNPLUG_TIMEOUT, then checked in', async () => {
    const phone = await freshCartWithPhone(4);

    assert.equal((await fetch(`${nodeRed!.url}inject/tap`, { method: 'POST' })).status, 200);
    await waitFor('handed out', () => hits.includes('/handed'), 10_000);
    const handedAt = Date.now();
    await nodeRed!.kill();
    const fleetFile = join(nodeRed!.userDir, 'device-checkout', 'fleet-fleet.json');
    const saved = JSON.parse(readFileSync(fleetFile, 'utf8')) as { devices: Record<string, { status: string; checkout?: { deadline: string } }> };
    assert.equal(saved.devices[phone.udid].status, 'Checking Out');
    assert.ok(saved.devices[phone.udid].checkout?.deadline, 'the deadline was on disk before the power cut');

    await new Promise((resolve) => setTimeout(resolve, Math.max(0, handedAt + DEADLINE_S * 1000 + 500 - Date.now())));
    await restart();
    await waitFor('the deadline fired after the restart', () => hits.includes('/error/UNPLUG_TIMEOUT'), 15_000);
    await waitFor('On Failure ran the Return workflow', () => hits.filter((h) => h === '/returned').length === 2, 15_000);
    const after = JSON.parse(readFileSync(fleetFile, 'utf8')) as typeof saved;
    assert.equal(after.devices[phone.udid].status, 'Checked In');
    assert.ok(phone.profiles.has(APP_LOCK_IDENTIFIER), 'locked to the locker app again');
    assert.deepEqual(mdm.invalidCommands, []);
  });

  const fleetFile = () => join(nodeRed!.userDir, 'device-checkout', 'fleet-fleet.json');
  const recorded = (phone: SimulatedDevice): FleetFile['devices'][string] | undefined => {
    try {
      return (JSON.parse(readFileSync(fleetFile(), 'utf8')) as FleetFile).devices[phone.udid];
    } catch {
      return undefined; // no fleet file yet
    }
  };
  const count = (hit: string) => hits.filter((h) => h === hit).length;
  const tap = async (inject: string) => assert.equal((await fetch(`${nodeRed!.url}inject/${inject}`, { method: 'POST' })).status, 200);
  const restart = async () => {
    nodeRed = await startNodeRedChild({ userDir: nodeRed!.userDir, url: nodeRed!.url });
  };
  /** A new phone docked on `port` of a freshly started cart, through the Return workflow. */
  async function freshCartWithPhone(port: number): Promise<SimulatedDevice> {
    await nodeRed?.stop();
    nodeRed = await startNodeRedChild();
    mdm.webhookUrl = `${nodeRed.url}device-checkout/webhook`;
    const watched = cartWatched({ pty, usb, cart });
    await nodeRed.deploy(flows());
    await watched();
    const phone = new SimulatedDevice();
    await mdm.enrol(phone);
    const returned = count('/returned');
    cart.dock(phone, 0, port);
    await waitFor('checked in on dock, Return done', () => recorded(phone)?.status === 'Checked In' && count('/returned') > returned, 15_000);
    return phone;
  }

  it('taken from the cart while Node-RED was down: the check-out completes, and nobody else gets that phone; docked while down: Return runs once', async () => {
    const phone = await freshCartWithPhone(5);
    const handed = count('/handed');
    await tap('tap');
    await waitFor('handed out', () => count('/handed') > handed, 10_000);
    await nodeRed!.kill();
    cart.unplug(0, 5); // erin takes it while the host is down...
    await sleep(DEADLINE_S * 1000 + 500); // ...and the deadline passes meanwhile
    const timeouts = count('/error/UNPLUG_TIMEOUT');
    await restart();
    await waitFor('the unplug found at start completed the check-out', () => recorded(phone)?.status === 'Checked Out', 15_000);
    await sleep(1500); // a window for a wrong deadline to fire: absence has no event to wait for
    assert.equal(count('/error/UNPLUG_TIMEOUT'), timeouts, 'no deadline fired for the phone in her hand');
    assert.deepEqual([recorded(phone)?.user, recorded(phone)?.docked], ['erin', false]);
    assert.ok(!phone.profiles.has(APP_LOCK_IDENTIFIER), 'still unlocked for her');
    await tap('tap-frank');
    await waitFor('the next person is told no phone is there', () => count('/error/NO_DEVICE_AVAILABLE') === 1, 10_000);

    await nodeRed!.kill();
    cart.dock(phone, 0, 5); // erin brings it back while the host is down
    await sleep(500);
    const returned = count('/returned');
    await restart();
    await waitFor('the dock found at start ran Return', () => recorded(phone)?.status === 'Checked In', 15_000);
    await sleep(1500); // a window for a second Return to run: absence has no event to wait for
    assert.equal(count('/returned'), returned + 1, 'Return ran exactly once');
    assert.ok(phone.profiles.has(APP_LOCK_IDENTIFIER), 'locked to the locker app again');
    assert.equal(recorded(phone)?.user, undefined);
  });

  it('a Return cut off by a kill runs again after the restart: the docked phone ends locked, never Checked Out and unlocked', async () => {
    const phone = await freshCartWithPhone(6);
    const handed = count('/handed');
    await tap('tap-frank');
    await waitFor('handed out', () => count('/handed') > handed, 10_000);
    cart.unplug(0, 6);
    await waitFor('Checked Out', () => recorded(phone)?.status === 'Checked Out', 10_000);
    phone.silent = true; // the Return's first command waits for a phone that does not answer...
    cart.dock(phone, 0, 6);
    await waitFor('docked', () => recorded(phone)?.docked, 10_000);
    await sleep(300);
    await nodeRed!.kill(); // ...and the host dies mid-Return
    assert.equal(recorded(phone)?.status, 'Checked Out');
    phone.silent = false;
    await restart();
    await waitFor('Return ran again after the restart', () => recorded(phone)?.status === 'Checked In', 15_000);
    assert.ok(phone.profiles.has(APP_LOCK_IDENTIFIER), 'locked to the locker app');
    assert.deepEqual(mdm.invalidCommands, []);
  });
});
