import assert from 'node:assert/strict';
import { appendFileSync, readFileSync } from 'node:fs';
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

  it('appends the audit trail, keeps the newest entries when it grows, and skips a line cut short', async () => {
    const file = join(tempDir('fleet'), 'fleet.json');
    const small = new FileFleetStore(file, { auditLimit: 5 });
    for (let i = 0; i < 23; i++) await small.setAttribute('U', 'counter', String(i), { who: 'test' });
    const auditFile = file.replace(/\.json$/, '.audit.jsonl');
    const lines = () => readFileSync(auditFile, 'utf8').trim().split('\n').length;
    assert.ok(lines() <= 10, `the file is rewritten with the newest entries past twice the limit (${lines()} lines)`);
    appendFileSync(auditFile, '{"at":"2026-11-24T07:00:00.000Z","udid":"U","wh');
    const reopened = new FileFleetStore(file, { auditLimit: 5 });
    assert.deepEqual((await reopened.audit('U')).map((e) => e.to), ['18', '19', '20', '21', '22']);
  });

  it('statuses name a phone by its name and where it is now', () => {
    assert.equal(deviceLabel({ udid: 'U1', name: 'Cart B 5', hub: 'Cart A', port: 6 }), 'Cart B 5 (Cart A 6)', 'moved: its old name and its new place');
    assert.equal(deviceLabel({ udid: 'U1', name: 'Cart A 6', hub: 'Cart A', port: 6 }), 'Cart A 6', 'where its name says');
    assert.equal(deviceLabel({ udid: 'U1', serial: 'F17X', hub: 'Cart A', port: 2 }), 'F17X (Cart A 2)', 'no name yet: the serial');
    assert.equal(deviceLabel({ udid: 'U1', serial: 'F17X' }), 'F17X', 'out of the cart');
  });
});
