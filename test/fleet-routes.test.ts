import assert from 'node:assert/strict';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Fleet } from '../nodes/lib/fleet/fleet';
import { hourOfDay } from '../nodes/lib/fleet/insights';
import { LoginThrottle } from '../nodes/lib/login-throttle';
import { freshUserDir, helper, load, nodeHttpApp } from '../harness/node-red';

const FLEET = [
  { id: 'fleet', type: 'device-fleet', name: 'Ward 3', mdm: '', usb: '', lockerApp: 'org.example.locker' },
  // Another ward's fleet whose database cannot be reached.
  {
    id: 'away',
    type: 'device-fleet',
    name: 'Ward 9',
    mdm: '',
    usb: '',
    lockerApp: 'org.example.locker',
    store: 'postgres',
    databaseUrl: 'postgres://127.0.0.1:9/devices',
    cart: 'ward-9',
  },
];

/** The admin API as Node-RED serves it without adminAuth (its default): what a page on another site can make a browser send. */
describe('fleet admin API without adminAuth: only the editor’s own JSON requests act', () => {
  let fleet: Fleet;
  let userDir: string;

  beforeEach(async () => {
    userDir = freshUserDir();
    await load(FLEET);
    fleet = (helper.getNode('fleet') as unknown as { fleet: Fleet }).fleet;
    await fleet.store.docked('PHONE-1', { hubId: 'hub', hub: 'Cart A', port: 1 });
    await fleet.store.setStatus('PHONE-1', 'Checked In');
  });

  afterEach(() => helper.unload());

  const status = async () => (await fleet.store.device('PHONE-1'))?.status;
  const post = (path: string) => helper.request().post(`/device-checkout/devices/${path}`).set('Host', 'cart-3.example:1880');

  it('refuses a cross-site HTML form (urlencoded or text/plain) and a foreign Origin; the editor’s own request acts', async () => {
    const form = await post('PHONE-1/retired').set('Origin', 'https://evil.example').type('form').send('reason=gone');
    assert.deepEqual([form.status, form.body.code], [415, 'INVALID_REQUEST']);
    const plain = await post('PHONE-1/retired').set('Origin', 'https://evil.example').set('Content-Type', 'text/plain').send('{"reason":"gone"}');
    assert.equal(plain.status, 415);
    const foreign = await post('PHONE-1/retired').set('Origin', 'https://evil.example').send({ reason: 'gone' });
    assert.deepEqual([foreign.status, foreign.body.code], [403, 'FOREIGN_ORIGIN']);
    const crossSite = await post('PHONE-1/retired').set('Sec-Fetch-Site', 'cross-site').send({ reason: 'gone' });
    assert.equal(crossSite.status, 403);
    const opaque = await post('PHONE-1/retired').set('Origin', 'null').send({ reason: 'gone' });
    assert.equal(opaque.status, 403, 'a sandboxed frame’s Origin');
    assert.equal(await status(), 'Checked In', 'nothing changed');

    const own = await post('PHONE-1/retired').set('Origin', 'http://cart-3.example:1880').send({ reason: 'cracked screen' });
    assert.equal(own.status, 200, JSON.stringify(own.body));
    assert.equal(await status(), 'Retired');
    const script = await post('PHONE-1/reinstate').send({ reason: 'repaired' });
    assert.equal(script.status, 200, 'a script with no Origin (curl) is no browser page');
  });

  it('one fleet whose database is away: the others are still listed, and that one is named with why', async () => {
    const res = await helper.request().get('/device-checkout/devices');
    assert.equal(res.status, 200);
    assert.deepEqual(
      res.body.devices.map((d: { udid: string }) => d.udid),
      ['PHONE-1'],
    );
    assert.deepEqual(
      res.body.unreachable.map((u: { fleet: string; name: string; code: string }) => [u.fleet, u.name, u.code]),
      [['away', 'Ward 9', 'STORE_UNAVAILABLE']],
    );
  });

  it('insights: each figure as JSON and as CSV (its table); a figure, range or fleet nobody has refused in words', async () => {
    await fleet.store.beginCheckout('ann', fleet.rules, 'PHONE-1');
    await fleet.store.unplugged('PHONE-1');
    await fleet.store.docked('PHONE-1', { hubId: 'hub', hub: 'Cart A', port: 1 });
    await fleet.store.checkIn('PHONE-1');
    await fleet.store.fail('PHONE-1', { who: 'check-in-device', why: 'DEVICE_TIMEOUT' });
    const figure = (path: string) => helper.request().get(`/device-checkout/insights/${path}`);

    const byHour = await figure('checkouts-by-hour?fleet=fleet&range=24h');
    assert.equal(byHour.status, 200, JSON.stringify(byHour.body));
    assert.deepEqual(byHour.body.columns, ['hour', 'checkouts']);
    // The hour of the check-out's own audit entry (not of now: the test may run across an hour's turn).
    const taken = (await fleet.store.audit('PHONE-1')).find((e) => e.what === 'status' && e.to === 'Checked Out')!;
    assert.deepEqual(
      byHour.body.rows.filter(([, n]: number[]) => n > 0),
      [[hourOfDay(Date.parse(taken.at), byHour.body.timeZone), 1]],
      'one check-out, in its hour',
    );
    const kept = await figure('kept?fleet=fleet');
    assert.deepEqual([kept.body.range, kept.body.lendingHours, kept.body.rows[0]], ['7d', 13, [0, 1, 1]], 'back within the hour; the lending period marked');
    const csv = await figure('failing?fleet=fleet&range=30d&format=csv');
    assert.match(String(csv.headers['content-type']), /^text\/csv/);
    assert.equal(
      csv.text,
      'udid,name,serial,failures,last_at,last_why\r\n' + `PHONE-1,,,1,${(await fleet.store.audit('PHONE-1')).at(-1)!.at},DEVICE_TIMEOUT\r\n`,
    );

    for (const [path, status, code] of [
      ['charge?fleet=fleet', 400, 'INVALID_QUERY'],
      ['kept?fleet=fleet&range=1y', 400, 'INVALID_QUERY'],
      ['kept?fleet=fleet&cart=ward-5', 400, 'INVALID_QUERY'],
      ['kept?fleet=nobody', 404, 'FLEET_NOT_FOUND'],
      ['kept?fleet=away', 503, 'STORE_UNAVAILABLE'],
      // Phones move between carts: their states over time are the whole fleet's, asked before the database is.
      ['states?fleet=away&cart=ward-9', 400, 'INVALID_QUERY'],
    ] as const) {
      const res = await figure(path);
      assert.deepEqual([res.status, res.body.code], [status, code], path);
    }
  });

  it('streams a long export whole, in time order: 25,000 entries as CSV and as JSON lines', async () => {
    await helper.unload();
    const start = Date.UTC(2026, 0, 1);
    const year = Array.from({ length: 25_000 }, (_, i) =>
      JSON.stringify({ at: new Date(start + i * 1_200_000).toISOString(), udid: 'PHONE-1', what: 'counter', to: String(i), who: 'test' }),
    );
    writeFileSync(join(userDir, 'device-checkout', 'fleet-fleet.audit.jsonl'), year.join('\n') + '\n');
    await load([FLEET[0]]); // an export refuses while a fleet it covers cannot be read
    const csv = await helper.request().get('/device-checkout/audit').query({ format: 'csv', from: '2026-01-01' });
    assert.equal(csv.status, 200);
    const rows = csv.text.trimEnd().split('\r\n');
    assert.equal(rows[0], 'at,udid,what,from,to,who,why,name,serial');
    assert.equal(rows.length, 1 + 25_000);
    assert.deepEqual([rows[1].split(',')[4], rows.at(-1)!.split(',')[4]], ['0', '24999']);
    const lines = await helper.request().get('/device-checkout/audit').query({ format: 'jsonl', from: '2026-01-01' });
    const entries = lines.text
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line) as { at: string });
    assert.equal(entries.length, 25_000);
    assert.ok(
      entries.every((e, i) => i === 0 || entries[i - 1].at <= e.at),
      'in time order',
    );
  });

  it('a fleet set to a file a month: a trail begun last month is kept as that month\u2019s file at the first change of this month; the export reads both', async () => {
    await helper.unload();
    const lastMonth = new Date(Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth() - 1, 15));
    const old = { at: lastMonth.toISOString(), udid: 'PHONE-1', what: 'counter', to: 'last month', who: 'test' };
    writeFileSync(join(userDir, 'device-checkout', 'fleet-fleet.audit.jsonl'), JSON.stringify(old) + '\n');
    await load([{ ...FLEET[0], auditFiles: 'monthly' }]);
    fleet = (helper.getNode('fleet') as unknown as { fleet: Fleet }).fleet;
    await fleet.store.setAttribute('PHONE-1', 'counter', 'this month');
    assert.ok(readdirSync(join(userDir, 'device-checkout')).includes(`fleet-fleet.audit-${old.at.slice(0, 7)}.jsonl`));
    const csv = await helper.request().get('/device-checkout/audit').query({ format: 'csv', udid: 'PHONE-1' });
    assert.ok(csv.text.indexOf('last month') > 0 && csv.text.indexOf('last month') < csv.text.indexOf('this month'));
  });

  it('refuses `__proto__` and `constructor` as phones (INVALID_UDID), writing nothing', async () => {
    for (const udid of ['__proto__', 'constructor', 'hasOwnProperty']) {
      const res = await post(`${udid}/attribute`).send({ name: 'Ward', value: '3' });
      assert.deepEqual([res.status, res.body.code], [400, 'INVALID_UDID'], udid);
      const trail = await helper.request().get(`/device-checkout/devices/${udid}/audit`);
      assert.equal(trail.status, 400);
    }
    const file = JSON.parse(readFileSync(join(userDir, 'device-checkout', 'fleet-fleet.json'), 'utf8')) as { devices: object };
    assert.deepEqual(Object.keys(file.devices), ['PHONE-1']);
  });

  it('answers bad input as bad input (400), and the fleet stays healthy: dates out of range, control characters', async () => {
    for (const from of ['20000-01-01', '-1', '0000-01-01', '275760-09-13', '1969-12-31']) {
      const res = await helper.request().get('/device-checkout/audit').query({ format: 'csv', from });
      assert.deepEqual([res.status, res.body.code], [400, 'INVALID_QUERY'], from);
    }
    for (const value of ['a\u0000b', 'bell\u0007', 'esc\u001b[31m']) {
      const res = await post('PHONE-1/attribute').send({ name: 'Ward', value });
      assert.deepEqual([res.status, res.body.code], [400, 'INVALID_ATTRIBUTE'], JSON.stringify(value));
    }
    const fine = await post('PHONE-1/attribute').send({ name: 'Ward', value: 'Station 3 – Süd' });
    assert.equal(fine.status, 200);
    assert.equal((await helper.request().get('/device-checkout/devices')).status, 200);
  });
});

