import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Node, NodeMessage } from 'node-red';
import { SimulatedDevice } from '../../sim/simulated-device';
import { PtyHub } from '../../sim/pty-hub';
import { SimulatedCart } from '../../sim/simulated-cart';
import { simulatedUsbmuxd, type SimulatedUsbmuxd } from '../../sim/usbmuxd-server';
import { collect, helper, load } from '../../harness/node-red';
import { tempDir, waitFor } from '../../harness/support';
import { cartWatched, stopCartAndFlow } from '../../harness/cart-fixture';

type Event = NodeMessage & { device: { hub: string; port: number; udid?: string } };

/** Which phone is on which port, as hub-input reports it with a fleet that has a USB source. */
describe('hub events carry the phone\u2019s UDID (hub over a pty, usbmuxd on a socket)', function () {
  let pty: PtyHub;
  let usb: SimulatedUsbmuxd;
  let cart: SimulatedCart;
  let docks: NodeMessage[];
  let unplugs: NodeMessage[];
  let second: { docks: NodeMessage[]; unplugs: NodeMessage[] };
  let warnings: unknown[];
  let userDir: string;
  let run = 0;

  const flow = (hubPath: string) => [
    { id: 'hub', type: 'smart-hub', name: 'Cart', serialPort: hubPath, baudRate: '115200', pollInterval: '100', model: 'auto' },
    { id: 'fleet', type: 'device-fleet', mdm: '', usb: `sim:usb-identity-${run}`, usbWindow: '1' },
    { id: 'in', type: 'hub-input', hub: 'hub', fleet: 'fleet', wires: [['docks'], ['unplugs']] },
    // A second input on the same hub (another tab's workflow, say): the same phones.
    { id: 'in-2', type: 'hub-input', hub: 'hub', fleet: 'fleet', wires: [['docks-2'], ['unplugs-2']] },
    { id: 'docks', type: 'helper' },
    { id: 'docks-2', type: 'helper' },
    { id: 'unplugs-2', type: 'helper' },
    { id: 'unplugs', type: 'helper' },
    { id: 'lang', type: 'set-language', fleet: 'fleet', language: 'de', locale: 'de_DE', timeout: '10', wires: [['done']] },
    { id: 'name', type: 'set-device-name', fleet: 'fleet', deviceName: 'Cart [Port]', via: 'usb', timeout: '10', wires: [['done']] },
    { id: 'done', type: 'helper' },
  ];

  async function start(): Promise<void> {
    const watched = cartWatched({ pty, usb, cart });
    await load(flow(pty.hostPath));
    docks = collect('docks');
    unplugs = collect('unplugs');
    second = { docks: collect('docks-2'), unplugs: collect('unplugs-2') };
    warnings = [];
    const onWarn = (call: { args: unknown[] }) => warnings.push(call.args[0]);
    for (const id of ['in', 'in-2', 'fleet']) (helper.getNode(id) as unknown as import('node:events').EventEmitter).on('call:warn', onWarn);
    await watched();
  }

  beforeEach(async () => {
    run++;
    userDir = tempDir('userdir');
    helper.settings({ userDir });
    pty = await PtyHub.start(join(tempDir('hub'), 'ttyHUB'), { ports: 8 });
    usb = await simulatedUsbmuxd(`usb-identity-${run}`);
    cart = new SimulatedCart([pty.hub], usb, 100);
    await start();
  });

  afterEach(() => stopCartAndFlow({ pty, usb, cart }));

  const udids = (messages: NodeMessage[]) => (messages as Event[]).map((m) => `${m.device.port}:${m.device.udid ?? '-'}`);

  /** Docks each phone alone, so the cart learns each port's USB location, then frees them. */
  async function learn(ports: number[]): Promise<void> {
    for (const port of ports) {
      const before = docks.length;
      cart.dock(`LEARN-${port}`, 0, port);
      await waitFor(`dock on ${port}`, () => docks.length > before, 5000);
      cart.unplug(0, port);
    }
    await waitFor('unplugs', () => unplugs.length === ports.length, 5000);
  }

  it('one dock: the phone\u2019s UDID on the dock and on the unplug', async () => {
    cart.dock('PHONE-A', 0, 3);
    await waitFor('dock', () => docks.length === 1, 5000);
    assert.deepEqual((docks[0] as Event).device, { hub: 'Cart', hubId: 'hub', port: 3, udid: 'PHONE-A', status: 'Unknown', attributes: {} });
    cart.unplug(0, 3);
    await waitFor('unplug', () => unplugs.length === 1);
    assert.deepEqual(udids(unplugs), ['3:PHONE-A']);
    await waitFor('the second input', () => second.unplugs.length === 1);
    assert.deepEqual([udids(second.docks), udids(second.unplugs)], [['3:PHONE-A'], ['3:PHONE-A']], 'every hub-input of the hub names the phone');
    assert.deepEqual(warnings, []);
  });

  it('puts the fleet’s status and user on the device, so a switch can pick the workflow', async () => {
    cart.dock('PHONE-S', 0, 5);
    await waitFor('dock', () => docks.length === 1, 5000);
    const store = (helper.getNode('fleet') as unknown as { fleet: { store: import('../../nodes/lib/fleet/fleet-store').FleetStore } }).fleet.store;
    await store.setStatus('PHONE-S', 'Checked In');
    await store.reportHealth('PHONE-S', 0.9, true);
    await store.beginCheckout('alice', { userLimit: 1, batteryThreshold: 0.2, deadlineSeconds: 60 });
    cart.unplug(0, 5);
    await waitFor('unplug', () => unplugs.length === 1);
    cart.dock('PHONE-S', 0, 5);
    await waitFor('returned', () => docks.length === 2, 5000);
    const returned = (docks[1] as Event).device as Event['device'] & { status: string; user: string };
    assert.deepEqual([returned.status, returned.user], ['Checked Out', 'alice']);
    assert.deepEqual(
      (await store.audit('PHONE-S')).filter((e) => e.what.endsWith(': docked')).map((e) => e.to),
      ['true', 'false', 'true'],
    );
  });

  it('several docks in the same second: unresolved and said so while ports are new, exact once learnt', async () => {
    cart.dock('PHONE-1', 0, 1);
    cart.dock('PHONE-2', 0, 2);
    await waitFor('two docks', () => docks.length === 2, 5000);
    assert.deepEqual(udids(docks).sort(), ['1:-', '2:-']);
    assert.match(warnings.map(String).join('\n'), /usb-ambiguous .*docks\\?":2,\\?"phones\\?":2,\\?"seconds\\?":1\b/);
    cart.unplug(0, 1);
    cart.unplug(0, 2);
    await waitFor('unplugs', () => unplugs.length === 2);
    docks.length = 0;
    unplugs.length = 0;
    await learn([4, 5, 6, 7]);
    docks.length = 0;
    for (const port of [4, 5, 6, 7]) cart.dock(`RUSH-${port}`, 0, port);
    await waitFor('four docks', () => docks.length === 4, 5000);
    assert.deepEqual(udids(docks).sort(), ['4:RUSH-4', '5:RUSH-5', '6:RUSH-6', '7:RUSH-7']);
  });

  it('follows a phone moved from one port to another', async () => {
    await learn([1, 3]);
    docks.length = 0;
    unplugs.length = 0;
    cart.dock('MOVER', 0, 1);
    await waitFor('dock on 1', () => docks.length === 1, 5000);
    cart.unplug(0, 1);
    cart.dock('MOVER', 0, 3);
    await waitFor('dock on 3 and unplug of 1', () => docks.length === 2 && unplugs.length === 1, 5000);
    assert.deepEqual([udids(docks), udids(unplugs)], [['1:MOVER', '3:MOVER'], ['1:MOVER']]);
  });

  it('keeps the binding when usbmuxd restarts between a dock and an unplug', async () => {
    cart.dock('PHONE-R', 0, 2);
    await waitFor('dock', () => docks.length === 1, 5000);
    await usb.stop();
    await new Promise((resolve) => setTimeout(resolve, 300));
    await usb.start();
    await new Promise((resolve) => setTimeout(resolve, 300));
    cart.unplug(0, 2);
    await waitFor('unplug', () => unplugs.length === 1);
    assert.deepEqual(udids(unplugs), ['2:PHONE-R']);
  });

  it('warns when usbmuxd sees a phone at a port the hub calls empty', async () => {
    await learn([6]);
    usb.attach('GHOST', (await import('../../sim/simulated-cart')).locationOf(0, 6));
    // The test runtime's texts are their keys and values: the hub is named by its name, not its id.
    await waitFor('disagreement', () => warnings.includes('device-fleet.errors.usb-disagrees {"udid":"GHOST","hub":"Cart","port":6}'), 5000);
  });

  it('sets language, locale and name over USB on the docked phone, and names what stops it', async () => {
    const done = collect('done');
    const errors: unknown[] = [];
    for (const id of ['lang', 'name'])
      (helper.getNode(id) as unknown as import('node:events').EventEmitter).on('call:error', (call: { args: unknown[] }) => errors.push(call.args[0]));
    const phone = new SimulatedDevice();
    usb.pair(phone.udid);
    cart.dock(phone, 0, 2);
    await waitFor('dock', () => docks.length === 1, 5000);
    const dock = docks[0] as Event;
    assert.equal(dock.device.udid, phone.udid);
    (helper.getNode('lang') as Node).receive(dock);
    (helper.getNode('name') as Node).receive(dock);
    await waitFor('both done', () => done.length === 2, 10000);
    assert.deepEqual([phone.language, phone.locale, phone.name], ['de', 'de_DE', 'Cart 2']);

    const stranger = new SimulatedDevice();
    cart.dock(stranger, 0, 4);
    await waitFor('second dock', () => docks.length === 2, 5000);
    (helper.getNode('lang') as Node).receive(docks[1]);
    await waitFor('not paired', () => errors.length === 1, 10000);
    assert.equal((errors[0] as { code: string }).code, 'NOT_PAIRED');
    cart.unplug(0, 2);
    await waitFor('unplug', () => unplugs.length === 1);
    (helper.getNode('name') as Node).receive(dock);
    await waitFor('gone', () => errors.length === 2, 10000);
    assert.equal((errors[1] as { code: string }).code, 'DEVICE_GONE');
    assert.deepEqual(stranger.lockdownWrites, []);
  });

  it('keeps learnt port locations across a restart', async () => {
    await learn([2, 5]);
    await helper.unload();
    await start();
    docks.length = 0;
    cart.dock('AFTER-2', 0, 2);
    cart.dock('AFTER-5', 0, 5);
    await waitFor('both docks', () => docks.length === 2, 5000);
    assert.deepEqual(udids(docks).sort(), ['2:AFTER-2', '5:AFTER-5']);
  });
});
