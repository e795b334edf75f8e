import assert from 'node:assert/strict';
import sinon from 'sinon';
import { CartScreen, SHOWN_MS, type ScreenView } from '../nodes/lib/cart-screen/cart-screen';
import type { DeviceRecord } from '../nodes/lib/fleet/fleet-store';

const record = (udid: string, port: number, more: Partial<DeviceRecord> = {}): DeviceRecord => ({
  udid,
  hub: 'Cart A',
  hubId: 'hub-a',
  port,
  docked: true,
  status: 'Checked In',
  attributes: {},
  healthy: true,
  battery: 0.9,
  name: `Phone ${port}`,
  ...more,
});

describe('the cart screen: what a person at the cart is told, and the grid of its ports', () => {
  let clock: sinon.SinonFakeTimers;
  let screen: CartScreen;
  let views: ScreenView[];
  const shown = () => views.at(-1)!;

  beforeEach(() => {
    clock = sinon.useFakeTimers({ now: Date.parse('2026-12-07T07:00:00Z'), toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    screen = new CartScreen({ here: (r) => r.cart === undefined || r.cart === 'ward-3', batteryThreshold: 0.2 });
    views = [];
    screen.follow((view) => views.push(view));
  });
  afterEach(() => {
    screen.close();
    clock.restore();
  });

  it('idle; a tap: her name, the port and the deadline, one beep; taken: said, then idle again', () => {
    assert.deepEqual(screen.view().state, { kind: 'idle' });
    screen.deviceChanged(record('p5', 5));
    screen.accepted('Alice Archer', { udid: 'p5', hub: 'Cart A', port: 5, deadline: '2026-12-07T07:01:00.000Z' });
    assert.deepEqual(shown().state, { kind: 'welcome', name: 'Alice Archer', hub: 'Cart A', port: 5, deadline: '2026-12-07T07:01:00.000Z' });
    assert.equal(shown().beeps, 1);
    screen.deviceChanged(record('p5', 5, { status: 'Checking Out', user: 'aarcher', userName: 'Alice Archer' }));
    assert.equal(shown().ports[0].waitingFor, 'Alice Archer', 'the grid says whom the phone waits for');
    assert.equal(shown().beeps, undefined, 'a grid change is silent');
    screen.deviceChanged(record('p5', 5, { status: 'Checked Out', docked: false }));
    assert.deepEqual(shown().state, { kind: 'taken', name: 'Alice Archer' });
    assert.deepEqual(shown().ports, [], 'unplugged: off the grid');
    clock.tick(SHOWN_MS.taken);
    assert.deepEqual(shown().state, { kind: 'idle' });
  });

  it('refusals carry what the words need and their beeps: two unknown, three no phone (charging or empty), four already has one', () => {
    screen.refused('BADGE_NOT_FOUND');
    assert.deepEqual([shown().state, shown().beeps], [{ kind: 'refused', code: 'BADGE_NOT_FOUND' }, 2]);
    screen.refused('NO_DEVICE_AVAILABLE', { name: 'Bob' });
    assert.deepEqual([shown().state, shown().beeps], [{ kind: 'refused', code: 'NO_DEVICE_AVAILABLE', name: 'Bob', charging: false }, 3]);
    screen.deviceChanged(record('low', 2, { battery: 0.1 }));
    screen.refused('NO_DEVICE_AVAILABLE');
    assert.equal((shown().state as { charging?: boolean }).charging, true, 'a docked phone short of charge: all are charging');
    screen.refused('USER_HAS_DEVICE', { name: 'Bob', held: { cart: 'Cart B', port: 5 } });
    assert.deepEqual([shown().state, shown().beeps], [{ kind: 'refused', code: 'USER_HAS_DEVICE', name: 'Bob', held: { cart: 'Cart B', port: 5 } }, 4]);
    clock.tick(SHOWN_MS.refused);
    assert.deepEqual(shown().state, { kind: 'idle' });
  });

  it('someone refused while a phone waits for its person: her welcome comes back after the refusal', () => {
    screen.deviceChanged(record('p5', 5));
    screen.accepted('Alice Archer', { udid: 'p5', hub: 'Cart A', port: 5, deadline: '2026-12-07T07:01:00.000Z' });
    screen.refused('CART_BUSY', { name: 'Bob' });
    clock.tick(SHOWN_MS.refused);
    assert.equal(shown().state.kind, 'welcome');
    screen.refused('UNPLUG_TIMEOUT', { name: 'Alice Archer' });
    clock.tick(SHOWN_MS.refused);
    assert.deepEqual(shown().state, { kind: 'idle' }, 'not taken in time: no welcome to return to');
  });

  it('an admin’s message over whatever is shown, for its seconds; then the screen as it would be', () => {
    screen.refused('BADGE_NOT_FOUND');
    screen.showMessage('Handover at 19:00', 30);
    assert.deepEqual(shown().state, { kind: 'message', text: 'Handover at 19:00' });
    clock.tick(SHOWN_MS.refused);
    assert.deepEqual(shown().state, { kind: 'message', text: 'Handover at 19:00' }, 'the refusal ended beneath it');
    clock.tick(30_000);
    assert.deepEqual(shown().state, { kind: 'idle' });
  });

  it('the grid: this cart’s docked phones by hub and port, ready or charging; a phone docked at another cart leaves it', () => {
    screen.deviceChanged(record('b', 3, { battery: 0.1 }));
    screen.deviceChanged(record('a', 1, { cart: 'ward-3' }));
    screen.deviceChanged(record('c', 2, { status: 'Failed', healthy: false }));
    assert.deepEqual(
      screen.view().ports.map((tile) => [tile.port, tile.ready, tile.battery, tile.status]),
      [
        [1, true, 90, 'Checked In'],
        [2, false, 90, 'Failed'],
        [3, false, 10, 'Checked In'],
      ],
    );
    screen.deviceChanged(record('a', 1, { cart: 'ward-5' }));
    assert.deepEqual(
      screen.view().ports.map((tile) => tile.port),
      [2, 3],
    );
  });

  it('sign-ins on the screen go to the first check-out node that takes them; none: false', () => {
    const got: string[] = [];
    assert.equal(screen.signIn('alice', 'pw'), false);
    const stop = screen.takeSignIns('one', (user) => got.push(`one:${user}`));
    screen.takeSignIns('two', (user) => got.push(`two:${user}`));
    assert.equal(screen.signIn('alice', 'pw'), true);
    stop();
    screen.signIn('bob', 'pw');
    assert.deepEqual(got, ['one:alice', 'two:bob']);
  });
});
