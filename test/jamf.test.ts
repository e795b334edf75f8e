import assert from 'node:assert/strict';
import * as commands from '../nodes/lib/mdm/commands';
import { JamfPro } from '../nodes/lib/mdm/jamf';
import { waitForEnrolment } from '../nodes/lib/mdm/enrolment';
import { appLockProfile } from '../nodes/lib/mdm/profiles';
import type { CodedError } from '../nodes/lib/coded-error';
import { SimulatedJamf } from '../sim/jamf-server';
import { SimulatedDevice } from '../sim/simulated-device';
import { waitFor } from '../harness/support';

const CLIENT = { clientId: 'device-checkout', clientSecret: 'jamf-client-secret-1' };

describe('Jamf Pro client against a simulated Jamf Pro', () => {
  let jamf: SimulatedJamf;
  let client: JamfPro;
  let phone: SimulatedDevice;

  beforeEach(async () => {
    jamf = new SimulatedJamf({ ...CLIENT, username: 'api-user', password: 'api-password' });
    await jamf.start();
    client = new JamfPro({ url: jamf.url, ...CLIENT, maxConcurrent: 5, timeout: 2000, pollInterval: 20 });
    phone = new SimulatedDevice({ serial: 'JAMF00000001' });
    jamf.enrol(phone);
  });

  afterEach(async () => {
    await client.close();
    await jamf.stop();
    assert.deepEqual(jamf.invalidCommands, []);
  });

  const perform = (command: commands.MdmCommand, options: { timeout?: number; destructive?: boolean } = {}) =>
    client.perform(phone.udid, command, { timeout: options.timeout ?? 3000, destructive: options.destructive });

  it('sends commands with an OAuth token and is done when the device acknowledged', async () => {
    await perform(commands.settings(commands.deviceName('Ward 5 / 2')));
    assert.equal(phone.name, 'Ward 5 / 2');
    await perform(commands.settings(commands.applicationConfiguration('com.example.locker', { user: 'alice' })));
    assert.deepEqual(phone.appConfigurations.get('com.example.locker'), { user: 'alice' });
    await perform(commands.restartDevice(true));
    assert.equal(jamf.tokensIssued, 1, 'one token for all of it');
  });

  it('gets tokens with a username and password too', async () => {
    const basic = new JamfPro({ url: jamf.url, username: 'api-user', password: 'api-password', maxConcurrent: 5, timeout: 2000, pollInterval: 20 });
    await basic.perform(phone.udid, commands.restartDevice(), { timeout: 3000 });
    const wrong = new JamfPro({ url: jamf.url, username: 'api-user', password: 'nope', maxConcurrent: 5, timeout: 2000, pollInterval: 20 });
    await assert.rejects(
      wrong.perform(phone.udid, commands.restartDevice(), { timeout: 3000 }),
      (err: CodedError) => err.code === 'MDM_AUTH' && !err.message.includes('nope'),
    );
  });

  it('renews the token before it expires, and once after a 401', async () => {
    const shortLived = new SimulatedJamf({ ...CLIENT, tokenLifetime: 31 }); // renewed 30 s early: after ~1 s
    await shortLived.start();
    shortLived.enrol(phone);
    const renewing = new JamfPro({ url: shortLived.url, ...CLIENT, maxConcurrent: 5, timeout: 2000, pollInterval: 20 });
    await renewing.perform(phone.udid, commands.restartDevice(), { timeout: 3000 });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await renewing.perform(phone.udid, commands.restartDevice(), { timeout: 3000 });
    assert.equal(shortLived.tokensIssued, 2);
    shortLived.revokeTokens();
    await renewing.perform(phone.udid, commands.restartDevice(), { timeout: 3000 });
    assert.equal(shortLived.tokensIssued, 3);
    assert.equal(shortLived.requests.filter((r) => r.status === 401).length, 1, 'one 401, then the renewed token');
    await shortLived.stop();
  });

  it('clears the passcode with the unlock token from the device record, and erases', async () => {
    const token = await client.unlockToken(phone.udid);
    assert.deepEqual(token, phone.unlockToken);
    await perform(commands.clearPasscode(token!));
    await perform(commands.eraseDevice({ preserveDataPlan: true }), { destructive: true });
    assert.equal(phone.erasures, 1);
    assert.equal(phone.executed.at(-1)?.PreserveDataPlan, true);
  });

  it('sees the erased device enrol again by reading its record', async () => {
    await perform(commands.eraseDevice(), { destructive: true });
    const enrolment = await waitForEnrolment(client, phone.udid, 3000);
    assert.equal(enrolment.serial, 'JAMF00000001');
    assert.ok(enrolment.enrolledAt! >= enrolment.erasedAt!);
  });

  it('sees it too when the phone enrolled again before the next poll read the erase as acknowledged', async () => {
    const slow = new JamfPro({ url: jamf.url, ...CLIENT, maxConcurrent: 5, timeout: 2000, pollInterval: 300 });
    try {
      await slow.perform(phone.udid, commands.eraseDevice(), { timeout: 3000, destructive: true });
      const enrolment = await waitForEnrolment(slow, phone.udid, 1500);
      assert.ok(enrolment.enrolledAt! >= enrolment.erasedAt!);
    } finally {
      await slow.close();
    }
  });

  it('reports the device\u2019s refusal, keeps polling through NotNow, times out a silent device', async () => {
    await assert.rejects(
      perform(commands.clearPasscode(Buffer.from('wrong'))),
      (err: CodedError) => err.code === 'DEVICE_ERROR' && /unlock token is not valid/.test(err.message),
    );
    phone.notNowFor = 2;
    await perform(commands.restartDevice());
    phone.silent = true;
    await assert.rejects(perform(commands.restartDevice(), { timeout: 300 }), (err: CodedError) => err.code === 'DEVICE_TIMEOUT');
  });

  it('says what Jamf Pro cannot do per device, and fails for unknown devices', async () => {
    await assert.rejects(
      perform(commands.installProfile(appLockProfile('com.example.locker'))),
      (err: CodedError) => err.code === 'UNSUPPORTED' && /errors\.jamf-profiles/.test(err.message),
    );
    await assert.rejects(perform(commands.deviceInformation(['UDID'])), (err: CodedError) => err.code === 'UNSUPPORTED');
    await assert.rejects(client.perform('NO-SUCH-UDID', commands.restartDevice(), { timeout: 1000 }), (err: CodedError) => err.code === 'DEVICE_UNKNOWN');
  });

  it('deletes the device record through the Classic API', async () => {
    await client.deleteDevice(phone.udid);
    await assert.rejects(client.perform(phone.udid, commands.restartDevice(), { timeout: 1000 }), (err: CodedError) => err.code === 'DEVICE_UNKNOWN');
    assert.ok(jamf.requests.some((r) => r.method === 'DELETE' && r.path.startsWith('/JSSResource/mobiledevices/id/') && r.status === 200));
  });

  it('retries a 503, and never re-sends an erase that may have been queued', async () => {
    jamf.faults = [{ status: 503, times: 1 }];
    await perform(commands.restartDevice());
    jamf.faults = [{ status: 502, times: 1, queueAnyway: true }];
    await assert.rejects(perform(commands.eraseDevice(), { destructive: true }), (err: CodedError) => err.code === 'MDM_UNCERTAIN');
    assert.deepEqual(
      jamf.requests.filter((r) => r.method === 'POST' && r.path === '/api/v2/mdm/commands').map((r) => r.status),
      [503, 201, 502],
    );
    await waitFor('the queued erase still ran once', () => phone.erasures === 1);
  });

  it('keeps at most maxConcurrent requests in flight', async () => {
    const narrow = new JamfPro({ url: jamf.url, ...CLIENT, maxConcurrent: 2, timeout: 2000, pollInterval: 20 });
    const phones = Array.from({ length: 10 }, () => new SimulatedDevice());
    phones.forEach((p) => jamf.enrol(p));
    await Promise.all(phones.map((p) => narrow.perform(p.udid, commands.restartDevice(), { timeout: 5000 })));
    assert.equal(narrow.http.peakInFlight, 2);
  });
});
