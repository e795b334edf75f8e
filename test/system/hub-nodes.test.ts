import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { NodeMessage } from 'node-red';
import { PtyHub } from '../../sim/pty-hub';
import type { SimulatedHubOptions } from '../../sim/simulated-hub';
import type { CodedError } from '../../nodes/lib/coded-error';
import { collect, deploy, helper, load, reports, send, statuses } from '../../harness/node-red';
import { openDescriptors, sleep, tempDir, waitFor } from '../../harness/support';

const CONNECTED = 'node-red-contrib-device-checkout/smart-hub:smart-hub.status.connected';

interface HubEvent extends NodeMessage {
  payload: { event: string; hub: string; port: number; at: string; flags: string[]; current_mA: number };
  device: { hub: string; port: number };
}

/** A flow with one hub on `path`, one hub-input wired to helpers `docks`/`unplugs`, one hub-led wired to `passed`. */
function cartFlow(path: string, extra: object[] = []): object[] {
  return [
    { id: 'hub', type: 'smart-hub', name: 'Cart A', serialPort: path, baudRate: '115200', pollInterval: '100', model: 'auto' },
    { id: 'in', type: 'hub-input', hub: 'hub', wires: [['docks'], ['unplugs']] },
    { id: 'led', type: 'hub-led', hub: 'hub', port: '', led: '', wires: [['passed']] },
    { id: 'docks', type: 'helper' },
    { id: 'unplugs', type: 'helper' },
    { id: 'passed', type: 'helper' },
    ...extra,
  ];
}

const ports = (messages: NodeMessage[]): number[] => (messages as HubEvent[]).map((m) => m.payload.port);

