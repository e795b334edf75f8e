import assert from 'node:assert/strict';
import type { CodedError } from '../nodes/lib/coded-error';
import { Fleet } from '../nodes/lib/fleet/fleet';
import { FleetDirectory } from '../nodes/lib/fleet/fleet-directory';
import { auditCsv, auditJsonLines, auditQuery, wardPage, type FleetRow } from '../nodes/lib/fleet/fleet-view';
import { spy as sinonSpy } from 'sinon';
import { tempDir, waitFor } from '../harness/support';

const HUB = { hubId: 'hub', hub: 'Cart A' };
const code = (expected: string) => (err: CodedError) => err.code === expected;
const TEXTS = {
  title: 'Checked-out phones',
  empty: 'none',
  overdue: 'OVERDUE',
  updated: 'Updated',
  columns: { user: 'Who', phone: 'Phone', cart: 'Cart', since: 'Since' },
};

describe('fleet view: every phone at a glance, what an admin does to one, exports', () => {
  let fleets: Fleet[];
  let directory: FleetDirectory;

  const openFleet = (id: string): Fleet =>
    new Fleet({
      id,
      dataDir: tempDir('fleet-view'),
      rules: { deadlineSeconds: 60, userLimit: 1, batteryThreshold: 0.2 },
      lockerApp: 'org.example.locker',
      badgeLookupUrl: '',
      mdm: () => undefined,
      text: (key) => key,
      log: { info: () => undefined, warn: () => undefined, error: () => undefined },
    });

  async function ready(fleet: Fleet, udid: string, port: number): Promise<void> {
    await fleet.store.docked(udid, { ...HUB, port });
    await fleet.store.setStatus(udid, 'Checked In');
    await fleet.store.reportHealth(udid, 0.87, true);
  }

  beforeEach(async () => {
    fleets = [openFleet('cart-a'), openFleet('cart-b')];
    directory = new FleetDirectory();
    fleets.forEach((fleet, i) => directory.add(`fleet-${i}`, fleet));
    await ready(fleets[0], 'A1', 1);
    await ready(fleets[0], 'A2', 2);
    await ready(fleets[1], 'B1', 1);
  });

  afterEach(() => Promise.all(fleets.map((fleet) => fleet.close())));

  it('lists every phone of every fleet: where, status, user, since, battery, last error', async () => {
    await fleets[0].beginCheckout({ id: 'ann', name: 'Ann Example' }, 'A1', {});
    await fleets[0].recordUnplug({ ...HUB, port: 1 });
    await fleets[0].fail('A2', { who: 'check-in-device', why: 'DEVICE_TIMEOUT' });
    const rows = new Map((await directory.rows()).map((row) => [row.udid, row]));
    assert.deepEqual([...rows.keys()].sort(), ['A1', 'A2', 'B1']);
    const out = rows.get('A1')!;
    assert.deepEqual([out.fleet, out.docked, out.status, out.user, out.userName, out.battery], ['fleet-0', false, 'Checked Out', 'ann', 'Ann Example', 87]);
    assert.ok(out.since && Date.parse(out.since) > 0);
    assert.deepEqual([rows.get('A2')!.status, rows.get('A2')!.lastError, rows.get('A2')!.hub, rows.get('A2')!.port], ['Failed', 'DEVICE_TIMEOUT', 'Cart A', 2]);
    assert.equal(rows.get('B1')!.fleet, 'fleet-1');
  });

  it('tells each change of a phone as its new row, once written', async () => {
    const told: FleetRow[] = [];
    directory.on('row', (row: FleetRow) => told.push(row));
    await fleets[1].beginCheckout({ id: 'bob' }, undefined, {});
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(
      told.map((r) => [r.udid, r.status, r.user]),
      [['B1', 'Checking Out', 'bob']],
    );
    assert.ok(JSON.stringify(told[0]).length < 400, 'one small message per change');
  });

  it('tells what another cart changed once read (many changes, one read), unless that cart\u2019s fleet is listed here and tells it itself', async () => {
    const told: FleetRow[] = [];
    directory.on('row', (row: FleetRow) => told.push(row));
    const read = sinonSpy(fleets[0].store, 'devices');
    for (let i = 0; i < 5; i++) fleets[0].store.emit('elsewhere', 'A1', 'ward-9');
    fleets[0].store.emit('elsewhere', 'A2', undefined); // a cart whose fleet is listed here
    await waitFor('read', () => told.length > 0);
    await new Promise((resolve) => setTimeout(resolve, 400));
    assert.deepEqual(
      told.map((r) => r.udid),
      ['A1'],
      'once; not the listed cart\u2019s change',
    );
    assert.equal(read.callCount, 1, 'one read for all of them');
  });

  it('marks a phone Lost or Retired only with a reason, audited with who; never handed out so; reinstated to Unknown', async () => {
    await assert.rejects(directory.act('A1', 'lost', {}, 'charge'), code('INVALID_REASON'));
    await assert.rejects(directory.act('A1', 'lost', { reason: 'x'.repeat(257) }, 'charge'), code('INVALID_REQUEST'));
    const lost = await directory.act('A1', 'lost', { reason: 'left on ward 3 bus' }, 'charge');
    assert.equal(lost.status, 'Lost');
    assert.ok((await fleets[0].store.audit('A1')).some((e) => e.what === 'status' && e.to === 'Lost' && e.who === 'charge' && e.why === 'left on ward 3 bus'));
    await directory.act('A2', 'retired', { reason: 'cracked screen' }, 'charge');
    await assert.rejects(fleets[0].beginCheckout({ id: 'carol' }, undefined, {}), code('NO_DEVICE_AVAILABLE'));
    await fleets[0].store.checkIn('A2');
    assert.equal((await fleets[0].store.device('A2'))?.status, 'Retired', 'a Return does not put a retired phone back into service');
    await assert.rejects(
      directory.act('A2', 'check-in', { reason: 'back from repair' }, 'charge'),
      (err: CodedError) => err.code === 'RETIRED' && /errors\.retired/.test(err.message),
    );
    await assert.rejects(directory.act('B1', 'reinstate', {}, 'charge'), code('NOT_LOST'));
    assert.equal((await directory.act('A1', 'reinstate', { reason: 'found' }, 'charge')).status, 'Unknown');
  });

  it('clears Failed: a phone out with its user is hers again; one docked needs the check-in (through the MDM)', async () => {
    await fleets[0].beginCheckout({ id: 'ann' }, 'A1', {});
    await fleets[0].recordUnplug({ ...HUB, port: 1 });
    await fleets[0].fail('A1', { who: 'set-wallpaper', why: 'DEVICE_TIMEOUT' });
    const cleared = await directory.act('A1', 'clear-failed', {}, 'charge');
    assert.deepEqual([cleared.status, cleared.user], ['Checked Out', 'ann']);
    await assert.rejects(directory.act('A1', 'clear-failed', {}, 'charge'), code('NOT_FAILED'));
    await fleets[0].fail('A2', { who: 'check-in-device', why: 'DEVICE_TIMEOUT' });
    await assert.rejects(directory.act('A2', 'clear-failed', {}, 'charge'), code('NO_MDM'));
  });

  it('sets attributes; refuses unknown phones, unknown actions, and a check-in without an MDM', async () => {
    assert.equal((await directory.act('B1', 'attribute', { name: 'Device Home', value: 'ward-7' }, 'charge')).home, 'ward-7');
    await assert.rejects(directory.act('NOPE', 'lost', { reason: 'x' }, 'charge'), code('DEVICE_NOT_FOUND'));
    await assert.rejects(directory.act('B1', 'explode', {}, 'charge'), code('INVALID_ACTION'));
    await assert.rejects(directory.act('B1', 'check-in', {}, 'charge'), code('NO_MDM'));
    await assert.rejects(directory.act('B1', 'attribute', { name: { $gt: '' }, value: 'x' }, 'charge'), code('INVALID_REQUEST'));
  });

  it('exports the audit trail for a time range and a person as CSV and JSON lines; a formula in a cell is never run by a spreadsheet', async () => {
    await fleets[0].beginCheckout({ id: '=HYPERLINK("http://evil")', name: 'Eve, "the" tester' }, 'A1', {});
    const all = await directory.audit({});
    const hers = await directory.audit(auditQuery({ user: '=hyperlink("http://evil")' }));
    assert.ok(hers.length > 0 && hers.length < all.length, 'her entries only, however her id is written');
    const csv = auditCsv(hers, await directory.phoneNames());
    const [header, ...lines] = csv.trimEnd().split('\r\n');
    assert.equal(header, 'at,udid,what,from,to,who,why,name,serial');
    assert.equal(lines.length, hers.length);
    assert.ok(!/(^|,)=/.test(csv), 'no cell starts with =');
    assert.match(csv, /"'=HYPERLINK\(""http:\/\/evil""\)"/);
    assert.deepEqual(
      auditJsonLines(hers)
        .trimEnd()
        .split('\n')
        .map((line) => JSON.parse(line)),
      JSON.parse(JSON.stringify(hers)),
    );
    const future = await directory.audit(auditQuery({ from: '2999-01-01' }));
    assert.deepEqual(future, []);
    assert.throws(() => auditQuery({ from: 'yesterday-ish' }), code('INVALID_QUERY'));
  });

  it('the ward page: Overdue first, then the longest out; names are text, never markup', () => {
    const rows: FleetRow[] = [
      { udid: '1', fleet: 'f', docked: false, status: 'Checked Out', user: 'a', userName: 'Early Out', since: '2026-12-02T06:00:00Z' },
      {
        udid: '2',
        fleet: 'f',
        docked: false,
        status: 'Checked Out',
        user: 'b',
        userName: '<img src=x onerror=alert(1)>',
        since: '2026-12-02T08:00:00Z',
        overdue: true,
      },
      { udid: '3', fleet: 'f', docked: true, status: 'Checked In' },
    ];
    const html = wardPage(rows, TEXTS, new Date('2026-12-02T09:00:00Z'), 'en');
    assert.ok(html.indexOf('&#60;img') < html.indexOf('Early Out'), 'overdue first');
    assert.ok(!html.includes('<img'));
    assert.equal((html.match(/<tr/g) ?? []).length, 3, 'a header and the two phones out');
    assert.match(html, /name="viewport"/);
    assert.match(wardPage([], TEXTS, new Date(), 'en'), /<p>none<\/p>/);
    // The hospital's local time, its zone named: 06:00 UTC is 07:00 in Berlin in December.
    const berlin = wardPage(rows, TEXTS, new Date('2026-12-02T09:00:00Z'), 'de', 'Europe/Berlin');
    assert.match(berlin, /<time datetime="2026-12-02T06:00:00Z">02\.12\.26, 07:00<\/time>/);
    assert.match(berlin, /\(Europe\/Berlin\)<\/footer>/);
    assert.ok(!berlin.includes('UTC'));
  });
});
