import assert from 'node:assert/strict';
import sinon from 'sinon';
import { Fleet, type ExpiredCheckout } from '../nodes/lib/fleet/fleet';
import type { HubConnection } from '../nodes/lib/hub/hub-connection';
import { tempDir } from './support';

/** A hub that records the LEDs it was asked for. */
function recordingHub(): { hub: HubConnection; leds: string[] } {
  const leds: string[] = [];
  const hub = { setLed: async (port: number, led: string) => void leds.push(`${port}:${led}`) } as unknown as HubConnection;
  return { hub, leds };
}

describe('Fleet: one cart, without Node-RED', () => {
  let clock: sinon.SinonFakeTimers;
  let fleet: Fleet;
  let said: string[];

  beforeEach(() => {
    clock = sinon.useFakeTimers({ now: Date.parse('2026-12-02T07:00:00Z') });
    said = [];
    const log = (level: string) => (message: string) => said.push(`${level}: ${message}`);
    fleet = new Fleet({
      id: 'cart',
      dataDir: tempDir('fleet'),
      rules: { deadlineSeconds: 60, userLimit: 1, batteryThreshold: 0.2 },
      lockerApp: 'org.example.locker',
      badgeLookupUrl: '',
      mdm: () => undefined,
      // The keys themselves, with their values: what the node would look up in its catalog.
      text: (key, vars) => `${key}${vars ? ` ${JSON.stringify(vars)}` : ''}`,
      log: { info: log('info'), warn: log('warn'), error: log('error') },
    });
  });

  afterEach(async () => {
    await fleet.close();
    clock.restore();
  });

  function dockedPhone(udid: string, port: number): void {
    fleet.store.docked(udid, { hub: 'Cart A', port });
    fleet.store.setStatus(udid, 'Checked In');
    fleet.store.reportHealth(udid, 0.9, true);
  }

  it('a check-out not unplugged in time: Failed, amber LED, and handed to its node once that node watches', async () => {
    const { hub, leds } = recordingHub();
    fleet.attachHub('Cart A', hub);
    dockedPhone('PHONE-1', 4);
    fleet.beginCheckout({ id: 'alice' }, undefined, { node: 'checkout' });
    fleet.reconcile('Cart A', [4], () => assert.fail('nothing was missed'));
    await clock.tickAsync(60_000);
    assert.equal(fleet.store.device('PHONE-1')?.status, 'Failed');
    assert.deepEqual(leds, ['4:error']);
    const expired: ExpiredCheckout[] = [];
    fleet.watchCheckouts('checkout', (e) => expired.push(e));
    assert.deepEqual(expired.map((e) => [e.device.udid, e.device.status]), [['PHONE-1', 'Failed']]);
  });

  it('judges no deadline on a hub it has not read since the start', async () => {
    dockedPhone('PHONE-2', 2);
    fleet.beginCheckout({ id: 'bob' }, 'PHONE-2', { node: 'checkout' });
    await clock.tickAsync(120_000);
    assert.equal(fleet.store.device('PHONE-2')?.status, 'Checking Out', 'the phone may have been taken while nobody watched');
    const missed: string[] = [];
    fleet.reconcile('Cart A', [], (m) => missed.push(`${m.event}@${m.port}`));
    assert.deepEqual(missed, ['unplug@2'], 'the hub says the port is empty: unplugged while away');
  });

  it('an unplug without USB identity names the phone the records left on that port, and darkens a checked-out port', async () => {
    const { hub, leds } = recordingHub();
    fleet.attachHub('Cart A', hub);
    dockedPhone('PHONE-3', 5);
    fleet.store.setStatus('PHONE-3', 'Checked Out');
    assert.equal(fleet.recordUnplug({ hub: 'Cart A', port: 5 }).device?.udid, 'PHONE-3');
    await clock.tickAsync(0);
    assert.deepEqual(leds, ['5:off']);
    assert.match(fleet.recordUnplug({ hub: 'Cart A', port: 6 }).reason ?? '', /device-fleet\.errors\.unplug-unknown/);
    assert.match((await fleet.identifyDock({ hub: 'Cart A', port: 6 })).reason ?? '', /device-fleet\.errors\.no-usb/);
  });

  it('an LED for a hub it was never attached to is skipped, said once', async () => {
    await fleet.setLed({ hub: 'Cart Z', port: 1 }, 'ready');
    await fleet.setLed({ hub: 'Cart Z', port: 2 }, 'ready');
    assert.deepEqual(said, ['warn: device-fleet.errors.no-hub {"hub":"Cart Z"}']);
  });
});
