import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { NodeMessage } from 'node-red';
import { PtyPair } from '../../sim/pty-pair';
import { typed } from '../../harness/input-events';
import { collect, helper, load, reports, statuses } from '../../harness/node-red';
import { openDescriptors, sleep, tempDir, waitFor } from '../../harness/support';

const badges = (messages: NodeMessage[]): unknown[] => messages.map((m) => (m as NodeMessage & { badge?: string }).badge);

describe('badge-reader node: a serial reader over a real pseudo-terminal', function () {
  this.timeout(30_000);
  let pty: PtyPair | undefined;
  let path: string;

  beforeEach(async () => {
    path = join(tempDir('reader'), 'ttyREADER');
    pty = await PtyPair.start(path);
  });

  afterEach(async () => {
    await helper.unload();
    await pty?.stop();
  });

  /** What the reader sends, as a pcProx in virtual COM mode does. */
  const reads = (text: string): void => void pty!.port.write(Buffer.from(text, 'latin1'));
  const flow = (extra: object = {}) => [
    { id: 'reader', type: 'badge-reader', kind: 'serial', path, baudRate: '9600', lineEnd: 'crlf', stripLeading: '0', length: '0', ...extra, wires: [['out']] },
    { id: 'out', type: 'helper' },
  ];
  const ready = async () => {
    const shown = statuses('reader');
    await waitFor('ready', () => shown.some((s) => s.fill === 'green' && /status\.ready/.test(s.text ?? '')));
  };

  it('sends each read as msg.badge, its prefix, suffix and facility code stripped; garbage and a 10 kB line are dropped and said without their text', async () => {
    await load(flow({ prefix: 'FC', suffix: ';', stripLeading: '3' }));
    const out = collect('out');
    const warned = reports('reader', 'warn');
    await ready();
    reads('FC1234567;\r\n');
    reads(
      randomBytes(64)
        .toString('latin1')
        .replace(/[\r\n]/g, '') + '\r\n',
    );
    reads('9'.repeat(10_240) + '\r\n');
    reads('FC1237654;\r');
    await waitFor('two badges', () => out.length === 2);
    assert.deepEqual(badges(out), ['4567', '7654']);
    await waitFor('both said', () => warned.length === 2);
    assert.match(String(warned[1]), /badge-reader\.problems\.too-long/);
    assert.ok(!/4567|7654|9999999999/.test(JSON.stringify(warned)), 'no read in the log');
  });

  it('two nodes on one reader share it: each tap reaches both, the port is opened once', async () => {
    await load([...flow(), { id: 'second', type: 'badge-reader', kind: 'serial', path, wires: [['out2']] }, { id: 'out2', type: 'helper' }]);
    const [out, out2] = [collect('out'), collect('out2')];
    await ready();
    reads('1001\r\n');
    await waitFor('both', () => out.length === 1 && out2.length === 1);
    assert.deepEqual([badges(out), badges(out2)], [['1001'], ['1001']]);
    assert.equal(openDescriptors(path), 1, 'one open port for both nodes');
  });

  it('STX ... ETX frames; the same card read twice within a second counts once, again after it', async () => {
    await load(flow({ lineEnd: 'etx' }));
    const out = collect('out');
    await ready();
    reads('\x021001\x03\x021001\x03');
    await sleep(1100);
    reads('\x021001\x03');
    await waitFor('twice', () => out.length === 2);
    await sleep(200);
    assert.deepEqual(badges(out), ['1001', '1001']);
  });

  it('unplugged: away in the status and the log once; plugged back: reads again', async () => {
    await load(flow());
    const out = collect('out');
    const shown = statuses('reader');
    const warned = reports('reader', 'warn');
    await ready();
    await pty!.stop();
    await waitFor('away', () => shown.some((s) => s.fill === 'red'), 10_000);
    await sleep(1500); // the link lost, then the port missing: each said
    const said = warned.length;
    assert.ok(said >= 1 && warned.every((w) => /badge-reader\.errors\.away/.test(String(w))));
    await sleep(2000); // more retries say nothing new
    assert.equal(warned.length, said, 'once per reason, not at every retry');
    pty = await PtyPair.start(path);
    await waitFor('ready again', () => shown.at(-1)?.fill === 'green', 15_000);
    reads('2002\r\n');
    await waitFor('read after the replug', () => out.length === 1);
    assert.deepEqual(badges(out), ['2002']);
  });
});

describe('badge-reader node: a keyboard reader whose input events come over a real pseudo-terminal', function () {
  this.timeout(30_000);
  let pty: PtyPair | undefined;
  let path: string;

  beforeEach(async () => {
    path = join(tempDir('kbd'), 'usb-Reader-event-kbd');
    pty = await PtyPair.start(path);
  });

  afterEach(async () => {
    await helper.unload();
    await pty?.stop();
  });

  it('types badges as the reader does (shift for capitals); unplugged and plugged back, it reads again', async () => {
    await load([
      { id: 'reader', type: 'badge-reader', kind: 'keyboard', path, wires: [['out']] },
      { id: 'out', type: 'helper' },
    ]);
    const out = collect('out');
    const shown = statuses('reader');
    await waitFor('ready', () => shown.some((s) => s.fill === 'green'));
    pty!.port.write(typed('00aB12'));
    await waitFor('first badge', () => out.length === 1);
    await pty!.stop();
    await waitFor('away', () => shown.at(-1)?.fill === 'red', 10_000);
    pty = await PtyPair.start(path);
    await waitFor('ready again', () => shown.at(-1)?.fill === 'green', 15_000);
    pty.port.write(typed('3456'));
    await waitFor('second badge', () => out.length === 2);
    assert.deepEqual(badges(out), ['00aB12', '3456']);
  });
});
