import assert from 'node:assert/strict';
import type { NodeMessage } from 'node-red';
import type { CodedError } from '../nodes/lib/coded-error';
import { deviceLocation } from '../nodes/lib/mdm/commands';
import type { FleetStore } from '../nodes/lib/fleet/fleet-store';
import { APP_LOCK_IDENTIFIER } from '../nodes/lib/mdm/profiles';
import { SimulatedWorkspaceOne } from '../sim/workspace-one-server';
import { SimulatedDevice } from '../sim/simulated-device';
import { collect, helper, load, reports, send, statuses } from '../harness/node-red';
import { tempDir, waitFor } from '../harness/support';
import { ink } from '../harness/images';

const LOCKER = 'org.example.locker';
const SECRETS = { clientId: 'cart-oauth-client', clientSecret: 'ws1-secret-5c81e2', tenantCode: 'ws1-tenant-code-9f04' };

/** Every action node through Workspace ONE UEM (simulated after the tenant's API reference), in a real Node-RED. */
describe('device actions through Workspace ONE UEM in Node-RED', function () {
  this.timeout(20_000);
  let ws1: SimulatedWorkspaceOne;
  let phone: SimulatedDevice;
  let seen: NodeMessage[];
  const ids = ['erase', 'wifi', 'name', 'passcode', 'delete', 'command', 'enrol', 'checkout', 'wallpaper', 'checkin', 'query', 'basic-name'];
  let errors: Record<string, unknown[]>;

  async function start(tokenLifetime?: number): Promise<void> {
    helper.settings({ userDir: tempDir('userdir') });
    ws1 = new SimulatedWorkspaceOne({ ...SECRETS, username: 'cart-api', password: 'basic-pass-31ab', tokenLifetime });
    await ws1.start();
    phone = new SimulatedDevice({ serial: 'WS1CART00001' });
    ws1.enrol(phone);
    const mdm = (id: string, extra: object) => ({
      id,
      type: 'mdm-server',
      vendor: 'workspace-one',
      url: ws1.url,
      maxConcurrent: '5',
      timeout: '5000',
      webhookPath: 'device-checkout/webhook',
      pollInterval: '100',
      ...extra,
    });
    const action = (id: string, type: string, extra: object = {}) => ({ id, type, fleet: 'fleet', timeout: '5', wires: [['ok']], ...extra });
    await load(
      [
        mdm('mdm', { tokenUrl: ws1.tokenUrl }),
        mdm('mdm-basic', { tokenUrl: '', url: `${ws1.url}/` }),
        { id: 'fleet', type: 'device-fleet', mdm: 'mdm', lockerApp: LOCKER },
        { id: 'fleet-basic', type: 'device-fleet', mdm: 'mdm-basic', lockerApp: LOCKER },
        action('erase', 'erase-device', { preserveDataPlan: true, disallowProximitySetup: true, returnToService: false }),
        action('wifi', 'add-wifi', { ssid: 'Ward', security: 'WPA2', hidden: false, autoJoin: true }),
        action('name', 'set-device-name', { deviceName: 'Cart [Hub] - [Port]' }),
        action('basic-name', 'set-device-name', { fleet: 'fleet-basic', deviceName: 'Basic [Port]' }),
        action('passcode', 'clear-passcode'),
        action('delete', 'delete-from-mdm'),
        action('command', 'mdm-command', { command: 'RestartDevice', params: '{"NotifyUser": true}' }),
        action('query', 'mdm-command', { command: 'DeviceInformation', params: '{"Queries": ["OSVersion", "SerialNumber", "BatteryLevel"]}' }),
        action('enrol', 'dep-enroll', { depProxyUrl: '', profileUuid: '', sendDeviceConfigured: false }),
        action('checkout', 'check-out-device', { suppressBlueLed: true }),
        action('wallpaper', 'set-wallpaper', { text: 'Checked Out to [Device User]', background: 'black', where: 'both' }),
        action('checkin', 'check-in-device'),
        { id: 'ok', type: 'helper' },
      ],
      { mdm: SECRETS, 'mdm-basic': { tenantCode: SECRETS.tenantCode, username: 'cart-api', password: 'basic-pass-31ab' }, wifi: { password: 'wifi-pass' } },
    );
    seen = collect('ok');
    errors = Object.fromEntries(ids.map((id) => [id, reports(id, 'error')]));
  }

  afterEach(async () => {
    await helper.unload();
    helper.settings({});
    await ws1.stop();
    assert.deepEqual(ws1.invalidCommands, [], 'every Apple command reaching the phone conforms to Apple\u2019s schema');
  });

  const device = () => ({ udid: phone.udid, hub: 'B', port: 7 });
  const passes = async (count: number) => waitFor(`${count} passed on`, () => seen.length === count, 8000);
  const codeOf = async (id: string) => ((await waitFor(`an error from ${id}`, () => errors[id][0], 8000)) as CodedError).code;

  it('erase-device (UEM DeviceWipe with Apple\u2019s options), then dep-enroll sees the phone enrol again', async () => {
    await start();
    send('erase', { device: device() });
    await passes(1);
    assert.deepEqual(phone.executed[0], { RequestType: 'EraseDevice', PreserveDataPlan: true, DisallowProximitySetup: true });
    send('enrol', { device: { udid: phone.udid } });
    await passes(2);
    assert.equal((seen[1] as { device: { serial: string } }).device.serial, 'WS1CART00001');
  });

  it('set-device-name, add-wifi and mdm-command as custom MDM commands; clear-passcode with the token UEM keeps; a query answered from UEM\u2019s inventory', async () => {
    await start();
    for (const [i, id] of ['name', 'wifi', 'passcode', 'command', 'query'].entries()) {
      send(id, { device: device() });
      await passes(i + 1);
    }
    assert.equal(phone.name, 'Cart B - 7');
    assert.deepEqual(
      phone.executed.map((c) => c.RequestType),
      ['Settings', 'InstallProfile', 'ClearPasscode', 'RestartDevice', 'DeviceInformation'],
    );
    assert.deepEqual((seen[4] as { payload: { QueryResponses: object } }).payload.QueryResponses, {
      OSVersion: phone.osVersion,
      SerialNumber: 'WS1CART00001',
      BatteryLevel: 0.8,
    });
  });

  it('basic auth with the tenant code works as well as OAuth', async () => {
    await start();
    send('basic-name', { device: device() });
    await passes(1);
    assert.equal(phone.name, 'Basic 7');
    assert.equal(ws1.tokensIssued, 0, 'no token for basic auth');
  });

  it('Check In and Check Out: App Lock installed and removed, the locker app told the user, the wallpaper set', async () => {
    await start();
    const store = (helper.getNode('fleet') as unknown as { fleet: { store: FleetStore } }).fleet.store;
    await store.docked(phone.udid, { hubId: 'hub-b', hub: 'B', port: 7 });
    send('checkin', { device: device() });
    await passes(1);
    assert.ok(phone.profiles.has(APP_LOCK_IDENTIFIER), 'locked to the locker app');
    send('checkout', { user: { id: 'alice', name: 'Alice Example' } });
    await passes(2);
    assert.ok(!phone.profiles.has(APP_LOCK_IDENTIFIER), 'App Lock removed');
    assert.deepEqual(phone.appConfigurations.get(LOCKER), { CheckoutStatus: 'Checked Out', UserId: 'alice', UserName: 'Alice Example' });
    send('wallpaper', seen[1]);
    await passes(3);
    assert.ok((await ink(phone.wallpapers.lock!)).pixels > 1000);
    assert.ok(phone.wallpapers.home);
  });

  it('a token that expires mid-workflow is renewed before it is used; one revoked is renewed once on 401', async () => {
    await start(30); // renewed 30 s before expiry: every request finds it due
    send('name', { device: device() });
    await passes(1);
    const issued = ws1.tokensIssued;
    assert.ok(issued >= 2, `renewed as it neared expiry (${issued} tokens)`);
    await helper.unload();
    await ws1.stop();
    await start();
    send('name', { device: device() });
    await passes(1);
    ws1.revokeTokens();
    send('passcode', { device: device() });
    await passes(2);
    assert.equal(ws1.tokensIssued, 2, 'one token, then one more after the revocation');
  });

  it('throttled (429 with Retry-After) and a 503: tried again and done; the MDM down: MDM_UNREACHABLE', async () => {
    await start();
    ws1.faults = [
      { status: 429, retryAfter: 1, times: 1 },
      { status: 503, times: 1 },
    ];
    const started = Date.now();
    send('name', { device: device() });
    await passes(1);
    assert.ok(Date.now() - started >= 900, 'Retry-After honoured');
    assert.ok(ws1.requests.some((r) => r.status === 429) && ws1.requests.some((r) => r.status === 503));
    await ws1.stop();
    send('name', { device: device() });
    assert.equal(await codeOf('name'), 'MDM_UNREACHABLE');
  });

  it('wrong credentials: MDM_AUTH; an unknown phone: DEVICE_UNKNOWN; Locate: UNSUPPORTED saying where instead', async () => {
    await start();
    send('passcode', { device: { udid: 'NO-SUCH-PHONE' } });
    assert.equal(await codeOf('passcode'), 'DEVICE_UNKNOWN');
    (ws1 as unknown as { options: { clientSecret: string } }).options.clientSecret = 'rotated';
    ws1.revokeTokens();
    send('name', { device: device() });
    assert.equal(await codeOf('name'), 'MDM_AUTH');
    const locate = (helper.getNode('mdm') as unknown as { adapter: { perform(u: string, c: object, o: object): Promise<unknown> } }).adapter;
    await assert.rejects(
      locate.perform(phone.udid, deviceLocation(), { timeout: 1000 }),
      (err: CodedError) => err.code === 'UNSUPPORTED' && /ws1-no-location/.test(err.message),
    );
  });

  it('a phone that refuses: DEVICE_ERROR from the queue; one that never answers: DEVICE_TIMEOUT', async () => {
    await start();
    phone.supervised = false;
    send('name', { device: device() });
    assert.equal(await codeOf('name'), 'DEVICE_ERROR');
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

  it('Test connection (the dialog\u2019s button) says exactly what is wrong: nothing, the client, the tenant code, the role, the URL; unchanged secrets are the saved ones', async () => {
    await start();
    const test = async (fields: object, credentials: object) =>
      (
        await helper
          .request()
          .post('/device-checkout/mdm-server/test')
          .send({ id: 'mdm', vendor: 'workspace-one', url: ws1.url, tokenUrl: ws1.tokenUrl, ...fields, credentials })
      ).body as { ok: boolean; code?: string; message: string };
    const unchanged = { tenantCode: '__PWRD__', clientId: SECRETS.clientId, clientSecret: '__PWRD__' };
    assert.deepEqual(await test({}, unchanged), { ok: true, message: 'mdm-server.test.ok {"vendor":"workspace-one"}' });
    const refused = await test({}, { ...unchanged, clientSecret: 'typo' });
    assert.deepEqual([refused.ok, refused.code], [false, 'MDM_AUTH']);
    assert.match(refused.message, /ws1-token-refused.*invalid_client/);
    const tenant = await test({}, { ...unchanged, tenantCode: 'another-tenant' });
    assert.deepEqual([tenant.code, /ws1-login-refused/.test(tenant.message)], ['MDM_AUTH', true]);
    ws1.forbidden = true;
    const role = await test({}, unchanged);
    assert.deepEqual([role.code, /ws1-forbidden/.test(role.message)], ['MDM_AUTH', true]);
    ws1.forbidden = false;
    const nowhere = await test({ url: 'http://127.0.0.1:9', tokenUrl: 'http://127.0.0.1:9/connect/token' }, unchanged);
    assert.deepEqual([nowhere.code, /127\.0\.0\.1:9/.test(nowhere.message)], ['MDM_UNREACHABLE', true]);
    const noTenant = await test({}, { ...unchanged, tenantCode: '' }); // the field emptied in the dialog
    assert.deepEqual([noTenant.code, /ws1-tenant/.test(noTenant.message)], ['INVALID_CONFIG', true]);
    assert.ok(!JSON.stringify([refused, tenant, role]).includes(SECRETS.clientSecret), 'no secret in an answer');
  });

  it('never shows the client secret or the tenant code', async () => {
    await start();
    const said: unknown[] = [];
    for (const id of [...ids, 'mdm']) said.push(...statuses(id), ...reports(id, 'warn'), ...reports(id, 'log'));
    for (const id of ['name', 'passcode', 'command']) send(id, { device: device() });
    await passes(3);
    const text = JSON.stringify([said, seen, Object.values(errors).map((e) => e.map(String))]);
    assert.ok(!text.includes(SECRETS.clientSecret) && !text.includes(SECRETS.tenantCode));
    assert.ok(text.length > 200);
  });
});
