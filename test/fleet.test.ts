import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sinon from 'sinon';
import type { CodedError } from '../nodes/lib/coded-error';
import { BATTERY_CHECK_MS, LOW_BATTERY_MS } from '../nodes/lib/fleet/battery-watch';
import type { ExpiredCheckout } from '../nodes/lib/fleet/checkout-deadlines';
import { Fleet } from '../nodes/lib/fleet/fleet';
import type { MdmAdapter } from '../nodes/lib/mdm/mdm-adapter';
import type { HubConnection } from '../nodes/lib/hub/hub-connection';
import { settle, tempDir, waitFor } from '../harness/support';

/** A hub that records the LEDs it was asked for. */
function recordingHub(): { hub: HubConnection; leds: string[] } {
  const leds: string[] = [];
  const hub = { setLed: async (port: number, led: string) => void leds.push(`${port}:${led}`) } as unknown as HubConnection;
  return { hub, leds };
}

const HUB_A = { id: 'hub-a', name: 'Cart A' };
const CART_A = { hubId: HUB_A.id, hub: HUB_A.name };

describe('Fleet: one cart, without Node-RED', () => {
  let clock: sinon.SinonFakeTimers;
  let fleet: Fleet;
  let said: string[];
  let dataDir: string;

  const open = (usb?: { path: string; windowMs: number }, lendingHours = 0, mdm?: MdmAdapter) => {
    const log = (level: string) => (message: string) => said.push(`${level}: ${message}`);
    return new Fleet({
      id: 'cart',
      dataDir,
      usb,
      rules: { deadlineSeconds: 60, userLimit: 1, batteryThreshold: 0.2, lendingHours },
      lockerApp: 'org.example.locker',
      badgeLookupUrl: '',
      mdm: () => mdm,
      // The keys themselves, with their values: what the node would look up in its catalog.
      text: (key, vars) => `${key}${vars ? ` ${JSON.stringify(vars)}` : ''}`,
      log: { info: log('info'), warn: log('warn'), error: log('error') },
    });
  };

  beforeEach(() => {
    clock = sinon.useFakeTimers({ now: Date.parse('2026-12-02T07:00:00Z'), toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
    said = [];
    dataDir = tempDir('fleet');
    fleet = open();
  });

  afterEach(async () => {
    clock.restore(); // first: closing waits on the real clock (a USB client's retry)
    await fleet.close();
  });

  async function dockedPhone(udid: string, port: number): Promise<void> {
    await fleet.store.docked(udid, { ...CART_A, port });
    await fleet.store.setStatus(udid, 'Checked In');
    await fleet.store.reportHealth(udid, 0.9, true);
  }
  const statusOf = async (udid: string) => (await fleet.store.device(udid))?.status;

  it('a check-out not unplugged in time: Failed, amber LED, and handed to its node once that node watches', async () => {
    const { hub, leds } = recordingHub();
    fleet.attachHub(HUB_A, hub);
    await dockedPhone('PHONE-1', 4);
    await fleet.beginCheckout({ id: 'alice' }, undefined, { node: 'checkout' });
    await fleet.reconcile(HUB_A, [4], () => assert.fail('nothing was missed'));
    await clock.tickAsync(60_000);
    await settle(clock, 'the check-out failed', async () => (await statusOf('PHONE-1')) === 'Failed' && leds.length > 0);
    assert.deepEqual(leds, ['4:error']);
    const expired: ExpiredCheckout[] = [];
    fleet.watchCheckouts('checkout', (e) => expired.push(e));
    assert.deepEqual(
      expired.map((e) => [e.device.udid, e.device.status]),
      [['PHONE-1', 'Failed']],
    );
  });

  it('a phone still out after the lending period becomes Overdue, said in the log; also when the period ended while Node-RED was down', async () => {
    await fleet.close();
    fleet = open(undefined, 1);
    await dockedPhone('PHONE-5', 3);
    await fleet.beginCheckout({ id: 'alice', name: 'Alice Liddell' }, 'PHONE-5', { node: 'checkout' });
    await fleet.recordUnplug({ ...CART_A, port: 3 });
    await clock.tickAsync(3_600_000 - 1000);
    assert.equal((await fleet.store.device('PHONE-5'))?.overdue, undefined, 'not before');
    await fleet.close();
    await clock.tickAsync(60_000); // down past the period
    fleet = open(undefined, 1);
    await settle(clock, 'said overdue after the restart', () =>
      said.some((line) => line.startsWith('warn: device-fleet.errors.overdue-phone') && line.includes('Alice Liddell')),
    );
    assert.equal((await fleet.store.device('PHONE-5'))?.overdue, true);
  });

  it('reads the charge of docked phones below the threshold again: one that charged goes out; one still low after two hours is announced once', async () => {
    const charges: Record<string, number[]> = { CHARGING: [0.15, 0.6], BROKEN: [0.1, 0.1, 0.11, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.12, 0.1, 0.1, 0.1] };
    const mdm = { readDevice: async (udid: string) => ({ battery: charges[udid].shift() ?? 0.1 }) } as unknown as MdmAdapter;
    await fleet.close();
    fleet = open(undefined, 0, mdm);
    const events: string[] = [];
    fleet.onEvent((e) => events.push(`${e.event} ${e.device?.udid} ${e.why}`));
    for (const [udid, port] of [
      ['CHARGING', 1],
      ['BROKEN', 2],
    ] as const) {
      await fleet.store.docked(udid, { ...CART_A, port });
      await fleet.store.setStatus(udid, 'Checked In');
      await fleet.store.reportHealth(udid, 0.1, true);
    }
    await assert.rejects(fleet.beginCheckout({ id: 'ann' }, undefined, {}), (err: CodedError) => err.code === 'NO_DEVICE_AVAILABLE');
    /** One round of reading: each of `phones` heard from at its time. */
    const round = async (...phones: string[]) => {
      await clock.tickAsync(BATTERY_CHECK_MS);
      const at = new Date().toISOString();
      await settle(clock, 'a round of battery readings', async () =>
        (await Promise.all(phones.map((udid) => fleet.store.device(udid)))).every((d) => d?.heardAt === at),
      );
    };
    await round('CHARGING', 'BROKEN');
    await round('CHARGING', 'BROKEN');
    assert.equal((await fleet.store.device('CHARGING'))?.battery, 0.6, 'read again');
    assert.equal((await fleet.beginCheckout({ id: 'ann' }, undefined, {})).udid, 'CHARGING', 'charged: handed out again');
    for (let i = 0; i < LOW_BATTERY_MS / BATTERY_CHECK_MS - 2; i++) await round('BROKEN');
    assert.deepEqual(events, [], 'not before two hours');
    for (let i = 0; i < 4; i++) await round('BROKEN');
    assert.deepEqual(events, ['low-battery BROKEN 10%'], 'once, for the phone that does not charge');
  });

  it('judges no deadline on a hub it has not read since the start', async () => {
    await dockedPhone('PHONE-2', 2);
    await fleet.beginCheckout({ id: 'bob' }, 'PHONE-2', { node: 'checkout' });
    await clock.tickAsync(120_000);
    assert.equal(await statusOf('PHONE-2'), 'Checking Out', 'the phone may have been taken while nobody watched');
    const missed: string[] = [];
    await fleet.reconcile(HUB_A, [], (m) => missed.push(`${m.event}@${m.port}`));
    assert.deepEqual(missed, ['unplug@2'], 'the hub says the port is empty: unplugged while away');
  });

  it('an unplug without USB identity names the phone the records left on that port, and darkens a checked-out port', async () => {
    const { hub, leds } = recordingHub();
    fleet.attachHub(HUB_A, hub);
    await dockedPhone('PHONE-3', 5);
    await fleet.store.setStatus('PHONE-3', 'Checked Out');
    assert.equal((await fleet.recordUnplug({ ...CART_A, port: 5 })).device?.udid, 'PHONE-3');
    await clock.tickAsync(0);
    assert.deepEqual(leds, ['5:off']);
    assert.match((await fleet.recordUnplug({ ...CART_A, port: 6 })).reason ?? '', /device-fleet\.errors\.unplug-unknown/);
    assert.match((await fleet.identifyDock({ ...CART_A, port: 6 })).reason ?? '', /device-fleet\.errors\.no-usb/);
  });

  it('an LED for a hub it was never attached to is skipped, said once', async () => {
    await fleet.setLed({ hubId: 'hub-z', hub: 'Cart Z', port: 1 }, 'ready');
    await fleet.setLed({ hubId: 'hub-z', hub: 'Cart Z', port: 2 }, 'ready');
    assert.deepEqual(said, ['warn: device-fleet.errors.no-hub {"hub":"Cart Z"}']);
  });

  it('keys hubs by their config node id: a renamed hub keeps its phones, two hubs of one name stay apart', async () => {
    const twin = { id: 'hub-twin', name: 'Cart A' };
    fleet.attachHub(HUB_A, recordingHub().hub);
    fleet.attachHub(twin, recordingHub().hub);
    await dockedPhone('ON-A', 1);
    await fleet.store.docked('ON-TWIN', { hubId: twin.id, hub: twin.name, port: 1 });
    assert.equal((await fleet.store.deviceAt(HUB_A.id, 1))?.udid, 'ON-A');
    assert.equal((await fleet.store.deviceAt(twin.id, 1))?.udid, 'ON-TWIN');
    // Renamed in the editor and redeployed: same id, new name.
    const renamed = recordingHub();
    fleet.attachHub({ id: HUB_A.id, name: 'Ward 3 cart' }, renamed.hub);
    await fleet.reconcile({ id: HUB_A.id, name: 'Ward 3 cart' }, [1], () => undefined); // waits for the records to be brought along
    const onA = await fleet.store.device('ON-A');
    assert.deepEqual([onA?.hub, onA?.hubId], ['Ward 3 cart', HUB_A.id]);
    assert.equal((await fleet.store.device('ON-TWIN'))?.hub, 'Cart A', 'the other hub of that name is untouched');
    await fleet.store.setStatus('ON-A', 'Checked Out');
    assert.equal((await fleet.recordUnplug({ hubId: HUB_A.id, hub: 'Ward 3 cart', port: 1 })).device?.udid, 'ON-A');
    await clock.tickAsync(0);
    assert.deepEqual(renamed.leds, ['1:off'], 'its LEDs follow it too');
  });

  it('takes over records and learnt USB locations that named a hub before hubs were keyed by id', async () => {
    await fleet.close();
    clock.restore(); // a USB client keeps real time: its retries must run for it to close
    // What 0.1 wrote: records and locations that name the hub.
    writeFileSync(
      join(dataDir, 'fleet-cart.json'),
      JSON.stringify({
        version: 2,
        devices: { OLD: { udid: 'OLD', hub: 'Cart A', port: 3, docked: true, status: 'Checked In', attributes: {}, healthy: true } },
      }),
    );
    writeFileSync(join(dataDir, 'usb-locations-cart.json'), JSON.stringify({ 'Cart A#3': 0x14100300, 'Cart B#1': 0x14200100 }));
    fleet = open({ path: join(dataDir, 'no-usbmuxd.sock'), windowMs: 100 });
    fleet.attachHub(HUB_A, recordingHub().hub);
    await fleet.reconcile(HUB_A, [3], () => undefined);
    assert.equal((await fleet.store.deviceAt(HUB_A.id, 3))?.udid, 'OLD');
    assert.ok((await fleet.store.audit('OLD')).some((e) => e.what === 'hub: hubId' && e.to === HUB_A.id && e.why === 'hubs are keyed by id'));
    const locations = () => JSON.parse(readFileSync(join(dataDir, 'usb-locations-cart.json'), 'utf8')) as Record<string, number>;
    await waitFor('the locations written under the hub id', () => locations()[`${HUB_A.id}#3`] !== undefined);
    assert.deepEqual(locations(), { [`${HUB_A.id}#3`]: 0x14100300, 'Cart B#1': 0x14200100 });
  });
});
