import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeMessage } from 'node-red';
import type { CodedError } from '../nodes/lib/coded-error';
import { parsePlist, toPlist } from '../nodes/lib/mdm/commands';
import { wifiProfile } from '../nodes/lib/mdm/profiles';
import { webhookHandler } from '../nodes/mdm-server/webhooks';
import { SimulatedJamf } from '../sim/jamf-server';
import { SimulatedNanoMdm } from '../sim/nanomdm-server';
import { SimulatedWorkspaceOne } from '../sim/workspace-one-server';
import { SimulatedDevice, type SimulatedDeviceOptions } from '../sim/simulated-device';
import { webhookReceiver } from '../sim/webhook-receiver';
import { collect, helper, load, reports, send } from '../harness/node-red';
import { tempDir, waitFor } from '../harness/support';

const NANO = { apiKey: 'rts-api-key-51c0', webhookSecret: 'rts-hmac-key-9e2a' };
const JAMF = { clientId: 'rts-api-client', clientSecret: 'rts-jamf-secret-77b1' };
const WS1 = { clientId: 'rts-oauth-client', clientSecret: 'rts-ws1-secret-03c9', tenantCode: 'rts-tenant-5d21' };
const WIFI_PASSWORD = 'ward-wifi-pass-4411';
/** What an MDM profile file holds: the com.apple.mdm payload a DEP profile with configuration-web-url needs. */
const MDM_PROFILE = {
  PayloadType: 'Configuration',
  PayloadVersion: 1,
  PayloadIdentifier: 'org.example.mdm',
  PayloadUUID: 'B8D2B1D4-3C44-4C61-8E5B-0E1F2A3B4C5D',
  PayloadContent: [
    { PayloadType: 'com.apple.mdm', PayloadVersion: 1, PayloadIdentifier: 'org.example.mdm.payload', PayloadUUID: 'C1D2E3F4-0A1B-4C2D-8E3F-405162738495' },
  ],
};

type EraseKeys = { RequestType: string; ReturnToService?: { Enabled: boolean; WiFiProfileData?: Buffer; MDMProfileData?: Buffer } };

/**
 * Return to Service (issue 23 §1) through both MDMs, in a real Node-RED: the phones have nobody at
 * Setup Assistant, so only Return to Service brings an erased one back.
 */
const VENDOR_NAMES = { nanomdm: 'NanoMDM', jamf: 'Jamf Pro', 'workspace-one': 'Workspace ONE UEM' };

