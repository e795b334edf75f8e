import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FileFleetStore } from '../nodes/lib/fleet/file-fleet-store';
import { deviceLabel } from '../nodes/shared/device-action';
import { fleetStoreContract } from './fleet-store-contract';
import { tempDir } from './support';

describe('FileFleetStore: one cart\u2019s memory in a file', () => {
  fleetStoreContract(async () => {
    const file = join(tempDir('fleet'), 'fleet.json');
    return (now) => new FileFleetStore(file, { now });
  });

  it('keeps the whole audit trail, on disk and when asked (a year of a busy cart), and skips a line cut short', async () => {
    const file = join(tempDir('fleet'), 'fleet.json');
    const auditFile = file.replace(/\.json$/, '.audit.jsonl');
    const year = Array.from({ length: 25_000 }, (_, i) => JSON.stringify({ at: new Date(Date.UTC(2025, 0, 1) + i * 1_260_000).toISOString(), udid: i % 2 ? 'U' : 'V', what: 'counter', to: String(i), who: 'test' }));
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

  it('statuses name a phone by its name and where it is now', () => {
    assert.equal(deviceLabel({ udid: 'U1', name: 'Cart B 5', hub: 'Cart A', port: 6 }), 'Cart B 5 (Cart A 6)', 'moved: its old name and its new place');
    assert.equal(deviceLabel({ udid: 'U1', name: 'Cart A 6', hub: 'Cart A', port: 6 }), 'Cart A 6', 'where its name says');
    assert.equal(deviceLabel({ udid: 'U1', serial: 'F17X', hub: 'Cart A', port: 2 }), 'F17X (Cart A 2)', 'no name yet: the serial');
    assert.equal(deviceLabel({ udid: 'U1', serial: 'F17X' }), 'F17X', 'out of the cart');
  });
});
