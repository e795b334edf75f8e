import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, openFleetTab, phoneRecord } from '../../harness/chromium';
import { logProblems, startNodeRedChild, type NodeRedChild } from '../../harness/node-red-child';
import { ARTIFACTS } from '../../harness/artifacts';
import { createCartLogin, createDatabase, startPostgres, type TestServer } from '../../harness/postgres';
import { fleetPool } from '../../nodes/lib/fleet/postgres-pool';
import { migrate } from '../../nodes/lib/fleet/postgres-schema';

/** Chart.js's bar colours in the insights: the usual, and a keep time reaching past the lending period. */
const BAR = [74, 144, 217];
const PAST_LENDING = [217, 83, 79];

/** 07:10 on the host's clock `days` days ago (Node-RED counts hours of day in the host's zone, as this does). */
function morning(days: number): number {
  const now = new Date();
  return new Date(now.getFullYear(), now.getMonth(), now.getDate() - days, 7, 10).getTime();
}

/**
 * A ward's month as its audit trail has it, each status following the last: phones A, B and C
 * taken at 07:10 on days 1 to 5 and on day 10 before today, back after 30 min, 3 h and 9 h; C
 * failed at its returns of days 1 and 2, B at that of day 3, each cleared by an admin at 06:00
 * the next morning (C's of day 1 not yet). A, B and C are docked at ports 1, 2 and 3 of hub
 * "Cart A", except B's return of day 3, at port 3: two phones failed there. Ann takes A, Bob B and C.
 */
function wardTrail(): string {
  const entries: { at: number; udid: string; to: string; why?: string; what?: string }[] = [];
  const status = (at: number, udid: string, to: string, why?: string) => entries.push({ at, udid, to, why });
  const dock = (at: number, udid: string, port: number) => entries.push({ at, udid, what: 'docked: port', to: String(port) });
  for (const [i, udid] of ['A', 'B', 'C'].entries()) {
    entries.push({ at: morning(11), udid, what: 'docked: hub', to: 'Cart A' });
    dock(morning(11), udid, i + 1);
  }
  const failures: Record<number, [string, string][]> = {
    1: [['C', 'DEVICE_TIMEOUT: no answer in 60 s']],
    2: [['C', 'DEVICE_TIMEOUT: no answer in 60 s']],
    3: [['B', 'MDM_UNAVAILABLE: connection refused']],
  };
  for (const day of [10, 5, 4, 3, 2, 1]) {
    const taken = morning(day);
    for (const [udid, keptHours] of [
      ['A', 0.5],
      ['B', 3],
      ['C', 9],
    ] as const) {
      status(taken, udid, 'Checking Out');
      entries.push({ at: taken, udid, what: 'check-out started: user', to: udid === 'A' ? 'ann' : 'bob' });
      status(taken + 1000, udid, 'Checked Out', 'unplugged');
      const back = taken + keptHours * 3_600_000;
      if (udid === 'B' && day === 3) dock(back, udid, 3);
      if (udid === 'B' && day === 2) dock(back, udid, 2);
      status(back, udid, 'Returning', 'docked');
      const failed = failures[day]?.find(([phone]) => phone === udid);
      if (!failed) status(back + 60_000, udid, 'Checked In');
      else {
        status(back + 60_000, udid, 'Failed', failed[1]);
        if (day > 1) status(morning(day - 1) - 70 * 60_000, udid, 'Checked In', 'cleared by an admin');
      }
    }
  }
  const now: Record<string, string> = { A: 'Checked In', B: 'Checked In', C: 'Checked In' };
  return entries
    .sort((a, b) => a.at - b.at)
    .map(({ at, udid, to, why, what }) => {
      if (what) return JSON.stringify({ at: new Date(at).toISOString(), udid, what, to }) + '\n';
      const entry = { at: new Date(at).toISOString(), udid, what: 'status', from: now[udid], to, who: 'hub', ...(why && { why }) };
      now[udid] = to;
      return JSON.stringify(entry) + '\n';
    })
    .join('');
}

