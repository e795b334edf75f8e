import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { appendFileSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CodedError } from '../nodes/lib/coded-error';
import { FileFleetStore } from '../nodes/lib/fleet/file-fleet-store';
import type { FleetStore } from '../nodes/lib/fleet/fleet-store';
import { toPlist } from '../nodes/lib/mdm/commands';
import { EnrolmentVault } from '../nodes/lib/mdm/enrolment-vault';
import { NanoMdm } from '../nodes/lib/mdm/nanomdm';
import { webhookHandler } from '../nodes/mdm-server/webhooks';
import { SimulatedDevice } from '../sim/simulated-device';
import { helper, load, reports, send, statuses } from '../harness/node-red';
import { readOnly, tempDir, waitFor } from '../harness/support';

const code = (expected: string) => (err: CodedError) => err.code === expected;

describe('disk faults: damaged files and a disk that refuses writes', () => {
  it('a damaged fleet file stops the fleet with STORAGE_DAMAGED naming it, and is left as it was', () => {
    const file = join(tempDir('fleet'), 'fleet.json');
    for (const damaged of ['{"version":2,"devices":{"U1":{"udid"', 'null', '{"version":1}', '[]']) {
      writeFileSync(file, damaged);
      assert.throws(
        () => new FileFleetStore(file),
        (err: CodedError) => err.code === 'STORAGE_DAMAGED' && err.message.includes(file),
        damaged,
      );
      assert.equal(readFileSync(file, 'utf8'), damaged, 'untouched, for the admin');
    }
  });

  it('an audit line cut short by a kill is skipped and said; the next entry starts on a line of its own', async () => {
    const file = join(tempDir('fleet'), 'fleet.json');
    await new FileFleetStore(file).setAttribute('U1', 'Ward', '3');
    const auditFile = file.replace(/\.json$/, '.audit.jsonl');
    appendFileSync(auditFile, '{"at":"2026-12-01T07:00:00.000Z","udid":"U1","wh');
    const reopened = new FileFleetStore(file);
    assert.match(reopened.notices.join(), /skipped 1 damaged line/);
    await reopened.setAttribute('U1', 'Ward', '4');
    const lines = readFileSync(auditFile, 'utf8').trimEnd().split('\n');
    assert.equal(lines.length, 3);
    assert.deepEqual(JSON.parse(lines[2]).to, '4', 'the new entry is whole, on its own line');
    assert.deepEqual(
      (await new FileFleetStore(file).audit('U1')).map((e) => e.to),
      ['3', '4'],
    );
  });

  it('a change the disk refuses fails with STORAGE_FAILED and changes nothing in memory; the store heals when the disk does', async () => {
    const dir = tempDir('fleet');
    const file = join(dir, 'fleet.json');
    const store = new FileFleetStore(file, { healInterval: 50 });
    await store.docked('U1', { hubId: 'cart-hub', hub: 'Cart', port: 1 });
    await store.setStatus('U1', 'Checked In');
    const events: (string | undefined)[] = [];
    store.on('storage', (err?: CodedError) => events.push(err?.code));
    const writable = readOnly(dir);
    try {
      await assert.rejects(
        store.beginCheckout('ann', { userLimit: 1, batteryThreshold: 0, deadlineSeconds: 60 }),
        (err: CodedError) => err.code === 'STORAGE_FAILED' && err.message.includes(file),
      );
      assert.equal((await store.device('U1'))?.status, 'Checked In', 'not reserved in memory either');
      assert.equal(store.storageError?.code, 'STORAGE_FAILED');
      assert.equal((await store.devices()).length, 1);
      await assert.rejects(store.docked('U2', { hubId: 'cart-hub', hub: 'Cart', port: 2 }), code('STORAGE_FAILED'));
      assert.equal(await store.device('U2'), undefined, 'a new device exists only once it was written');
    } finally {
      writable();
    }
    await waitFor('healed', () => events.at(-1) === undefined && events.length === 2);
    assert.equal(store.storageError, undefined);
    assert.equal((await store.beginCheckout('ann', { userLimit: 1, batteryThreshold: 0, deadlineSeconds: 60 })).status, 'Checking Out');
    assert.equal((await new FileFleetStore(file).device('U1'))?.status, 'Checking Out', 'memory and disk agree');
    assert.deepEqual(
      readdirSync(dir).filter((f) => f.endsWith('.tmp')),
      [],
    );
    await store.close();
  });

  it('a fleet directory removed while the cart runs (a clean-up gone wrong) is made again by the next change, which is kept', async () => {
    const dir = join(tempDir('fleet'), 'device-checkout');
    const file = join(dir, 'fleet.json');
    const store = new FileFleetStore(file);
    await store.docked('U1', { hubId: 'cart-hub', hub: 'Cart', port: 1 });
    rmSync(dir, { recursive: true });
    await store.setStatus('U1', 'Checked In');
    assert.equal((await new FileFleetStore(file).device('U1'))?.status, 'Checked In');
    await store.close();
  });

  it('an unreadable enrolment vault is set aside, never overwritten by a smaller one; a refused write keeps the token in memory', async () => {
    const dir = tempDir('vault');
    const file = join(dir, 'enrolments.json');
    writeFileSync(file, '{"version":1,"salt":"AAAA","iv":"AAAA","tag":"AAAA","data":"damaged"}');
    const vault = new EnrolmentVault(file, 'api-key');
    const nano = new NanoMdm({ url: 'http://127.0.0.1:9', apiKey: 'api-key', acceptUnsigned: true, maxConcurrent: 1, timeout: 1000, vault });
    assert.match(vault.notices.join(), /could not be read .* kept as .*enrolments\.json\.damaged-/);
    const aside = readdirSync(dir).find((f) => f.includes('.damaged-'))!;
    assert.match(readFileSync(join(dir, aside), 'utf8'), /"data":"damaged"/, 'the old file is kept whole');

    const phone = new SimulatedDevice();
    const checkIn = (message: object, topic: string) =>
      nano.handleWebhook(
        Buffer.from(JSON.stringify({ topic, checkin_event: { udid: phone.udid, raw_payload: Buffer.from(toPlist(message)).toString('base64') } })),
        undefined,
      );
    const warnings: CodedError[] = [];
    nano.on('warning', (err: CodedError) => warnings.push(err));
    const writable = readOnly(dir);
    try {
      assert.equal(checkIn(phone.authenticateMessage(), 'mdm.Authenticate'), 200);
      assert.equal(checkIn(phone.tokenUpdateMessage(), 'mdm.TokenUpdate'), 200, 'no exception escapes: the check-in is taken');
      await waitFor('the refused write said', () => warnings.some((w) => w.code === 'STORAGE_FAILED' && w.message.includes(file)));
    } finally {
      writable();
    }
    assert.deepEqual(nano.enrolment(phone.udid)?.unlockToken, phone.unlockToken, 'memory keeps what the check-in taught');
    void nano.close();
  });
});

