import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { NodeMessage } from 'node-red';
import { APP_LOCK_IDENTIFIER } from '../../nodes/lib/mdm/profiles';
import type { FleetStore } from '../../nodes/lib/fleet/fleet-store';
import { PtyHub } from '../../sim/pty-hub';
import { SimulatedCart } from '../../sim/simulated-cart';
import { SimulatedDevice } from '../../sim/simulated-device';
import { simulatedUsbmuxd, type SimulatedUsbmuxd } from '../../sim/usbmuxd-server';
import { ink } from '../../harness/images';
import { cartNodes, cartWatched, fleetAction, LOCKER_APP, stopCartAndFlow } from '../../harness/cart-fixture';
import { collect, helper, packageNodes, send } from '../../harness/node-red';
import { tempDir, waitFor } from '../../harness/support';
import { createCartLogin, createDatabase, startPostgres, type CartLogin, type TestPostgres } from '../../harness/postgres';
import { intuneMdm, workspaceOneMdm, type VendorMdm } from '../../harness/mdm-vendors';

const LOCKER = LOCKER_APP;
/** Out longer than this, a phone is Overdue (and sent into Lost Mode). */
const LENDING_S = 2;

type Msg = NodeMessage & { device: { udid: string; status: string; user?: string } };

/**
 * Check Out and Return end to end through the MDMs a hospital already runs, on a simulated
 * cart (hub over a pty, usbmuxd), with the fleet in a file or on PostgreSQL.
 */
for (const [name, startMdm] of [
  ['Workspace ONE UEM', workspaceOneMdm],
  ['Microsoft Intune', () => intuneMdm(LOCKER)],
] as const) {
  for (const kind of ['file', 'postgres'] as const) {
    describe(`Check Out and Return through ${name} (${kind} store)`, function () {
      this.timeout(60_000);
      let mdm: VendorMdm;
      let postgres: TestPostgres | undefined;
      let pty: PtyHub;
      let usb: SimulatedUsbmuxd;
      let cart: SimulatedCart;
      let store: FleetStore;
      let seen: Record<'returned' | 'handed', Msg[]>;
      let run = 0;

      before(async () => {
        if (kind === 'postgres') postgres = await startPostgres();
      });
      after(async () => postgres?.stop());

      beforeEach(async () => {
        run++;
        mdm = await startMdm();
        helper.settings({ userDir: tempDir('userdir') });
        let login: CartLogin | undefined;
        if (postgres) {
          await createDatabase(postgres, `vendor_${run}`);
          login = await createCartLogin(postgres, `vendor_${run}`);
        }
        pty = await PtyHub.start(join(tempDir('hub'), 'ttyHUB'), { ports: 8 });
        usb = await simulatedUsbmuxd(`${mdm.vendor}-${kind}-${run}`);
        cart = new SimulatedCart([pty.hub], usb, 100);
        const watched = cartWatched({ pty, usb, cart });
        await helper.load(
          packageNodes,
          [
            ...cartNodes(pty, mdm, `sim:${mdm.vendor}-${kind}-${run}`, {
              checkoutDeadline: '30',
              lendingPeriod: String(LENDING_S / 3600),
              lostMode: true,
              lostModeMessage: 'Overdue: bring [Device Serial] back, [Device User Name].',
              ...(login && { store: 'postgres', databaseUrl: login.databaseUrl, cart: 'ward-1' }),
            }),
            // Where the MDM sets no wallpaper per phone (Intune), the workflows go without that step.
            ...(mdm.wallpapers
              ? [
                  fleetAction('checkin', 'check-in-device', 'locked-screen'),
                  fleetAction('locked-screen', 'set-wallpaper', 'passcode', { text: '', background: 'black', where: 'lock' }),
                  fleetAction('checkout', 'check-out-device', 'wallpaper', { suppressBlueLed: true }),
                  fleetAction('wallpaper', 'set-wallpaper', 'handed', { text: 'Checked Out to [Device User Name]', background: 'black', where: 'lock' }),
                ]
              : [fleetAction('checkin', 'check-in-device', 'passcode'), fleetAction('checkout', 'check-out-device', 'handed', { suppressBlueLed: true })]),
            fleetAction('passcode', 'clear-passcode', 'returned'),
            { id: 'returned', type: 'helper' },
            { id: 'handed', type: 'helper' },
          ] as never,
          { mdm: mdm.credentials, ...(login && { fleet: login.credentials }) } as never,
        );
        seen = { returned: collect('returned') as Msg[], handed: collect('handed') as Msg[] };
        store = (helper.getNode('fleet') as unknown as { fleet: { store: FleetStore } }).fleet.store;
        await watched();
      });

      afterEach(async () => {
        await stopCartAndFlow({ pty, usb, cart });
        assert.deepEqual(mdm.invalidCommands(), [], 'every Apple command conforms to Apple\u2019s schema');
        await mdm.stop();
      });

      const status = async (phone: SimulatedDevice) => (await store.device(phone.udid))?.status;

      it('docked: locked and Checked In; a tap unlocks it with her name on the lock screen; kept too long: Overdue, Lost Mode; docked again: lifted, locked, Checked In', async () => {
        const phone = new SimulatedDevice({ serial: 'VENDORE2E001' });
        await mdm.enrol(phone);
        cart.dock(phone, 0, 3);
        await waitFor('returned', () => seen.returned.length === 1, 20_000);
        assert.equal(await status(phone), 'Checked In');
        assert.ok(phone.profiles.has(APP_LOCK_IDENTIFIER), 'locked to the locker app');
        assert.deepEqual(phone.appConfigurations.get(LOCKER), { CheckoutStatus: 'Checked In' });

        send('checkout', { user: { id: 'alice', name: 'Alice Example' } });
        await waitFor('handed out', () => seen.handed.length === 1, 20_000);
        assert.deepEqual([seen.handed[0].device.udid, seen.handed[0].device.user], [phone.udid, 'alice']);
        assert.ok(!phone.profiles.has(APP_LOCK_IDENTIFIER), 'unlocked');
        if (mdm.wallpapers) assert.ok((await ink(phone.wallpapers.lock!)).pixels > 1000, 'her name on the lock screen');
        else assert.equal(phone.appConfigurations.get(LOCKER)?.UserName, 'Alice Example', 'her name in the locker app');
        cart.unplug(0, 3);
        await waitFor('Checked Out', async () => (await status(phone)) === 'Checked Out');
        await waitFor('Overdue, in Lost Mode', () => phone.lostMode !== undefined, 20_000);
        assert.equal(phone.lostMode?.Message, 'Overdue: bring VENDORE2E001 back, Alice Example.');

        const before = phone.executed.length;
        cart.dock(phone, 0, 3);
        await waitFor('returned again', () => seen.returned.length === 2, 20_000);
        assert.equal(phone.executed[before].RequestType, 'DisableLostMode', 'Lost Mode lifted first');
        assert.equal(phone.lostMode, undefined);
        assert.deepEqual([await status(phone), (await store.device(phone.udid))?.user], ['Checked In', undefined]);
        assert.ok(phone.profiles.has(APP_LOCK_IDENTIFIER), 'locked again');
        if (mdm.wallpapers) assert.equal((await ink(phone.wallpapers.lock!)).pixels, 0, 'black lock screen');
        assert.deepEqual(phone.appConfigurations.get(LOCKER), { CheckoutStatus: 'Checked In' });
        assert.ok(
          phone.executed.some((c) => c.RequestType === 'ClearPasscode'),
          'passcode cleared',
        );
      });
    });
  }
}
