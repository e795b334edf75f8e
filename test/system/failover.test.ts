import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { NodeMessage } from 'node-red';
import type { EventEmitter } from 'node:events';
import * as util from '@node-red/util';
import type { CodedError } from '../../nodes/lib/coded-error';
import type { FleetStore } from '../../nodes/lib/fleet/fleet-store';
import { fleetDatabase } from '../../nodes/lib/fleet/postgres-pool';
import { FleetChannels } from '../../nodes/lib/fleet/postgres-listener';
import { WebhookRelay } from '../../nodes/lib/fleet/webhook-relay';
import { toPlist } from '../../nodes/lib/mdm/commands';
import { NanoMdm } from '../../nodes/lib/mdm/nanomdm';
import { APP_LOCK_IDENTIFIER } from '../../nodes/lib/mdm/profiles';
import { PtyHub } from '../../sim/pty-hub';
import { SimulatedCart } from '../../sim/simulated-cart';
import { SimulatedDevice } from '../../sim/simulated-device';
import { simulatedUsbmuxd, type SimulatedUsbmuxd } from '../../sim/usbmuxd-server';
import { cartNodes, cartWatched, fleetAction, stopCartAndFlow } from '../../harness/cart-fixture';
import { workspaceOneMdm, type VendorMdm } from '../../harness/mdm-vendors';
import { collect, helper, packageNodes, reports, send } from '../../harness/node-red';
import {
  createCartLogin,
  createDatabase,
  cutReplication,
  startPostgres,
  startStandby,
  superuserQuery,
  type CartLogin,
  type TestServer,
} from '../../harness/postgres';
import { TcpForwarder } from '../../harness/tcp-forwarder';
import { tempDir, waitFor } from '../../harness/support';

/** The runtime's event bus, on which RED.comms.publish puts what the editor hears. */
const { events } = util as unknown as { events: EventEmitter };

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
  /** What the editor's fleet view hears: told to read the whole list again. */
  const reloads: unknown[] = [];
  const onComms = (event: { topic: string }) => event.topic === 'device-checkout/reload' && reloads.push(event);

  before(async () => {
    events.on('comms', onComms);
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
    await helper.load(
      packageNodes,
      [
        ...cartNodes(pty, mdm, 'sim:failover', {
          checkoutDeadline: '60',
          store: 'postgres',
          databaseUrl: login.databaseUrl.replace(/:\d+\//, `:${address.port}/`),
          cart: 'ward-3',
        }),
        fleetAction('checkin', 'check-in-device', 'passcode'),
        fleetAction('passcode', 'clear-passcode', 'returned'),
        fleetAction('checkout', 'check-out-device', 'handed', { suppressBlueLed: true }),
        { id: 'returned', type: 'helper' },
        { id: 'handed', type: 'helper' },
      ] as never,
      { mdm: mdm.credentials, fleet: login.credentials } as never,
    );
    await watched();
  });

  after(async () => {
    events.off('comms', onComms);
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
    // The standby has everything so far; from here on it receives nothing.
    await cutReplication(primary, standby);
    const bob = (await tap('bob')) as Msg;
    await takeAway(bob);
    // Dave's tap is in flight when the primary dies: his phone chosen (a commit the standby never
    // receives) and being unlocked for him at the MDM, or unlocked and flashing white already.
    const returnsBefore = returned.length;
    const daveTap = tap('dave');
    const daves = await waitFor('dave\u2019s phone chosen', async () => {
      const chosen = (await store().devices()).find((record) => record.user === 'dave');
      return chosen && phones.find((phone) => phone.udid === chosen.udid);
    });
    await primary.kill();
    const daveOutcome = await daveTap;
    assert.ok(typeof daveOutcome === 'object' || daveOutcome === 'STORE_UNAVAILABLE', `dave served or refused in words: ${String(daveOutcome)}`);
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
    // The fleet view heard nothing of it row by row: it is told to read the list again, and the list is right.
    assert.ok(reloads.length > 0, 'the fleet view told to reload');
    const listed = (await helper.request().get('/device-checkout/devices')).body as { devices: { udid: string; docked: boolean }[] };
    assert.equal(listed.devices.find((row) => row.udid === bob.device.udid)?.docked, false, 'the fleet view lists bob\u2019s phone gone');

    // Dave's phone is still docked, unlocked, for a check-out the records lost: locked again by its Return before anyone gets it.
    await waitFor('dave\u2019s phone locked again', () => returned.slice(returnsBefore).some((m) => m.device.udid === daves.udid), 20_000);
    assert.ok(daves.profiles.has(APP_LOCK_IDENTIFIER), 'locked again');
    for (const [who, msg] of [
      ['alice', alice],
      ['bob', bob],
    ] as const)
      assert.ok(
        !phones.find((phone) => phone.udid === msg.device.udid)!.profiles.has(APP_LOCK_IDENTIFIER),
        `${who}\u2019s phone, in a nurse\u2019s hand, not locked`,
      );
    assert.equal((await store().device(daves.udid))?.status, 'Checked In');

    const carol = await tap('carol');
    assert.equal(typeof carol, 'object', `carol's tap served: ${String(carol)}`);
    const given = (carol as Msg).device.udid;
    assert.equal(given, daves.udid, 'the phone on the cart, locked and checked in again: not one in a nurse\u2019s hand');
    assert.deepEqual(
      [(await store().device(alice.device.udid))?.status, (await store().device(alice.device.udid))?.user],
      ['Checked Out', 'alice'],
      'alice\u2019s phone still hers',
    );
  });
});

