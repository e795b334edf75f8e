import assert from 'node:assert/strict';
import type { CodedError } from '../nodes/lib/coded-error';
import { Fleet } from '../nodes/lib/fleet/fleet';
import { FleetDirectory } from '../nodes/lib/fleet/fleet-directory';
import { DEVICE_HOME } from '../nodes/lib/fleet/fleet-store';
import type { MdmAdapter } from '../nodes/lib/mdm/mdm-adapter';
import { JamfPro } from '../nodes/lib/mdm/jamf';
import { NanoMdm } from '../nodes/lib/mdm/nanomdm';
import { Intune } from '../nodes/lib/mdm/intune';
import { WorkspaceOne } from '../nodes/lib/mdm/workspace-one';
import { INTUNE, startIntune } from '../harness/mdm-vendors';
import { SimulatedJamf } from '../sim/jamf-server';
import { SimulatedNanoMdm } from '../sim/nanomdm-server';
import { SimulatedWorkspaceOne } from '../sim/workspace-one-server';
import { SimulatedDevice } from '../sim/simulated-device';
import { webhookReceiver } from '../sim/webhook-receiver';
import { tempDir, waitFor } from '../harness/support';

const LOCKER = 'org.example.locker';
const LOST_MODE = {
  Message: 'Please return this phone to [Device Home]. It was with [Device User Name].',
  PhoneNumber: '+49 30 1234 5678',
  Footnote: '[Device Name]',
};

/** One MDM, simulated, with a client of it: what a fleet sends its commands through. */
interface Mdm {
  client: MdmAdapter;
  enrol(phone: SimulatedDevice): Promise<void>;
  /** Every command sent conforms to Apple's schema. */
  invalidCommands(): unknown[];
  stop(): Promise<void>;
}

async function nanoMdm(): Promise<Mdm> {
  const sim = new SimulatedNanoMdm({ apiKey: 'lost-api-key', webhookSecret: 'lost-hmac' });
  const url = await sim.start();
  // The receiver hands webhooks to the client made next (none arrive before it exists).
  const receiver = await webhookReceiver((body, signature) => client.handleWebhook(body, signature));
  sim.webhookUrl = receiver.url;
  const client = new NanoMdm({ url, apiKey: 'lost-api-key', webhookSecret: 'lost-hmac', maxConcurrent: 5, timeout: 2000 });
  return {
    client,
    enrol: (phone) => sim.enrol(phone),
    invalidCommands: () => sim.invalidCommands,
    stop: async () => {
      await client.close();
      await sim.stop();
      await receiver.close();
    },
  };
}

/** An MDM read back by polling (no webhooks): its client, and the simulator its phones enrol with. */
function polled(client: MdmAdapter, sim: { enrol(phone: SimulatedDevice): unknown; invalidCommands: unknown[]; stop(): Promise<void> }): Mdm {
  return {
    client,
    enrol: async (phone) => void sim.enrol(phone),
    invalidCommands: () => sim.invalidCommands,
    stop: async () => {
      await client.close();
      await sim.stop();
    },
  };
}

async function jamfPro(): Promise<Mdm> {
  const credentials = { clientId: 'device-checkout', clientSecret: 'lost-client-secret' };
  const sim = new SimulatedJamf(credentials);
  await sim.start();
  return polled(new JamfPro({ url: sim.url, ...credentials, maxConcurrent: 5, timeout: 2000, pollInterval: 20 }), sim);
}

async function workspaceOne(): Promise<Mdm> {
  const credentials = { clientId: 'device-checkout', clientSecret: 'lost-ws1-secret', tenantCode: 'lost-tenant-code' };
  const sim = new SimulatedWorkspaceOne(credentials);
  await sim.start();
  return polled(new WorkspaceOne({ url: sim.url, tokenUrl: sim.tokenUrl, ...credentials, maxConcurrent: 5, timeout: 2000, pollInterval: 20 }), sim);
}

async function intune(): Promise<Mdm> {
  const sim = await startIntune(LOCKER);
  const { tenantId, clientId, clientSecret, checkedOutGroup, lockedGroup } = INTUNE;
  const client = new Intune({
    url: sim.url,
    tokenUrl: sim.url,
    tenantId,
    clientId,
    clientSecret,
    checkedOutGroup,
    lockedGroup,
    maxConcurrent: 5,
    timeout: 2000,
    pollInterval: 20,
  });
  return polled(client, sim);
}

