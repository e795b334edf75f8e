import assert from 'node:assert/strict';
import sinon from 'sinon';
import { CodedError } from '../nodes/lib/coded-error';
import { CheckoutDeadlines, type ExpiredCheckout } from '../nodes/lib/fleet/checkout-deadlines';
import { FileFleetStore } from '../nodes/lib/fleet/file-fleet-store';
import { FleetEvents, type FleetEvent } from '../nodes/lib/fleet/fleet-events';
import { LedRouter } from '../nodes/lib/fleet/led-router';
import { PortWrites } from '../nodes/lib/fleet/port-writes';
import type { HubConnection } from '../nodes/lib/hub/hub-connection';
import { settle, tempDir } from '../harness/support';

const text = (key: string, vars?: Record<string, unknown>) => `${key}${vars ? ` ${JSON.stringify(vars)}` : ''}`;

/** The rooms Fleet is composed of, each on its own. */
describe('the fleet’s rooms', () => {
  describe('PortWrites: port events recorded in the order they came', () => {
    let clock: sinon.SinonFakeTimers;
    beforeEach(() => (clock = sinon.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })));
    afterEach(() => clock.restore());

    it('retries a write while the database is away or busy, 1 s apart and then longer, and the next write waits behind it', async () => {
      const writes = new PortWrites(new AbortController().signal);
      const done: string[] = [];
      let failures = 3;
      const first = writes.record(async () => {
        if (failures-- > 0) throw new CodedError(failures % 2 ? 'STORE_UNAVAILABLE' : 'STORE_BUSY', 'away');
        done.push('unplug');
      });
      const second = writes.record(async () => void done.push('deadline'));
      await clock.tickAsync(999);
      assert.deepEqual(done, [], 'still waiting for the database; the deadline behind it too');
      await clock.tickAsync(1 + 2000 + 4000);
      await Promise.all([first, second]);
      assert.deepEqual(done, ['unplug', 'deadline']);
    });

    it('hands any other failure to its caller at once, and the next write goes ahead', async () => {
      const writes = new PortWrites(new AbortController().signal);
      await assert.rejects(
        writes.record(async () => Promise.reject(new CodedError('INVALID_UDID', 'no'))),
        { code: 'INVALID_UDID' },
      );
      assert.equal(await writes.record(async () => 'next'), 'next');
    });

    it('gives up waiting once the fleet closes', async () => {
      const closing = new AbortController();
      const writes = new PortWrites(closing.signal);
      const waiting = writes.record(async () => Promise.reject(new CodedError('STORE_UNAVAILABLE', 'away')));
      await clock.tickAsync(0);
      closing.abort(new CodedError('NODE_CLOSED', 'closed'));
      await assert.rejects(waiting);
    });
  });

  describe('LedRouter: a device’s LED to its port on its hub', () => {
    const said: string[] = [];
    const router = new LedRouter({ warn: (m) => said.push(m), text });
    const leds: string[] = [];
    const hub = { setLed: async (port: number, led: string) => void leds.push(`${port}:${led}`) } as unknown as HubConnection;

    it('sets the LED on the attached hub by its id, and warns once about a hub it does not know', async () => {
      const detach = router.attach({ id: 'hub-a', name: 'Cart A' }, hub);
      await router.setLed({ hubId: 'hub-a', hub: 'Cart A', port: 3 }, 'ready');
      await router.setLed({ hubId: 'hub-b', hub: 'Cart B', port: 1 }, 'ready');
      await router.setLed({ hubId: 'hub-b', hub: 'Cart B', port: 2 }, 'ready');
      assert.deepEqual(leds, ['3:ready']);
      assert.deepEqual(said, ['device-fleet.errors.no-hub {"hub":"Cart B"}']);
      assert.equal(router.nameOf('hub-a'), 'Cart A');
      detach();
      await router.setLed({ hubId: 'hub-a', hub: 'Cart A', port: 3 }, 'off');
      assert.deepEqual(leds, ['3:ready'], 'detached');
    });

    it('a hub that is reconnecting is said in the log, not a failure; any other refusal is', async () => {
      const refusing = (code: 'HUB_DISCONNECTED' | 'INVALID_PORT') =>
        ({ setLed: async () => Promise.reject(new CodedError(code, code)) }) as unknown as HubConnection;
      router.attach({ id: 'away', name: 'Away' }, refusing('HUB_DISCONNECTED'));
      await router.setLed({ hubId: 'away', port: 1 }, 'ready');
      assert.equal(said.at(-1), 'HUB_DISCONNECTED');
      router.attach({ id: 'bad', name: 'Bad' }, refusing('INVALID_PORT'));
      await assert.rejects(router.setLed({ hubId: 'bad', port: 99 }, 'ready'), { code: 'INVALID_PORT' });
    });
  });

  describe('FleetEvents', () => {
    it('tells every listener, with when and why, until it stops listening', () => {
      const events = new FleetEvents();
      const heard: FleetEvent[] = [];
      const stop = events.on((e) => heard.push(e));
      events.announce('low-battery', { udid: 'A' }, '12%');
      stop();
      events.announce('failed', { udid: 'A' });
      assert.equal(heard.length, 1);
      assert.deepEqual({ ...heard[0], at: undefined }, { event: 'low-battery', device: { udid: 'A' }, why: '12%', at: undefined });
      assert.ok(!Number.isNaN(Date.parse(heard[0].at)));
    });
  });

  describe('CheckoutDeadlines: a phone not taken in time', () => {
    it('fails the check-out once its hub was read, and keeps it for the node that started it until that node watches', async () => {
      const clock = sinon.useFakeTimers({ now: Date.parse('2026-12-02T07:00:00Z'), toFake: ['setTimeout', 'clearTimeout', 'Date'] });
      const store = new FileFleetStore(`${tempDir('deadlines')}/fleet.json`);
      const events = new FleetEvents();
      const announced: string[] = [];
      events.on((e) => announced.push(`${e.event} ${e.device?.udid}`));
      const leds = new LedRouter({ warn: () => undefined, text });
      let read = false;
      const deadlines = new CheckoutDeadlines({
        store,
        rules: { deadlineSeconds: 60, userLimit: 1, batteryThreshold: 0 },
        writes: new PortWrites(new AbortController().signal),
        events,
        leds,
        hubRead: () => read,
        text,
        warn: () => undefined,
      });
      try {
        await store.docked('A', { hubId: 'hub-a', hub: 'Cart A', port: 1 });
        await store.setStatus('A', 'Checked In');
        await store.reportHealth('A', 0.9, true);
        await store.beginCheckout('ann', { deadlineSeconds: 60, userLimit: 1, batteryThreshold: 0 }, undefined, { node: 'tap' });
        deadlines.arm();
        await clock.tickAsync(61_000);
        assert.equal((await store.device('A'))?.status, 'Checking Out', 'not judged before its hub was read');
        read = true;
        deadlines.arm();
        await settle(clock, 'the deadline judged', () => announced.length > 0);
        assert.deepEqual(announced, ['failed A']);
        assert.equal((await store.device('A'))?.status, 'Failed');
        const handed: ExpiredCheckout[] = [];
        deadlines.watch('tap', (expired) => handed.push(expired));
        assert.equal(handed.length, 1, 'kept until the node that started it watches');
        assert.equal(handed[0].device.udid, 'A');
      } finally {
        deadlines.close();
        clock.restore();
        await store.close();
      }
    });
  });
});
