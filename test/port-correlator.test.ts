import assert from 'node:assert/strict';
import sinon from 'sinon';
import { PortCorrelator, type Resolution } from '../nodes/lib/usb/port-correlator';

const WINDOW = 150;

describe('PortCorrelator: which phone is on which port', () => {
  let locations: Map<string, number>;
  let learnt: number;
  let disagreements: string[];
  let correlator: PortCorrelator;
  let clock: sinon.SinonFakeTimers;
  /** Lets `ms` pass on the fake clock, running the timers due meanwhile. */
  const pass = async (ms: number) => void (await clock.tickAsync(ms));
  /** The resolution, once the window has passed: what the correlator decided by then. */
  const afterWindow = async <T>(resolution: Promise<T>): Promise<T> => {
    await pass(WINDOW);
    return resolution;
  };

  beforeEach(() => {
    clock = sinon.useFakeTimers();
    locations = new Map();
    learnt = 0;
    disagreements = [];
    correlator = new PortCorrelator({
      windowMs: WINDOW,
      locations,
      now: () => clock.now,
      onLearn: () => learnt++,
      onDisagreement: (udid, port) => disagreements.push(`${udid} at ${port.hubId} port ${port.port}`),
    });
  });

  afterEach(() => {
    correlator.close();
    clock.restore();
  });

  it('binds a lone dock to the lone phone on USB and learns the port\u2019s location', async () => {
    const resolution = correlator.dock({ hubId: 'A', port: 3 });
    await pass(20);
    correlator.attach('U1', 0x14010300);
    assert.deepEqual(await afterWindow(resolution), { udid: 'U1' });
    assert.equal(locations.get('A#3'), 0x14010300);
    assert.equal(learnt, 1);
    assert.equal(correlator.udidAt({ hubId: 'A', port: 3 }), 'U1');
  });

  it('binds at once when the port\u2019s location is known, whatever order USB reports in', async () => {
    locations.set('A#1', 0x100).set('A#2', 0x200);
    const one = correlator.dock({ hubId: 'A', port: 1 });
    const two = correlator.dock({ hubId: 'A', port: 2 });
    correlator.attach('U2', 0x200);
    correlator.attach('U1', 0x100);
    // No time passes on the fake clock: bound without waiting for the window.
    assert.deepEqual(await Promise.all([one, two]), [{ udid: 'U1' }, { udid: 'U2' }]);
  });

  it('never guesses between several first-time docks in one window', async () => {
    const docks = [correlator.dock({ hubId: 'A', port: 1 }), correlator.dock({ hubId: 'A', port: 2 })];
    correlator.attach('U1', 0x100);
    correlator.attach('U2', 0x200);
    const results = (await afterWindow(Promise.all(docks))) as { reason: string }[];
    for (const r of results) assert.match(r.reason, /usb-ambiguous \{"docks":2,"phones":2,"seconds":0.15\}/);
    assert.equal(locations.size, 0, 'nothing learnt from an ambiguous window');
  });

  it('takes a phone USB reported before the hub\u2019s poll saw the dock', async () => {
    correlator.attach('U9', 0x900);
    await pass(30);
    assert.deepEqual(await afterWindow(correlator.dock({ hubId: 'B', port: 9 })), { udid: 'U9' });
  });

  it('says so when no phone appears on USB', async () => {
    const resolution = (await afterWindow(correlator.dock({ hubId: 'A', port: 4 }))) as Resolution & { reason: string };
    assert.equal(resolution.udid, undefined);
    assert.match(resolution.reason, /no-phone-on-usb \{"seconds":0.15\}/);
  });

  it('follows a phone moved from one port to another', async () => {
    locations.set('A#1', 0x100).set('A#3', 0x300);
    const first = correlator.dock({ hubId: 'A', port: 1 });
    correlator.attach('U1', 0x100);
    assert.deepEqual(await first, { udid: 'U1' });
    correlator.detach('U1'); // usbmuxd usually reports the detach before the hub's poll
    assert.equal(correlator.unplug({ hubId: 'A', port: 1 }), 'U1');
    const moved = correlator.dock({ hubId: 'A', port: 3 });
    correlator.attach('U1', 0x300);
    assert.deepEqual(await moved, { udid: 'U1' });
    assert.equal(correlator.udidAt({ hubId: 'A', port: 1 }), undefined);
  });

  it('reports the hub and USB disagreeing, and never hands a contested phone to a later dock', async () => {
    locations.set('A#5', 0x500);
    correlator.attach('U5', 0x500);
    await pass(WINDOW + 30);
    assert.deepEqual(disagreements, ['U5 at A port 5']);
    const docks = [correlator.dock({ hubId: 'A', port: 6 }), correlator.dock({ hubId: 'A', port: 7 })];
    correlator.attach('U6', 0x600);
    await afterWindow(Promise.all(docks));
    const late = (await afterWindow(correlator.dock({ hubId: 'A', port: 6 }))) as { reason?: string };
    assert.ok(late.reason, 'U6 was contested: only its location could place it now');
  });
});