/**
 * NanoMDM posts each webhook once, to one cart, which keeps it in the database for the others:
 * across a failover neither a webhook the new primary never received nor one received while
 * the database was away is lost, or the loss is said.
 */
describe('NanoMDM webhooks through a database failover (relayed between carts)', function () {
  this.timeout(120_000);
  const API_KEY = 'failover-relay-key-5c1e';
  let primary: TestServer;
  let standby: TestServer & { promote(): Promise<void> };
  let address: TcpForwarder;
  let login: CartLogin;
  let events = 0;
  const said: string[] = [];
  const running = new Map<string, { nano: NanoMdm; stop(): Promise<void> }>();

  before(async () => {
    primary = await startPostgres();
    await createDatabase(primary, 'relay');
    login = await createCartLogin(primary, 'relay');
    standby = await startStandby(primary);
    address = await TcpForwarder.create(primary.port);
    await address.up();
  });

  after(async () => {
    for (const cart of running.values()) await cart.stop();
    await address?.down();
    await Promise.all([primary?.stop(), standby?.stop()]);
  });

  /** A cart's MDM connection and webhook relay on the moving address, as device-fleet makes them. */
  async function cart(name: string, hold?: number): Promise<NanoMdm> {
    const database = login.databaseUrl.replace(/:\d+\//, `:${address.port}/`);
    const { pool, connect } = fleetDatabase({
      url: database,
      user: login.credentials.databaseUser,
      password: login.credentials.databasePassword,
      applicationName: name,
    });
    pool.on('error', () => undefined);
    const nano = new NanoMdm({ url: 'http://127.0.0.1:9', apiKey: API_KEY, acceptUnsigned: true, maxConcurrent: 1, timeout: 1000 });
    const channels = new FleetChannels({ connect, onLost: () => said.push(`${name} listening-down`) });
    const text = (key: string, vars?: object) => `${name} ${key.split('.').pop()} ${JSON.stringify(vars ?? {})}`;
    const relay = new WebhookRelay({ pool, database, channels, cart: name, adapter: nano, secret: API_KEY, hold, text, log: { warn: (m) => said.push(m) } });
    await relay.start();
    running.set(name, {
      nano,
      async stop() {
        running.delete(name);
        await Promise.all([relay.close(), nano.close()]);
        channels.close();
        await pool.end();
      },
    });
    return nano;
  }
  const post = (nano: NanoMdm, event: object) =>
    nano.handleWebhook(Buffer.from(JSON.stringify({ event_id: `event-${++events}`, created_at: new Date().toISOString(), ...event })), undefined);
  const plist = (message: object) => Buffer.from(toPlist(message)).toString('base64');
  const checkIn = (nano: NanoMdm, phone: SimulatedDevice, topic: string, message: object) =>
    post(nano, { topic, checkin_event: { udid: phone.udid, raw_payload: plist(message) } });
  const answer = (nano: NanoMdm, phone: SimulatedDevice, command: string) =>
    post(nano, {
      topic: 'mdm.Connect',
      acknowledge_event: {
        udid: phone.udid,
        status: 'Acknowledged',
        command_uuid: command,
        raw_payload: plist({ UDID: phone.udid, Status: 'Acknowledged', CommandUUID: command, QueryResponses: { BatteryLevel: 0.4 } }),
      },
    });
  const saidOf = (pattern: RegExp) => said.filter((m) => pattern.test(m));

  it('kept only on the primary that died, or received while the database was away: every webhook reaches every cart once the standby is promoted (a cart down meanwhile too)', async () => {
    const ward3 = await cart('ward-3');
    await cart('ward-5');
    const ward7 = await cart('ward-7');
    await cutReplication(primary, standby);
    await running.get('ward-5')!.stop(); // down through the failover
    // Ward 3 receives a phone's check-ins; ward 7 learns its unlock token: the standby never does.
    const phone = new SimulatedDevice();
    checkIn(ward3, phone, 'mdm.Authenticate', phone.authenticateMessage());
    checkIn(ward3, phone, 'mdm.TokenUpdate', phone.tokenUpdateMessage());
    await waitFor('ward 7 learnt the unlock token', async () => (await ward7.unlockToken(phone.udid))?.equals(phone.unlockToken));

    await primary.kill();
    // Ward 7 waits for a command's answer that reaches ward 3 while the database is away.
    const answered = ward7.results.wait(phone.udid, 'CMD-9', 60_000);
    answer(ward3, phone, 'CMD-9');
    await waitFor('ward 3 said it could not keep it', () => saidOf(/ward-3 relay-keep-failed/).length > 0, 10_000);
    address.moveTo(standby.port);
    await standby.promote();

    assert.deepEqual((await answered).QueryResponses, { BatteryLevel: 0.4 }, 'the answer reached ward 7');
    const ward5 = await cart('ward-5');
    assert.deepEqual(await ward5.unlockToken(phone.udid), phone.unlockToken, 'the check-ins the new primary never had reached ward 5, down meanwhile');
    const kept = await superuserQuery(standby, 'SELECT event_id FROM checkout_webhooks ORDER BY id', 'relay');
    assert.deepEqual(
      kept.map((row) => row.event_id),
      [`event-${events - 2}`, `event-${events - 1}`, `event-${events}`],
      'each kept once, in order',
    );
    assert.equal(saidOf(/ward-3 relay-keep-failed/).length, 1, 'said once');
    assert.deepEqual(saidOf(/relay-lost/), []);
    for (const name of ['ward-3', 'ward-7']) assert.equal(saidOf(new RegExp(`${name} listening-down`)).length, 1, `${name}: lost said once`);
  });

  it('more webhooks than a cart holds while the database is away: those lost counted and said once it is back', async () => {
    said.length = 0;
    const ward9 = await cart('ward-9', 2);
    const phone = new SimulatedDevice();
    await address.down();
    for (const command of ['CMD-A', 'CMD-B', 'CMD-C']) answer(ward9, phone, command);
    await waitFor('said it could not keep them', () => saidOf(/ward-9 relay-keep-failed/).length > 0, 10_000);
    await address.up();
    await waitFor('the loss said', () => saidOf(/ward-9 relay-lost/).length > 0, 20_000);
    assert.deepEqual(saidOf(/relay-lost/), ['ward-9 relay-lost {"count":1}']);
    const kept = await superuserQuery(standby, 'SELECT event_id FROM checkout_webhooks ORDER BY id DESC LIMIT 2', 'relay');
    assert.deepEqual(kept.map((row) => row.event_id).reverse(), [`event-${events - 1}`, `event-${events}`], 'the two it held kept');
  });
});
