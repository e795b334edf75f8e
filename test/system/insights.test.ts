import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, openFleetTab, phoneRecord } from '../../harness/chromium';
import { logProblems, startNodeRedChild, type NodeRedChild } from '../../harness/node-red-child';
import { ARTIFACTS } from '../../harness/artifacts';

/** Chart.js's bar colours in the insights: the usual, and a keep time reaching past the lending period. */
const BAR = [74, 144, 217];
const PAST_LENDING = [217, 83, 79];

/** 07:10 on the host's clock `days` days ago (Node-RED counts hours of day in the host's zone, as this does). */
function morning(days: number): number {
  const now = new Date();
  return new Date(now.getFullYear(), now.getMonth(), now.getDate() - days, 7, 10).getTime();
}

/**
 * A ward's month as its audit trail has it: phones A, B and C taken at 07:10 on days 1 to 5 and
 * on day 10 before today, back after 30 min, 3 h and 9 h; C failed after its returns of days 1
 * and 2, B after that of day 3.
 */
function wardTrail(): string {
  const entries: object[] = [];
  const status = (at: number, udid: string, from: string, to: string, why?: string) =>
    entries.push({ at: new Date(at).toISOString(), udid, what: 'status', from, to, who: 'hub', ...(why && { why }) });
  for (const day of [10, 5, 4, 3, 2, 1]) {
    const taken = morning(day);
    for (const [udid, keptHours] of [
      ['A', 0.5],
      ['B', 3],
      ['C', 9],
    ] as const) {
      status(taken, udid, 'Checking Out', 'Checked Out', 'unplugged');
      status(taken + keptHours * 3_600_000, udid, 'Checked Out', 'Returning', 'docked');
    }
    if (day <= 2) status(taken + 9 * 3_600_000 + 60_000, 'C', 'Returning', 'Failed', 'DEVICE_TIMEOUT: no answer in 60 s');
    if (day === 3) status(taken + 3 * 3_600_000 + 60_000, 'B', 'Returning', 'Failed', 'MDM_UNAVAILABLE: connection refused');
  }
  return entries
    .sort((a, b) => ((a as { at: string }).at < (b as { at: string }).at ? -1 : 1))
    .map((entry) => JSON.stringify(entry) + '\n')
    .join('');
}

/** The fleet tab's insights in Chromium, on a real Node-RED with a seeded trail, in English and German. */
describe('the fleet tab\u2019s insights: charts and the tables behind them, from the audit trail', function () {
  this.timeout(120_000);
  let red: NodeRedChild;
  let browser: Browser;

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
    await red.deploy([{ id: 'ward3', type: 'device-fleet', name: 'Ward 3', mdm: '', usb: '', lockerApp: 'org.example.locker', lendingPeriod: '8' }]);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await red?.stop();
    assert.deepEqual(logProblems(red.output()), [], 'no warning or error in the log');
  });

  /** The editor in `locale` with the fleet tab's insights shown and every chart drawn. */
  async function insights(locale: string): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 }, locale, acceptDownloads: true });
    await page.goto(red.url);
    await page.waitForSelector('.red-ui-palette-node', { timeout: 60_000 });
    await openFleetTab(page);
    await page.click('.dc-fleet-switch [data-show="insights"]');
    await page.waitForSelector('.dc-figure[data-figure="checkouts-by-hour"][data-drawn]');
    await page.waitForSelector('.dc-figure[data-figure="kept"][data-drawn]');
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
    const failing = await tableOf(page, 'failing');
    assert.deepEqual(
      failing.slice(1).map((row) => [row[0], row[1], row[3], row[5]]),
      [
        ['C', 'Ward 3 3', '2', 'DEVICE_TIMEOUT: no answer in 60 s'],
        ['B', 'Ward 3 2', '1', 'MDM_UNAVAILABLE: connection refused'],
      ],
    );
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'insights.png') });

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

  it('in German: titles, columns and the lending period', async () => {
    const page = await insights('de-DE');
    assert.equal(await page.locator('.dc-fleet-switch [data-show="insights"]').textContent(), ' Auswertung');
    assert.match((await page.locator('.dc-figure[data-figure="checkouts-by-hour"] h4').textContent()) ?? '', /^Ausgaben nach Tageszeit/);
    assert.deepEqual((await tableOf(page, 'kept'))[0], ['von (h)', 'bis (h)', 'Rückgaben']);
    assert.match((await page.locator('.dc-figure[data-figure="kept"] .dc-figure-note').textContent()) ?? '', /^Ausleihdauer 8 h/);
    assert.deepEqual((await tableOf(page, 'failing'))[0], ['UDID', 'Name', 'Seriennummer', 'Fehler', 'Letzter Fehler', 'Grund']);
    await page.screenshot({ path: join(ARTIFACTS, 'insights-german.png') });
    await page.close();
  });
});
