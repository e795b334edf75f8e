import assert from 'node:assert/strict';
import type { Fleet } from '../nodes/lib/fleet/fleet';
import { collect, freshUserDir, helper, load, send } from '../harness/node-red';
import { waitFor } from '../harness/support';

type Alert = {
  topic: string;
  device: { udid: string; status: string; overdue?: boolean; userName?: string };
  payload: { event: string; at: string; why?: string };
};

describe('fleet-event: what an admin is alerted to', function () {
  this.timeout(10_000);
  const place = { hubId: 'hub', hub: 'Cart', port: 1 };
  let fleet: Fleet;

  beforeEach(async () => {
    freshUserDir();
    await load([
      // A lending period of about a second: 0.0003 h.
      { id: 'fleet', type: 'device-fleet', mdm: '', lockerApp: 'org.example.locker', lendingPeriod: '0.0003' },
      { id: 'everything', type: 'fleet-event', fleet: 'fleet', wires: [['alerts']] },
      { id: 'failures-only', type: 'fleet-event', fleet: 'fleet', overdue: false, wires: [['failures']] },
      { id: 'alerts', type: 'helper' },
      { id: 'failures', type: 'helper' },
      // No MDM: its check-in fails, and the fleet gives the docked phone up.
      { id: 'checkin', type: 'check-in-device', fleet: 'fleet', wires: [[]] },
    ]);
    fleet = (helper.getNode('fleet') as unknown as { fleet: Fleet }).fleet;
    await fleet.store.docked('PHONE', place);
    await fleet.store.setStatus('PHONE', 'Checked In');
  });

  afterEach(async () => {
    await helper.unload();
    helper.settings({});
  });

  it('a phone still out after the lending period: one overdue message with the phone and its user', async () => {
    const alerts = collect('alerts') as unknown as Alert[];
    const failures = collect('failures') as unknown as Alert[];
    await fleet.beginCheckout({ id: 'ann', name: 'Ann Example' }, 'PHONE', { node: 'checkout' });
    await fleet.recordUnplug(place);
    const [overdue] = await waitFor('overdue', () => alerts.length > 0 && alerts, 5000);
    assert.equal(overdue.topic, 'overdue');
    assert.deepEqual(
      [overdue.device.udid, overdue.device.status, overdue.device.overdue, overdue.device.userName],
      ['PHONE', 'Checked Out', true, 'Ann Example'],
    );
    assert.equal(overdue.payload.event, 'overdue');
    assert.ok(Date.parse(overdue.payload.at) > 0);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.equal(alerts.length, 1, 'once');
    assert.deepEqual(failures, [], 'not wanted there');
  });

  it('a workflow that gives up on a docked phone: a failed message with the reason, to every node that wants it', async () => {
    const alerts = collect('alerts') as unknown as Alert[];
    const failures = collect('failures') as unknown as Alert[];
    send('checkin', { device: { udid: 'PHONE' } });
    await waitFor('failed', () => alerts.length > 0 && failures.length > 0);
    for (const [failed] of [alerts, failures]) {
      assert.deepEqual([failed.topic, failed.device.udid, failed.device.status, failed.payload.why], ['failed', 'PHONE', 'Failed', 'NO_MDM']);
    }
  });

  it('a cart expected short of phones at its next shift change: low-stock with its stock, no device; not where unwanted', async () => {
    await helper.unload();
    freshUserDir();
    // The next shift change in half an hour, within the hour ahead: checked as the fleet starts.
    const soon = new Date(Date.now() + 30 * 60_000);
    const shift = soon.toTimeString().slice(0, 5);
    await load([
      { id: 'fleet', type: 'device-fleet', mdm: '', lockerApp: 'org.example.locker', shiftTimes: shift, readyMinimum: '3', lowStockLead: '60' },
      { id: 'everything', type: 'fleet-event', fleet: 'fleet', wires: [['alerts']] },
      { id: 'not-stock', type: 'fleet-event', fleet: 'fleet', lowStock: false, wires: [['failures']] },
      { id: 'alerts', type: 'helper' },
      { id: 'failures', type: 'helper' },
    ]);
    const alerts = collect('alerts') as unknown as (Alert & { payload: { stock: object } })[];
    const failures = collect('failures');
    const [low] = await waitFor('low-stock', () => alerts.length > 0 && alerts, 5000);
    assert.equal(low.topic, 'low-stock');
    assert.equal('device' in low, false, 'a cart\u2019s event, not a phone\u2019s');
    const at = new Date(soon);
    at.setSeconds(0, 0);
    assert.deepEqual(low.payload.stock, { shift: at.toISOString(), ready: 0, minimum: 3, docked: 0 });
    assert.deepEqual(failures, []);
  });
});
