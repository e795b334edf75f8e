import assert from 'node:assert/strict';
import type { Fleet } from '../nodes/lib/fleet/fleet';
import { collect, freshUserDir, helper, load, reports, send } from '../harness/node-red';
import { waitFor } from '../harness/support';

type Export = { payload: string; filename: string };

describe('audit-export: the audit trail as a file, from a flow', () => {
  let fleet: Fleet;

  beforeEach(async () => {
    freshUserDir();
    await load([
      { id: 'fleet', type: 'device-fleet', mdm: '', lockerApp: 'org.example.locker' },
      { id: 'csv', type: 'audit-export', fleet: 'fleet', wires: [['files']] },
      { id: 'lines', type: 'audit-export', fleet: 'fleet', format: 'jsonl', hours: '1', wires: [['files']] },
      { id: 'files', type: 'helper' },
    ]);
    fleet = (helper.getNode('fleet') as unknown as { fleet: Fleet }).fleet;
    for (const udid of ['A', 'B']) {
      await fleet.store.docked(udid, { hubId: 'hub', hub: 'Cart', port: udid === 'A' ? 1 : 2 });
      await fleet.store.setStatus(udid, 'Checked In');
    }
    await fleet.beginCheckout({ id: 'Ann' }, 'A', {});
  });

  afterEach(async () => {
    await helper.unload();
    helper.settings({});
  });

  it('CSV of the last day by default; one phone or one person on request; JSON lines; a bad date refused with INVALID_QUERY', async () => {
    const files = collect('files') as unknown as Export[];
    const refused = reports('csv', 'error') as Error[];
    send('csv', { topic: 'all' });
    send('csv', { topic: 'phone B', udid: 'B' });
    send('csv', { topic: 'ann', user: 'ANN' });
    send('lines', { topic: 'lines', from: new Date(Date.now() - 60_000) });
    send('csv', { from: 'last tuesday-ish' });
    await waitFor('four files and one refusal', () => files.length === 4 && refused.length === 1);
    // Each export answers when its read is done, not in the order asked.
    const [all, phoneB, ann, lines] = ['all', 'phone B', 'ann', 'lines'].map((topic) =>
      files.find((file) => (file as Export & { topic: string }).topic === topic)!,
    );
    const rows = (csv: string) => csv.trimEnd().split('\r\n').slice(1);
    assert.ok(all.payload.startsWith('at,udid,what,from,to,who,why,name,serial\r\n'));
    assert.match(all.filename, /^device-checkout-audit-\d{4}-\d{2}-\d{2}\.csv$/);
    assert.ok(rows(phoneB.payload).length > 0 && rows(phoneB.payload).every((row) => row.split(',')[1] === 'B'));
    assert.ok(rows(ann.payload).length > 0 && rows(ann.payload).every((row) => row.split(',')[1] === 'A'), 'her check-out of A, whatever the case of her id');
    assert.equal(rows(all.payload).length, lines.payload.trimEnd().split('\n').length);
    assert.ok(lines.filename.endsWith('.jsonl'));
    assert.equal((refused[0] as Error & { code: string }).code, 'INVALID_QUERY');
  });
});
