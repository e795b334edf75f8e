import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import sinon from 'sinon';
import { FileFleetStore } from '../nodes/lib/fleet/file-fleet-store';
import { FleetEvents, type FleetEvent } from '../nodes/lib/fleet/fleet-events';
import type { DeviceRecord } from '../nodes/lib/fleet/fleet-store';
import { expectedCheckouts, nextShiftChange, ReadinessWatch, shiftTimes } from '../nodes/lib/fleet/readiness';
import { tempDir } from '../harness/support';

const text = (key: string, vars?: Record<string, unknown>) => `${key}${vars ? ` ${JSON.stringify(vars)}` : ''}`;
/** On the host's clock, as shift changes are: `day` days from 2 December 2026 at `hour`:`minute`. */
const local = (day: number, hour: number, minute = 0) => new Date(2026, 11, 2 + day, hour, minute);

const phone = (udid: string, battery: number, status: DeviceRecord['status'] = 'Checked In'): DeviceRecord => ({
  udid,
  docked: true,
  status,
  battery,
  attributes: {},
  healthy: true,
  hubId: 'hub',
  hub: 'Cart A',
  port: Number(udid.slice(1)),
});

describe('the readiness forecast: will there be a phone at 7 o\u2019clock', () => {
  it('reads shift changes as an admin types them, and finds the next one (tomorrow\u2019s first after the last)', () => {
    const shifts = shiftTimes('15:00, 7:00 23:00')!;
    assert.deepEqual(shifts, [
      { hour: 7, minute: 0 },
      { hour: 15, minute: 0 },
      { hour: 23, minute: 0 },
    ]);
    assert.equal(shiftTimes('7 am'), undefined);
    assert.equal(shiftTimes('24:00'), undefined);
    assert.deepEqual(shiftTimes(''), []);
    assert.deepEqual(nextShiftChange(local(0, 6, 59), shifts), local(0, 7));
    assert.deepEqual(nextShiftChange(local(0, 7), shifts), local(0, 15), 'the one now is not next');
    assert.deepEqual(nextShiftChange(local(0, 23, 30), shifts), local(1, 7));
  });

  it('expects the usual check-outs of each hour before the shift change, a part hour by its part', () => {
    const byHour = new Array<number>(24).fill(0);
    byHour[6] = 14; // two a morning over a week
    byHour[5] = 7;
    assert.equal(expectedCheckouts(byHour, 7, local(0, 4), local(0, 7)), 3);
    assert.equal(expectedCheckouts(byHour, 7, local(0, 5, 30), local(0, 7)), 2.5);
    assert.equal(expectedCheckouts(byHour, 7, local(0, 7), local(0, 15)), 0);
  });

  describe('a simulated morning (fake clocks): shift changes at 07:00, 15:00, 23:00, three phones wanted ready', () => {
    let clock: sinon.SinonFakeTimers;
    afterEach(() => clock.restore());

    it('raises low-stock once, at 06:00: two phones charge too slowly, two are usually taken before seven; none at 15:00 or 23:00', async () => {
      clock = sinon.useFakeTimers({ now: local(0, 4), toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'Date'] });
      const dir = tempDir('readiness');
      // Six phones docked: P1 and P2 charged, P3 and P4 nearly empty (on a port that charges
      // slowly, as their readings will show), P5 at 10% (no rate seen: a fifth an hour), P6 Failed.
      const devices = Object.fromEntries(
        [phone('P1', 0.9), phone('P2', 0.9), phone('P3', 0.01), phone('P4', 0.01), phone('P5', 0.1), phone('P6', 0.9, 'Failed')].map((p) => [p.udid, p]),
      );
      writeFileSync(`${dir}/fleet.json`, JSON.stringify({ version: 2, devices }));
      // The week before: two phones taken at 06:30 every morning.
      const week = Array.from({ length: 7 }, (_, d) =>
        ['X1', 'X2'].map((udid) => ({ at: local(-1 - d, 6, 30).toISOString(), udid, what: 'status', from: 'Checking Out', to: 'Checked Out', who: 'hub' })),
      )
        .flat()
        .reverse();
      writeFileSync(`${dir}/fleet.audit.jsonl`, week.map((entry) => JSON.stringify(entry) + '\n').join(''));
      const store = new FileFleetStore(`${dir}/fleet.json`);
      const events = new FleetEvents();
      const heard: (FleetEvent & { when: number })[] = [];
      events.on((event) => heard.push({ ...event, when: Date.now() }));
      const warned: string[] = [];
      const watch = new ReadinessWatch({
        store,
        rules: { deadlineSeconds: 60, userLimit: 1, batteryThreshold: 0.2 },
        events,
        shifts: shiftTimes('07:00, 15:00, 23:00')!,
        minimum: 3,
        leadMs: 60 * 60_000,
        text,
        warn: (m) => warned.push(m),
      });
      try {
        // P3 and P4 gain one percent in a quarter of an hour: 4% an hour, 14% by seven.
        for (const udid of ['P3', 'P4']) await store.reportHealth(udid, 0.02, true);
        await clock.tickAsync(15 * 60_000);
        for (const udid of ['P3', 'P4']) await store.reportHealth(udid, 0.03, true);
        const early = await watch.forecast();
        assert.deepEqual({ ...early, at: early.at.getTime() }, { ready: 1, docked: 6, at: local(0, 7).getTime() }, 'P1, P2, P5, less the two usual');

        await clock.tickAsync(local(0, 5, 59).getTime() - Date.now());
        assert.equal(heard.length, 0, 'not before the hour ahead');
        await clock.tickAsync(60_000);
        assert.equal(heard.length, 1);
        assert.equal(heard[0].when, local(0, 6).getTime(), 'an hour before the shift change');
        assert.equal(heard[0].event, 'low-stock');
        assert.equal(heard[0].device, undefined);
        assert.deepEqual(heard[0].stock, { shift: local(0, 7).toISOString(), ready: 1, minimum: 3, docked: 6 });
        assert.deepEqual(warned, ['device-fleet.errors.low-stock {"ready":1,"minimum":3,"shift":"07:00","cart":""}']);

        // Through the day: by 15:00 the slow phones are charged too (5 ready, none usually taken).
        await clock.tickAsync(local(0, 23, 30).getTime() - Date.now());
        assert.equal(heard.length, 1, 'once for 07:00, and not for 15:00 or 23:00');
        const evening = await watch.forecast();
        assert.deepEqual(
          { ready: evening.ready, at: evening.at.getTime() },
          { ready: 3, at: local(1, 7).getTime() },
          'tomorrow 07:00: five, less the two usual',
        );
      } finally {
        watch.close();
        await store.close();
      }
    });
  });
});
