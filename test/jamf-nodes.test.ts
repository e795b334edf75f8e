import assert from 'node:assert/strict';
import type { NodeMessage } from 'node-red';
import type { CodedError } from '../nodes/lib/coded-error';
import { SimulatedJamf } from '../sim/jamf-server';
import { SimulatedDevice } from '../sim/simulated-device';
import { collect, helper, load, reports, send, statuses } from '../harness/node-red';
import { tempDir, waitFor } from '../harness/support';
import { ink } from '../harness/images';
import type { FleetStore } from '../nodes/lib/fleet/fleet-store';
import { APP_LOCK_ATTRIBUTE } from '../nodes/lib/mdm/jamf';
import { APP_LOCK_IDENTIFIER } from '../nodes/lib/mdm/profiles';

const LOCKER = 'org.example.locker';

const SECRETS = { clientId: 'cart-api-client', clientSecret: 'jamf-secret-8d1f44' };

describe('device actions through Jamf Pro in Node-RED', () => {
  let jamf: SimulatedJamf;
  let phone: SimulatedDevice;
  let seen: NodeMessage[];
  const ids = ['erase', 'wifi', 'name', 'passcode', 'delete', 'command', 'enrol'];
  let errors: Record<string, unknown[]>;

  beforeEach(async () => {
    helper.settings({ userDir: tempDir('userdir') }); // the fleet's files, away from the working tree
    jamf = new SimulatedJamf({ ...SECRETS, appLockScope: { attribute: APP_LOCK_ATTRIBUTE, bundleId: LOCKER } });
    await jamf.start();
    phone = new SimulatedDevice({ serial: 'JAMFCART0001' });
    jamf.enrol(phone);
    const action = (id: string, type: string, extra: object = {}) => ({ id, type, fleet: 'fleet', timeout: '3', wires: [['ok']], ...extra });
    await load(
      [
        {
          id: 'mdm',
          type: 'mdm-server',
          vendor: 'jamf',
          url: jamf.url,
          maxConcurrent: '5',
          timeout: '5000',
          webhookPath: 'device-checkout/webhook',
          pollInterval: '100',
        },
        { id: 'fleet', type: 'device-fleet', mdm: 'mdm', lockerApp: LOCKER },
        action('erase', 'erase-device', { preserveDataPlan: false, disallowProximitySetup: true }),
        action('wifi', 'add-wifi', { ssid: 'Ward', security: 'WPA2', hidden: false, autoJoin: true }),
        action('name', 'set-device-name', { deviceName: 'Cart [Hub] - [Port]' }),
        action('passcode', 'clear-passcode'),
        action('delete', 'delete-from-mdm'),
        action('command', 'mdm-command', { command: 'RestartDevice', params: '{"NotifyUser": true}' }),
        action('enrol', 'dep-enroll', { depProxyUrl: '', profileUuid: '', sendDeviceConfigured: false }),
        action('checkout', 'check-out-device', { suppressBlueLed: true }),
        action('wallpaper', 'set-wallpaper', { text: 'Checked Out to [Device User]', background: 'black', where: 'both' }),
        action('checkin', 'check-in-device'),
        { id: 'ok', type: 'helper' },
      ],
      { mdm: SECRETS, wifi: { password: 'wifi-pass' } },
    );
    seen = collect('ok');
    errors = Object.fromEntries(ids.map((id) => [id, reports(id, 'error')]));
  });

  afterEach(async () => {
    await helper.unload();
    helper.settings({});
    await jamf.stop();
    assert.deepEqual(jamf.invalidCommands, []);
  });

  const device = () => ({ udid: phone.udid, hub: 'B', port: 7 });
  const passes = async (id: string, count: number) => waitFor(`${id} passed on`, () => seen.length === count, 5000);

  it('erase-device, then dep-enroll sees the device enrol again', async () => {
    send('erase', { device: device() });
    await passes('erase', 1);
    assert.equal(phone.erasures, 1);
    send('enrol', { device: { udid: phone.udid } });
    await passes('enrol', 2);
    assert.equal((seen[1] as { device: { serial: string } }).device.serial, 'JAMFCART0001');
  });

  it('set-device-name, clear-passcode and mdm-command reach the device', async () => {
    send('name', { device: device() });
    await passes('name', 1);
    assert.equal(phone.name, 'Cart B - 7');
    send('passcode', { device: device() });
    await passes('passcode', 2);
    send('command', { device: device() });
    await passes('command', 3);
    assert.deepEqual(
      phone.executed.map((c) => c.RequestType),
      ['Settings', 'ClearPasscode', 'RestartDevice'],
    );
  });

  it('delete-from-mdm removes the record; add-wifi says Jamf Pro scopes profiles instead', async () => {
    send('delete', { device: device() });
    await passes('delete', 1);
    send('name', { device: device() });
    assert.equal(((await waitFor('unknown now', () => errors.name[0])) as CodedError).code, 'DEVICE_UNKNOWN');
    send('wifi', { device: device() });
    const err = (await waitFor('wifi refused', () => errors.wifi[0])) as CodedError;
    assert.equal(err.code, 'UNSUPPORTED');
    assert.match(err.message, /errors\.jamf-profiles/);
  });

  it('Check In, Check Out and the wallpaper: assigned user, App Lock smart group attribute, Classic wallpaper', async () => {
    const store = (helper.getNode('fleet') as unknown as { fleet: { store: FleetStore } }).fleet.store;
    await store.docked(phone.udid, { hubId: 'hub-b', hub: 'B', port: 7 });
    send('checkin', { device: device() });
    await passes('checkin', 1);
    assert.equal((await store.device(phone.udid))?.status, 'Checked In');
    assert.equal(jamf.inventory(phone)?.extensionAttributes[APP_LOCK_ATTRIBUTE]?.[0], 'Locked');
    await waitFor('the smart group locks the phone', () => phone.profiles.has(APP_LOCK_IDENTIFIER));

    send('checkout', { user: { id: 'alice', name: 'Alice Example' } });
    await passes('checkout', 2);
    assert.deepEqual(jamf.inventory(phone)?.location, { username: 'alice', realName: 'Alice Example' });
    assert.deepEqual(phone.appConfigurations.get(LOCKER), { CheckoutStatus: 'Checked Out', UserId: 'alice', UserName: 'Alice Example' });
    await waitFor('the smart group unlocks the phone', () => !phone.profiles.has(APP_LOCK_IDENTIFIER));

    send('wallpaper', seen[1]);
    await passes('wallpaper', 3);
    await waitFor('lock and home screen set', () => phone.wallpapers.lock && phone.wallpapers.home);
    assert.ok((await ink(phone.wallpapers.lock!)).pixels > 1000);

    send('checkin', { device: device() });
    await passes('checkin', 4);
    assert.deepEqual(jamf.inventory(phone)?.location, { username: '', realName: '' });
    await waitFor('locked again', () => phone.profiles.has(APP_LOCK_IDENTIFIER));
    assert.equal((await store.device(phone.udid))?.user, undefined);
  });

  it('Test connection (the dialog\u2019s button): connected with the saved secret; a wrong one, MDM_AUTH; NanoMDM says it cannot tell before a command', async () => {
    const test = async (body: object) =>
      (await helper.request().post('/device-checkout/mdm-server/test').send(body)).body as { ok: boolean; code?: string; message: string };
    const jamfDialog = { id: 'mdm', vendor: 'jamf', url: jamf.url, pollInterval: '100' };
    assert.deepEqual(await test({ ...jamfDialog, credentials: { clientId: SECRETS.clientId, clientSecret: '__PWRD__' } }), {
      ok: true,
      message: 'mdm-server.test.ok {"vendor":"jamf"}',
    });
    const refused = await test({ ...jamfDialog, credentials: { clientId: SECRETS.clientId, clientSecret: 'typo' } });
    assert.deepEqual([refused.ok, refused.code], [false, 'MDM_AUTH']);
    assert.deepEqual(await test({ vendor: 'nanomdm', url: 'http://127.0.0.1:9', credentials: {} }), { ok: true, message: 'mdm-server.test.no-check' });
  });

  it('never shows the API client secret', async () => {
    const said: unknown[] = [];
    for (const id of [...ids, 'mdm']) said.push(...statuses(id), ...reports(id, 'warn'), ...reports(id, 'log'));
    for (const id of ids.filter((i) => i !== 'enrol')) send(id, { device: device() });
    await waitFor('all answered', () => seen.length + Object.values(errors).flat().length >= ids.length - 1, 8000);
    const text = JSON.stringify([said, seen, Object.values(errors).map((e) => e.map(String))]);
    assert.ok(!text.includes(SECRETS.clientSecret));
    assert.ok(text.length > 200);
  });
});