for (const [vendor, start] of [
  ['NanoMDM', nanoMdm],
  ['Jamf Pro', jamfPro],
  ['Workspace ONE', workspaceOne],
  ['Microsoft Intune', intune],
] as const) {
  describe(`Lost Mode through ${vendor}`, function () {
    this.timeout(15_000);
    let mdm: Mdm;
    let fleet: Fleet;
    let directory: FleetDirectory;
    let said: string[];

    beforeEach(async () => {
      mdm = await start();
      said = [];
      fleet = new Fleet({
        id: 'lost',
        dataDir: tempDir('lost-mode'),
        rules: { deadlineSeconds: 60, userLimit: 1, batteryThreshold: 0.2 },
        lockerApp: LOCKER,
        badgeLookupUrl: '',
        mdm: () => mdm.client,
        lostMode: LOST_MODE,
        text: (key, vars) => `${key} ${JSON.stringify(vars ?? {})}`,
        log: { info: () => undefined, warn: (m) => said.push(m), error: (m) => said.push(m) },
      });
      directory = new FleetDirectory();
      directory.add('fleet', fleet);
    });

    afterEach(async () => {
      await fleet.close();
      await mdm.stop();
      assert.deepEqual(mdm.invalidCommands(), [], 'every command conforms to Apple\u2019s schema');
    });

    /** A phone out with Ann, from a cart that is its Device Home. */
    async function outWithAnn(options: { supervised?: boolean } = {}): Promise<SimulatedDevice> {
      const phone = new SimulatedDevice(options);
      await mdm.enrol(phone);
      await fleet.store.docked(phone.udid, { hubId: 'hub', hub: 'Cart', port: 4 });
      await fleet.store.setName(phone.udid, 'Ward 3 / 4');
      await fleet.store.setAttribute(phone.udid, DEVICE_HOME, 'ward-3');
      await fleet.store.setStatus(phone.udid, 'Checked In');
      await fleet.beginCheckout({ id: 'ann', name: 'Ann Example' }, phone.udid, {});
      await fleet.store.unplugged(phone.udid);
      return phone;
    }

    it('a phone marked Lost shows the fleet\u2019s message on its Lock Screen, placeholders filled; a check-in (here an admin\u2019s) lifts it before locking', async () => {
      const phone = await outWithAnn();
      const row = await directory.act(phone.udid, 'lost', { reason: 'not back after two shifts' }, 'charge');
      assert.deepEqual([row.status, row.lostMode], ['Lost', true], 'the fleet view shows it');
      await waitFor('in Lost Mode', () => phone.lostMode !== undefined);
      assert.deepEqual(phone.lostMode, {
        Message: 'Please return this phone to ward-3. It was with Ann Example.',
        PhoneNumber: '+49 30 1234 5678',
        Footnote: 'Ward 3 / 4',
      });
      assert.equal((await fleet.store.device(phone.udid))?.lostMode, true);
      assert.ok((await fleet.store.audit(phone.udid)).some((e) => e.what === 'lost mode: lostMode' && e.to === 'true' && e.who === 'charge'));

      const before = phone.executed.length;
      // An admin's forced Check In runs the check-in action, as a Return does.
      assert.equal((await directory.act(phone.udid, 'check-in', { reason: 'found in the break room' }, 'charge')).status, 'Checked In');
      assert.equal(phone.lostMode, undefined, 'out of Lost Mode');
      const sent = phone.executed.slice(before).map((c) => c.RequestType);
      assert.equal(sent[0], 'DisableLostMode', 'lifted before anything the Return needs');
      assert.deepEqual([(await fleet.store.device(phone.udid))?.lostMode, (await fleet.store.device(phone.udid))?.status], [undefined, 'Checked In']);
    });

    it('a placeholder without a value (a phone with no recorded name, no Device Home) leaves that part empty: Lost Mode is sent, and the log says what was missing', async () => {
      const phone = new SimulatedDevice();
      await mdm.enrol(phone);
      await fleet.store.docked(phone.udid, { hubId: 'hub', hub: 'Cart', port: 5 });
      await fleet.store.setStatus(phone.udid, 'Checked In');
      await fleet.beginCheckout({ id: 'ann', name: 'Ann Example' }, phone.udid, {});
      await fleet.store.unplugged(phone.udid);
      await directory.act(phone.udid, 'lost', { reason: 'gone' }, 'charge');
      await waitFor('in Lost Mode', () => phone.lostMode !== undefined);
      assert.deepEqual(
        JSON.parse(JSON.stringify(phone.lostMode)),
        { Message: 'Please return this phone to . It was with Ann Example.', PhoneNumber: '+49 30 1234 5678' },
        'no name: no footnote',
      );
      assert.equal(said.filter((line) => line.startsWith('device-fleet.errors.lost-mode-empty')).length, 1);
      assert.match(said[0], /\[Device Home\], \[Device Name\]/);
      assert.ok(!said.some((line) => line.includes('refused')), 'the phone refused nothing');
    });

    it('a phone not supervised refuses Lost Mode: said as LOST_MODE_REFUSED, recorded as not in Lost Mode', async () => {
      const phone = await outWithAnn({ supervised: false });
      await directory.act(phone.udid, 'lost', { reason: 'gone' }, 'charge');
      await waitFor('the refusal said', () => said.some((line) => line.startsWith('device-fleet.errors.lost-mode-refused')));
      await waitFor('recorded', async () => (await fleet.store.device(phone.udid))?.lostMode === undefined);
      assert.equal(phone.lostMode, undefined);
      assert.ok(
        (await fleet.store.audit(phone.udid)).some((e) => e.what === 'lost mode: lostMode' && e.to === undefined && e.why?.startsWith('LOST_MODE_REFUSED')),
      );
    });

    it('Locate and Ring a phone in Lost Mode: where it is, kept in its record and trail under the admin\u2019s name; it rings; not in Lost Mode: NOT_LOST', async () => {
      const phone = await outWithAnn();
      await assert.rejects(directory.locate(phone.udid, {}, 'charge'), (err: CodedError) => err.code === 'NOT_LOST' && /not-in-lost-mode/.test(err.message));
      await assert.rejects(directory.act(phone.udid, 'ring', {}, 'charge'), (err: CodedError) => err.code === 'NOT_LOST');
      assert.equal(phone.soundsPlayed, 0);
      await directory.act(phone.udid, 'lost', { reason: 'not back after two shifts' }, 'charge');
      await waitFor('in Lost Mode', async () => phone.lostMode !== undefined && (await fleet.store.device(phone.udid))?.lostMode === true);

      if (vendor === 'Workspace ONE') {
        // UEM's API does not return the phone's DeviceLocation answer: said, with where to look instead.
        await assert.rejects(
          directory.locate(phone.udid, {}, 'charge'),
          (err: CodedError) => err.code === 'UNSUPPORTED' && /ws1-no-location/.test(err.message),
        );
        await directory.act(phone.udid, 'ring', {}, 'charge');
        return assert.equal(phone.soundsPlayed, 1);
      }
      const { device, location } = await directory.locate(phone.udid, { reason: 'ward 3 asked' }, 'charge');
      assert.deepEqual({ ...location, at: undefined }, { latitude: 52.52667, longitude: 13.37686, accuracy: 35, at: undefined });
      assert.ok(Math.abs(Date.parse(location.at) - Date.now()) < 60_000, location.at);
      assert.match(device.lastLocation!, /^52\.52667, 13\.37686 ±35 m at /);
      const located = (await fleet.store.audit(phone.udid)).find((e) => e.what === 'attribute: Last Location');
      assert.deepEqual([located?.who, located?.why, located?.to], ['charge', 'ward 3 asked', device.lastLocation]);

      await directory.act(phone.udid, 'ring', {}, 'charge');
      assert.equal(phone.soundsPlayed, 1);
      assert.ok(
        (await fleet.store.audit(phone.udid)).some((e) => e.what === 'attribute: Lost Mode Sound' && e.who === 'charge' && e.why === 'rung by an admin'),
      );

      // Its location services cannot tell: NanoMDM hands on the phone's error (12068); Jamf Pro's
      // inventory only ever shows a location, so there the wait runs out (DEVICE_TIMEOUT).
      if (vendor === 'NanoMDM') {
        phone.location = undefined;
        await assert.rejects(directory.locate(phone.udid, {}, 'charge'), (err: CodedError) => err.code === 'DEVICE_ERROR');
      }
    });
  });
}
