import assert from 'node:assert/strict';
import type { NodeMessage } from 'node-red';
import type { CodedError } from '../nodes/lib/coded-error';
import type { FleetStore } from '../nodes/lib/fleet/fleet-store';
import { APP_LOCK_IDENTIFIER } from '../nodes/lib/mdm/profiles';
import type { SimulatedIntune, SimulatedIntuneOptions } from '../sim/intune-server';
import { SimulatedDevice } from '../sim/simulated-device';
import { collect, helper, load, reports, send, statuses } from '../harness/node-red';
import { INTUNE, startIntune } from '../harness/mdm-vendors';
import { tempDir, waitFor } from '../harness/support';

const LOCKER = 'org.example.locker';
const { checkedOutGroup, lockedGroup } = INTUNE;

/** Every action node through Microsoft Intune (Graph, simulated after its reference pages), in a real Node-RED. */
describe('device actions through Microsoft Intune in Node-RED', function () {
  this.timeout(20_000);
  let intune: SimulatedIntune;
  let phone: SimulatedDevice;
  let seen: NodeMessage[];
  const ids = ['erase', 'wifi', 'name', 'passcode', 'delete', 'command', 'enrol', 'checkout', 'wallpaper', 'checkin', 'query', 'bare-checkin'];
  let errors: Record<string, unknown[]>;

  async function start(options: Partial<SimulatedIntuneOptions> = {}, others = 0): Promise<void> {
    helper.settings({ userDir: tempDir('userdir') });
    intune = await startIntune(LOCKER, options);
    // The cart's phone is not on the device list's first page.
    for (let i = 0; i < others; i++) intune.enrol(new SimulatedDevice({ serial: `OTHER${i}` }));
    phone = new SimulatedDevice({ serial: 'INTCART00001' });
    intune.enrol(phone);
    const mdm = (id: string, extra: object) => ({
      id,
      type: 'mdm-server',
      vendor: 'intune',
      url: intune.url,
      tokenUrl: intune.url,
      tenantId: INTUNE.tenantId,
      maxConcurrent: '5',
      timeout: '5000',
      webhookPath: 'device-checkout/webhook',
      pollInterval: '100',
      ...extra,
    });
    const action = (id: string, type: string, extra: object = {}) => ({ id, type, fleet: 'fleet', timeout: '5', wires: [['ok']], ...extra });
    await load(
      [
        mdm('mdm', { checkedOutGroup, lockedGroup }),
        mdm('mdm-bare', { url: `${intune.url}/`, checkedOutGroup: '', lockedGroup: '' }),
        { id: 'fleet', type: 'device-fleet', mdm: 'mdm', lockerApp: LOCKER },
        { id: 'fleet-bare', type: 'device-fleet', mdm: 'mdm-bare', lockerApp: LOCKER },
        action('erase', 'erase-device', { preserveDataPlan: true, disallowProximitySetup: false, returnToService: false }),
        action('wifi', 'add-wifi', { ssid: 'Ward', security: 'WPA2', hidden: false, autoJoin: true }),
        action('name', 'set-device-name', { deviceName: 'Cart [Hub] - [Port]' }),
        action('passcode', 'clear-passcode'),
        action('delete', 'delete-from-mdm'),
        action('command', 'mdm-command', { command: 'RestartDevice', params: '{"NotifyUser": true}' }),
        action('query', 'mdm-command', { command: 'DeviceInformation', params: '{"Queries": ["OSVersion", "SerialNumber", "BatteryLevel"]}' }),
        action('enrol', 'dep-enroll', { depProxyUrl: '', profileUuid: '', sendDeviceConfigured: false }),
        action('checkout', 'check-out-device', { suppressBlueLed: true }),
        action('wallpaper', 'set-wallpaper', { text: 'Ward 3', background: 'black', where: 'lock' }),
        action('checkin', 'check-in-device'),
        action('bare-checkin', 'check-in-device', { fleet: 'fleet-bare' }),
        { id: 'ok', type: 'helper' },
      ],
      {
        mdm: { clientId: INTUNE.clientId, clientSecret: INTUNE.clientSecret },
        'mdm-bare': { clientId: INTUNE.clientId, clientSecret: INTUNE.clientSecret },
        wifi: { password: 'wifi-pass' },
      },
    );
    seen = collect('ok');
    errors = Object.fromEntries(ids.map((id) => [id, reports(id, 'error')]));
  }

  afterEach(async () => {
    await helper.unload();
    helper.settings({});
    await intune.stop();
    assert.deepEqual(intune.invalidCommands, [], 'every Apple command reaching the phone conforms to Apple\u2019s schema');
  });

  const device = () => ({ udid: phone.udid, hub: 'B', port: 7 });
  const passes = async (count: number) => waitFor(`${count} passed on`, () => seen.length === count, 8000);
  const failure = async (id: string) => (await waitFor(`an error from ${id}`, () => errors[id][0], 8000)) as CodedError;
  const codeOf = async (id: string) => (await failure(id)).code;
  const fleetStore = () => (helper.getNode('fleet') as unknown as { fleet: { store: FleetStore } }).fleet.store;

  it('erase-device (Graph wipe, the eSIM plan kept), the record gone with it; dep-enroll finds the phone enrolled again, on a later page of the device list', async () => {
    await start({ pageSize: 2 }, 3);
    send('erase', { device: device() });
    await passes(1);
    assert.deepEqual(phone.executed[0], { RequestType: 'EraseDevice', PreserveDataPlan: true });
    send('enrol', { device: { udid: phone.udid } });
    await passes(2);
    assert.equal((seen[1] as { device: { serial: string } }).device.serial, 'INTCART00001');
    assert.ok(
      intune.requests.some((r) => r.path.endsWith('/managedDevices') && r.status === 200),
      'the device list read, page after page',
    );
  });

  it('set-device-name, clear-passcode (Intune keeps the unlock token), a restart and a query (a sync, then the inventory) as Graph device actions', async () => {
    await start();
    for (const [i, id] of ['name', 'passcode', 'command', 'query'].entries()) {
      send(id, { device: device() });
      await passes(i + 1);
    }
    assert.equal(phone.name, 'Cart B - 7');
    assert.deepEqual(
      phone.executed.map((c) => c.RequestType),
      ['Settings', 'ClearPasscode', 'RestartDevice'],
    );
    assert.deepEqual((seen[3] as { payload: { QueryResponses: object } }).payload.QueryResponses, {
      OSVersion: phone.osVersion,
      SerialNumber: 'INTCART00001',
      BatteryLevel: 0.8,
    });
    assert.ok(
      intune.requests.some((r) => r.method === 'POST' && r.path.endsWith('/syncDevice')),
      'the phone asked to report',
    );
  });

  it('Check In and Check Out move the phone between the groups: the kiosk profile locks it, the app configuration names her (her primary user); one not in Entra ID: no name', async () => {
    await start();
    await fleetStore().docked(phone.udid, { hubId: 'hub-b', hub: 'B', port: 7 });
    send('checkin', { device: device() });
    await passes(1);
    assert.deepEqual(intune.groupsOf(phone), [lockedGroup]);
    assert.ok(phone.profiles.has(APP_LOCK_IDENTIFIER), 'locked to the locker app by the locked group\u2019s kiosk profile');
    assert.deepEqual(phone.appConfigurations.get(LOCKER), { CheckoutStatus: 'Checked In' });

    send('checkout', { user: { id: 'alice', name: 'Alice Example' } });
    await passes(2);
    assert.deepEqual(intune.groupsOf(phone), [checkedOutGroup]);
    assert.ok(!phone.profiles.has(APP_LOCK_IDENTIFIER), 'unlocked');
    assert.equal(intune.primaryUserOf(phone), 'alice.example@ward-hospital.org', 'found by her on-premises account name');
    assert.deepEqual(phone.appConfigurations.get(LOCKER), {
      CheckoutStatus: 'Checked Out',
      UserId: 'alice.example@ward-hospital.org',
      UserName: 'Alice Example',
    });

    send('checkin', { device: device() });
    await passes(3);
    assert.deepEqual([intune.groupsOf(phone), intune.primaryUserOf(phone)], [[lockedGroup], undefined]);
    // A name with a quote stays a value in Graph's filter; nobody by it in Entra ID: no primary user, the phone still goes out.
    send('checkout', { user: { id: "o'brien' or userPrincipalName eq 'bob@ward-hospital.org" } });
    await passes(4);
    assert.equal(intune.primaryUserOf(phone), undefined);
    assert.deepEqual(phone.appConfigurations.get(LOCKER), { CheckoutStatus: 'Checked Out', UserId: '', UserName: '' });
  });

  it('what Intune does not do per device says what to set up instead: App Lock without the groups, a Wi-Fi profile, a wallpaper, Return to Service', async () => {
    await start();
    await fleetStore().docked(phone.udid, { hubId: 'hub-b', hub: 'B', port: 7 });
    send('bare-checkin', { device: device() });
    const lock = await failure('bare-checkin');
    assert.deepEqual([lock.code, /intune-no-groups-app-lock/.test(lock.message)], ['UNSUPPORTED', true]);
    send('wifi', { device: device() });
    assert.match((await failure('wifi')).message, /intune-profiles/);
    send('wallpaper', { device: device() });
    const wallpaper = await failure('wallpaper');
    assert.deepEqual([wallpaper.code, /intune-no-setting.*Wallpaper/.test(wallpaper.message)], ['UNSUPPORTED', true]);
    const adapter = (helper.getNode('mdm') as unknown as { adapter: { perform(u: string, c: object, o: object): Promise<unknown> } }).adapter;
    await assert.rejects(
      adapter.perform(phone.udid, { CommandUUID: 'x', Command: { RequestType: 'EraseDevice', ReturnToService: { Enabled: true } } }, { timeout: 1000 }),
      (err: CodedError) => err.code === 'UNSUPPORTED' && /intune-no-rts/.test(err.message),
    );
    assert.deepEqual(phone.executed, [], 'nothing reached the phone');
  });

  it('a token that expires mid-workflow is renewed before it is used; one revoked is renewed once on 401', async () => {
    await start({ tokenLifetime: 30 }); // renewed 30 s before expiry: every request finds it due
    send('name', { device: device() });
    await passes(1);
    assert.ok(intune.tokensIssued >= 2, `renewed as it neared expiry (${intune.tokensIssued} tokens)`);
    await helper.unload();
    await intune.stop();
    await start();
    send('name', { device: device() });
    await passes(1);
    intune.revokeTokens();
    send('passcode', { device: device() });
    await passes(2);
    assert.equal(intune.tokensIssued, 2, 'one token, then one more after the revocation');
  });

  it('throttled (200 writes in 20 s, here 2 in 2 s: 429 with Retry-After) and a 503: waited for and done; Graph down: MDM_UNREACHABLE', async () => {
    await start({ writeLimit: { requests: 2, seconds: 2 } });
    intune.faults = [{ status: 503, times: 1 }];
    for (const [i, id] of ['name', 'passcode', 'command'].entries()) {
      send(id, { device: device() });
      await passes(i + 1);
    }
    assert.ok(intune.requests.some((r) => r.status === 429) && intune.requests.some((r) => r.status === 503), 'throttled once at least');
    assert.deepEqual(
      phone.executed.map((c) => c.RequestType),
      ['Settings', 'ClearPasscode', 'RestartDevice'],
      'each action once',
    );
    await intune.stop();
    send('name', { device: device() });
    assert.equal(await codeOf('name'), 'MDM_UNREACHABLE');
  });

  it('an unknown phone: DEVICE_UNKNOWN; a next page on another host is not followed (it would carry the token); wrong secret: MDM_AUTH', async () => {
    await start({ pageSize: 1 }, 1);
    intune.nextLinkOrigin = 'http://127.0.0.2:9';
    send('name', { device: device() });
    const elsewhere = await failure('name');
    assert.deepEqual([elsewhere.code, /intune-next-link/.test(elsewhere.message)], ['MDM_PROTOCOL', true]);
    intune.nextLinkOrigin = undefined;
    send('passcode', { device: { udid: 'NO-SUCH-PHONE' } });
    assert.equal(await codeOf('passcode'), 'DEVICE_UNKNOWN');
    (intune as unknown as { options: { clientSecret: string } }).options.clientSecret = 'rotated';
    intune.revokeTokens();
    send('command', { device: device() });
    const auth = await failure('command');
    assert.deepEqual([auth.code, /intune-token-secret.*7000215/.test(auth.message)], ['MDM_AUTH', true]);
  });

  it('a phone that refuses: DEVICE_ERROR from its action results; one that never answers: DEVICE_TIMEOUT', async () => {
    await start();
    phone.supervised = false;
    send('name', { device: device() });
    assert.match((await failure('name')).message, /intune-device-error.*setDeviceName.*failed/);
    phone.silent = true;
    send('passcode', { device: device() });
    assert.equal(await codeOf('passcode'), 'DEVICE_TIMEOUT');
  });

  it('delete-from-mdm removes the record: the phone is unknown afterwards', async () => {
    await start();
    send('delete', { device: device() });
    await passes(1);
    send('name', { device: device() });
    assert.equal(await codeOf('name'), 'DEVICE_UNKNOWN');
  });

  it('Test connection says exactly what is wrong: nothing, the tenant, the client id, the secret, a permission, a group, the URL; unchanged secrets are the saved ones', async () => {
    await start();
    const test = async (fields: object, credentials: object) =>
      (
        await helper
          .request()
          .post('/device-checkout/mdm-server/test')
          .send({
            id: 'mdm',
            vendor: 'intune',
            url: intune.url,
            tokenUrl: intune.url,
            tenantId: INTUNE.tenantId,
            checkedOutGroup,
            lockedGroup,
            ...fields,
            credentials,
          })
      ).body as { ok: boolean; code?: string; message: string };
    const unchanged = { clientId: INTUNE.clientId, clientSecret: '__PWRD__' };
    assert.deepEqual(await test({}, unchanged), { ok: true, message: 'mdm-server.test.ok {"vendor":"intune"}' });
    const said = async (fields: object, credentials: object) => {
      const answer = await test(fields, credentials);
      return [answer.code, /intune-[\w-]+/.exec(answer.message)?.[0]];
    };
    assert.deepEqual(await said({ tenantId: 'another.onmicrosoft.com' }, unchanged), ['MDM_AUTH', 'intune-token-tenant']);
    assert.deepEqual(await said({}, { ...unchanged, clientId: 'not-this-app' }), ['MDM_AUTH', 'intune-token-client']);
    assert.deepEqual(await said({}, { ...unchanged, clientSecret: 'typo' }), ['MDM_AUTH', 'intune-token-secret']);
    assert.deepEqual(await said({ lockedGroup: '00000000-0000-4000-8000-000000000000' }, unchanged), ['INVALID_CONFIG', 'intune-no-group']);
    assert.deepEqual(await said({ lockedGroup: 'Locked phones' }, unchanged), ['INVALID_CONFIG', 'intune-group-id']);
    intune.permissions = ['DeviceManagementManagedDevices.ReadWrite.All', 'Device.Read.All'];
    const missing = await test({}, unchanged);
    assert.deepEqual([missing.code, /intune-no-group|intune-forbidden/.exec(missing.message)?.[0]], ['MDM_AUTH', 'intune-forbidden']);
    assert.match(missing.message, /GroupMember\.ReadWrite\.All/, 'names the permission to grant');
    const nowhere = await test({ url: 'http://127.0.0.1:9', tokenUrl: 'http://127.0.0.1:9' }, unchanged);
    assert.deepEqual([nowhere.code, /127\.0\.0\.1:9/.test(nowhere.message)], ['MDM_UNREACHABLE', true]);
    assert.ok(!JSON.stringify(missing).includes(INTUNE.clientSecret), 'no secret in an answer');
  });

  it('never shows the client secret', async () => {
    await start();
    const said: unknown[] = [];
    for (const id of [...ids, 'mdm']) said.push(...statuses(id), ...reports(id, 'warn'), ...reports(id, 'log'));
    for (const id of ['name', 'passcode', 'command']) send(id, { device: device() });
    await passes(3);
    send('wifi', { device: device() });
    await failure('wifi');
    const text = JSON.stringify([said, seen, Object.values(errors).map((e) => e.map(String))]);
    assert.ok(!text.includes(INTUNE.clientSecret));
    assert.ok(text.length > 200);
  });
});