/** The fleet tab's insights in Chromium, on a real Node-RED with a seeded trail, in English and German. */
describe('the fleet tab\u2019s insights: charts and the tables behind them, from the audit trail', function () {
  this.timeout(120_000);
  let red: NodeRedChild;
  let browser: Browser;
  let postgres: TestServer;

  before(async () => {
    red = await startNodeRedChild();
    const dir = join(red.userDir, 'device-checkout');
    mkdirSync(dir, { recursive: true });
    const devices = {
      A: phoneRecord('A', { name: 'Ward 3 1', port: 1 }),
      B: phoneRecord('B', { name: 'Ward 3 2', port: 2 }),
      C: phoneRecord('C', { name: 'Ward 3 3', port: 3 }),
    };
    writeFileSync(join(dir, 'fleet-ward3.json'), JSON.stringify({ version: 2, devices }));
    writeFileSync(join(dir, 'fleet-ward3.audit.jsonl'), wardTrail());
    // Its next shift change three hours ahead with 5 phones wanted: short, though not yet within the hour that raises low-stock.
    const later = new Date(Date.now() + 3 * 3_600_000);
    const shiftTimes = `${later.getHours()}:${String(later.getMinutes()).padStart(2, '0')}`;
    await red.deploy([
      {
        id: 'ward3',
        type: 'device-fleet',
        name: 'Ward 3',
        mdm: '',
        usb: '',
        lockerApp: 'org.example.locker',
        lendingPeriod: '8',
        shiftTimes,
        readyMinimum: '5',
      },
      { id: 'wards', type: 'device-fleet', name: 'Wards', mdm: '', usb: '', lockerApp: 'org.example.locker', ...(await sharedWards()) },
    ]);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await red?.stop();
    await postgres?.stop();
    assert.deepEqual(logProblems(red.output()), [], 'no warning or error in the log');
  });

  /**
   * A fleet of two carts on a real PostgreSQL, set up as the editor asks (this Node-RED is ward 3):
   * phone D taken at ward 3 at 07:10 yesterday, E and F at ward 5 at 09:10 the day before.
   */
  async function sharedWards(): Promise<object> {
    postgres = await startPostgres();
    await createDatabase(postgres, 'wards');
    const { databaseUrl, credentials } = await createCartLogin(postgres, 'wards');
    const pool = fleetPool({ url: databaseUrl, user: credentials.databaseUser, password: credentials.databasePassword, applicationName: 'insights test' });
    try {
      await migrate(pool);
      const taken = async (cart: string, udid: string, at: number) => {
        await pool.query(
          `INSERT INTO checkout_devices (udid, cart, hub_id, hub, port, docked, status) VALUES ($1, $2, 'hub', 'Cart A', 1, true, 'Checked In')`,
          [udid, cart],
        );
        for (const [after, what, from, to] of [
          [0, 'status', 'Checked In', 'Checking Out'],
          [0, 'check-out started: user', null, 'ann'],
          [1000, 'status', 'Checking Out', 'Checked Out'],
          [3_600_000, 'status', 'Checked Out', 'Checked In'],
        ] as const)
          await pool.query('INSERT INTO checkout_audit (at, udid, cart, what, from_value, to_value) VALUES ($1, $2, $3, $4, $5, $6)', [
            new Date(at + after),
            udid,
            cart,
            what,
            from,
            to,
          ]);
      };
      await taken('ward-3', 'D', morning(1));
      await taken('ward-5', 'E', morning(2) + 2 * 3_600_000);
      await taken('ward-5', 'F', morning(2) + 2 * 3_600_000);
    } finally {
      await pool.end();
    }
    return { store: 'postgres', databaseUrl, cart: 'ward-3', credentials };
  }

  /** The editor in `locale` with the fleet tab's insights shown and every chart drawn. */
  async function insights(locale: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 }, locale, acceptDownloads: true });
    await page.goto(red.url);
    await page.waitForSelector('.red-ui-palette-node', { timeout: 60_000 });
    await openFleetTab(page);
    await page.click('.dc-fleet-switch [data-show="insights"]');
    await page.waitForSelector('.dc-figure[data-figure="states"][data-drawn]');
    await page.waitForSelector('.dc-figure[data-figure="checkouts-by-hour"][data-drawn]');
    await page.waitForSelector('.dc-figure[data-figure="kept"][data-drawn]');
    await page.waitForSelector('.dc-insights-readiness:not([hidden])');
    return page;
  }

  /** A figure's table as the page shows it, head row first. */
  const tableOf = (page: Page, figure: string) =>
    page.$$eval(`.dc-figure[data-figure="${figure}"] .dc-figure-table tr`, (trs) =>
      trs.map((tr) => Array.from(tr.querySelectorAll('th, td'), (cell) => cell.textContent ?? '')),
    );

  /** How many of a chart's pixels are `rgb` (the bars in that colour). */
  const pixelsOf = (page: Page, figure: string, rgb: number[]) =>
    page.$eval(
      `.dc-figure[data-figure="${figure}"] canvas`,
      (canvas, [r, g, b]) => {
        const { data } = (canvas as HTMLCanvasElement)
          .getContext('2d')!
          .getImageData(0, 0, (canvas as HTMLCanvasElement).width, (canvas as HTMLCanvasElement).height);
        let n = 0;
        for (let i = 0; i < data.length; i += 4) if (data[i] === r && data[i + 1] === g && data[i + 2] === b && data[i + 3] === 255) n++;
        return n;
      },
      rgb,
    );

  const api = async (figure: string, range: string) =>
    (await (await fetch(`${red.url}device-checkout/insights/${figure}?fleet=ward3&range=${range}`)).json()) as { rows: unknown[][] };

  it('the last 7 days: 15 check-outs at 07:00, the keep times with the lending period in red, the phones that failed; the tables are the figures', async () => {
    const page = await insights('en-US');
    const checkouts = await tableOf(page, 'checkouts-by-hour');
    assert.deepEqual(checkouts[0], ['Hour', 'Check-outs']);
    assert.equal(checkouts.length, 25, 'every hour of the day');
    assert.deepEqual(checkouts[8], ['7', '15'], 'three phones a morning, five mornings');
    assert.equal(
      checkouts.slice(1).reduce((sum, row) => sum + Number(row[1]), 0),
      15,
      'and no check-out at another hour',
    );
    assert.deepEqual(
      checkouts.slice(1),
      (await api('checkouts-by-hour', '7d')).rows.map((row) => row.map(String)),
      'the table behind the chart is the figure the admin API gives',
    );
    const kept = await tableOf(page, 'kept');
    assert.deepEqual(kept[0], ['From (h)', 'To (h)', 'Returns']);
    assert.deepEqual(
      kept.slice(1).map((row) => row[2]),
      ['5', '0', '5', '0', '5', '0', '0', '0'],
    );
    assert.match((await page.locator('.dc-figure[data-figure="kept"] .dc-figure-note').textContent()) ?? '', /Lending period 8 h/);
    assert.ok((await pixelsOf(page, 'checkouts-by-hour', BAR)) > 100, 'the check-outs drawn as bars');
    assert.ok((await pixelsOf(page, 'kept', PAST_LENDING)) > 100, 'the phones kept 8 to 12 h reach past the lending period: red');
    assert.ok((await pixelsOf(page, 'kept', BAR)) > 100, 'the others not');
    assert.match(
      (await page.locator('.dc-figure[data-figure="checkouts-by-hour"] canvas').getAttribute('aria-label')) ?? '',
      /^15 check-outs by hour of day \(last 7 days\)$/,
      'a screen reader hears what the chart shows',
    );
    // The phones over time, every 4 hours of the 7 days: at the end A and B ready, C failed.
    const states = await tableOf(page, 'states');
    assert.deepEqual(states[0], ['At', 'Ready', 'Out', 'Failed', 'Other']);
    assert.equal(states.length, 1 + 42);
    const fromApi = (await api('states', '7d')).rows;
    assert.deepEqual(
      states.slice(1).map((row) => row.slice(1)),
      fromApi.map((row) => row.slice(1).map(String)),
      'the table behind the chart is the figure',
    );
    assert.deepEqual(fromApi.at(-1)!.slice(1), [2, 0, 1, 0]);
    assert.ok((await pixelsOf(page, 'states', [217, 83, 79])) > 100, 'the failed phone drawn in red');
    const failing = await tableOf(page, 'failing');
    assert.deepEqual(
      failing.slice(1).map((row) => [row[0], row[1], row[3], row[5]]),
      [
        ['C', 'Ward 3 3', '2', 'DEVICE_TIMEOUT: no answer in 60 s'],
        ['B', 'Ward 3 2', '1', 'MDM_UNAVAILABLE: connection refused'],
      ],
    );
    // The people: bob takes B and C each morning, ann A.
    assert.deepEqual((await tableOf(page, 'people')).slice(0, 3), [
      ['Who', 'Check-outs', 'Overdue', 'Most at once'],
      ['bob', '10', '0', '2'],
      ['ann', '5', '0', '1'],
    ]);
    // The ports: port 3, where C failed twice and B once, flagged; port 2 not (none failed there).
    const ports = await tableOf(page, 'failing-ports');
    assert.deepEqual(
      ports.slice(1).map((row) => [row[1], row[2], row[3], row[4], row[6]]),
      [['Cart A', '3', '3', '2', '\u26a0 check the port']],
    );
    assert.match((await page.locator('.dc-figure[data-figure="failing-ports"] .dc-figure-note').textContent()) ?? '', /^Flagged: several phones failed/);
    // The cart at its next shift change: its three docked phones less the mornings' usual check-outs before it, short of the 5 wanted.
    const readiness = (await (await fetch(`${red.url}device-checkout/readiness/ward3`)).json()) as {
      ready: number;
      docked: number;
      minimum: number;
      at: string;
    };
    assert.deepEqual([readiness.docked, readiness.minimum], [3, 5]);
    assert.ok(readiness.ready <= 3);
    const shift = await page.evaluate((at) => new Date(at).toLocaleTimeString('en-US', { hour: '2-digit', minute: '2-digit' }), readiness.at);
    assert.equal(
      await page.locator('.dc-insights-readiness').textContent(),
      `Next shift change at ${shift}: ${readiness.ready} of 3 docked phones expected ready at this cart. Fewer than the 5 wanted: low stock.`,
    );
    assert.ok(await page.locator('.dc-insights-readiness.dc-flagged').isVisible(), 'short: marked');
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'insights.png'), fullPage: true });

    // The last 30 days hold day 10's mornings too; its CSV is the table the admin downloads.
    await page.selectOption('.dc-insights-range', '30d');
    await page.waitForFunction(() => document.querySelectorAll('.dc-figure[data-figure="checkouts-by-hour"] tbody tr')[7]?.textContent === '718');
    const download = page.waitForEvent('download');
    await page.click('.dc-figure[data-figure="kept"] .dc-figure-csv');
    const csv = readFileSync(await (await download).path(), 'utf8');
    assert.equal(csv, await (await fetch(`${red.url}device-checkout/insights/kept?fleet=ward3&range=30d&format=csv`)).text());
    assert.match(csv, /^from_hours,to_hours,returns\r\n0,1,6\r\n/);
    await page.close();
  });

  it('a fleet of several carts: the whole fleet, or the cart picked (the carts its phones were seen at)', async () => {
    const page = await insights('en-US');
    await page.selectOption('.dc-insights-fleet', 'wards');
    await page.waitForFunction(() => document.querySelectorAll('.dc-insights-cart option').length === 3);
    assert.deepEqual(await page.$$eval('.dc-insights-cart option', (options) => options.map((o) => o.textContent)), ['all carts', 'ward-3', 'ward-5']);
    const hours = () =>
      page.$$eval('.dc-figure[data-figure="checkouts-by-hour"] tbody tr', (rows) =>
        rows.filter((row) => row.children[1].textContent !== '0').map((row) => Array.from(row.children, (cell) => cell.textContent)),
      );
    await page.waitForFunction(() => document.querySelectorAll('.dc-figure[data-figure="checkouts-by-hour"] tbody tr')[9]?.textContent === '92');
    assert.deepEqual(await hours(), [
      ['7', '1'],
      ['9', '2'],
    ]);
    await page.selectOption('.dc-insights-cart', 'ward-5');
    await page.waitForFunction(() => document.querySelectorAll('.dc-figure[data-figure="checkouts-by-hour"] tbody tr')[7]?.textContent === '70');
    assert.deepEqual(await hours(), [['9', '2']], 'ward 5 alone');
    assert.match((await page.locator('.dc-figure[data-figure="states"] .dc-figure-note').textContent()) ?? '', /The whole fleet: phones move between carts\.$/);
    await page.close();
  });

  it('in German: titles, columns and the lending period', async () => {
    const page = await insights('de-DE');
    assert.equal(await page.locator('.dc-fleet-switch [data-show="insights"]').textContent(), ' Auswertung');
    assert.match((await page.locator('.dc-figure[data-figure="checkouts-by-hour"] h4').textContent()) ?? '', /^Ausgaben nach Tageszeit/);
    assert.match((await page.locator('.dc-figure[data-figure="states"] h4').textContent()) ?? '', /^Telefone im Zeitverlauf/);
    assert.deepEqual((await tableOf(page, 'kept'))[0], ['von (h)', 'bis (h)', 'Rückgaben']);
    assert.match((await page.locator('.dc-figure[data-figure="kept"] .dc-figure-note').textContent()) ?? '', /^Ausleihdauer 8 h/);
    assert.deepEqual((await tableOf(page, 'failing'))[0], ['UDID', 'Name', 'Seriennummer', 'Fehler', 'Letzter Fehler', 'Grund']);
    assert.match(
      (await page.locator('.dc-insights-readiness').textContent()) ?? '',
      /^Nächster Schichtwechsel um \d\d:\d\d: \d von 3 eingesteckten Telefonen .* gewünschten 5: knapper Bestand\.$/,
    );
    await page.screenshot({ path: join(ARTIFACTS, 'insights-german.png') });
    await page.close();
  });
});