describe('smart hub nodes over a real pseudo-terminal', function () {
  let pty: PtyHub;
  let path: string;

  async function startHub(options: SimulatedHubOptions = {}): Promise<void> {
    path = join(tempDir('hub'), 'ttyHUB');
    pty = await PtyHub.start(path, { ports: 8, ...options });
  }

  async function loadAndConnect(flow: object[]): Promise<Record<string, NodeMessage[]>> {
    await load(flow);
    const seen = { docks: collect('docks'), unplugs: collect('unplugs'), passed: collect('passed') };
    const inStatus = statuses('in');
    await waitFor('hub-input connected', () => inStatus.some((s) => s.text?.startsWith(CONNECTED)));
    return seen;
  }

  afterEach(async () => {
    await helper.unload();
    await pty?.stop();
  });

  it('emits docks on output 1 and unplugs on output 2 for several ports', async () => {
    await startHub();
    pty.hub.dock(2);
    const seen = await loadAndConnect(cartFlow(path));
    const status = statuses('in');
    pty.hub.dock(1);
    pty.hub.dock(8);
    pty.hub.unplug(2);
    await waitFor('two docks and one unplug', () => seen.docks.length === 2 && seen.unplugs.length === 1);
    const beforeDock = Date.now();
    pty.hub.dock(3, 1044);
    await waitFor('third dock', () => seen.docks.length === 3);
    const afterDock = Date.now();
    assert.deepEqual(ports(seen.docks).sort(), [1, 3, 8]);
    assert.deepEqual(ports(seen.unplugs), [2]);
    const third = seen.docks[2] as HubEvent;
    assert.equal(third.topic, 'dock');
    assert.deepEqual(third.device, { hub: 'Cart A', hubId: 'hub', port: 3 });
    assert.equal(third.payload.event, 'dock');
    assert.equal(third.payload.hub, 'Cart A');
    assert.equal(third.payload.current_mA, 1044);
    assert.deepEqual(third.payload.flags, ['A', 'C']);
    assert.ok(Date.parse(third.payload.at) >= beforeDock && Date.parse(third.payload.at) <= afterDock, 'seen between the dock and its message');
    assert.equal((seen.unplugs[0] as HubEvent).topic, 'unplug');
    // Port 2 was docked before Node-RED started: counted, never reported as a dock.
    assert.ok(!ports(seen.docks).includes(2));
    await waitFor('status with three docked', () => status.find((s) => s.text === `${CONNECTED} {"docked":3}` && s.fill === 'green'));
  });

  it('shows every LED state on a fixed-colour hub, and passes the message on', async () => {
    await startHub();
    const seen = await loadAndConnect(cartFlow(path));
    const expected: Record<string, string[]> = {
      granted: ['11111111', '00000000', '00000000'],
      deploying: ['00000000', '00000000', '11111111'],
      ready: ['11001100', '11001100', '11001100'],
      error: ['00000000', '10101010', '00000000'],
      off: ['00000000', '00000000', '00000000'],
      release: ['firmware', 'firmware', 'firmware'],
    };
    for (const [led, rows] of Object.entries(expected)) {
      const before = seen.passed.length;
      send('led', { device: { port: 4 }, led, _tag: led });
      await waitFor(`${led} passed on`, () => seen.passed.length > before);
      assert.deepEqual(pty.hub.led(4).rows, rows, led);
      assert.equal((seen.passed.at(-1) as { _tag?: string })._tag, led);
    }
    assert.deepEqual(pty.hub.led(5).rows, ['firmware', 'firmware', 'firmware'], 'other ports untouched');
  });

  it('sends two LED requests for one port one after the other, never row by row mixed', async () => {
    await startHub();
    const seen = await loadAndConnect(cartFlow(path));
    const before = pty.hub.commands.length;
    send('led', { device: { port: 6 }, led: 'error' });
    send('led', { device: { port: 6 }, led: 'release' });
    await waitFor('both passed on', () => seen.passed.length === 2);
    const sent = pty.hub.commands.slice(before).filter((c) => c.startsWith('ledb 6 '));
    assert.deepEqual(
      sent.map((c) => c.split(' ').slice(2).join(' ')),
      ['2 10101010b H', '1 0 H', '3 0 H', '1 0 R', '2 0 R', '3 0 R'],
    );
    assert.deepEqual(pty.hub.led(6).rows, ['firmware', 'firmware', 'firmware']);
  });

  it('sends only the LED rows that change, lighting rows before darkening them', async () => {
    await startHub();
    const seen = await loadAndConnect(cartFlow(path));
    const rowsSent = async (led: string): Promise<string[]> => {
      const before = pty.hub.commands.length;
      const passed = seen.passed.length;
      send('led', { device: { port: 3 }, led });
      await waitFor(`${led} passed on`, () => seen.passed.length > passed);
      return pty.hub.commands
        .slice(before)
        .filter((c) => c.startsWith('ledb 3 '))
        .map((c) => c.split(' ').slice(2).join(' '));
    };
    assert.deepEqual(await rowsSent('granted'), ['1 11111111b H', '2 0 H', '3 0 H'], 'after the firmware: every row');
    assert.deepEqual(await rowsSent('off'), ['1 0 H']);
    assert.deepEqual(await rowsSent('deploying'), ['3 11111111b H']);
    assert.deepEqual(await rowsSent('granted'), ['1 11111111b H', '3 0 H'], 'green before blue goes dark: never a dark port between');
    assert.deepEqual(await rowsSent('granted'), [], 'nothing to change');
    assert.deepEqual(await rowsSent('release'), ['1 0 R', '2 0 R', '3 0 R']);
    assert.deepEqual(await rowsSent('error'), ['2 10101010b H', '1 0 H', '3 0 H'], 'after a release: every row again');
    assert.deepEqual(pty.hub.led(3).rows, ['00000000', '10101010', '00000000']);
  });

  it('holds polls while a person waits on the LED after green, and polls again once it is shown', async () => {
    await startHub();
    const seen = await loadAndConnect(cartFlow(path));
    const polls = (from: number) => pty.hub.commands.slice(from).filter((c) => c.trim() === 'state').length;
    send('led', { device: { port: 2 }, led: 'granted' });
    await waitFor('green passed on', () => seen.passed.length === 1);
    const green = pty.hub.commands.length;
    await sleep(400); // four poll intervals
    assert.equal(polls(green), 0, 'no state poll while flashing white is due');
    send('led', { device: { port: 2 }, led: 'ready' });
    await waitFor('polled again', () => polls(green) > 0);
    const ready = pty.hub.commands.findIndex((c, i) => i >= green && c.startsWith('ledb 2 '));
    const firstPoll = pty.hub.commands.findIndex((c, i) => i >= green && c.trim() === 'state');
    assert.ok(ready < firstPoll, 'the LED went before the next poll');
  });

  it('polls again, and sees docks, when the LED after green never comes', async () => {
    await startHub();
    const seen = await loadAndConnect(cartFlow(path));
    send('led', { device: { port: 2 }, led: 'granted' });
    await waitFor('green passed on', () => seen.passed.length === 1);
    pty.hub.dock(5);
    await waitFor('the dock seen all the same', () => seen.docks.length === 1, 3000);
    assert.deepEqual(ports(seen.docks), [5]);
  });

  it('shows exact colours on an RGB hub and blinks white for ready', async () => {
    await startHub({ rgb: true });
    const seen = await loadAndConnect(cartFlow(path));
    const colours: Record<string, string> = { granted: 'ff00ff00', deploying: 'ff0000ff', error: 'ffff0000', off: 'ff000000' };
    for (const [led, colour] of Object.entries(colours)) {
      const before = seen.passed.length;
      send('led', { device: { port: 6 }, led });
      await waitFor(`${led} passed on`, () => seen.passed.length > before);
      assert.equal(pty.hub.led(6).rgb, colour, led);
    }
    send('led', { device: { port: 6 }, led: 'ready' });
    await waitFor('white', () => pty.hub.led(6).rgb === 'ffffffff');
    await waitFor('blink dark', () => pty.hub.led(6).rgb === 'ff000000', 2000);
    await waitFor('blink white again', () => pty.hub.led(6).rgb === 'ffffffff', 2000);
    send('led', { device: { port: 6 }, led: 'release' });
    await waitFor('released', () => pty.hub.led(6).rgb === '00000000');
    const count = pty.hub.commands.filter((c) => c.startsWith('rgb_led 6')).length;
    await sleep(1200);
    assert.equal(pty.hub.commands.filter((c) => c.startsWith('rgb_led 6')).length, count, 'blinking stopped on release');
    assert.equal(pty.hub.led(6).rgb, '00000000');
  });

  it('fails LED requests with stable codes: bad port, bad state, refused by the hub', async () => {
    await startHub();
    const seen = await loadAndConnect(cartFlow(path));
    const errors = reports('led', 'error');
    const ledStatus = statuses('led');
    send('led', { device: { port: 99 }, led: 'granted' });
    send('led', { device: { port: 2 }, led: 'purple' });
    send('led', { device: { port: 2 } });
    await waitFor('three errors', () => errors.length === 3);
    pty.hub.mangle = (command, reply) => (command.startsWith('ledb') ? ['*E422: Refused: an error flag is set'] : reply);
    send('led', { device: { port: 2 }, led: 'granted' });
    await waitFor('refusal', () => errors.length === 4);
    const codes = errors.map((e) => (e as CodedError).code);
    assert.deepEqual(codes.slice(0, 3).sort(), ['INVALID_LED', 'INVALID_LED', 'INVALID_PORT']);
    assert.equal(codes[3], 'HUB_COMMAND_ERROR');
    assert.equal((errors[3] as CodedError).details.hubCode, 422);
    assert.match((errors[3] as Error).message, /Refused/);
    assert.equal(seen.passed.length, 0, 'nothing passed on after a failure');
    assert.ok(ledStatus.some((s) => s.fill === 'red' && /HUB_COMMAND_ERROR/.test(s.text ?? '')));
  });

  it('shares one connection between every node and config node on the same port', async () => {
    await startHub();
    const flow = cartFlow(path, [
      { id: 'hub2', type: 'smart-hub', serialPort: path, baudRate: '115200', pollInterval: '100', model: 'auto' },
      { id: 'in2', type: 'hub-input', hub: 'hub2', wires: [['docks2'], []] },
      { id: 'docks2', type: 'helper' },
    ]);
    const seen = await loadAndConnect(flow);
    const docks2 = collect('docks2');
    pty.hub.dock(7);
    await waitFor('both inputs see the dock', () => seen.docks.length === 1 && docks2.length === 1);
    assert.equal(pty.hub.commands.filter((c) => c === 'id').length, 1, 'one connection identified the hub');
    assert.equal(openDescriptors(path), 1);
  });

  it('closes the port on redeploy and reopens it exactly once', async () => {
    await startHub();
    await loadAndConnect(cartFlow(path));
    assert.equal(openDescriptors(path), 1);
    const changed = cartFlow(path).map((n) => ((n as { id: string }).id === 'hub' ? { ...n, pollInterval: '150' } : n));
    await deploy(changed);
    const status = statuses('in');
    await waitFor('reconnected after redeploy', () => status.some((s) => s.text?.startsWith(CONNECTED)));
    assert.equal(openDescriptors(path), 1);
    assert.equal(pty.hub.commands.filter((c) => c === 'id').length, 2);
    await helper.unload();
    await waitFor('port closed', () => openDescriptors(path) === 0);
  });

  it('after the cable is pulled and put back, delivers what happened meanwhile exactly once', async () => {
    await startHub();
    pty.hub.dock(2);
    const seen = await loadAndConnect(cartFlow(path));
    const status = statuses('in');
    await pty.stop();
    await waitFor('disconnected status', () => status.find((s) => s.fill === 'red'));
    pty.hub.dock(5);
    pty.hub.unplug(2);
    await sleep(300);
    await pty.start();
    await waitFor('missed events', () => seen.docks.length === 1 && seen.unplugs.length === 1, 15000);
    await sleep(500);
    assert.deepEqual(ports(seen.docks), [5]);
    assert.deepEqual(ports(seen.unplugs), [2]);
    pty.hub.unplug(5);
    await waitFor('live events again', () => seen.unplugs.length === 2);
  });

  it('survives random bytes, truncated and overlong lines and error replies, and reports them', async () => {
    await startHub();
    const seen = await loadAndConnect(cartFlow(path));
    const warnings = reports('hub', 'warn');
    const warned = (pattern: RegExp) => waitFor(`a warning matching ${pattern}`, () => warnings.some((w) => pattern.test(String(w))), 10000);
    // One fault at a time, each reported in its own words.
    const faults: [(reply: string[]) => string[], RegExp][] = [
      [(reply) => [...reply.slice(0, 3), '4, 05', ...reply.slice(4)], /errors\.bad-row .*too few columns: .*4, 05/],
      [() => ['*E402: invalid parameter'], /\*E402: invalid parameter/],
      [(reply) => [...reply, reply[0]], /HUB_CONTRADICTION|port 1 is listed twice/],
    ];
    for (const [mangle, warning] of faults) {
      pty.hub.mangle = (command, reply) => (command === 'state' ? mangle(reply) : reply);
      await warned(warning);
    }
    // Another bad row, worded differently, within the minute: rate-limited by kind, not said again.
    const polled = pty.hub.commands.filter((c) => c === 'state').length;
    pty.hub.mangle = (command, reply) => (command === 'state' ? [...reply, 'y'.repeat(3000)] : reply);
    await waitFor('five more polls', () => pty.hub.commands.filter((c) => c === 'state').length >= polled + 5, 10000);
    assert.ok(!warnings.some((w) => /yyyy/.test(String(w))), 'a second bad-row warning within a minute is held back');
    pty.hub.mangle = undefined;
    // Noise on the line, wherever it falls between or inside replies.
    pty.hub.sendRaw(randomBytes(2048).toString('latin1'));
    pty.hub.sendRaw('x'.repeat(20_000));
    pty.hub.dock(6);
    await waitFor('dock after the faults', () => seen.docks.length === 1, 10000);
    assert.deepEqual(ports(seen.docks), [6]);
  });

  it('a reply listing a port twice (docked, then empty) is rejected whole: no unplug, no dock, one warning', async () => {
    await startHub();
    pty.hub.dock(3);
    const seen = await loadAndConnect(cartFlow(path));
    const warnings = reports('hub', 'warn');
    const polled = pty.hub.commands.filter((c) => c === 'state').length;
    pty.hub.mangle = (command, reply) =>
      command === 'state' ? [...reply, '3, 0000, D S, 0, 0, x, 0.00', '4, 0500, A C, 0, 0, x, 0.00', '4, 0000, D S, 0, 0, x, 0.00'] : reply;
    await waitFor('ten contradicting replies', () => pty.hub.commands.filter((c) => c === 'state').length >= polled + 10, 10000);
    pty.hub.mangle = undefined;
    await sleep(300);
    assert.deepEqual([seen.docks.length, seen.unplugs.length], [0, 0], 'the phone on port 3 is still there');
    assert.equal(warnings.filter((w) => /listed twice/.test(String(w))).length, 1, 'said once');
  });

  it('an LED released while the hub is away is what the hub shows when it is back, never an older state', async () => {
    await startHub();
    const seen = await loadAndConnect(cartFlow(path));
    send('led', { device: { port: 2 }, led: 'ready' });
    await waitFor('flashing white', () => seen.passed.length === 1);
    assert.equal(pty.hub.led(2).rows[0], '11001100');
    const status = statuses('in');
    await pty.stop();
    await waitFor('disconnected', () => status.find((s) => s.fill === 'red'));
    send('led', { device: { port: 2 }, led: 'release' }); // fails with HUB_DISCONNECTED, remembered
    await pty.start();
    await waitFor('released on return', () => pty.hub.led(2).rows.every((row) => row === 'firmware'), 15000);
  });

  it('clears the reboot flag after a hub reboot and puts the LEDs back', async () => {
    await startHub();
    const seen = await loadAndConnect(cartFlow(path));
    const warnings = reports('hub', 'warn');
    send('led', { device: { port: 2 }, led: 'granted' });
    await waitFor('granted', () => seen.passed.length === 1);
    pty.hub.reboot();
    assert.deepEqual(pty.hub.led(2).rows, ['firmware', 'firmware', 'firmware']);
    await waitFor('LED restored', () => pty.hub.led(2).rows[0] === '11111111');
    assert.ok(pty.hub.commands.includes('crf'));
    const rows = pty.hub.execute('state 1');
    assert.doesNotMatch(rows[0], /\bR\b/, 'R flag cleared');
    assert.match(warnings.map(String).join('\n'), /rebooted/);
  });

  it('reconnects when the hub stops answering, and resumes events', async () => {
    await startHub();
    const seen = await loadAndConnect(cartFlow(path));
    const status = statuses('in');
    pty.hub.unresponsive = true;
    const lost = await waitFor('red status', () => status.find((s) => s.fill === 'red'), 10000);
    assert.match(lost.text ?? '', /errors\.timeout/);
    pty.hub.dock(4);
    pty.hub.unresponsive = false;
    await waitFor('dock after recovery', () => seen.docks.length === 1, 15000);
    assert.deepEqual(ports(seen.docks), [4]);
    assert.ok(status.at(-1)?.fill === 'green');
  });

  it('a hub silent for its first 12 s (a busy host after a restart) is read within 2 s of answering, not after a grown back-off', async function () {
    this.timeout(40_000);
    await startHub();
    pty.hub.dock(3);
    pty.hub.unresponsive = true;
    await load(cartFlow(path));
    const status = statuses('in');
    await sleep(12_000);
    pty.hub.unresponsive = false;
    const answering = Date.now();
    await waitFor('read', () => status.some((s) => s.text?.startsWith(CONNECTED)), 15_000);
    const waited = Date.now() - answering;
    assert.ok(waited < 2000, `read ${waited} ms after the hub answered again`);
  });

  it('reads a PDSync hub: docks, unplugs and LEDs', async () => {
    await startHub({ family: 'pdsync' });
    pty.hub.dock(1);
    const seen = await loadAndConnect(cartFlow(path));
    pty.hub.dock(3);
    pty.hub.unplug(1);
    await waitFor('dock and unplug', () => seen.docks.length === 1 && seen.unplugs.length === 1);
    assert.deepEqual([ports(seen.docks), ports(seen.unplugs)], [[3], [1]]);
    send('led', { device: { port: 3 }, led: 'deploying' });
    await waitFor('blue', () => pty.hub.led(3).rows[2] === '11111111');
  });

  it('reports a missing serial port clearly and connects once it appears', async () => {
    path = join(tempDir('hub'), 'ttyLATER');
    await load(cartFlow(path));
    const status = statuses('in');
    const warnings = reports('hub', 'warn');
    const missing = await waitFor('red status', () => status.find((s) => s.fill === 'red'));
    assert.match(missing.text ?? '', /disconnected/);
    assert.match(missing.text ?? '', /errors\.cannot-open .*ttyLATER.*"reason\\":\\"No such file or directory\\"/);
    assert.ok(!(missing.text ?? '').includes('cannot open'), 'said once, not doubled');
    await waitFor('in the log too, where an admin looks', () =>
      warnings.some((w) => /smart-hub\.errors\.away.*ttyLATER.*No such file or directory/.test(String(w))),
    );
    await new Promise((resolve) => setTimeout(resolve, 2500)); // a few retries
    assert.equal(warnings.filter((w) => /smart-hub\.errors\.away/.test(String(w))).length, 1, 'once, not at every retry');
    pty = new PtyHub(new (await import('../../sim/simulated-hub')).SimulatedHub({ ports: 4 }), path);
    await pty.start();
    await waitFor('connected once the port exists', () => status.some((s) => s.text?.startsWith(CONNECTED)), 15000);
  });

  it('shows a clear status when no hub is configured', async () => {
    await load([{ id: 'in', type: 'hub-input', hub: '', wires: [[], []] }]);
    const status = (helper.getNode('in').status as unknown as { lastCall: { args: [{ text: string; fill: string }] } }).lastCall.args[0];
    assert.deepEqual([status.fill, status.text], ['red', 'node-red-contrib-device-checkout/smart-hub:smart-hub.status.no-hub']);
  });
});