for (const vendor of ['nanomdm', 'jamf', 'workspace-one'] as const) {
  describe(`Return to Service through ${VENDOR_NAMES[vendor]}`, function () {
    this.timeout(20_000);
    let nano: SimulatedNanoMdm | undefined;
    let jamf: SimulatedJamf | undefined;
    let ws1: SimulatedWorkspaceOne | undefined;
    let receiver: { url: string; close(): Promise<void> } | undefined;
    let back: NodeMessage[];
    let erased: NodeMessage[];
    let errors: Record<string, unknown[]>;
    let files: string;
    const ids = ['erase', 'erase-files', 'erase-no-wifi', 'erase-gone', 'erase-plain', 'wait-back', 'wait-back-plain'];

    beforeEach(async () => {
      helper.settings({ userDir: tempDir('userdir') });
      files = tempDir('profiles');
      let mdm: object;
      if (vendor === 'jamf') {
        jamf = new SimulatedJamf(JAMF);
        await jamf.start();
        mdm = { vendor: 'jamf', url: jamf.url, pollInterval: '100' };
      } else if (vendor === 'workspace-one') {
        ws1 = new SimulatedWorkspaceOne(WS1);
        await ws1.start();
        mdm = { vendor: 'workspace-one', url: ws1.url, tokenUrl: ws1.tokenUrl, pollInterval: '100' };
      } else {
        nano = new SimulatedNanoMdm(NANO);
        await nano.start();
        receiver = await webhookReceiver((body, signature) => webhookHandler('/device-checkout/webhook')?.(body, signature) ?? 503);
        nano.webhookUrl = receiver.url;
        mdm = { vendor: 'nanomdm', url: nano.url };
      }
      const erase = (id: string, extra: object) => ({
        id,
        type: 'erase-device',
        fleet: 'fleet',
        timeout: '5',
        preserveDataPlan: true,
        disallowProximitySetup: true,
        returnToService: true,
        wifi: '',
        wifiProfile: '',
        mdmProfile: '',
        wires: [['erased']],
        ...extra,
      });
      const waitBack = (id: string) => ({
        id,
        type: 'dep-enroll',
        fleet: 'fleet',
        timeout: '2',
        returnTimeout: '2',
        depProxyUrl: '',
        profileUuid: '',
        sendDeviceConfigured: false,
        wires: [['back']],
      });
      await load(
        [
          { id: 'mdm', type: 'mdm-server', maxConcurrent: '5', timeout: '5000', webhookPath: 'device-checkout/webhook', ...mdm },
          { id: 'fleet', type: 'device-fleet', mdm: 'mdm' },
          {
            id: 'wifi',
            type: 'add-wifi',
            name: 'Ward Wi-Fi',
            fleet: 'fleet',
            timeout: '5',
            ssid: 'Ward [Hub]',
            security: 'WPA2',
            hidden: false,
            autoJoin: true,
            wires: [[]],
          },
          erase('erase', { wifi: 'wifi' }),
          erase('erase-files', { wifiProfile: join(files, 'wifi.mobileconfig'), mdmProfile: join(files, 'mdm.mobileconfig') }),
          erase('erase-no-wifi', {}),
          erase('erase-gone', { wifi: 'no-such-node' }),
          erase('erase-plain', { returnToService: false }),
          waitBack('wait-back'),
          { ...waitBack('wait-back-plain'), returnTimeout: '' },
          { id: 'erased', type: 'helper' },
          { id: 'back', type: 'helper' },
        ],
        { mdm: { nanomdm: NANO, jamf: JAMF, 'workspace-one': WS1 }[vendor], wifi: { password: WIFI_PASSWORD } },
      );
      erased = collect('erased');
      back = collect('back');
      errors = Object.fromEntries(ids.map((id) => [id, reports(id, 'error')]));
    });

    afterEach(async () => {
      await helper.unload();
      helper.settings({});
      for (const sim of [nano, jamf, ws1]) if (sim) assert.deepEqual(sim.invalidCommands, [], 'every command sent conforms to Apple\u2019s schema');
      await Promise.all([nano?.stop(), jamf?.stop(), ws1?.stop(), receiver?.close()]);
      nano = jamf = ws1 = receiver = undefined;
    });

    let phones = 0;
    async function phone(options: SimulatedDeviceOptions = {}): Promise<SimulatedDevice> {
      const device = new SimulatedDevice({ serial: `RTS${vendor.toUpperCase()}${++phones}`, someoneAtSetup: false, ...options });
      if (jamf) jamf.enrol(device);
      else if (ws1) ws1.enrol(device);
      else await nano!.enrol(device);
      return device;
    }
    const msgFor = (device: SimulatedDevice) => ({ device: { udid: device.udid, serial: device.serial, hub: 'Cart B', port: 4 } });
    const codeOf = async (id: string) => ((await waitFor(`an error from ${id}`, () => errors[id][0], 10_000)) as CodedError).code;
    const erasures = (device: SimulatedDevice) => device.executed.filter((c) => c.RequestType === 'EraseDevice') as EraseKeys[];

    it('erases with the Add Wi-Fi node\u2019s network; the phone comes back by itself, keeps its language, and dep-enroll passes it on', async () => {
      const device = await phone({ osVersion: '18.1' });
      device.language = 'de';
      device.locale = 'de_DE';
      send('erase', msgFor(device));
      await waitFor('erased', () => erased.length === 1, 10_000);
      send('wait-back', msgFor(device));
      await waitFor('back by itself', () => back.length === 1, 10_000);
      const [command] = erasures(device);
      assert.equal(command.ReturnToService?.Enabled, true);
      const joined = parsePlist(command.ReturnToService!.WiFiProfileData!) as { PayloadContent: Record<string, unknown>[] };
      assert.deepEqual(
        [joined.PayloadContent[0].SSID_STR, joined.PayloadContent[0].Password, joined.PayloadContent[0].EncryptionType],
        ['Ward Cart B', WIFI_PASSWORD, 'WPA2'],
        'the SSID template filled for this phone, the password from the Add Wi-Fi node\u2019s credentials',
      );
      assert.equal(command.ReturnToService!.MDMProfileData, undefined, 'no MDM profile unless one is given');
      assert.deepEqual([device.erasures, device.returnedToService, device.enrolled], [1, 1, true]);
      assert.deepEqual([device.language, device.locale], ['de', 'de_DE'], 'iOS 18 keeps language and region');
      assert.deepEqual(errors.erase, []);
    });

    it('on iOS 17 the phone comes back too, in English: its language is set again (Set Language, or Setup)', async () => {
      const device = await phone({ osVersion: '17.5' });
      device.language = 'de';
      send('erase', msgFor(device));
      await waitFor('erased', () => erased.length === 1, 10_000);
      send('wait-back', msgFor(device));
      await waitFor('back by itself', () => back.length === 1, 10_000);
      assert.equal(device.language, 'en');
    });

    it('refuses a phone below iOS 17 with RTS_UNSUPPORTED, and one with Activation Lock with ACTIVATION_LOCKED: neither is erased', async () => {
      const old = await phone({ osVersion: '16.7.10' });
      send('erase', msgFor(old));
      assert.equal(await codeOf('erase'), 'RTS_UNSUPPORTED');
      assert.match(String((errors.erase[0] as Error).message), /16\.7\.10/);
      const locked = await phone({ activationLock: true });
      send('erase', msgFor(locked));
      await waitFor('a second refusal', () => errors.erase.length === 2, 10_000);
      assert.equal((errors.erase[1] as CodedError).code, 'ACTIVATION_LOCKED');
      assert.deepEqual([old.erasures, locked.erasures, erased.length], [0, 0, 0]);
    });

    it('a phone erased without a Wi-Fi profile and without Ethernet never comes back: RTS_NOT_RETURNED after the node\u2019s own deadline', async () => {
      const device = await phone();
      send('erase-no-wifi', msgFor(device));
      await waitFor('erased', () => erased.length === 1, 10_000);
      send('wait-back', msgFor(device));
      assert.equal(await codeOf('wait-back'), 'RTS_NOT_RETURNED');
      assert.deepEqual([device.erasures, device.enrolled], [1, false]);
      // An iPad on Ethernet needs no Wi-Fi profile.
      const wired = await phone({ ethernet: true });
      send('erase-no-wifi', msgFor(wired));
      await waitFor('erased', () => erased.length === 2, 10_000);
      send('wait-back', msgFor(wired));
      await waitFor('back by itself', () => back.length === 1, 10_000);
    });

    it('a plain erase with nobody at the phone is the dead end Return to Service avoids: DEVICE_TIMEOUT, not RTS_NOT_RETURNED', async () => {
      const device = await phone();
      send('erase-plain', msgFor(device));
      await waitFor('erased', () => erased.length === 1, 10_000);
      send('wait-back-plain', msgFor(device));
      assert.equal(await codeOf('wait-back-plain'), 'DEVICE_TIMEOUT');
      assert.equal(device.enrolled, false);
    });

    it('profile files: a Wi-Fi and an MDM profile go into the erase as they are; a missing file, one that is no profile, or one without the payload: INVALID_CONFIG, not erased', async () => {
      const wifi = Buffer.from(toPlist(wifiProfile({ ssid: 'Ward 7', security: 'WPA3', password: 'from-a-file' })));
      const mdmProfile = Buffer.from(toPlist(MDM_PROFILE));
      const device = await phone();
      const problems: [string, Buffer | undefined, RegExp][] = [
        ['missing', undefined, /ENOENT/],
        ['not a profile', Buffer.from('ssid=Ward 7\n'), /not-a-profile|not a configuration profile/],
        ['an MDM profile where the Wi-Fi one belongs', mdmProfile, /com\.apple\.wifi\.managed/],
      ];
      writeFileSync(join(files, 'mdm.mobileconfig'), mdmProfile);
      for (const [what, bytes, words] of problems) {
        if (bytes) writeFileSync(join(files, 'wifi.mobileconfig'), bytes);
        const before = errors['erase-files'].length;
        send('erase-files', msgFor(device));
        const err = (await waitFor(what, () => errors['erase-files'][before], 10_000)) as CodedError;
        assert.equal(err.code, 'INVALID_CONFIG', what);
        assert.match(err.message, words, what);
      }
      assert.equal(device.erasures, 0);
      writeFileSync(join(files, 'wifi.mobileconfig'), wifi);
      send('erase-files', msgFor(device));
      await waitFor('erased', () => erased.length === 1, 10_000);
      send('wait-back', msgFor(device));
      await waitFor('back by itself', () => back.length === 1, 10_000);
      const [command] = erasures(device);
      assert.ok(command.ReturnToService!.WiFiProfileData!.equals(wifi), 'the Wi-Fi profile file, byte for byte');
      assert.ok(command.ReturnToService!.MDMProfileData!.equals(mdmProfile), 'the MDM profile file, byte for byte');
      // A signed MDM profile in PEM goes to the phone as its DER (the phone checks the signature).
      const der = Buffer.concat([Buffer.from([0x30, 0x82, 0x01, 0x00]), randomBytes(256)]);
      writeFileSync(join(files, 'mdm.mobileconfig'), `-----BEGIN PKCS7-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END PKCS7-----\n`);
      send('erase-files', msgFor(device));
      await waitFor('erased again', () => erased.length === 2, 10_000);
      assert.ok(erasures(device)[1].ReturnToService!.MDMProfileData!.equals(der), 'the PEM file\u2019s DER');
    });

    it('an Add Wi-Fi node that is not running (deleted since): INVALID_CONFIG saying so, not erased', async () => {
      const device = await phone();
      send('erase-gone', msgFor(device));
      assert.equal(await codeOf('erase-gone'), 'INVALID_CONFIG');
      assert.match((errors['erase-gone'][0] as Error).message, /no-wifi-node|not running/);
      assert.equal(device.erasures, 0);
    });

    it('a hub and port where no phone is docked: NO_DEVICE naming them', async () => {
      send('erase', { device: { hub: 'Cart A', port: 1 } });
      assert.equal(await codeOf('erase'), 'NO_DEVICE');
      assert.match((errors.erase[0] as Error).message, /Cart A.*1/);
    });
  });
}