describe('the ward page\u2019s readiness line', () => {
  afterEach(() => helper.unload());

  it('says how many of the cart\u2019s phones are expected ready at its next shift change; a shift change that is not a time refuses the fleet', async () => {
    freshUserDir();
    const ward = { type: 'device-fleet', mdm: '', usb: '', lockerApp: 'org.example.locker', wardPage: true };
    await load([
      { ...ward, id: 'night', name: 'Ward 3', shiftTimes: '00:00' },
      { ...ward, id: 'plain', name: 'Ward 4' },
      { ...ward, id: 'typo', name: 'Ward 5', shiftTimes: '7 am' },
    ]);
    const fleet = (helper.getNode('night') as unknown as { fleet: Fleet }).fleet;
    for (const [udid, port] of [
      ['A', 1],
      ['B', 2],
      ['C', 3],
      ['D', 4],
    ] as const) {
      await fleet.store.docked(udid, { hubId: 'hub', hub: 'Cart A', port });
      await fleet.store.setStatus(udid, udid === 'D' ? 'Failed' : 'Checked In');
      await fleet.store.reportHealth(udid, 0.9, true);
    }
    // The ward page is on Node-RED's node HTTP, here on a port of its own.
    const server = nodeHttpApp().listen(0, '127.0.0.1');
    await once(server, 'listening');
    const page = (ward: string) =>
      fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/device-checkout/ward/${ward}`, { signal: AbortSignal.timeout(3000) }).then((res) =>
        res.text(),
      );
    try {
      assert.match(
        await page('night'),
        /<p class="readiness">device-fleet\.ward\.readiness \{&#34;ready&#34;:3,&#34;docked&#34;:4,&#34;shift&#34;:&#34;00:00&#34;\}<\/p>/,
      );
      assert.doesNotMatch(await page('plain'), /class="readiness"/, 'no shift changes, no line');
    } finally {
      server.close();
    }
    assert.equal((helper.getNode('typo') as unknown as { fleet?: Fleet }).fleet, undefined);
  });
});

describe('ward page logins: slowed down, then refused', () => {
  it('five wrong logins cost nothing, then each costs more, and past ten the client is refused for 15 min; others are not', () => {
    let now = 0;
    const throttle = new LoginThrottle({ now: () => now });
    const delays: number[] = [];
    let lockedOut = 0;
    for (let i = 0; i < 10; i++) {
      const verdict = throttle.verdict('10.0.0.7');
      assert.equal(verdict.refused, false);
      delays.push((verdict as { delayMs: number }).delayMs);
      if (throttle.failed('10.0.0.7')) lockedOut++;
    }
    assert.deepEqual(delays, [0, 0, 0, 0, 0, 0, 500, 1000, 1500, 2000]);
    assert.equal(lockedOut, 1, 'said once');
    assert.equal(throttle.verdict('10.0.0.7').refused, true);
    assert.equal(throttle.verdict('10.0.0.8').refused, false, 'another client');
    now += 15 * 60_000 + 1;
    assert.deepEqual(throttle.verdict('10.0.0.7'), { refused: false, delayMs: 0 }, 'forgotten after the lockout');
  });
});
