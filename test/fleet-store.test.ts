import assert from 'node:assert/strict';
import { appendFileSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileFleetStore } from '../nodes/lib/fleet/file-fleet-store';
import { deviceLabel } from '../nodes/shared/device-action';
import { fleetStoreContract } from './fleet-store-contract';
import { tempDir } from '../harness/support';

describe('FileFleetStore: one cart\u2019s memory in a file', () => {
  fleetStoreContract(async () => {
    const file = join(tempDir('fleet'), 'fleet.json');
    return (now) => new FileFleetStore(file, { now });
  });

  it('keeps the whole audit trail, on disk and when asked (a year of a busy cart), and skips a line cut short', async () => {
    const file = join(tempDir('fleet'), 'fleet.json');
    const auditFile = file.replace(/\.json$/, '.audit.jsonl');
    const year = Array.from({ length: 25_000 }, (_, i) =>
      JSON.stringify({
        at: new Date(Date.UTC(2025, 0, 1) + i * 1_260_000).toISOString(),
        udid: i % 2 ? 'U' : 'V',
        what: 'counter',
        to: String(i),
        who: 'test',
      }),
    );
    writeFileSync(auditFile, year.join('\n') + '\n');
    const store = new FileFleetStore(file);
    await store.setAttribute('U', 'counter', 'after', { who: 'test' });
    const lines = () => readFileSync(auditFile, 'utf8').trim().split('\n').length;
    assert.equal(lines(), 25_001, 'nothing deleted from the file');
    appendFileSync(auditFile, '{"at":"2026-11-24T07:00:00.000Z","udid":"U","wh');
    const reopened = new FileFleetStore(file);
    await reopened.setAttribute('U', 'counter', 'later', { who: 'test' });
    const trail = await reopened.audit('U');
    assert.equal(trail.length, 12_500 + 2);
    assert.deepEqual([trail[0].to, trail.at(-2)?.to, trail.at(-1)?.to], ['1', 'after', 'later'], 'the oldest entry is still there');
    assert.equal((await reopened.audit()).length, 25_002);
    assert.deepEqual(reopened.notices.length, 1, 'the line cut short is said');
  });

  it('a file a month, all kept: a new month starts a new file, exports read every month in order, and a failure of a month ago is still known', async () => {
    const dir = tempDir('fleet');
    const file = join(dir, 'fleet.json');
    let now = new Date('2026-11-30T23:59:00Z');
    const monthly = new FileFleetStore(file, { auditFiles: 'monthly', now: () => now });
    await monthly.fail('U', { who: 'check-in-device', why: 'DEVICE_TIMEOUT' });
    await monthly.setAttribute('U', 'counter', 'november');
    now = new Date('2026-12-01T00:01:00Z');
    await monthly.setAttribute('U', 'counter', 'december');
    assert.deepEqual(
      readdirSync(dir)
        .filter((f) => f.includes('audit'))
        .sort(),
      ['fleet.audit-2026-11.jsonl', 'fleet.audit.jsonl'],
    );
    assert.ok(readFileSync(join(dir, 'fleet.audit-2026-11.jsonl'), 'utf8').includes('"to":"november"'));
    assert.ok(!readFileSync(join(dir, 'fleet.audit.jsonl'), 'utf8').includes('"to":"november"'), 'this month\u2019s file starts with December');
    const reopened = new FileFleetStore(file, { auditFiles: 'monthly', now: () => now });
    assert.deepEqual(
      (await reopened.audit('U')).filter((e) => e.what.endsWith('counter')).map((e) => e.to),
      ['november', 'december'],
    );
    assert.equal((await reopened.lastFailures('U')).get('U'), 'DEVICE_TIMEOUT', 'a failure of last month is still why');
    // Back to one file: the months are still read, nothing is dropped.
    const one = new FileFleetStore(file, { now: () => now });
    assert.equal((await one.audit('U')).filter((e) => e.what.endsWith('counter')).length, 2);
  });

  it('statuses name a phone by its name and where it is now', () => {
    assert.equal(deviceLabel({ udid: 'U1', name: 'Cart B 5', hub: 'Cart A', port: 6 }), 'Cart B 5 (Cart A 6)', 'moved: its old name and its new place');
    assert.equal(deviceLabel({ udid: 'U1', name: 'Cart A 6', hub: 'Cart A', port: 6 }), 'Cart A 6', 'where its name says');
    assert.equal(deviceLabel({ udid: 'U1', serial: 'F17X', hub: 'Cart A', port: 2 }), 'F17X (Cart A 2)', 'no name yet: the serial');
    assert.equal(deviceLabel({ udid: 'U1', serial: 'F17X' }), 'F17X', 'out of the cart');
  });
});
