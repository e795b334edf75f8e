import assert from 'node:assert/strict';
import { appendFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeMessage } from 'node-red';
import { formatBadge } from '../nodes/lib/badge/badge-format';
import { KeyboardReads, LineReads } from '../nodes/lib/badge/reads';
import { inputEvent, KEY, typed } from '../harness/input-events';
import { collect, helper, load, reports, statuses } from '../harness/node-red';
import { sleep, tempDir, waitFor } from '../harness/support';

describe('badge reads and their conversions', () => {
  it('converts as a badge service expects: prefix and suffix, hex to decimal, a facility code, a fixed length', () => {
    assert.deepEqual(formatBadge(' 12345 ', {}), { id: '12345' });
    assert.deepEqual(formatBadge('ID:12345;', { prefix: 'ID:', suffix: ';' }), { id: '12345' });
    assert.deepEqual(formatBadge('04A2B3C4', { hexToDecimal: true }), { id: '77771716' });
    assert.deepEqual(formatBadge('0x1F', { hexToDecimal: true }), { id: '31' });
    assert.deepEqual(formatBadge('12345678', { stripLeading: 3 }), { id: '45678' });
    assert.deepEqual(formatBadge('4567', { length: 8 }), { id: '00004567' });
    assert.deepEqual(formatBadge('1234567890', { length: 6 }), { id: '567890' });
    assert.deepEqual(formatBadge('FFFFFFFFFFFFFFFF', { hexToDecimal: true }), { id: '18446744073709551615' }, 'a 64-bit UID, exactly');
  });

  it('says why a read is not a badge, without the read', () => {
    assert.deepEqual(formatBadge('12G4', { hexToDecimal: true }), { problem: 'not-hex' });
    assert.deepEqual(formatBadge('12\x0734', {}), { problem: 'unprintable' });
    assert.deepEqual(formatBadge('9'.repeat(65), {}), { problem: 'too-long' });
    assert.deepEqual(formatBadge('123', { stripLeading: 3 }), { problem: 'empty' });
  });

  it('splits serial bytes into reads at CR, LF or both, or at ETX for STX ... ETX frames; a 10 kB line is one read too long', () => {
    const lines = new LineReads('crlf');
    assert.deepEqual(lines.push(Buffer.from('1001\r\n10')), [{ text: '1001' }]);
    assert.deepEqual(lines.push(Buffer.from('02\r\r\n1003\n')), [{ text: '1002' }, { text: '1003' }]);
    assert.deepEqual(lines.push(Buffer.from(`${'x'.repeat(10_240)}\r\n1004\r\n`)), [{ tooLong: true }, { text: '1004' }]);
    const frames = new LineReads('etx');
    assert.deepEqual(frames.push(Buffer.from('\x021005\x03\x02100')), [{ text: '1005' }]);
    assert.deepEqual(frames.push(Buffer.from('6\x03')), [{ text: '1006' }]);
  });

  it('decodes a keyboard-wedge reader\u2019s input events, split anywhere, with shift; releases and repeats type nothing', () => {
    const keyboard = new KeyboardReads();
    const events = Buffer.concat([typed('0042aB'), inputEvent(1, KEY['7'], 2), typed('99')]);
    const reads = [events.subarray(0, 37), events.subarray(37, 400), events.subarray(400)].flatMap((chunk) => keyboard.push(chunk));
    assert.deepEqual(reads, [{ text: '0042aB' }, { text: '99' }]);
  });
});

describe('badge-reader node: a keyboard reader\u2019s recorded input events in a file (real Node-RED runtime)', function () {
  let path: string;

  beforeEach(() => {
    path = join(tempDir('kbd'), 'reader-events');
  });

  afterEach(() => helper.unload());

  const flow = (extra: object = {}) => [
    { id: 'reader', type: 'badge-reader', kind: 'keyboard', path, stripLeading: '0', length: '0', ...extra, wires: [['out']] },
    { id: 'out', type: 'helper' },
  ];

  it('sends msg.badge for each tap, converted, once for a card held on the reader, and never shows the id', async () => {
    // Held on the reader: read twice at once (one read of the file takes both).
    writeFileSync(path, Buffer.concat([typed('4A2B3C'), typed('4A2B3C')]));
    await load(flow({ hexToDecimal: true, length: '10' }));
    const out = collect('out');
    const shown = statuses('reader');
    const warned = reports('reader', 'warn');
    await waitFor('one badge', () => out.length === 1);
    await sleep(300);
    assert.deepEqual(
      out.map((m: NodeMessage & { badge?: string }) => m.badge),
      ['0004860732'],
    );
    appendFileSync(path, typed('12G')); // not hexadecimal
    await waitFor('said', () => warned.length === 1);
    assert.match(String(warned[0]), /badge-reader\.problems\.not-hex/);
    appendFileSync(path, typed('1F'));
    await waitFor('read on as the file grows', () => out.length === 2);
    assert.equal((out[1] as NodeMessage & { badge?: string }).badge, '0000000031');
    const everything = JSON.stringify([shown, warned]);
    assert.ok(!/4860732|4A2B3C|12G/i.test(everything), 'no badge in a status or the log');
  });

  it('a device that is not there: away in the status and the log, naming the path and why, read once it appears', async () => {
    await load(flow());
    const shown = statuses('reader');
    const warned = reports('reader', 'warn');
    const out = collect('out');
    await waitFor('said', () => warned.some((w) => /badge-reader\.errors\.away.*badge-reader\.errors\.cannot-open.*reader-events.*ENOENT/.test(String(w))));
    assert.ok(shown.some((s) => s.fill === 'red' && /status\.away/.test(s.text ?? '')));
    writeFileSync(path, typed('77'));
    await waitFor('read once it appears', () => out.length === 1, 15_000);
  });

  it('a node with no device does not start and says why, in the log', async () => {
    await load([{ id: 'reader', type: 'badge-reader', kind: 'serial', path: '', wires: [[]] }]);
    const said = (helper.log() as unknown as { args: [{ id?: string; msg?: unknown }][] }).args
      .map(([entry]) => entry)
      .filter((entry) => entry.id === 'reader');
    assert.ok(
      said.some((entry) => /badge-reader\.errors\.config.*badge-reader\.errors\.no-path/.test(String(entry.msg))),
      JSON.stringify(said),
    );
  });
});
