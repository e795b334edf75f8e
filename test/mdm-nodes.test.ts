import assert from 'node:assert/strict';
import type { EventEmitter } from 'node:events';
import type { NodeMessage } from 'node-red';
import type { CodedError } from '../nodes/lib/coded-error';
import { parsePlist } from '../nodes/lib/mdm/commands';
import { webhookHandler } from '../nodes/mdm-server/webhooks';
import { SimulatedNanoMdm } from '../sim/nanomdm-server';
import { SimulatedDevice } from '../sim/simulated-device';
import { webhookReceiver } from '../sim/webhook-receiver';
import { collect, deploy, helper, load, reports, send, statuses } from '../harness/node-red';
import { tempDir, waitFor } from '../harness/support';

const SECRETS = { apiKey: 'api-key-7f3a9c', webhookSecret: 'hmac-key-51b2e0', wifi: 'wifi-pass-c0ffee' };

describe('device actions through NanoMDM in Node-RED', () => {
  let sim: SimulatedNanoMdm;
  let receiver: { url: string; close(): Promise<void> };
  let phone: SimulatedDevice;
  let phones = 0;
  const actionIds = ['erase', 'wifi', 'name', 'name-empty', 'passcode', 'delete', 'command', 'bad-command', 'enrol', 'enrol-dep'];

  before(async () => {
    sim = new SimulatedNanoMdm({ apiKey: SECRETS.apiKey, webhookSecret: SECRETS.webhookSecret });
    await sim.start();
    // Stands in for Node-RED's HTTP: hands NanoMDM's exact bytes to the node's webhook handler.
    receiver = await webhookReceiver((body, signature) => webhookHandler('/device-checkout/webhook')?.(body, signature) ?? 503);
    sim.webhookUrl = receiver.url;
  });

  after(async () => {
    await sim.stop();
    await receiver.close();
  });

  let seen: { ok: NodeMessage[] };
  let errors: Record<string, unknown[]>;
  let flow: { id: string; [key: string]: unknown }[];

  beforeEach(async () => {
    helper.settings({ userDir: tempDir('userdir') }); // the fleet's files, away from the working tree
    const action = (id: string, type: string, extra: object = {}) => ({ id, type, fleet: 'fleet', timeout: '3', wires: [['ok']], ...extra });
    flow = [
      { id: 'mdm', type: 'mdm-server', vendor: 'nanomdm', url: sim.url, maxConcurrent: '5', timeout: '5000', webhookPath: 'device-checkout/webhook' },
      { id: 'fleet', type: 'device-fleet', mdm: 'mdm' },
      action('erase', 'erase-device', { preserveDataPlan: true, disallowProximitySetup: false }),
      action('wifi', 'add-wifi', { ssid: 'Ward [Hub]', security: 'WPA2', hidden: false, autoJoin: true }),
      action('name', 'set-device-name', { deviceName: 'Cart [Hub] - [Port]' }),
      action('name-empty', 'set-device-name', { deviceName: '  ' }),
      action('passcode', 'clear-passcode'),
      action('delete', 'delete-from-mdm'),
      action('command', 'mdm-command', { command: 'DeviceInformation', params: '{"Queries": ["SerialNumber", "DeviceName"]}' }),
      action('bad-command', 'mdm-command', { command: 'Settings', params: '{"Settings": [{"Item": "Wallpaper", "Where": 4}]}' }),
      action('enrol', 'dep-enroll', { depProxyUrl: '', profileUuid: '', sendDeviceConfigured: true }),
      action('enrol-dep', 'dep-enroll', {
        depProxyUrl: `${sim.url}/proxy/dep`,
        profileUuid: '9C2F5F4E-0D3A-4E8B-9A57-0B3C1D2E4F60',
        sendDeviceConfigured: false,
      }),
      { id: 'ok', type: 'helper' },
    ];
    await load(flow, {
      mdm: { apiKey: SECRETS.apiKey, webhookSecret: SECRETS.webhookSecret },
      wifi: { password: SECRETS.wifi },
      'enrol-dep': { depApiKey: SECRETS.apiKey },
    });
    seen = { ok: collect('ok') };
    errors = Object.fromEntries(actionIds.map((id) => [id, reports(id, 'error')]));
    phone = new SimulatedDevice({ serial: `DX3PHONE${String(++phones).padStart(4, '0')}` });
    await sim.enrol(phone);
  });

  afterEach(async () => {
    await helper.unload();
    helper.settings({});
    assert.deepEqual(sim.invalidCommands, [], 'every command sent conforms to Apple\u2019s schema');
  });

  const device = () => ({ udid: phone.udid, serial: phone.serial, hub: 'A', port: 3 });
  const codeOf = async (id: string) => (await waitFor(`an error from ${id}`, () => errors[id][0])) as CodedError;

  it('erase-device passes the message on once the device acknowledged, and the device wipes', async () => {
    send('erase', { device: device(), topic: 'prep' });
    await waitFor('passed on', () => seen.ok.length === 1);
    assert.equal(seen.ok[0].topic, 'prep');
    await waitFor('wiped', () => phone.erasures === 1);
    assert.equal(phone.executed[0].PreserveDataPlan, true);
  });

  it('add-wifi installs the profile with the password from the credentials', async () => {
    send('wifi', { device: device() });
    await waitFor('passed on', () => seen.ok.length === 1);
    const profile = [...phone.profiles.values()][0];
    const payload = (profile.PayloadContent as Record<string, unknown>[])[0];
    assert.deepEqual([payload.SSID_STR, payload.EncryptionType, payload.Password], ['Ward A', 'WPA2', SECRETS.wifi]);
  });

  it('set-device-name fills the template from msg.device, the fleet keeps the name, and refuses a missing attribute', async () => {
    send('name', { device: device() });
    await waitFor('passed on', () => seen.ok.length === 1);
    assert.equal(phone.name, 'Cart A - 3');
    assert.equal((seen.ok[0] as { device: { name: string } }).device.name, 'Cart A - 3');
    const store = (helper.getNode('fleet') as unknown as { fleet: { store: import('../nodes/lib/fleet/fleet-store').FleetStore } }).fleet.store;
    assert.equal((await store.device(phone.udid))?.name, 'Cart A - 3', '[Device Name] for later workflows');
    send('name', { device: { udid: phone.udid } });
    const err = await codeOf('name');
    assert.equal(err.code, 'MISSING_ATTRIBUTE');
    assert.match(err.message, /\[Hub\], \[Port\]/);
    const executed = phone.executed.length;
    send('name-empty', { device: device() });
    assert.equal((await codeOf('name-empty')).code, 'INVALID_CONFIG', 'an empty name is refused');
    assert.equal(phone.executed.length, executed, 'and never sent to the phone');
  });

  it('clear-passcode uses the unlock token from enrolment; none known gives NO_UNLOCK_TOKEN', async () => {
    send('passcode', { device: device() });
    await waitFor('passed on', () => seen.ok.length === 1);
    assert.ok(phone.executed.some((c) => c.RequestType === 'ClearPasscode'));
    send('passcode', { device: { udid: 'NEVER-ENROLLED' } });
    assert.equal((await codeOf('passcode')).code, 'NO_UNLOCK_TOKEN');
  });

  it('delete-from-mdm says NanoMDM cannot do it', async () => {
    send('delete', { device: device() });
    const err = await codeOf('delete');
    assert.equal(err.code, 'UNSUPPORTED');
    assert.match(err.message, /errors\.nanomdm-no-delete/);
  });

  it('mdm-command returns the device\u2019s answer, and refuses parameters Apple\u2019s schema rejects', async () => {
    send('command', { device: device() });
    await waitFor('passed on', () => seen.ok.length === 1);
    assert.deepEqual((seen.ok[0].payload as { QueryResponses: unknown }).QueryResponses, { SerialNumber: phone.serial, DeviceName: 'iPhone' });
    const sent = sim.requests.length;
    send('bad-command', { device: device() });
    const err = await codeOf('bad-command');
    assert.equal(err.code, 'INVALID_COMMAND');
    assert.match(err.message, /Where must be equal to one of the allowed values \(1, 2, 3\)/);
    assert.equal(sim.requests.length, sent, 'nothing sent for the invalid command');
  });

  it('fails with the device\u2019s reason, a timeout, or a missing device, and shows it', async () => {
    const status = statuses('name');
    phone.supervised = false;
    send('name', { device: device() });
    const refused = await codeOf('name');
    assert.equal(refused.code, 'DEVICE_ERROR');
    assert.match(refused.message, /requires a supervised device/);
    assert.ok(status.some((s) => s.fill === 'red' && /DEVICE_ERROR/.test(s.text ?? '')));
    phone.silent = true;
    send('name', { device: device() });
    await waitFor('timeout', () => errors.name.length === 2, 6000);
    assert.equal((errors.name[1] as CodedError).code, 'DEVICE_TIMEOUT');
    send('erase', { payload: 'no device' });
    assert.equal((await codeOf('erase')).code, 'NO_DEVICE');
    assert.equal(seen.ok.length, 0);
  });

  it('never shows a secret in a status, a log line, an error or a message', async () => {
    const said: unknown[] = [];
    for (const id of [...actionIds, 'mdm']) said.push(...statuses(id), ...reports(id, 'warn'), ...reports(id, 'log'), ...reports(id, 'error'));
    phone.failNext = { code: 1, text: 'nope' };
    for (const id of actionIds) send(id, { device: device() });
    await waitFor('every action answered', () => seen.ok.length + Object.values(errors).flat().length >= actionIds.length, 8000);
    const text = JSON.stringify([said, seen.ok, Object.values(errors).map((e) => e.map(String))]);
    for (const secret of Object.values(SECRETS)) assert.ok(!text.includes(secret), `a secret leaked: ${secret}`);
    assert.ok(text.length > 200, 'there was something to look at');
  });

  it('dep-enroll waits for the erased device to enrol again and releases it from Setup Assistant', async () => {
    phone.awaitDeviceConfigured = true;
    send('erase', { device: device() });
    await waitFor('erased', () => seen.ok.length === 1);
    send('enrol', { device: { udid: phone.udid } });
    await waitFor('enrolled', () => seen.ok.length === 2, 5000);
    assert.equal((seen.ok[1] as { device: { serial: string } }).device.serial, phone.serial, 'serial learnt from Authenticate');
    assert.ok(phone.executed.some((c) => c.RequestType === 'DeviceConfigured'));
    assert.equal(phone.awaitingConfiguration, false);
  });

  it('dep-enroll counts an enrolment that happened before the message arrived', async () => {
    send('erase', { device: device() });
    await waitFor('erased', () => seen.ok.length === 1);
    await waitFor('re-enrolled', () => phone.erasures === 1 && phone.enrolled);
    await new Promise((resolve) => setTimeout(resolve, 50));
    send('enrol', { device: { udid: phone.udid } });
    await waitFor('passed on at once', () => seen.ok.length === 2, 1000);
  });

  it('dep-enroll assigns the DEP profile through the proxy when the device is not assigned', async () => {
    phone.depAssigned = false;
    send('erase', { device: device() });
    await waitFor('erased', () => seen.ok.length === 1 && phone.erasures === 1);
    assert.equal(phone.enrolled, false, 'an unassigned device stays in Setup Assistant');
    send('enrol-dep', { device: { udid: phone.udid, serial: phone.serial } });
    await waitFor('enrolled', () => seen.ok.length === 2, 5000);
    assert.equal(phone.depAssigned, true);
    send('enrol-dep', { device: { udid: phone.udid, serial: 'UNKNOWN0SERIAL' } });
    const err = await codeOf('enrol-dep');
    assert.equal(err.code, 'DEP_ASSIGN_FAILED');
    assert.match(err.message, /NOT_ACCESSIBLE/);
  });

  it('dep-enroll times out a device that never enrols', async () => {
    phone.depAssigned = false;
    send('erase', { device: device() });
    await waitFor('erased', () => seen.ok.length === 1);
    send('enrol', { device: { udid: phone.udid } });
    assert.equal(((await waitFor('timeout', () => errors.enrol[0], 6000)) as CodedError).code, 'DEVICE_TIMEOUT');
  });

  it('an action in flight stops when its node is redeployed: a 600 s dep-enroll wait does not outlive it', async () => {
    const withEnrolWait = (seconds: string) => flow.map((node) => (node.id === 'enrol' ? { ...node, timeout: seconds } : node));
    await deploy(withEnrolWait('600'), 'nodes');
    const enrolErrors = reports('enrol', 'error');
    const mdm = (helper.getNode('mdm') as unknown as { adapter: EventEmitter }).adapter;
    phone.depAssigned = false; // erased, it never comes back
    send('erase', { device: device() });
    await waitFor('erased', () => seen.ok.length === 1);
    send('enrol', { device: { udid: phone.udid } });
    await waitFor('waiting for the enrolment', () => mdm.listenerCount('token-update') > 0);
    await deploy(withEnrolWait('601'), 'nodes');
    assert.equal(((await waitFor('the wait ended', () => enrolErrors[0])) as CodedError).code, 'NODE_CLOSED');
    assert.equal(mdm.listenerCount('token-update'), 0, 'nothing left waiting for the phone');
  });

  it('many actions in flight on one node: all answered, no listener-leak warning', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    try {
      for (let i = 0; i < 15; i++) send('command', { device: device(), _tag: i });
      await waitFor('all answered', () => seen.ok.length === 15);
      await new Promise((resolve) => setImmediate(resolve)); // process warnings are emitted on the next tick
      assert.deepEqual(
        warnings.filter((w) => /MaxListeners/.test(w)),
        [],
      );
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('sends only commands that parse as plists on the wire', async () => {
    send('wifi', { device: device() });
    await waitFor('passed on', () => seen.ok.length === 1);
    const payload = phone.executed.find((c) => c.RequestType === 'InstallProfile')!.Payload as Buffer;
    assert.equal((parsePlist(payload) as { PayloadType: string }).PayloadType, 'Configuration');
  });

  it('webhooks refused for a key NanoMDM does not use: said on the action nodes, a warning naming the cause, DEVICE_TIMEOUT naming lost webhooks', async () => {
    const status = statuses('command');
    const mdmWarnings = reports('mdm', 'warn');
    sim.options.webhookSecret = 'a-key-nanomdm-was-started-with';
    try {
      send('command', { device: device() });
      const err = (await waitFor('timeout', () => errors.command[0], 6000)) as CodedError;
      assert.equal(err.code, 'DEVICE_TIMEOUT');
      assert.match(err.message, /errors\.no-answer/);
      assert.ok(
        status.some((s) => /webhooks-refused/.test(s.text ?? '') && /WEBHOOK_BAD_SIGNATURE/.test(s.text ?? '')),
        JSON.stringify(status),
      );
      assert.equal(mdmWarnings.filter((w) => /errors\.webhook-bad-signature/.test(String(w))).length, 1, 'said once, not for every webhook');
      assert.ok(!mdmWarnings.some((w) => String(w).includes(SECRETS.webhookSecret) || String(w).includes('a-key-nanomdm')), 'no secret in the log');
    } finally {
      sim.options.webhookSecret = SECRETS.webhookSecret;
    }
    send('command', { device: device() });
    await waitFor('answered again', () => seen.ok.length === 1);
    assert.deepEqual(status.at(-1)?.text?.includes('webhooks-refused'), false, 'cleared once webhooks are taken again');
  });
});