describe('disk faults in a Node-RED runtime', () => {
  let userDir: string;
  const fleetDir = () => join(userDir, 'device-checkout');

  beforeEach(() => {
    userDir = tempDir('userdir');
    mkdirSync(fleetDir());
    helper.settings({ userDir });
  });

  afterEach(async () => {
    await helper.unload();
    helper.settings({});
  });

  it('a damaged fleet file: the log names it, every action fails with STORAGE_DAMAGED, nothing crashes', async () => {
    writeFileSync(join(fleetDir(), 'fleet-fleet.json'), '{"version":2,"devices":');
    await load([
      { id: 'fleet', type: 'device-fleet', mdm: '', lockerApp: 'org.example.locker' },
      { id: 'checkout', type: 'check-out-device', fleet: 'fleet', wires: [[]] },
      { id: 'catcher', type: 'catch', scope: null, wires: [['caught']] },
      { id: 'caught', type: 'helper' },
    ]);
    const errors = reports('checkout', 'error');
    const fleetErrors = (helper.getNode('fleet') as unknown as { unavailable?: CodedError }).unavailable;
    assert.equal(fleetErrors?.code, 'STORAGE_DAMAGED');
    assert.match(fleetErrors!.message, /fleet-fleet\.json/);
    send('checkout', { user: 'ann' });
    await waitFor('refused', () => errors.length === 1);
    assert.equal((errors[0] as CodedError).code, 'STORAGE_DAMAGED');
    assert.equal(readFileSync(join(fleetDir(), 'fleet-fleet.json'), 'utf8'), '{"version":2,"devices":', 'left for the admin');
  });

  it('a flow with twelve check-out nodes (a ward\u2019s carts on one host) deploys without a listener-leak warning', async () => {
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    try {
      await load([
        { id: 'fleet', type: 'device-fleet', mdm: '', lockerApp: 'org.example.locker' },
        ...Array.from({ length: 12 }, (_, i) => ({ id: `checkout${i}`, type: 'check-out-device', fleet: 'fleet', wires: [[]] })),
      ]);
      await new Promise((resolve) => setImmediate(resolve)); // process warnings are emitted on the next tick
      assert.deepEqual(
        warnings.filter((w) => /MaxListeners/.test(w)),
        [],
      );
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('a fleet database out of reach at start: the tap fails with STORE_UNAVAILABLE, the nodes say so, nothing crashes', async () => {
    await load([
      // Port 9 on loopback: nothing listens there.
      {
        id: 'fleet',
        type: 'device-fleet',
        mdm: '',
        lockerApp: 'org.example.locker',
        store: 'postgres',
        databaseUrl: 'postgres://127.0.0.1:9/devices',
        cart: 'ward-3',
      },
      { id: 'checkout', type: 'check-out-device', fleet: 'fleet', wires: [[]] },
      { id: 'unconfigured', type: 'device-fleet', mdm: '', lockerApp: 'org.example.locker', store: 'postgres', databaseUrl: '', cart: 'ward-3' },
    ]);
    assert.equal(
      (helper.getNode('unconfigured') as unknown as { unavailable?: CodedError }).unavailable?.code,
      'INVALID_CONFIG',
      'no database URL: said at deploy',
    );
    const said = (helper.log() as unknown as { args: [{ id?: string; msg?: unknown }][] }).args
      .map(([entry]) => entry)
      .filter((entry) => entry.id === 'unconfigured');
    assert.ok(
      said.some((entry) => /device-fleet\.errors\.misconfigured/.test(String(entry.msg))),
      'pointed at the dialog',
    );
    assert.ok(!said.some((entry) => /device-fleet\.errors\.unavailable/.test(String(entry.msg))), 'not at a damaged file and its backup');
    const shown = statuses('checkout');
    const errors = reports('checkout', 'error');
    send('checkout', { user: 'ann' });
    await waitFor('refused', () => errors.length === 1, 10_000);
    assert.equal((errors[0] as CodedError).code, 'STORE_UNAVAILABLE');
    assert.match((errors[0] as CodedError).message, /ECONNREFUSED/);
    await waitFor('the node says the database is out of reach', () => shown.some((s) => /store-unavailable/.test(String(s.text))));
  });

  it('a damaged USB location cache never takes the fleet down: set aside, said, learnt again', async () => {
    writeFileSync(join(fleetDir(), 'usb-locations-fleet.json'), '{"Cart#1": 3,');
    await load([{ id: 'fleet', type: 'device-fleet', mdm: '', usb: '/nonexistent/usbmuxd.sock', lockerApp: 'org.example.locker' }]);
    const fleet = helper.getNode('fleet') as unknown as { unavailable?: CodedError; fleet?: { store: FleetStore } };
    assert.equal(fleet.unavailable, undefined);
    assert.ok(fleet.fleet?.store);
    const files = readdirSync(fleetDir());
    assert.ok(
      files.some((f) => f.startsWith('usb-locations-fleet.json.damaged-')),
      files.join(),
    );
    assert.ok(!files.includes('usb-locations-fleet.json'));
  });

  it('two MDM servers on one webhook path: the second is refused at deploy, the first keeps receiving', async () => {
    await load(
      [
        {
          id: 'mdm-a',
          type: 'mdm-server',
          vendor: 'nanomdm',
          url: 'http://127.0.0.1:9/a',
          maxConcurrent: '5',
          timeout: '5000',
          webhookPath: 'device-checkout/webhook',
        },
        {
          id: 'mdm-b',
          type: 'mdm-server',
          vendor: 'nanomdm',
          url: 'http://127.0.0.1:9/b',
          maxConcurrent: '5',
          timeout: '5000',
          webhookPath: 'device-checkout/webhook',
        },
      ],
      { 'mdm-a': { apiKey: 'a', webhookSecret: 'key-a' }, 'mdm-b': { apiKey: 'b', webhookSecret: 'key-b' } },
    );
    // The helper's spy on error() is shared by every node: tell the calls apart by node.
    type Call = { thisValue: { id: string }; args: unknown[] };
    const errorsOf = (id: string) =>
      (helper.getNode(id) as unknown as { error: { getCalls(): Call[] } }).error
        .getCalls()
        .filter((c) => c.thisValue.id === id)
        .map((c) => String(c.args[0]));
    const refused = ['mdm-a', 'mdm-b'].filter((id) => errorsOf(id).some((e) => e.includes('webhook-taken')));
    assert.equal(refused.length, 1, 'exactly one of them is refused, with a clear error');
    const serving = refused[0] === 'mdm-a' ? 'mdm-b' : 'mdm-a';
    const body = Buffer.from('{"topic":"mdm.Connect","acknowledge_event":{"udid":"U1","status":"Idle"}}');
    const signedWith = (key: string) => createHmac('sha256', key).update(body).digest('base64');
    const handler = webhookHandler('/device-checkout/webhook')!;
    assert.equal(handler(body, signedWith(serving === 'mdm-a' ? 'key-a' : 'key-b')), 200, 'the serving one takes its own webhooks');
  });
});
