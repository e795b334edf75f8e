import assert from 'node:assert/strict';
import sinon from 'sinon';
import type { CodedError } from '../nodes/lib/coded-error';
import { DueTimes } from '../nodes/lib/fleet/due-times';
import type { CheckoutRules, FleetStore } from '../nodes/lib/fleet/fleet-store';
import { insightQuery, portFlagged, statesTable } from '../nodes/lib/fleet/insights';
import { missedEvents } from '../nodes/lib/fleet/reconcile';
import { settle } from '../harness/support';

const RULES: CheckoutRules = { userLimit: 1, batteryThreshold: 0.3, deadlineSeconds: 60 };
const HUB = { hubId: 'cart-hub', hub: 'Cart' };

/** Opens a store on the same records each time it is called (a restart), its clock at `now()`. */
export type OpenStore = (now: () => Date) => FleetStore;

const code = (expected: string) => (err: CodedError) => err.code === expected;

/**
 * What every fleet store does alike, so every node works unchanged over either: run against
 * the file store and against PostgreSQL. `fresh` gives a store on empty records for each test.
 */
export function fleetStoreContract(fresh: () => Promise<OpenStore>): void {
  let now: Date;
  let open: OpenStore;
  let store: FleetStore;
  const opened: FleetStore[] = [];
  const reopen = (): FleetStore => {
    const next = open(() => now);
    opened.push(next);
    return next;
  };

  /** A docked, checked-in phone with `battery`. */
  async function ready(udid: string, port: number, battery: number): Promise<void> {
    await store.docked(udid, { ...HUB, port });
    await store.setStatus(udid, 'Checked In', { who: 'prep', why: 'Device Prep done' });
    await store.reportHealth(udid, battery, true);
  }

  beforeEach(async () => {
    now = new Date('2026-11-24T07:00:00Z');
    open = await fresh();
    store = reopen();
  });

  afterEach(async () => {
    await Promise.all(opened.splice(0).map((s) => s.close()));
  });

  it('keeps every device with its status and an audit trail of who changed what, when and why', async () => {
    await store.docked('U1', { ...HUB, port: 2, serial: 'S1' });
    assert.equal((await store.device('U1'))?.status, 'Unknown');
    await store.setStatus('U1', 'Prepping', { who: 'flow:prep', why: 'new device' });
    const trail = await store.audit('U1');
    assert.deepEqual(trail.at(-1), {
      at: '2026-11-24T07:00:00.000Z',
      udid: 'U1',
      what: 'status',
      from: 'Unknown',
      to: 'Prepping',
      who: 'flow:prep',
      why: 'new device',
    });
    assert.ok(trail.some((e) => e.what === 'docked: port' && e.to === '2'));
    await assert.rejects(store.setStatus('U1', 'Stolen' as never), code('INVALID_STATUS'));
    await assert.rejects(store.setAttribute('U1', 'Ward', 'x'.repeat(257)), code('INVALID_ATTRIBUTE'));
  });

  it('hands out the most charged healthy phone, never one below the threshold', async () => {
    await ready('LOW', 1, 0.2);
    await ready('MID', 2, 0.6);
    await ready('HIGH', 3, 0.9);
    await store.reportHealth('HIGH', 0.9, false);
    const chosen = await store.beginCheckout('alice', RULES);
    assert.equal(chosen.udid, 'MID');
    assert.equal(chosen.status, 'Checking Out');
    assert.equal(chosen.user, 'alice');
    assert.equal(chosen.checkout?.deadline, '2026-11-24T07:01:00.000Z');
    assert.equal((await store.unplugged('MID', { who: 'alice' })).status, 'Checked Out', 'unplugging the phone completes its check-out');
    await assert.rejects(store.beginCheckout('bob', RULES), code('NO_DEVICE_AVAILABLE'));
  });

  it('hands out a phone heard from within a day before a better charged one that has been silent longer', async () => {
    await ready('SILENT', 1, 0.95);
    now = new Date(now.getTime() + 25 * 3_600_000);
    await ready('HEARD', 2, 0.5);
    assert.equal((await store.device('HEARD'))?.heardAt, now.toISOString(), 'the check-in\u2019s device information is a heartbeat');
    assert.equal((await store.beginCheckout('alice', RULES)).udid, 'HEARD');
    assert.equal(await store.beginCheckout('bob', RULES).catch((err: CodedError) => err.code), 'CART_BUSY');
    await store.checkIn('HEARD');
    await store.reportHealth('SILENT', 0.95, true);
    assert.equal((await store.beginCheckout('bob', RULES)).udid, 'SILENT', 'heard again: the best charged goes first');
  });

  it('one check-out at a time per cart, and a per-user limit however the id is written', async () => {
    await ready('A', 1, 0.9);
    await ready('B', 2, 0.8);
    await store.beginCheckout('alice', RULES);
    await assert.rejects(
      store.beginCheckout('bob', RULES),
      (err: CodedError) => err.code === 'CART_BUSY' && /cart-busy \{"cart":"Cart","port":1\}/.test(err.message),
    );
    await store.unplugged('A');
    await assert.rejects(store.beginCheckout('ALICE\u200b', RULES), (err: CodedError) => err.code === 'USER_HAS_DEVICE' && /"limit":1/.test(err.message));
    assert.equal((await store.beginCheckout('alice', { ...RULES, userLimit: 2 })).udid, 'B');
    await assert.rejects(store.beginCheckout(' ', RULES), code('INVALID_USER'));
  });

  it('taps arriving at once are taken one after the other: one phone per person, never two', async () => {
    await ready('A', 1, 0.9);
    await ready('B', 2, 0.8);
    const taps = await Promise.allSettled([store.beginCheckout('alice', RULES), store.beginCheckout('alice', RULES), store.beginCheckout('bob', RULES)]);
    const outcomes = taps.map((t) => (t.status === 'fulfilled' ? t.value.udid : (t.reason as CodedError).code)).sort();
    assert.deepEqual(outcomes, ['A', 'CART_BUSY', 'CART_BUSY'], 'the first tap taken unlocks the best phone; the others wait for it to be taken');
  });

  it('a phone that failed while out with its user still counts toward her limit', async () => {
    await ready('A', 1, 0.9);
    await ready('B', 2, 0.8);
    await store.beginCheckout('alice', RULES);
    await store.unplugged('A');
    await store.fail('A', { who: 'mdm-command', why: 'DEVICE_TIMEOUT' });
    await assert.rejects(store.beginCheckout('alice', RULES), code('USER_HAS_DEVICE'));
    await store.docked('A', { ...HUB, port: 1 }); // back on the cart: no longer in her hands
    assert.equal((await store.beginCheckout('alice', RULES)).udid, 'B');
  });

  it('checks a device in: no user, no deadline', async () => {
    await ready('A', 1, 0.9);
    await store.beginCheckout('alice', RULES);
    await store.checkIn('A', { who: 'return', why: 'docked again' });
    const record = await store.device('A');
    assert.deepEqual([record?.status, record?.user, record?.checkout], ['Checked In', undefined, undefined]);
    assert.deepEqual(await store.pendingCheckouts(), []);
  });

  it('a docked phone about to be erased is Prepping and never handed out; one being taken is left alone; one away keeps its status', async () => {
    await ready('A', 1, 0.9);
    await ready('B', 2, 0.8);
    assert.equal(await store.beginPrep('A', { who: 'erase-device', why: 'erasing' }), true);
    assert.equal((await store.device('A'))?.status, 'Prepping');
    assert.ok((await store.audit('A')).some((e) => e.what === 'status' && e.to === 'Prepping' && e.who === 'erase-device'));
    const taking = await store.beginCheckout('alice', RULES);
    assert.equal(taking.udid, 'B', 'the Prepping phone is not handed out, though it has more charge');
    assert.equal(await store.beginPrep('B', { who: 'erase-device', why: 'erasing' }), false);
    assert.equal((await store.device('B'))?.status, 'Checking Out');
    await store.checkIn('B', { who: 'return', why: 'docked again' });
    await store.unplugged('B');
    assert.equal(await store.beginPrep('B', { who: 'erase-device', why: 'erasing' }), true);
    assert.equal((await store.device('B'))?.status, 'Checked In', 'a phone away from the cart (a remote wipe) keeps its status');
  });

  it('keeps Lost Mode and Lost or Retired across a restart; a Retired phone checked in stays Retired; every change is said as `change`', async () => {
    await ready('A', 1, 0.9);
    await ready('B', 2, 0.9);
    const said: string[] = [];
    store.on('change', (record: { udid: string; status: string }) => said.push(`${record.udid} ${record.status}`));
    await store.setStatus('A', 'Lost', { who: 'charge', why: 'gone' });
    await store.setLostMode('A', true, { who: 'charge', why: 'gone' });
    await store.setStatus('B', 'Retired', { who: 'charge', why: 'cracked' });
    await store.checkIn('B');
    assert.deepEqual(said, ['A Lost', 'A Lost', 'B Retired', 'B Retired']);
    const restarted = reopen();
    assert.deepEqual([(await restarted.device('A'))?.status, (await restarted.device('A'))?.lostMode], ['Lost', true]);
    assert.equal((await restarted.device('B'))?.status, 'Retired');
    await restarted.setLostMode('A', false);
    assert.equal((await restarted.device('A'))?.lostMode, undefined);
    await assert.rejects(restarted.beginCheckout('alice', RULES), code('NO_DEVICE_AVAILABLE'));
  });

  it('remembers devices, statuses and pending deadlines across a restart', async () => {
    await ready('A', 1, 0.9);
    await store.beginCheckout('alice', RULES, undefined, { node: 'checkout-node', message: { badge: 'x' } }, 'Alice Liddell');
    const restarted = reopen();
    const record = await restarted.device('A');
    assert.deepEqual([record?.user, record?.userName, record?.battery, record?.hubId, record?.port], ['alice', 'Alice Liddell', 0.9, 'cart-hub', 1]);
    assert.deepEqual(
      (await restarted.pendingCheckouts()).map((d) => [d.udid, d.checkout]),
      [['A', { deadline: '2026-11-24T07:01:00.000Z', node: 'checkout-node', message: { badge: 'x' } }]],
    );
    assert.ok((await restarted.audit('A')).length >= 4);
  });

  it('finds the phone on a port, and brings a renamed hub\u2019s records along', async () => {
    await ready('A', 1, 0.9);
    assert.equal((await store.deviceAt('cart-hub', 1))?.udid, 'A');
    assert.equal(await store.deviceAt('cart-hub', 2), undefined);
    await store.updateHub('cart-hub', 'Cart (north)');
    assert.equal((await store.device('A'))?.hub, 'Cart (north)');
    assert.ok((await store.audit('A')).some((e) => e.what === 'hub: hub' && e.why === 'hub renamed'));
  });

  it('fails a check-out when its deadline passes, not before; at once after a restart past it; never one unplugged meanwhile', async () => {
    const start = now.getTime();
    // Only the clock the deadlines read: the store's own I/O keeps real time.
    const clock = sinon.useFakeTimers({ now: start, toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    const watch = (fleet: FleetStore, expired: string[]) => {
      const deadlines = new DueTimes(
        () => fleet.pendingCheckouts(),
        (record) => Date.parse(record.checkout.deadline),
        async (record) => {
          if (await fleet.expireCheckout(record.udid, record.checkout.deadline, { who: 'fleet', why: 'not unplugged' }))
            expired.push(`${record.udid}@${clock.now - start}`);
        },
        { now: () => clock.now },
      );
      return deadlines;
    };
    try {
      await ready('A', 1, 0.9);
      await ready('B', 2, 0.8);
      await ready('C', 3, 0.7);
      await store.beginCheckout('alice', { ...RULES, deadlineSeconds: 60 }, 'A');
      const live: string[] = [];
      const running = watch(store, live);
      await running.arm();
      await clock.tickAsync(59_999);
      // The store's reads and writes take real time: give them some before saying nothing happened.
      await assert.rejects(
        settle(clock, 'a failure before the deadline', () => live.length > 0, 300),
        /timed out/,
      );
      assert.deepEqual(live, [], 'not before the deadline');
      running.close();
      // The process was down past the deadline: the next start fails it at once.
      await clock.tickAsync(5_000);
      const restarted = reopen();
      const afterRestart: string[] = [];
      const deadlines = watch(restarted, afterRestart);
      await deadlines.arm();
      await settle(clock, 'the deadline passed while down', () => afterRestart.length > 0);
      assert.deepEqual(afterRestart, ['A@64999']);
      assert.equal((await restarted.device('A'))?.status, 'Failed');
      // A check-out started now expires when its own deadline passes.
      now = new Date(clock.now);
      await restarted.beginCheckout('bob', { ...RULES, deadlineSeconds: 60 }, 'B');
      await deadlines.arm();
      await clock.tickAsync(59_999);
      assert.deepEqual(afterRestart, ['A@64999']);
      await clock.tickAsync(1);
      await settle(clock, 'the second deadline', () => afterRestart.length > 1);
      assert.deepEqual(afterRestart, ['A@64999', 'B@124999']);
      // Unplugged just as its deadline is judged: the unplug wins, the nurse's phone is not failed.
      now = new Date(clock.now);
      await restarted.unplugged('B');
      await restarted.beginCheckout('carol', { ...RULES, deadlineSeconds: 1 }, 'C');
      const [pending] = await restarted.pendingCheckouts();
      await restarted.unplugged('C');
      assert.equal(await restarted.expireCheckout('C', pending.checkout.deadline, { who: 'fleet' }), undefined);
      assert.equal((await restarted.device('C'))?.status, 'Checked Out');
      deadlines.close();
    } finally {
      clock.restore();
    }
  });

  it('knows when a phone was taken; marks it Overdue once (not one back or out again), and check-in clears it', async () => {
    await ready('A', 1, 0.9);
    await store.beginCheckout('alice', RULES, 'A');
    now = new Date('2026-11-24T07:00:30Z');
    const taken = await store.unplugged('A');
    assert.equal(taken.checkedOutAt, '2026-11-24T07:00:30.000Z');
    assert.deepEqual(
      (await store.outstanding()).map((d) => d.udid),
      ['A'],
    );
    assert.equal(await store.markOverdue('A', '2026-11-24T06:00:00.000Z', { who: 'fleet' }), undefined, 'another time out: not this one');
    const overdue = await store.markOverdue('A', taken.checkedOutAt!, { who: 'fleet', why: 'OVERDUE' });
    assert.equal(overdue?.overdue, true);
    assert.equal(await store.markOverdue('A', taken.checkedOutAt!, { who: 'fleet' }), undefined, 'once');
    assert.deepEqual(await store.outstanding(), [], 'no longer waiting to become overdue');
    assert.ok((await store.audit('A')).some((e) => e.what === 'overdue: overdue' && e.to === 'true' && e.why === 'OVERDUE'));
    const back = await store.checkIn('A', { who: 'return' });
    assert.deepEqual([back.overdue, back.checkedOutAt], [undefined, undefined]);
  });

  it('after a start, tells what the hub\u2019s first reading says happened meanwhile, once', async () => {
    await ready('IN', 1, 0.9); // still there, charging: nothing
    await ready('TAKEN', 2, 0.9);
    await store.beginCheckout('ann', RULES, 'TAKEN'); // port 2 is empty now: unplugged while away
    await ready('CUT', 3, 0.9);
    await store.setStatus('CUT', 'Checked Out'); // docked, but its Return never finished
    await store.docked('OTHER', { hubId: 'cart-b-hub', hub: 'Cart B', port: 2 }); // another hub: not this reading's business
    const missed = missedEvents(await store.devices(), 'cart-hub', [1, 3, 4]);
    assert.deepEqual(missed, [
      { event: 'unplug', port: 2, why: 'unplugged while away' },
      { event: 'dock', port: 3, why: 'return not finished' },
      { event: 'dock', port: 4, why: 'docked while away' },
    ]);
    await store.unplugged('TAKEN');
    await store.docked('NEW', { ...HUB, port: 4 });
    await store.checkIn('NEW');
    await store.checkIn('CUT');
    assert.deepEqual(missedEvents(await store.devices(), 'cart-hub', [1, 3, 4]), [], 'played once, the records agree');
    assert.equal((await store.device('TAKEN'))?.status, 'Checked Out');
    // Port 1 flashing white for a tap the records do not have (lost in a failover): its Return locks it again.
    assert.deepEqual(missedEvents(await store.devices(), 'cart-hub', [1, 3, 4], [1]), [{ event: 'dock', port: 1, why: 'check-out lost' }]);
    await store.beginCheckout('bea', RULES, 'IN');
    assert.deepEqual(missedEvents(await store.devices(), 'cart-hub', [1, 3, 4], [1]), [], 'a check-out the records have is no loss');
  });

  it('insights from the trail: check-outs by hour of day, how long phones were kept, the phones that fail most, the phones in each state over time; the same after a restart', async () => {
    // A month of mornings by construction: three phones taken at 07:00 in Berlin (06:00Z in
    // November) every day, back after 30 minutes (A), 3 hours (B) and 9 hours (C); A fails
    // instead of coming back on the 11th, C on each of the last five days.
    now = new Date('2026-10-31T12:00:00Z');
    for (const [i, udid] of ['A', 'B', 'C'].entries()) await ready(udid, i + 1, 0.9);
    const back = { A: '06:30', B: '09:00', C: '15:00' };
    for (let day = 1; day <= 30; day++) {
      const date = `2026-11-${String(day).padStart(2, '0')}`;
      now = new Date(`${date}T06:00:00Z`);
      for (const udid of ['A', 'B', 'C']) {
        await store.beginCheckout(`nurse-${day}-${udid}`, RULES, udid);
        await store.unplugged(udid);
      }
      for (const udid of ['A', 'B', 'C'] as const) {
        now = new Date(`${date}T${back[udid]}:00Z`);
        await store.docked(udid, { ...HUB, port: ' ABC'.indexOf(udid) });
        if ((udid === 'A' && day === 11) || (udid === 'C' && day > 25)) {
          await store.fail(udid, { who: 'check-in-device', why: udid === 'A' ? 'DEVICE_TIMEOUT' : `UNLOCK_FAILED: day ${day}` });
          await store.setStatus(udid, 'Checked In', { who: 'admin' });
        } else await store.checkIn(udid, { who: 'check-in-device' });
      }
    }
    const month = insightQuery('30d', new Date('2026-12-01T00:05:00Z'), 'Europe/Berlin', store.cart);
    assert.deepEqual([month.from.toISOString(), month.to.toISOString()], ['2026-11-01T00:15:00.000Z', '2026-12-01T00:15:00.000Z']);
    const morning = Array.from({ length: 24 }, (_, hour) => (hour === 7 ? 90 : 0));
    const failing = [
      { udid: 'C', failures: 5, lastAt: '2026-11-30T15:00:00.000Z', lastWhy: 'UNLOCK_FAILED: day 30' },
      { udid: 'A', failures: 1, lastAt: '2026-11-11T06:30:00.000Z', lastWhy: 'DEVICE_TIMEOUT' },
    ];
    for (const figures of [store, reopen()]) {
      assert.deepEqual(await figures.checkoutsByHour(month), morning, '90 check-outs, all at 07:00 in Berlin');
      assert.deepEqual(await figures.keptHours(month), [29, 0, 30, 0, 25, 0, 0, 0], 'under 1 h: A; 2-4 h: B; 8-12 h: C');
      assert.deepEqual(await figures.failingPhones(month), failing);
    }
    assert.equal((await store.checkoutsByHour({ ...month, timeZone: 'America/New_York' }))[1], 90, '01:00 in New York');
    // The last 24 hours up to 12:15Z on the 30th: that morning's check-outs, A and B back, C failed the day before.
    const day = insightQuery('24h', new Date('2026-11-30T12:14:59Z'), 'Europe/Berlin', store.cart);
    assert.deepEqual(
      await store.checkoutsByHour(day),
      morning.map((n) => n / 30),
    );
    assert.deepEqual(await store.keptHours(day), [1, 0, 1, 0, 0, 0, 0, 0]);
    assert.deepEqual(await store.failingPhones(day), [{ udid: 'C', failures: 1, lastAt: '2026-11-29T15:00:00.000Z', lastWhy: 'UNLOCK_FAILED: day 29' }]);
    // The phones in each state hour by hour, [ready, out, failed, other]: C out on the 29th until
    // 15:00 (it failed then, and an admin checked it in), all three taken at 06:00 on the 30th, A
    // back at 06:30, B at 09:00.
    const hours = [
      ...Array<number[]>(2).fill([2, 1, 0, 0]),
      ...Array<number[]>(15).fill([3, 0, 0, 0]),
      [0, 3, 0, 0],
      ...Array<number[]>(2).fill([1, 2, 0, 0]),
      ...Array<number[]>(4).fill([2, 1, 0, 0]),
    ];
    for (const figures of [store, reopen()]) {
      const { columns, rows } = statesTable(await figures.statusChanges(day), day, '24h');
      assert.deepEqual(columns, ['at', 'ready', 'out', 'failed', 'other']);
      assert.deepEqual(
        rows.map(([at]) => at),
        hours.map((_, i) => new Date(Date.parse('2026-11-29T13:15:00Z') + i * 3_600_000).toISOString()),
      );
      assert.deepEqual(
        rows.map(([, ...counts]) => counts),
        hours,
      );
    }
    // A month, a point a day: every morning's phones back by the evening, all three ready at each point.
    const daily = statesTable(await store.statusChanges(month), month, '30d').rows;
    assert.equal(daily.length, 30);
    assert.ok(daily.every(([, ...counts]) => counts.join() === '3,0,0,0'));
  });

  it('the ports that fail most, each failure at its phone\u2019s port: one where several phones failed is flagged, one phone failing often is not', async () => {
    const fail = async (udid: string, at: string) => {
      now = new Date(at);
      await store.fail(udid, { who: 'check-in-device', why: 'DEVICE_TIMEOUT' });
      await store.setStatus(udid, 'Checked In', { who: 'admin' });
    };
    now = new Date('2026-11-20T08:00:00Z');
    await ready('X', 7, 0.9);
    await ready('Z', 8, 0.9);
    await fail('X', '2026-11-20T09:00:00Z');
    await fail('X', '2026-11-20T10:00:00Z');
    await fail('Z', '2026-11-20T10:30:00Z');
    await fail('Z', '2026-11-20T11:00:00Z');
    await fail('Z', '2026-11-20T11:30:00Z');
    // X moves to port 9 and fails there; Y takes port 7 and fails there too.
    now = new Date('2026-11-20T12:00:00Z');
    await store.unplugged('X');
    await store.docked('X', { ...HUB, port: 9 });
    await ready('Y', 7, 0.9);
    await fail('X', '2026-11-20T13:00:00Z');
    await fail('Y', '2026-11-20T14:00:00Z');
    const week = insightQuery('7d', new Date('2026-11-21T00:00:00Z'), 'UTC', store.cart);
    const port = (number: string, failures: number, phones: number, lastAt: string) => ({
      ...(store.cart !== undefined && { cart: store.cart }),
      hub: HUB.hub,
      port: number,
      failures,
      phones,
      lastAt,
    });
    const expected = [port('7', 3, 2, '2026-11-20T14:00:00.000Z'), port('8', 3, 1, '2026-11-20T11:30:00.000Z'), port('9', 1, 1, '2026-11-20T13:00:00.000Z')];
    for (const figures of [store, reopen()]) assert.deepEqual(await figures.failingPorts(week), expected);
    assert.deepEqual(expected.map(portFlagged), [true, false, false], 'port 7: two phones failed there; port 8: one phone, often');
  });

  it('per person: check-outs, Overdue phones and the most held at once (one out at the range\u2019s start counted), every cart\u2019s', async () => {
    const two = { ...RULES, userLimit: 2 };
    const take = async (user: string, udid: string, at: string) => {
      now = new Date(at);
      await store.beginCheckout(user, two, udid);
      await store.unplugged(udid);
    };
    const back = async (udid: string, port: number, at: string) => {
      now = new Date(at);
      await store.docked(udid, { ...HUB, port });
      await store.checkIn(udid);
    };
    now = new Date('2026-11-20T06:00:00Z');
    for (const [i, udid] of ['A', 'B', 'C'].entries()) await ready(udid, i + 1, 0.9);
    await take('ann', 'A', '2026-11-20T07:00:00Z'); // out before the range below, back within it
    await take('ann', 'B', '2026-11-20T09:00:00Z');
    now = new Date('2026-11-20T10:00:00Z');
    await store.markOverdue('A', (await store.device('A'))!.checkedOutAt!, { who: 'fleet', why: 'late' });
    await back('A', 1, '2026-11-20T11:00:00Z');
    await back('B', 2, '2026-11-20T12:00:00Z');
    await take('bob', 'A', '2026-11-20T13:00:00Z');
    await take('ann', 'C', '2026-11-20T14:00:00Z');
    await back('A', 1, '2026-11-20T15:00:00Z');
    const since8 = { from: new Date('2026-11-20T08:00:00Z'), to: new Date('2026-11-21T00:00:00Z'), timeZone: 'UTC' };
    const expected = [
      { user: 'ann', checkouts: 2, overdue: 1, mostAtOnce: 2 },
      { user: 'bob', checkouts: 1, overdue: 0, mostAtOnce: 1 },
    ];
    for (const figures of [store, reopen()]) assert.deepEqual(await figures.people(since8), expected);
    const afternoon = { ...since8, from: new Date('2026-11-20T14:30:00Z') };
    assert.deepEqual(
      await store.people(afternoon),
      [
        { user: 'ann', checkouts: 0, overdue: 0, mostAtOnce: 1 },
        { user: 'bob', checkouts: 0, overdue: 0, mostAtOnce: 1 },
      ],
      'ann holds C, bob returns A within it',
    );
  });
}
