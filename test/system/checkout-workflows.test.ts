import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeAPI, NodeMessage } from 'node-red';
import { Client } from 'pg';
import { APP_LOCK_IDENTIFIER } from '../../nodes/lib/mdm/profiles';
import type { FleetStore } from '../../nodes/lib/fleet/fleet-store';
import type { CartScreen } from '../../nodes/lib/cart-screen/cart-screen';
import { webhookHandler } from '../../nodes/mdm-server/webhooks';
import { SimulatedBadgeServer } from '../../sim/badge-server';
import { SimulatedNanoMdm } from '../../sim/nanomdm-server';
import { SimulatedDevice } from '../../sim/simulated-device';
import { PtyHub } from '../../sim/pty-hub';
import { SimulatedCart } from '../../sim/simulated-cart';
import { simulatedUsbmuxd, type SimulatedUsbmuxd } from '../../sim/usbmuxd-server';
import { webhookReceiver } from '../../sim/webhook-receiver';
import { HOSTILE_NAMES, ink } from '../../harness/images';
import { ledHistory } from '../../harness/led-history';
import { cartWatched, stopCartAndFlow } from '../../harness/cart-fixture';
import { collect, helper, packageNodes, send, statuses } from '../../harness/node-red';
import { readOnly, tempDir, waitFor } from '../../harness/support';
import { createCartLogin, createDatabase, startPostgres, type CartLogin, type TestPostgres } from '../../harness/postgres';
import { STAFF } from '../../harness/openldap';
import { BASE, SERVICE_DN, startDirectory, type TestDirectory } from '../../sim/openldap';

// Core nodes the workflows are wired with.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- Node-RED's core nodes are CommonJS files without types
const linkNodes = require('@node-red/nodes/core/common/60-link.js') as (RED: NodeAPI) => void;
// eslint-disable-next-line @typescript-eslint/no-require-imports -- the same
const catchNode = require('@node-red/nodes/core/common/25-catch.js') as (RED: NodeAPI) => void;

const LOCKER = 'org.example.locker';
const SECRETS = { apiKey: 'wf-api-key-4410', webhookSecret: 'wf-hmac-key-77c2' };
const DEADLINE_S = 5; // the shortest deadline the fleet takes
/** Out longer than this (while the first test waits past the deadline), a phone is Overdue. */
const LENDING_S = 1.8;

type Msg = NodeMessage & { device: { udid: string; status: string; user?: string; userName?: string; port: number }; error?: { code: string } };

/**
 * The Check Out and Return workflows of PRODUCT.md, on a simulated cart: the hub over a pty,
 * usbmuxd on a socket, NanoMDM over HTTP with simulated phones, and a badge lookup service.
 */
