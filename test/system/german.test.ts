import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser } from 'playwright-core';
import { launchChromium, openFleetTab, phoneRecord } from '../../harness/chromium';
import type { DeviceRecord } from '../../nodes/lib/fleet/fleet-store';
import { logProblems, startNodeRedChild, type NodeRedChild } from '../../harness/node-red-child';
import { ARTIFACTS } from '../../harness/artifacts';
import { tempDir } from '../../harness/support';

const WARD = { user: 'station', password: 'Nachtdienst 7' };
const record = (udid: string, fields: Partial<DeviceRecord>): DeviceRecord => phoneRecord(udid, { hub: 'Wagen A', ...fields });

/** A hospital whose Node-RED speaks German (`lang: 'de'` in settings.js) and whose admin's browser does too. */
describe('a German Node-RED: refusals, statuses, the fleet view, its trail and the ward page in German', function () {
  this.timeout(120_000);
  let red: NodeRedChild;
  let browser: Browser;

  before(async () => {
    const settings = join(tempDir('settings'), 'settings.js');
    writeFileSync(settings, "module.exports = { lang: 'de' };\n");
    red = await startNodeRedChild(undefined, settings);
    const hoursAgo = (hours: number) => new Date(Date.now() - hours * 3_600_000).toISOString();
    mkdirSync(join(red.userDir, 'device-checkout'), { recursive: true });
    const devices = {
      OUT: record('OUT', { name: 'Wagen A 1', docked: false, status: 'Checked Out', user: 'bob', userName: 'Bob Berg', checkedOutAt: hoursAgo(2), port: 1 }),
      OLD: record('OLD', { name: 'Wagen A 2', status: 'Retired', port: 2 }),
    };
    writeFileSync(join(red.userDir, 'device-checkout', 'fleet-fleet.json'), JSON.stringify({ version: 2, devices }));
    const taken = { at: hoursAgo(2), udid: 'OUT', what: 'status', from: 'Checking Out', to: 'Checked Out', who: 'hub', why: 'unplugged' };
    writeFileSync(join(red.userDir, 'device-checkout', 'fleet-fleet.audit.jsonl'), `${JSON.stringify(taken)}\n`);
    await red.deploy([
      { id: 'tab', type: 'tab', label: 'Ausgabe' },
      {
        id: 'fleet',
        type: 'device-fleet',
        name: 'Station 3',
        mdm: '',
        usb: '',
        lockerApp: 'org.example.locker',
        store: 'file',
        auditFiles: 'one',
        wardPage: true,
        credentials: { wardUser: WARD.user, wardPassword: WARD.password },
      },
      // A second ward whose database cannot be reached: the fleet view lists the rest and says which.
      {
        id: 'away',
        type: 'device-fleet',
        name: 'Station 9',
        mdm: '',
        usb: '',
        lockerApp: 'org.example.locker',
        store: 'postgres',
        databaseUrl: 'postgres://127.0.0.1:9/fleet?sslmode=disable',
        cart: 'wagen-9',
      },
      { id: 'tap', type: 'http in', z: 'tab', url: '/tap', method: 'post', wires: [['who']] },
      { id: 'who', type: 'change', z: 'tab', rules: [{ t: 'set', p: 'user', pt: 'msg', to: 'payload.user', tot: 'msg' }], wires: [['checkout']] },
      {
        id: 'checkout',
        type: 'check-out-device',
        z: 'tab',
        fleet: 'fleet',
        name: 'Ausgeben',
        timeout: '15',
        unlockPhones: '2',
        suppressBlueLed: true,
        wires: [['answer']],
      },
      { id: 'answer', type: 'http response', z: 'tab', wires: [] },
      { id: 'refusals', type: 'catch', z: 'tab', scope: ['checkout'], uncaught: false, wires: [['refused']] },
      {
        id: 'refused',
        type: 'change',
        z: 'tab',
        rules: [
          { t: 'set', p: 'payload', pt: 'msg', to: '{"code":error.code,"message":error.message}', tot: 'jsonata' },
          { t: 'set', p: 'statusCode', pt: 'msg', to: '409', tot: 'num' },
        ],
        wires: [['refusal']],
      },
      { id: 'refusal', type: 'http response', z: 'tab', wires: [] },
    ]);
    browser = await launchChromium(['--lang=de-DE']);
  });

  after(async () => {
    await browser?.close();
    await red?.stop();
    // Said about the unreachable ward, and nothing else.
    assert.deepEqual(
      logProblems(red.output()).filter((line) => !/\[device-fleet:Station 9\]/.test(line)),
      [],
    );
  });

  it('a refused tap answers in German, with its stable code', async () => {
    const res = await fetch(`${red.url}tap`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'anna' }) });
    assert.equal(res.status, 409);
    assert.deepEqual(await res.json(), {
      code: 'NO_DEVICE_AVAILABLE',
      message: 'NO_DEVICE_AVAILABLE: kein eingestecktes, eingechecktes, intaktes Telefon ist genug geladen',
    });
  });

  it('the admin API refuses in German', async () => {
    const res = await fetch(`${red.url}device-checkout/devices/OLD/check-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    assert.equal(res.status, 409);
    assert.deepEqual(await res.json(), { code: 'RETIRED', message: 'das Telefon ist ausgemustert: erst wieder aufnehmen, dann einchecken' });
  });

  it('the ward page is German', async () => {
    const res = await fetch(`${red.url}device-checkout/ward/fleet`, {
      headers: { authorization: `Basic ${Buffer.from(`${WARD.user}:${WARD.password}`).toString('base64')}` },
    });
    const html = await res.text();
    assert.match(html, /<html lang="de">/);
    assert.match(html, /Ausgeliehene Telefone/);
    assert.match(html, /Bob Berg/);
  });

  it('in the editor: the refused tap\u2019s code on its node; the fleet view shows statuses and the trail in German', async () => {
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 }, locale: 'de-DE' });
    await page.goto(red.url);
    await page.waitForSelector('.red-ui-palette-node', { timeout: 60_000 });
    await fetch(`${red.url}tap`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: 'anna' }) });
    await page.waitForFunction(() =>
      Array.from(document.querySelectorAll('.red-ui-flow-node-status-label')).some((label) => label.textContent === 'NO_DEVICE_AVAILABLE'),
    );
    await openFleetTab(page);
    await page.waitForSelector('.dc-fleet-view tbody tr[data-udid="OUT"]');
    const statusOf = (udid: string) => page.locator(`.dc-fleet-view tbody tr[data-udid="${udid}"] td`).nth(3).textContent();
    await page.waitForSelector('.red-ui-notification');
    assert.match(
      (await page.locator('.red-ui-notification').first().textContent()) ?? '',
      /Flotte „Station 9“ wird nicht angezeigt: STORE_UNAVAILABLE: die Flottendatenbank ist nicht nutzbar/,
    );
    assert.equal(await statusOf('OUT'), 'Ausgegeben');
    assert.equal(await statusOf('OLD'), 'Ausgemustert');
    await page.click('.dc-fleet-view tbody tr[data-udid="OUT"]');
    await page.waitForSelector('.dc-trail li');
    assert.match((await page.locator('.dc-trail li').first().textContent()) ?? '', /Status: Wird ausgegeben → Ausgegeben \(hub: abgezogen\)$/);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'fleet-view-german.png') });
    await page.close();
  });
});
