import assert from 'node:assert/strict';
import { appendFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sinon from 'sinon';
import { FleetStore, type CheckoutRules } from '../nodes/lib/fleet/fleet-store';
import { CheckoutDeadlines } from '../nodes/lib/fleet/checkout-deadlines';
import { missedEvents } from '../nodes/lib/fleet/reconcile';
import { deviceLabel } from '../nodes/shared/device-action';
import type { CodedError } from '../nodes/lib/coded-error';
import { tempDir } from './support';

const RULES: CheckoutRules = { userLimit: 1, batteryThreshold: 0.3, deadlineSeconds: 60 };

describe('FleetStore: the cart\u2019s memory', () => {
  let file: string;
  let now: Date;
  let store: FleetStore;
  const open = () => new FleetStore(file, { now: () => now });

  /** A docked, checked-in phone with `battery`. */
  function ready(udid: string, port: number, battery: number): void {
    store.docked(udid, { hubId: 'cart-hub', hub: 'Cart', port });
    store.setStatus(udid, 'Checked In', { who: 'prep', why: 'Device Prep done' });
    store.reportHealth(udid, battery, true);
  }

  beforeEach(() => {
    file = join(tempDir('fleet'), 'fleet.json');
    now = new Date('2026-11-24T07:00:00Z');
    store = open();
  });

  it('keeps every device with its status and an audit trail of who changed what, when and why', () => {
    store.docked('U1', { hubId: 'cart-hub', hub: 'Cart', port: 2, serial: 'S1' });
    assert.equal(store.device('U1')?.status, 'Unknown');
    store.setStatus('U1', 'Prepping', { who: 'flow:prep', why: 'new device' });
    const trail = store.audit('U1');
    assert.deepEqual(trail.at(-1), { at: '2026-11-24T07:00:00.000Z', udid: 'U1', what: 'status', from: 'Unknown', to: 'Prepping', who: 'flow:prep', why: 'new device' });
    assert.ok(trail.some((e) => e.what === 'docked: port' && e.to === '2'));
    assert.throws(() => store.setStatus('U1', 'Lost' as never), (err: CodedError) => err.code === 'INVALID_STATUS');
  });

  it('hands out the most charged healthy phone, never one below the threshold', () => {
    ready('LOW', 1, 0.2);
    ready('MID', 2, 0.6);
    ready('HIGH', 3, 0.9);
    store.reportHealth('HIGH', 0.9, false);
    const chosen = store.beginCheckout('alice', RULES);
    assert.equal(chosen.udid, 'MID');
    assert.equal(chosen.status, 'Checking Out');
    assert.equal(chosen.user, 'alice');
    assert.equal(chosen.checkout?.deadline, '2026-11-24T07:01:00.000Z');
    assert.equal(store.unplugged('MID', { who: 'alice' }).status, 'Checked Out', 'unplugging the phone completes its check-out');
    assert.throws(() => store.beginCheckout('bob', RULES), (err: CodedError) => err.code === 'NO_DEVICE_AVAILABLE');
  });

  it('one check-out at a time per cart, and a per-user limit', () => {
    ready('A', 1, 0.9);
    ready('B', 2, 0.8);
    store.beginCheckout('alice', RULES);
    assert.throws(() => store.beginCheckout('bob', RULES), (err: CodedError) => err.code === 'CART_BUSY' && /Cart port 1/.test(err.message));
    store.unplugged('A');
    assert.throws(() => store.beginCheckout('alice', RULES), (err: CodedError) => err.code === 'USER_HAS_DEVICE' && /limit 1/.test(err.message));
    assert.equal(store.beginCheckout('alice', { ...RULES, userLimit: 2 }).udid, 'B');
  });

  it('a phone that failed while out with its user still counts toward her limit', () => {
    ready('A', 1, 0.9);
    ready('B', 2, 0.8);
    store.beginCheckout('alice', RULES);
    store.unplugged('A');
    store.fail('A', { who: 'mdm-command', why: 'DEVICE_TIMEOUT' });
    assert.throws(() => store.beginCheckout('alice', RULES), (err: CodedError) => err.code === 'USER_HAS_DEVICE');
    store.docked('A', { hubId: 'cart-hub', hub: 'Cart', port: 1 }); // back on the cart: no longer in her hands
    assert.equal(store.beginCheckout('alice', RULES).udid, 'B');
  });

  it('checks a device in: no user, no deadline', () => {
    ready('A', 1, 0.9);
    store.beginCheckout('alice', RULES);
    store.checkIn('A', { who: 'return', why: 'docked again' });
    assert.deepEqual([store.device('A')?.status, store.device('A')?.user, store.device('A')?.checkout], ['Checked In', undefined, undefined]);
  });

  it('remembers devices, statuses and pending deadlines across a restart', () => {
    ready('A', 1, 0.9);
    store.beginCheckout('alice', RULES, undefined, { node: 'checkout-node', message: { badge: 'x' } });
    const restarted = open();
    assert.equal(restarted.device('A')?.user, 'alice');
    assert.deepEqual(restarted.pendingCheckouts().map((d) => [d.udid, d.checkout]), [['A', { deadline: '2026-11-24T07:01:00.000Z', node: 'checkout-node', message: { badge: 'x' } }]]);
    assert.ok(restarted.audit('A').length >= 4);
  });

  it('fails a check-out when its deadline passes, not before; at once after a restart past it', async () => {
    const start = now.getTime();
    const clock = sinon.useFakeTimers({ now: start });
    const watch = (fleet: FleetStore, expired: string[]) => {
      const deadlines = new CheckoutDeadlines(
        fleet,
        (record) => {
          expired.push(`${record.udid}@${clock.now - start}`);
          fleet.fail(record.udid, { who: 'fleet', why: 'not unplugged' });
        },
        { now: () => clock.now },
      );
      deadlines.arm();
      return deadlines;
    };
    try {
      ready('A', 1, 0.9);
      ready('B', 2, 0.8);
      store.beginCheckout('alice', { ...RULES, deadlineSeconds: 60 }, 'A');
      const live: string[] = [];
      const running = watch(store, live);
      await clock.tickAsync(59_999);
      assert.deepEqual(live, [], 'not before the deadline');
      running.close();
      // The process was down past the deadline: the next start fails it at once.
      await clock.tickAsync(5_000);
      const restarted = open();
      const afterRestart: string[] = [];
      const deadlines = watch(restarted, afterRestart);
      await clock.tickAsync(0);
      assert.deepEqual(afterRestart, ['A@64999']);
      assert.equal(restarted.device('A')?.status, 'Failed');
      // A check-out started now expires when its own deadline passes.
      now = new Date(clock.now);
      restarted.beginCheckout('bob', { ...RULES, deadlineSeconds: 60 }, 'B');
      deadlines.arm();
      await clock.tickAsync(59_999);
      assert.deepEqual(afterRestart, ['A@64999']);
      await clock.tickAsync(1);
      deadlines.close();
      assert.deepEqual(afterRestart, ['A@64999', 'B@124999']);
    } finally {
      clock.restore();
    }
  });

  it('appends the audit trail, keeps the newest entries when it grows, and skips a line cut short', () => {
    const small = new FleetStore(file, { now: () => now, auditLimit: 5 });
    for (let i = 0; i < 23; i++) small.setAttribute('U', 'counter', String(i), { who: 'test' });
    const auditFile = file.replace(/\.json$/, '.audit.jsonl');
    const lines = () => readFileSync(auditFile, 'utf8').trim().split('\n').length;
    assert.ok(lines() <= 10, `the file is rewritten with the newest entries past twice the limit (${lines()} lines)`);
    appendFileSync(auditFile, '{"at":"2026-11-24T07:00:00.000Z","udid":"U","wh');
    const reopened = new FleetStore(file, { now: () => now, auditLimit: 5 });
    assert.deepEqual(reopened.audit('U').map((e) => e.to), ['18', '19', '20', '21', '22']);
  });

  it('after a start, tells what the hub\u2019s first reading says happened meanwhile, once', () => {
    ready('IN', 1, 0.9); // still there, charging: nothing
    ready('TAKEN', 2, 0.9);
    store.beginCheckout('ann', RULES, 'TAKEN'); // port 2 is empty now: unplugged while away
    ready('CUT', 3, 0.9);
    store.setStatus('CUT', 'Checked Out'); // docked, but its Return never finished
    store.docked('OTHER', { hubId: 'cart-b-hub', hub: 'Cart B', port: 2 }); // another hub: not this reading's business
    const missed = missedEvents(store.devices(), 'cart-hub', [1, 3, 4]);
    assert.deepEqual(missed, [
      { event: 'unplug', port: 2, why: 'unplugged while away' },
      { event: 'dock', port: 3, why: 'return not finished' },
      { event: 'dock', port: 4, why: 'docked while away' },
    ]);
    store.unplugged('TAKEN');
    store.docked('NEW', { hubId: 'cart-hub', hub: 'Cart', port: 4 });
    store.checkIn('NEW');
    store.checkIn('CUT');
    assert.deepEqual(missedEvents(store.devices(), 'cart-hub', [1, 3, 4]), [], 'played once, the records agree');
    assert.equal(store.device('TAKEN')?.status, 'Checked Out');
  });

  it('statuses name a phone by its name and where it is now', () => {
    assert.equal(deviceLabel({ udid: 'U1', name: 'Cart B 5', hub: 'Cart A', port: 6 }), 'Cart B 5 (Cart A 6)', 'moved: its old name and its new place');
    assert.equal(deviceLabel({ udid: 'U1', name: 'Cart A 6', hub: 'Cart A', port: 6 }), 'Cart A 6', 'where its name says');
    assert.equal(deviceLabel({ udid: 'U1', serial: 'F17X', hub: 'Cart A', port: 2 }), 'F17X (Cart A 2)', 'no name yet: the serial');
    assert.equal(deviceLabel({ udid: 'U1', serial: 'F17X' }), 'F17X', 'out of the cart');
  });
});
