import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { NanoMdm, type CheckIn } from '../nodes/lib/mdm/nanomdm';
import * as commands from '../nodes/lib/mdm/commands';
import type { CodedError } from '../nodes/lib/coded-error';
import { SimulatedNanoMdm } from '../sim/nanomdm-server';
import { SimulatedDevice } from '../sim/simulated-device';
import { webhookReceiver } from '../sim/webhook-receiver';
import { tempDir, waitFor } from '../harness/support';
import { EnrolmentVault } from '../nodes/lib/mdm/enrolment-vault';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const API_KEY = 'nano-api-key';
const HMAC_KEY = 'webhook-hmac-key';

describe('NanoMDM client against a simulated NanoMDM', () => {
  let sim: SimulatedNanoMdm;
  let nano: NanoMdm;
  let receiver: { url: string; close(): Promise<void> };
  let phone: SimulatedDevice;

  beforeEach(async () => {
    sim = new SimulatedNanoMdm({ apiKey: API_KEY, webhookSecret: HMAC_KEY });
    const url = await sim.start();
    receiver = await webhookReceiver((body, signature) => nano.handleWebhook(body, signature));
    sim.webhookUrl = receiver.url;
    nano = new NanoMdm({ url, apiKey: API_KEY, webhookSecret: HMAC_KEY, maxConcurrent: 5, timeout: 2000 });
    phone = new SimulatedDevice({ serial: 'F17XK0AAHG7F' });
    await sim.enrol(phone);
  });

  afterEach(async () => {
    await nano.close();
    await sim.stop();
    await receiver.close();
  });

  const perform = (command: commands.MdmCommand, options: { timeout?: number; destructive?: boolean; udid?: string } = {}) =>
    nano.perform(options.udid ?? phone.udid, command, { timeout: options.timeout ?? 3000, destructive: options.destructive });

  it('learns serial and unlock token from the enrolment check-ins', () => {
    assert.equal(nano.enrolment(phone.udid)?.serial, 'F17XK0AAHG7F');
    assert.deepEqual(nano.enrolment(phone.udid)?.unlockToken, phone.unlockToken);
  });

  it('keeps serials and unlock tokens across a restart, encrypted with the API key', async () => {
    const file = join(tempDir('vault'), 'enrolments.json');
    const first = new NanoMdm({
      url: sim.url,
      apiKey: API_KEY,
      acceptUnsigned: true,
      maxConcurrent: 5,
      timeout: 2000,
      vault: new EnrolmentVault(file, API_KEY),
    });
    const checkIn = (message: object, topic: string) =>
      first.handleWebhook(
        Buffer.from(JSON.stringify({ topic, checkin_event: { udid: phone.udid, raw_payload: Buffer.from(commands.toPlist(message)).toString('base64') } })),
        undefined,
      );
    assert.equal(checkIn(phone.authenticateMessage(), 'mdm.Authenticate'), 200);
    assert.equal(checkIn(phone.tokenUpdateMessage(), 'mdm.TokenUpdate'), 200);
    await first.close(); // a redeploy: what the check-ins taught is on disk once it is closed
    const onDisk = readFileSync(file, 'utf8');
    for (const secret of [phone.unlockToken.toString('base64'), phone.unlockToken.toString('hex'), phone.serial])
      assert.ok(!onDisk.includes(secret), 'nothing readable on disk');

    const restarted = new NanoMdm({ url: sim.url, apiKey: API_KEY, maxConcurrent: 5, timeout: 2000, vault: new EnrolmentVault(file, API_KEY) });
    assert.equal(restarted.enrolment(phone.udid)?.serial, phone.serial);
    assert.deepEqual(await restarted.unlockToken(phone.udid), phone.unlockToken);
    const otherKey = new NanoMdm({ url: sim.url, apiKey: 'a-rotated-key', maxConcurrent: 5, timeout: 2000, vault: new EnrolmentVault(file, 'a-rotated-key') });
    assert.equal(otherKey.enrolment(phone.udid), undefined, 'another key reads nothing: tokens are learnt again');
    await Promise.all([restarted.close(), otherKey.close()]);
  });

  it('is done when the device acknowledged, with what it answered', async () => {
    const answer = await perform(commands.deviceInformation(['SerialNumber', 'BatteryLevel']));
    assert.deepEqual(answer.QueryResponses, { SerialNumber: 'F17XK0AAHG7F', BatteryLevel: 0.8 });
    await perform(commands.settings(commands.deviceName('Ward 3 / 12')));
    assert.equal(phone.name, 'Ward 3 / 12');
  });

  it('erases, and sees the DEP device enrol again with a new unlock token', async () => {
    const oldToken = phone.unlockToken;
    const reenrolled = new Promise<CheckIn>((resolve) => nano.once('token-update', resolve));
    await perform(commands.eraseDevice({ preserveDataPlan: true }), { destructive: true });
    await waitFor('the device wipes itself after acknowledging', () => phone.erasures === 1);
    const checkIn = await reenrolled;
    assert.equal(checkIn.udid, phone.udid);
    assert.ok(!checkIn.unlockToken!.equals(oldToken));
    assert.deepEqual(checkIn.unlockToken, phone.unlockToken);
  });

  it('clears the passcode with the stored unlock token, and reports a wrong one with Apple\u2019s words', async () => {
    await perform(commands.clearPasscode(nano.enrolment(phone.udid)!.unlockToken!));
    await assert.rejects(
      perform(commands.clearPasscode(Buffer.from('wrong'))),
      (err: CodedError) => err.code === 'DEVICE_ERROR' && /unlock token is not valid\. \(MCMDMErrorDomain 12021\)/.test(err.message),
    );
  });

  it('fails with the ErrorChain when supervision is missing', async () => {
    phone.supervised = false;
    await assert.rejects(
      perform(commands.settings(commands.deviceName('x'))),
      (err: CodedError) => err.code === 'DEVICE_ERROR' && /requires a supervised device/.test(err.message),
    );
  });

  it('keeps waiting through NotNow, and times out a device that never answers', async () => {
    phone.notNowFor = 2;
    await perform(commands.restartDevice());
    assert.equal(phone.executed.filter((c) => c.RequestType === 'RestartDevice').length, 1);
    phone.silent = true;
    await assert.rejects(perform(commands.restartDevice(), { timeout: 300 }), (err: CodedError) => err.code === 'DEVICE_TIMEOUT');
  });

  it('a slow MDM is not a silent phone: the device’s time starts once NanoMDM has the command', async () => {
    sim.latency = 700; // each enqueue takes longer than the phone is given to answer
    await perform(commands.restartDevice(), { timeout: 500 });
    assert.equal(phone.executed.filter((c) => c.RequestType === 'RestartDevice').length, 1);
    sim.latency = 0;
  });

  it('an MDM that cannot be reached: MDM_UNREACHABLE naming where it tried (never the credentials)', async () => {
    const away = new NanoMdm({ url: 'http://nanomdm:secret-in-url@127.0.0.1:9/', apiKey: API_KEY, webhookSecret: HMAC_KEY, maxConcurrent: 5, timeout: 2000 });
    try {
      await assert.rejects(away.perform(phone.udid, commands.restartDevice(), { timeout: 1000 }), (err: CodedError) => {
        assert.equal(err.code, 'MDM_UNREACHABLE');
        assert.match(err.message, /errors\.unreachable \{"where":"http:\/\/127\.0\.0\.1:9","code":"ECONNREFUSED"\}/);
        assert.doesNotMatch(err.message, /secret|nano-api-key/);
        return true;
      });
    } finally {
      await away.close();
    }
  });

  it('stopped (a redeploy) while the command is still on its way to the server: rejects with the reason, no unhandled rejection (it would end Node-RED)', async () => {
    sim.latency = 300;
    const unhandled: unknown[] = [];
    const record = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', record);
    try {
      const stop = new AbortController();
      const performed = nano.perform(phone.udid, commands.restartDevice(), { timeout: 3000, signal: stop.signal });
      setTimeout(() => stop.abort(Object.assign(new Error('closed'), { code: 'NODE_CLOSED' })), 50);
      await assert.rejects(performed, (err: CodedError) => err.code === 'NODE_CLOSED');
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', record);
    }
  });
  it('retries 503 and 429, honouring Retry-After', async () => {
    sim.faults = [
      { status: 503, times: 1 },
      { status: 429, retryAfter: 1, times: 1 },
    ];
    const started = Date.now();
    await perform(commands.restartDevice());
    assert.ok(Date.now() - started >= 1000, 'waited for Retry-After');
    assert.deepEqual(
      sim.requests.filter((r) => r.method === 'PUT').map((r) => r.status),
      [503, 429, 200],
    );
  });

  it('never re-sends an erase that may have reached the server', async () => {
    sim.faults = [{ status: 502, times: 1, queueAnyway: true }];
    await assert.rejects(perform(commands.eraseDevice(), { destructive: true }), (err: CodedError) => err.code === 'MDM_UNCERTAIN');
    assert.equal(sim.requests.filter((r) => r.method === 'PUT').length, 1);
  });

  it('reads a 500 that only failed the push as queued, and fails other 4xx at once', async () => {
    sim.faults = [{ status: 500, times: 1, queueAnyway: true }];
    await assert.rejects(perform(commands.restartDevice()), (err: CodedError) => err.code === 'MDM_SERVER_ERROR');
    const wrongKey = new NanoMdm({ url: sim.url, apiKey: 'wrong', maxConcurrent: 5, timeout: 2000 });
    await assert.rejects(
      wrongKey.perform(phone.udid, commands.restartDevice(), { timeout: 1000 }),
      (err: CodedError) => err.code === 'MDM_AUTH' && !err.message.includes('wrong'),
    );
    await assert.rejects(
      perform(commands.restartDevice(), { udid: 'NOT-ENROLLED' }),
      (err: CodedError) => err.code === 'MDM_REJECTED' && /enrollment not found/.test(err.message),
    );
  });

  it('reads the real server\u2019s top-level answers: push_error alone is queued (no push certificate), command_error is not', async () => {
    // As a fresh NanoMDM answers with no push certificate for the topic: HTTP 500, no status map.
    const noCertificate = (uuid: string) => ({
      push_error: 'retrieving push cert for topic com.apple.mgmt.External.x: key not found: certificate',
      command_uuid: uuid,
      request_type: 'DeviceInformation',
    });
    const command = commands.deviceInformation(['SerialNumber']);
    sim.faults = [{ status: 500, times: 1, queueAnyway: true, body: noCertificate(command.CommandUUID) }];
    assert.deepEqual((await perform(command)).QueryResponses, { SerialNumber: 'F17XK0AAHG7F' }, 'the device ran it: done, not MDM_SERVER_ERROR');
    const erase = commands.eraseDevice();
    sim.faults = [{ status: 500, times: 1, queueAnyway: true, body: noCertificate(erase.CommandUUID) }];
    await perform(erase, { destructive: true }); // done, not MDM_UNCERTAIN
    await waitFor('wiped', () => phone.erasures === 1);
    sim.faults = [{ status: 500, times: 1, body: { command_error: 'command already exists: Error 1062: Duplicate entry' } }];
    await assert.rejects(perform(commands.restartDevice()), (err: CodedError) => err.code === 'MDM_REJECTED' && /already exists/.test(err.message));
  });

  it('re-learns a serial whose Authenticate webhook was lost, when it reads the device (each check-in)', async () => {
    const forgetful = new NanoMdm({ url: sim.url, apiKey: API_KEY, webhookSecret: HMAC_KEY, maxConcurrent: 5, timeout: 2000 });
    await nano.close();
    nano = forgetful; // the webhooks now reach a client that never saw the phone enrol
    assert.equal(forgetful.enrolment(phone.udid)?.serial, undefined);
    assert.deepEqual(await forgetful.readDevice(phone.udid, { timeout: 3000 }), { battery: 0.8, serial: 'F17XK0AAHG7F' });
    assert.equal(forgetful.enrolment(phone.udid)?.serial, 'F17XK0AAHG7F');
  });

  it('keeps at most maxConcurrent requests in flight', async () => {
    const narrow = new NanoMdm({ url: sim.url, apiKey: API_KEY, webhookSecret: HMAC_KEY, maxConcurrent: 3, timeout: 2000 });
    nano = narrow;
    sim.latency = 30;
    const phones = Array.from({ length: 12 }, () => new SimulatedDevice());
    for (const p of phones) await sim.enrol(p);
    sim.peakInFlight = 0;
    await Promise.all(phones.map((p) => narrow.perform(p.udid, commands.restartDevice(), { timeout: 5000 })));
    assert.equal(narrow.http.peakInFlight, 3);
    assert.ok(sim.peakInFlight <= 3, `server saw ${sim.peakInFlight} at once`);
  });

  it('tells a shared fleet\u2019s other carts each check-in and command result, never an Idle connect; needs from them check-ins and the results it waits for', async () => {
    const told: string[] = [];
    nano.on('webhook', ({ about }: { about: string }) => told.push(about));
    const signed = (event: object): number => {
      const body = Buffer.from(JSON.stringify(event));
      return nano.handleWebhook(body, createHmac('sha256', HMAC_KEY).update(body).digest('base64'));
    };
    signed({ topic: 'mdm.Connect', acknowledge_event: { udid: phone.udid, status: 'Idle' } });
    signed({ topic: 'mdm.TokenUpdate', checkin_event: { udid: phone.udid, raw_payload: '' } });
    await perform(commands.deviceInformation(['BatteryLevel']));
    assert.equal(told.length, 2, told.join(', '));
    assert.equal(told[0], `checkin:${phone.udid}`);
    assert.match(told[1], new RegExp(`^result:${phone.udid}/[0-9A-F-]+$`, 'i'));

    assert.equal(nano.needs(`checkin:${phone.udid}`), true, 'every check-in');
    const waiting = nano.results.wait(phone.udid, 'CMD-7', 2000);
    assert.equal(nano.needs(`result:${phone.udid}/CMD-7`), true, 'a result it waits for');
    assert.equal(nano.needs(`result:${phone.udid}/CMD-8`), false, 'another cart\u2019s result');
    signed({ topic: 'mdm.Connect', acknowledge_event: { udid: phone.udid, status: 'Acknowledged', command_uuid: 'CMD-7' } });
    await waiting;
    assert.equal(nano.needs(`result:${phone.udid}/CMD-7`), false, 'no longer once answered');
  });

  it('rejects webhooks with a bad or missing signature, and ignores Idle connects', async () => {
    const body = Buffer.from(JSON.stringify({ topic: 'mdm.TokenUpdate', checkin_event: { udid: phone.udid, raw_payload: '' } }));
    assert.equal(nano.handleWebhook(body, undefined), 401);
    assert.equal(nano.handleWebhook(body, createHmac('sha256', 'other').update(body).digest('base64')), 401);
    assert.equal(nano.handleWebhook(body, createHmac('sha256', HMAC_KEY).update(body).digest('base64')), 200);
    const idle = Buffer.from(JSON.stringify({ topic: 'mdm.Connect', acknowledge_event: { udid: phone.udid, status: 'Idle' } }));
    assert.equal(nano.handleWebhook(idle, createHmac('sha256', HMAC_KEY).update(idle).digest('base64')), 200);
    assert.equal(nano.handleWebhook(Buffer.from('not json'), createHmac('sha256', HMAC_KEY).update('not json').digest('base64')), 400);
    await waitFor('no failed deliveries from the simulator', () => sim.webhookFailures.length === 0 || undefined);
  });
});