for (const kind of ['file', 'postgres'] as const) {
  describe(`Check Out and Return workflows on a simulated cart (${kind} store)`, function () {
    this.timeout(60_000);
    /** With the PostgreSQL store: a real server, a new database for each test. */
    let postgres: TestPostgres | undefined;
    let databaseUrl = '';
    /** The cart's login, as the editor sets it: the address in the URL, role and password in the credentials. */
    let login: CartLogin | undefined;
    let mdm: SimulatedNanoMdm;
    let receiver: { url: string; close(): Promise<void> };
    let badges: SimulatedBadgeServer;
    /** The hospital's directory, for sign-ins at the cart (badges go to the lookup service). */
    let directory: TestDirectory;
    let pty: PtyHub;
    let usb: SimulatedUsbmuxd;
    let cart: SimulatedCart;
    let run = 0;
    let seen: Record<'returned' | 'handed' | 'failed' | 'caught' | 'unplugs' | 'alerts', Msg[]>;
    let store: FleetStore;
    let userDir: string;

    before(async () => {
      mdm = new SimulatedNanoMdm(SECRETS);
      await mdm.start();
      receiver = await webhookReceiver((body, signature) => webhookHandler('/device-checkout/webhook')?.(body, signature) ?? 503);
      mdm.webhookUrl = receiver.url;
      badges = new SimulatedBadgeServer(
        new Map([
          ['1001', { user: 'alice', name: 'Alice Example' }],
          ['1002', { user: 'bob' }],
        ]),
      );
      await badges.start();
      directory = await startDirectory(Object.values(STAFF));
      if (kind === 'postgres') postgres = await startPostgres();
    });

    after(async () => {
      await Promise.all([mdm.stop(), receiver.close(), badges.stop(), directory.remove()]);
      await postgres?.stop();
    });

    const flow = () => [
      { id: 'return', type: 'tab', label: 'Return' },
      { id: 'check-out', type: 'tab', label: 'Check Out' },
      { id: 'hub', type: 'smart-hub', name: 'Cart', serialPort: pty.hostPath, baudRate: '115200', pollInterval: '100', model: 'auto' },
      { id: 'mdm', type: 'mdm-server', vendor: 'nanomdm', url: mdm.url, maxConcurrent: '5', timeout: '5000', webhookPath: 'device-checkout/webhook' },
      {
        id: 'fleet',
        type: 'device-fleet',
        mdm: 'mdm',
        usb: `sim:workflows-${kind}-${run}`,
        usbWindow: '1',
        lockerApp: LOCKER,
        checkoutDeadline: String(DEADLINE_S),
        lendingPeriod: String(LENDING_S / 3600),
        lostMode: true,
        lostModeMessage: 'Overdue: please bring phone [Device Serial] back to the cart, [Device User Name].',
        userLimit: '1',
        batteryThreshold: '20',
        badgeLookupUrl: badges.url,
        ldapUrl: directory.url,
        ldapBase: BASE,
        cartScreen: true,
        ...(login && { store: 'postgres', databaseUrl: login.databaseUrl, cart: 'ward-3' }),
      },
      // Return: a dock runs Check In, black wallpaper, Clear Passcode.
      { id: 'in', type: 'hub-input', z: 'return', hub: 'hub', fleet: 'fleet', wires: [['checkin'], ['unplugs']] },
      { id: 'to-return', type: 'link in', z: 'return', links: ['run-return'], wires: [['checkin']] },
      { id: 'checkin', type: 'check-in-device', z: 'return', fleet: 'fleet', timeout: '5', wires: [['black-wallpaper']] },
      {
        id: 'black-wallpaper',
        type: 'set-wallpaper',
        z: 'return',
        fleet: 'fleet',
        text: '',
        background: 'black',
        where: 'lock',
        timeout: '5',
        wires: [['passcode']],
      },
      { id: 'passcode', type: 'clear-passcode', z: 'return', fleet: 'fleet', timeout: '5', wires: [['returned']] },
      { id: 'return-failure', type: 'on-failure', z: 'return', retry: true, maxAttempts: '2', runOther: false, wires: [['checkin'], []] },
      // Check Out: the example's On Failure: no retry, "if still failing, run another workflow" -> Return.
      { id: 'checkout', type: 'check-out-device', z: 'check-out', fleet: 'fleet', suppressBlueLed: true, timeout: '5', wires: [['wallpaper']] },
      {
        id: 'checkout-quick',
        type: 'check-out-device',
        z: 'check-out',
        fleet: 'fleet',
        suppressBlueLed: true,
        timeout: '1',
        unlockPhones: '2',
        wires: [['handed']],
      },
      { id: 'events', type: 'fleet-event', z: 'check-out', fleet: 'fleet', wires: [['alerts']] },
      { id: 'checkout-blue', type: 'check-out-device', z: 'check-out', fleet: 'fleet', suppressBlueLed: false, timeout: '5', wires: [['wallpaper']] },
      {
        id: 'wallpaper',
        type: 'set-wallpaper',
        z: 'check-out',
        fleet: 'fleet',
        text: 'Checked Out to [Device User]',
        background: 'black',
        where: 'lock',
        timeout: '5',
        wires: [['handed']],
      },
      { id: 'checkout-failure', type: 'on-failure', z: 'check-out', retry: false, maxAttempts: '1', runOther: true, wires: [[], ['run-return', 'failed']] },
      { id: 'run-return', type: 'link out', z: 'check-out', mode: 'link', links: ['to-return'], wires: [] },
      { id: 'catch-all', type: 'catch', z: 'check-out', scope: null, uncaught: false, wires: [['caught']] },
      ...['returned', 'unplugs'].map((id) => ({ id, type: 'helper', z: 'return' })),
      ...['handed', 'failed', 'caught', 'alerts'].map((id) => ({ id, type: 'helper', z: 'check-out' })),
    ];

    beforeEach(async () => {
      run++;
      userDir = tempDir('userdir');
      helper.settings({ userDir });
      if (postgres) {
        databaseUrl = await createDatabase(postgres, `workflows_${run}`);
        login = await createCartLogin(postgres, `workflows_${run}`);
      }
      pty = await PtyHub.start(join(tempDir('hub'), 'ttyHUB'), { ports: 8 });
      usb = await simulatedUsbmuxd(`workflows-${kind}-${run}`);
      cart = new SimulatedCart([pty.hub], usb, 100);
      const watched = cartWatched({ pty, usb, cart });
      await helper.load([...packageNodes, linkNodes, catchNode], flow() as Parameters<typeof helper.load>[1], {
        mdm: SECRETS,
        fleet: { ...login?.credentials, ldapBindDn: SERVICE_DN, ldapBindPassword: directory.servicePassword },
      });
      seen = {
        returned: collect('returned'),
        handed: collect('handed'),
        failed: collect('failed'),
        caught: collect('caught'),
        unplugs: collect('unplugs'),
        alerts: collect('alerts'),
      } as typeof seen;
      store = (helper.getNode('fleet') as unknown as { fleet: { store: FleetStore } }).fleet.store;
      await watched();
    });

    afterEach(async () => {
      await stopCartAndFlow({ pty, usb, cart });
      assert.deepEqual(mdm.invalidCommands, [], 'every command sent conforms to Apple\u2019s schema');
    });

    /** A new enrolled phone, docked alone on `port`, through the Return workflow: locked and Checked In. */
    async function dockedPhone(port: number, battery = 0.8): Promise<SimulatedDevice> {
      const phone = new SimulatedDevice({ batteryLevel: battery });
      await mdm.enrol(phone);
      const before = seen.returned.length;
      cart.dock(phone, 0, port);
      await waitFor(`phone on port ${port} checked in`, () => seen.returned.length > before, 10_000);
      return phone;
    }

    const status = async (phone: SimulatedDevice) => (await store.device(phone.udid))?.status;
    const trail = (phone: SimulatedDevice) => store.audit(phone.udid);
    const requestTypes = (phone: SimulatedDevice, from: number) =>
      phone.executed.slice(from).map((c) => (c.RequestType === 'Settings' ? `Settings:${(c.Settings as { Item: string }[])[0].Item}` : c.RequestType));

    it('Check Out by badge, unplug, dock again: statuses, LEDs, MDM commands and the audit trail', async () => {
      const phone = await dockedPhone(2);
      assert.equal(await status(phone), 'Checked In');
      assert.ok(phone.profiles.has(APP_LOCK_IDENTIFIER), 'Check In locked the phone to the locker app');
      assert.deepEqual(phone.appConfigurations.get(LOCKER), { CheckoutStatus: 'Checked In' });
      const executedBefore = phone.executed.length;
      const shown = statuses('checkout');

      send('checkout', { badge: '1001' });
      const [handed] = await waitFor('handed out', () => seen.handed.length === 1 && seen.handed);
      const waiting = shown.at(-1)!;
      assert.deepEqual([waiting.fill, waiting.shape], ['yellow', 'ring'], 'not done while the phone waits in the cart');
      assert.match(String(waiting.text), /check-out-device\.status\.waiting-taken .*"seconds":[1-5]\b/);
      assert.deepEqual(
        [handed.device.udid, handed.device.status, handed.device.user, handed.device.userName],
        [phone.udid, 'Checking Out', 'alice', 'Alice Example'],
      );
      assert.deepEqual(requestTypes(phone, executedBefore), ['Settings:ApplicationConfiguration', 'RemoveProfile', 'Settings:Wallpaper']);
      assert.deepEqual(phone.appConfigurations.get(LOCKER), { CheckoutStatus: 'Checked Out', UserId: 'alice', UserName: 'Alice Example' });
      assert.ok(!phone.profiles.has(APP_LOCK_IDENTIFIER), 'unlocked');
      assert.ok((await ink(phone.wallpapers.lock!)).pixels > 1000, 'the lock screen names her');
      assert.deepEqual(ledHistory(pty.hub, 2), ['release', 'granted', 'ready'], 'green on the badge, flashing white when ready (blue suppressed)');

      cart.unplug(0, 2);
      await waitFor('Checked Out', async () => (await status(phone)) === 'Checked Out');
      await waitFor('LED off', () => ledHistory(pty.hub, 2).at(-1) === 'off');
      await waitFor('the node says it was taken', () => /check-out-device\.status\.taken/.test(String(shown.at(-1)?.text)));
      assert.equal(shown.at(-1)!.fill, 'green');

      await new Promise((resolve) => setTimeout(resolve, DEADLINE_S * 1000 + 300));
      assert.deepEqual(seen.caught, [], 'unplugged in time: no failure when the deadline passes');
      await waitFor('Overdue after the lending period', async () => (await store.device(phone.udid))?.overdue === true);
      await waitFor('in Lost Mode', () => phone.lostMode !== undefined);
      assert.deepEqual(phone.lostMode, {
        Message: `Overdue: please bring phone ${phone.serial} back to the cart, Alice Example.`,
        PhoneNumber: undefined,
        Footnote: undefined,
      });

      const executedAtDock = phone.executed.length;
      cart.dock(phone, 0, 2);
      await waitFor('returned', () => seen.returned.length === 2, 10_000);
      assert.equal(phone.lostMode, undefined, 'Lost Mode lifted at the dock');
      assert.equal(phone.executed[executedAtDock].RequestType, 'DisableLostMode', 'before the Return locks the phone');
      assert.deepEqual(
        seen.alerts.map((a) => [a.topic, a.device.udid]),
        [
          ['overdue', phone.udid],
          ['returned-late', phone.udid],
        ],
      );
      assert.equal((await store.device(phone.udid))?.overdue, undefined, 'checked in: no longer overdue');
      assert.equal(await status(phone), 'Checked In');
      const after = await store.device(phone.udid);
      assert.deepEqual([after?.user, after?.userName], [undefined, undefined], 'Device User and her name cleared');
      assert.ok(phone.profiles.has(APP_LOCK_IDENTIFIER));
      assert.equal((await ink(phone.wallpapers.lock!)).pixels, 0, 'black lock screen: the phone is locked');
      assert.deepEqual(ledHistory(pty.hub, 2).slice(-1), ['release']);
      const statusTrail = (await trail(phone)).filter((e) => e.what === 'status').map((e) => `${e.from}->${e.to}${e.who ? ` (${e.who})` : ''}`);
      assert.deepEqual(statusTrail, [
        'Unknown->Checked In (check-in)',
        'Checked In->Checking Out (alice)',
        'Checking Out->Checked Out (hub)',
        'Checked Out->Checked In (check-in)',
      ]);
    });

    it('Check Out by signing in at the cart (the directory checks her password): a wrong one unlocks nothing; the right one, her name on the phone', async () => {
      const { joerg } = STAFF;
      const phone = await dockedPhone(3);
      const executedBefore = phone.executed.length;
      send('checkout', { user: joerg.user, password: 'not-my-password' });
      await waitFor('refused', () => seen.caught.length === 1);
      assert.equal(seen.caught[0].error!.code, 'SIGN_IN_FAILED');
      assert.deepEqual(
        [await status(phone), phone.executed.length, ledHistory(pty.hub, 3).at(-1)],
        ['Checked In', executedBefore, 'release'],
        'nothing unlocked, no LED',
      );
      send('checkout', { user: joerg.user, password: joerg.password });
      const [handed] = await waitFor('handed out', () => seen.handed.length === 1 && seen.handed);
      assert.deepEqual([handed.device.udid, handed.device.user, handed.device.userName], [phone.udid, joerg.user, joerg.name]);
      assert.deepEqual(phone.appConfigurations.get(LOCKER), { CheckoutStatus: 'Checked Out', UserId: joerg.user, UserName: joerg.name });
      assert.ok(!JSON.stringify([...seen.handed, ...seen.caught]).includes(joerg.password), 'the password travels no further');
      cart.unplug(0, 3);
      await waitFor('Checked Out', async () => (await status(phone)) === 'Checked Out');
    });

    it('not unplugged within the deadline: UNPLUG_TIMEOUT, and On Failure runs the Return workflow', async () => {
      const phone = await dockedPhone(3);
      send('checkout', { user: 'carol' });
      await waitFor('handed out', () => seen.handed.length === 1);
      const [caught] = await waitFor('the deadline fails the check-out', () => seen.caught.length === 1 && seen.caught, 10_000);
      assert.equal(caught.error!.code, 'UNPLUG_TIMEOUT');
      const audited = await trail(phone);
      const statusAt = (to: string) => Date.parse(audited.find((e) => e.what === 'status' && e.to === to)!.at);
      assert.ok(statusAt('Failed') - statusAt('Checking Out') >= DEADLINE_S * 1000, 'not before the deadline');
      const [failed] = await waitFor('on-failure output 2', () => seen.failed.length === 1 && seen.failed);
      assert.deepEqual([failed.error!.code, failed.device.udid], ['UNPLUG_TIMEOUT', phone.udid]);
      await waitFor('Return workflow ran', () => seen.returned.length === 2, 10_000);
      assert.equal(await status(phone), 'Checked In');
      assert.ok(phone.profiles.has(APP_LOCK_IDENTIFIER), 'locked again');
      assert.deepEqual(ledHistory(pty.hub, 3), ['release', 'granted', 'ready', 'error', 'release']);
      const statuses = (await trail(phone)).filter((e) => e.what === 'status').map((e) => e.to);
      assert.deepEqual(statuses, ['Checked In', 'Checking Out', 'Failed', 'Checked In']);
    });

    it('two badge taps racing for one cart: one phone unlocks, the other tap gets CART_BUSY; then the per-user limit', async () => {
      const lookupsBefore = badges.lookups;
      const low = await dockedPhone(4, 0.5);
      const high = await dockedPhone(5, 0.9);
      send('checkout', { badge: '1001' });
      send('checkout', { badge: '1002' });
      await waitFor('one handed, one refused', () => seen.handed.length === 1 && seen.caught.length === 1);
      assert.equal(seen.caught[0].error!.code, 'CART_BUSY');
      const first = seen.handed[0];
      assert.equal(first.device.udid, high.udid, 'the most charged phone first');
      cart.unplug(0, first.device.port);
      await waitFor('Checked Out', async () => (await status(high)) === 'Checked Out');

      send('checkout', { badge: first.device.user === 'alice' ? '1001' : '1002' });
      await waitFor('refused', () => seen.caught.length === 2);
      assert.equal(seen.caught[1].error!.code, 'USER_HAS_DEVICE');
      send('checkout', { badge: '9999' });
      await waitFor('refused', () => seen.caught.length === 3);
      assert.equal(seen.caught[2].error!.code, 'BADGE_NOT_FOUND');
      send('checkout', { badge: first.device.user === 'alice' ? '1002' : '1001' });
      await waitFor('the other user gets the other phone', () => seen.handed.length === 2);
      assert.equal(seen.handed[1].device.udid, low.udid);
      assert.equal(badges.lookups - lookupsBefore, 5);
    });

    it('a phone that does not unlock costs one retry: released (Failed, amber, unlock-failed), the same tap hands out the next phone, and the first is locked again when it wakes', async () => {
      const silent = await dockedPhone(4, 0.9);
      const next = await dockedPhone(5, 0.5);
      silent.silent = true;
      send('checkout-quick', { badge: '1001' });
      const [handed] = await waitFor('the next phone handed out', () => seen.handed.length === 1 && seen.handed, 10_000);
      assert.deepEqual([handed.device.udid, handed.device.status, handed.device.user], [next.udid, 'Checking Out', 'alice']);
      assert.deepEqual(next.appConfigurations.get(LOCKER), { CheckoutStatus: 'Checked Out', UserId: 'alice', UserName: 'Alice Example' });
      assert.equal(await status(silent), 'Failed');
      assert.deepEqual(ledHistory(pty.hub, 4), ['release', 'granted', 'error'], 'the silent phone\u2019s port: amber');
      assert.deepEqual(ledHistory(pty.hub, 5), ['release', 'granted', 'ready']);
      const [alert] = await waitFor('unlock-failed event', () => seen.alerts.length > 0 && seen.alerts);
      assert.deepEqual(
        [alert.topic, alert.device.udid, (alert.payload as { why: string }).why],
        ['unlock-failed', silent.udid, 'UNLOCK_FAILED: DEVICE_TIMEOUT'],
      );
      assert.ok((await trail(silent)).some((e) => e.what === 'status' && e.to === 'Failed' && e.why === 'UNLOCK_FAILED: DEVICE_TIMEOUT'));
      assert.deepEqual(seen.caught, [], 'the person was not refused');
      const screen = (helper.getNode('fleet') as unknown as { fleet: { screen: CartScreen } }).fleet.screen.view().state;
      assert.deepEqual([screen.kind, (screen as { port?: number }).port], ['welcome', 5], 'the cart\u2019s screen sends her to the phone that unlocked');

      silent.silent = false;
      mdm.wake(silent.udid);
      await waitFor(
        'the late phone locked again',
        () => silent.appConfigurations.get(LOCKER)?.CheckoutStatus === 'Checked In' && silent.profiles.has(APP_LOCK_IDENTIFIER),
      );
    });

    it('tries at most the set number of phones in one tap: UNLOCK_FAILED, the others untouched; none left to try: UNLOCK_FAILED too', async () => {
      const phones = [await dockedPhone(4, 0.9), await dockedPhone(5, 0.8), await dockedPhone(6, 0.5)];
      phones[0].silent = phones[1].silent = true;
      send('checkout-quick', { user: 'erin' });
      const [caught] = await waitFor('refused', () => seen.caught.length === 1 && seen.caught, 10_000);
      assert.equal(caught.error!.code, 'UNLOCK_FAILED');
      assert.deepEqual(await Promise.all(phones.map(status)), ['Failed', 'Failed', 'Checked In']);
      assert.deepEqual(
        seen.alerts.filter((a) => a.topic === 'unlock-failed').map((a) => a.device.udid),
        [phones[0].udid, phones[1].udid],
      );
      assert.deepEqual(seen.handed, []);

      phones[2].silent = true;
      send('checkout-quick', { user: 'frank' });
      const [last] = await waitFor('refused', () => seen.caught.length === 2 && seen.caught.slice(1), 10_000);
      assert.equal(last.error!.code, 'UNLOCK_FAILED', 'no other phone to hand out: told that hers did not unlock');
      assert.equal(await status(phones[2]), 'Failed');
    });

    it('blue LED while the MDM works when not suppressed', async () => {
      await dockedPhone(6);
      send('checkout-blue', { user: 'dave' });
      await waitFor('handed out', () => seen.handed.length === 1);
      assert.deepEqual(ledHistory(pty.hub, 6), ['release', 'granted', 'deploying', 'ready']);
    });

    it('hostile usernames reach the locker app exactly and fit the wallpaper', async () => {
      const phone = await dockedPhone(7);
      for (const [i, name] of HOSTILE_NAMES.entries()) {
        send('checkout', { user: name });
        await waitFor(`handed out to ${name.slice(0, 12)}`, () => seen.handed.length === i + 1);
        assert.deepEqual(phone.appConfigurations.get(LOCKER), { CheckoutStatus: 'Checked Out', UserId: name.trim(), UserName: name.trim() });
        const { box } = await ink(phone.wallpapers.lock!);
        assert.ok(box && box.left >= 1179 * 0.08 - 2 && box.right <= 1179 * 0.92 + 2, `${name.slice(0, 12)}: the wallpaper text fits`);
        cart.unplug(0, 7);
        await waitFor('Checked Out', async () => (await status(phone)) === 'Checked Out');
        cart.dock(phone, 0, 7);
        await waitFor('returned', () => seen.returned.length === i + 2, 10_000);
      }
      assert.deepEqual(seen.caught, []);
    });

    const fleetDir = () => join(userDir, 'device-checkout');
    const everyFileIn = (dir: string) =>
      readdirSync(dir)
        .map((f) => readFileSync(join(dir, f), 'utf8'))
        .join('\n');
    /** All the fleet keeps: its files, and with PostgreSQL every row of its tables. */
    const everythingKept = async (): Promise<string> => {
      if (!postgres) return everyFileIn(fleetDir());
      const db = new Client({ connectionString: databaseUrl });
      await db.connect();
      try {
        const tables = ['checkout_devices', 'checkout_deadlines', 'checkout_audit'];
        const rows: string[] = [];
        for (const table of tables)
          rows.push(...(await db.query<{ row: string }>(`SELECT row_to_json(t)::text AS row FROM ${table} t`)).rows.map((r) => r.row));
        return [everyFileIn(fleetDir()), ...rows].join('\n');
      } finally {
        await db.end();
      }
    };
    const lastCaught = (n: number) => waitFor(`${n} caught`, () => seen.caught.length === n && seen.caught[n - 1]);

    // A disk that refuses writes: the file store's fault (the database's are in postgres-fleet.test.ts).
    if (kind === 'file') {
      it('a disk that refuses writes fails that one tap with STORAGE_FAILED naming the file, shows on the nodes, loses nothing, and heals', async () => {
        const phone = await dockedPhone(2);
        const checkoutStatus = statuses('checkout');
        const onDisk = () =>
          (JSON.parse(readFileSync(join(fleetDir(), 'fleet-fleet.json'), 'utf8')) as { devices: Record<string, { status: string }> }).devices[phone.udid]
            .status;
        const writable = readOnly(fleetDir());
        try {
          send('checkout', { user: 'dora' });
          const caught = await lastCaught(1);
          assert.equal(caught.error!.code, 'STORAGE_FAILED');
          assert.match(String((caught.error as { message?: string }).message), /fleet-fleet\.json/);
          assert.deepEqual([await status(phone), onDisk()], ['Checked In', 'Checked In'], 'memory and disk agree: nothing was reserved');
          await waitFor('the fleet\u2019s users show it', () => checkoutStatus.some((s) => /storage-failed/.test(s.text ?? '')));
          send('checkout', { user: 'dora' });
          assert.equal((await lastCaught(2)).error!.code, 'STORAGE_FAILED', 'the next tap fails the same way: no CART_BUSY left behind');
        } finally {
          writable();
        }
        assert.deepEqual(
          readdirSync(fleetDir()).filter((f) => f.endsWith('.tmp')),
          [],
          'no temporary file left',
        );
        await waitFor('healed: the status clears', () => checkoutStatus.at(-1)?.text === undefined, 12_000);
        send('checkout', { user: 'dora' });
        await waitFor('handed out once the disk is back', () => seen.handed.length === 1);
        assert.equal(onDisk(), 'Checking Out');
      });

      it('a deadline that expires on a read-only disk does not take Node-RED down; the check-out fails once the disk is back', async () => {
        const phone = await dockedPhone(3);
        send('checkout', { user: 'carol' });
        await waitFor('handed out', () => seen.handed.length === 1);
        const writable = readOnly(fleetDir());
        try {
          await new Promise((resolve) => setTimeout(resolve, DEADLINE_S * 1000 + 1500));
          assert.equal(await status(phone), 'Checking Out', 'the failure could not be written, so nothing changed');
          assert.deepEqual(seen.caught, []);
        } finally {
          writable();
        }
        const caught = await lastCaught(1);
        assert.equal(caught.error!.code, 'UNPLUG_TIMEOUT');
        await waitFor('Return workflow ran', () => seen.returned.length === 2, 15_000);
        assert.equal(await status(phone), 'Checked In');
      });
    }

    it('refuses a user id of 200,000 characters, and one with a NUL, with INVALID_USER', async () => {
      await dockedPhone(4);
      send('checkout', { user: 'x'.repeat(200_000) });
      assert.equal((await lastCaught(1)).error!.code, 'INVALID_USER');
      send('checkout', { user: 'eve\u0000' });
      assert.equal((await lastCaught(2)).error!.code, 'INVALID_USER');
      send('checkout', { user: { id: 'eve', name: 'E'.repeat(200_000) } });
      assert.equal((await lastCaught(3)).error!.code, 'INVALID_USER');
      assert.deepEqual(seen.handed, []);
    });

    it('one person is one person however the id is written: case, compatibility forms and invisible characters count once', async () => {
      const [first] = [await dockedPhone(4), await dockedPhone(5)];
      send('checkout', { user: 'user1' });
      await waitFor('handed out', () => seen.handed.length === 1);
      cart.unplug(0, seen.handed[0].device.port);
      await waitFor('Checked Out', async () => (await store.devices()).some((d) => d.status === 'Checked Out'));
      for (const [i, id] of ['USER1', 'user1\u200B', '\u202Euser1', 'ｕｓｅｒ1', ' User1 '].entries()) {
        send('checkout', { user: id });
        const caught = await lastCaught(i + 1);
        assert.equal(caught.error!.code, 'USER_HAS_DEVICE', JSON.stringify(id));
      }
      assert.equal(seen.handed.length, 1);
      assert.ok(first);
    });

    it('the badge id goes nowhere after the lookup: not in the fleet\u2019s files, the message passed on, or a refusal', async () => {
      await dockedPhone(6);
      send('checkout', { badge: '1001', payload: { badge: '1001', ward: '3' }, topic: '1001' });
      const [handed] = await waitFor('handed out', () => seen.handed.length === 1 && seen.handed);
      assert.ok(!JSON.stringify(handed).includes('1001'), JSON.stringify(handed));
      assert.deepEqual(handed.payload, { ward: '3' });
      assert.ok(!(await everythingKept()).includes('1001'), 'nothing the fleet keeps holds it');
      send('checkout', { badge: '1001', payload: { badge: '1001' } });
      const caught = await lastCaught(1);
      assert.equal(caught.error!.code, 'CART_BUSY', 'refused after the lookup');
      assert.ok(!JSON.stringify({ ...caught, error: undefined }).includes('1001'));
    });

    it('a Return whose Clear Passcode failed leaves the phone Failed, never handed out with the old passcode', async () => {
      const phone = await dockedPhone(7);
      send('checkout', { user: 'gina' });
      await waitFor('handed out', () => seen.handed.length === 1);
      cart.unplug(0, 7);
      await waitFor('Checked Out', async () => (await status(phone)) === 'Checked Out');
      phone.unlockToken = randomBytes(32); // the token the MDM knows no longer clears the passcode
      cart.dock(phone, 0, 7);
      await waitFor(
        'the Return gave up',
        async () => (await status(phone)) === 'Failed' && (await trail(phone)).filter((e) => e.to === 'Failed').length === 2,
        20_000,
      );
      assert.equal(seen.returned.length, 1, 'the Return never finished');
      send('checkout', { user: 'hank' });
      assert.equal((await lastCaught(1)).error!.code, 'NO_DEVICE_AVAILABLE');
      await waitFor('amber LED: look at me', () => ledHistory(pty.hub, 7).at(-1) === 'error');
    });
  });
}
