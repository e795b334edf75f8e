import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, openFleetTab, phoneRecord } from '../../harness/chromium';
import { deployFlows } from '../../demo/node-red-runtime';
import { logProblems, startNodeRedChild, type NodeRedChild } from '../../harness/node-red-child';
import { ARTIFACTS } from '../../harness/artifacts';
import { tempDir, waitFor } from '../../harness/support';
import { SimulatedNanoMdm } from '../../sim/nanomdm-server';
import { SimulatedDevice } from '../../sim/simulated-device';

// Node-RED's own password hashing, as its admin tool writes adminAuth.
// eslint-disable-next-line @typescript-eslint/no-require-imports -- bcryptjs as Node-RED itself loads it, without types
const bcrypt = require('bcryptjs') as { hashSync(password: string, rounds: number): string };

const USERS = { charge: 'charge-nurse-pass', viewer: 'viewer-pass' };
const WARD = { user: 'ward', password: 'night shift 7' };
const WARD_5 = { user: 'ward5', password: 'day shift 5' };
/** What the deploy and the ward pages must say, and nothing else. */
const EXPECTED_LOG = [/ward\/open has no login/, /ward\/half lets nobody in/, /too many wrong logins from/];

/** A settings file as an admin writes one: two users, one who may do everything, one who may only look. */
function settingsFile(): string {
  const file = join(tempDir('settings'), 'settings.js');
  const users = [
    { username: 'charge', password: bcrypt.hashSync(USERS.charge, 8), permissions: '*' },
    { username: 'viewer', password: bcrypt.hashSync(USERS.viewer, 8), permissions: 'read' },
  ];
  writeFileSync(file, `module.exports = { adminAuth: { type: 'credentials', users: ${JSON.stringify(users)} } };\n`);
  return file;
}

/** The fleet view behind Node-RED's adminAuth, in a real Node-RED process and in Chromium; the ward page with its own login. */
describe('the fleet view under adminAuth (a real settings file with two users)', function () {
  this.timeout(120_000);
  let red: NodeRedChild;
  let browser: Browser;
  const tokens: Record<string, string> = {};
  /** Ward 8's MDM and its phone in Lost Mode, not back from a shift. */
  const MDM_SECRETS = { apiKey: 'view-api-key', webhookSecret: 'view-hmac' };
  let mdm: SimulatedNanoMdm;
  let lost: SimulatedDevice;

  const api = (path: string, user?: keyof typeof USERS, init: RequestInit = {}) =>
    fetch(red.url + path, {
      ...init,
      headers: { 'content-type': 'application/json', ...(user && { authorization: `Bearer ${tokens[user]}` }), ...init.headers },
    });

  before(async () => {
    red = await startNodeRedChild(undefined, settingsFile());
    for (const user of Object.keys(USERS) as (keyof typeof USERS)[]) {
      const res = await fetch(`${red.url}auth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          client_id: 'node-red-admin',
          grant_type: 'password',
          scope: user === 'charge' ? '*' : 'read',
          username: user,
          password: USERS[user],
        }),
      });
      assert.equal(res.status, 200, `${user} logs in`);
      tokens[user] = ((await res.json()) as { access_token: string }).access_token;
    }
    // A cart with a history: one phone out past its lending period, one out, one docked. Times
    // are relative to now: a fixed date would turn "out" into Overdue (and a warning) some day.
    const hoursAgo = (hours: number) => new Date(Date.now() - hours * 3_600_000).toISOString();
    mkdirSync(join(red.userDir, 'device-checkout'), { recursive: true });
    const devices = {
      LATE: phoneRecord('LATE', {
        name: 'Cart A 1',
        docked: false,
        status: 'Checked Out',
        user: 'ann',
        userName: 'Ann Late',
        checkedOutAt: hoursAgo(26),
        overdue: true,
        port: 1,
      }),
      OUT: phoneRecord('OUT', { name: 'Cart A 2', docked: false, status: 'Checked Out', user: 'bob', userName: 'Bob Out', checkedOutAt: hoursAgo(2), port: 2 }),
      HOME: phoneRecord('HOME', { name: 'Cart A 3', port: 3, battery: 0.9 }),
    };
    writeFileSync(join(red.userDir, 'device-checkout', 'fleet-fleet.json'), JSON.stringify({ version: 2, devices }));
    const taken = { at: hoursAgo(2), udid: 'OUT', what: 'status', from: 'Checking Out', to: 'Checked Out', who: 'hub', why: 'unplugged' };
    writeFileSync(join(red.userDir, 'device-checkout', 'fleet-fleet.audit.jsonl'), `${JSON.stringify(taken)}\n`);
    // Another ward's fleet on the same Node-RED, with its own nurse out and its own ward page.
    const cora = phoneRecord('CORA', {
      name: 'Ward 5 1',
      docked: false,
      status: 'Checked Out',
      user: 'cora',
      userName: 'Cora Other',
      checkedOutAt: hoursAgo(1),
      port: 1,
    });
    writeFileSync(join(red.userDir, 'device-checkout', 'fleet-other.json'), JSON.stringify({ version: 2, devices: { CORA: cora } }));
    const ward = (id: string, name: string, credentials: object) => ({
      id,
      type: 'device-fleet',
      name,
      mdm: '',
      usb: '',
      lockerApp: 'org.example.locker',
      wardPage: true,
      credentials,
    });
    mdm = new SimulatedNanoMdm(MDM_SECRETS);
    const mdmUrl = await mdm.start();
    mdm.webhookUrl = `${red.url}device-checkout/ward-8-webhook`;
    lost = new SimulatedDevice();
    await mdm.enrol(lost);
    lost.lostMode = { Message: 'Please return this phone to ward 8.' };
    const lostRecord = phoneRecord(lost.udid, { name: 'Ward 8 1', docked: false, status: 'Lost', user: 'dora', lostMode: true, port: 1 });
    writeFileSync(join(red.userDir, 'device-checkout', 'fleet-lost.json'), JSON.stringify({ version: 2, devices: { [lost.udid]: lostRecord } }));
    const flows = [
      {
        id: 'ward-8-mdm',
        type: 'mdm-server',
        vendor: 'nanomdm',
        url: mdmUrl,
        maxConcurrent: '5',
        timeout: '5000',
        webhookPath: 'device-checkout/ward-8-webhook',
        credentials: MDM_SECRETS,
      },
      { ...ward('lost', 'Ward 8', {}), mdm: 'ward-8-mdm', wardPage: false },
      ward('fleet', 'Ward 3', { wardUser: WARD.user, wardPassword: WARD.password }),
      ward('other', 'Ward 5', { wardUser: WARD_5.user, wardPassword: WARD_5.password }),
      ward('open', 'Ward 7', {}),
      ward('half', 'Ward 9', { wardUser: 'ward9' }),
    ];
    await deployFlows(red.url, flows, tokens.charge);
    browser = await launchChromium();
  });

  after(async () => {
    await browser?.close();
    await red?.stop();
    await mdm?.stop();
    const problems = logProblems(red.output());
    for (const expected of EXPECTED_LOG) assert.equal(problems.filter((line) => expected.test(line)).length, 1, `said once: ${expected}`);
    assert.deepEqual(
      problems.filter((line) => !EXPECTED_LOG.some((expected) => expected.test(line))),
      [],
      'no other warning or error in the log',
    );
  });

  it('anonymous gets nothing; a read-only user sees and exports but cannot act; the admin acts, audited under her name', async () => {
    assert.equal((await api('device-checkout/devices')).status, 401);
    assert.equal((await api('device-checkout/devices/OUT/lost', undefined, { method: 'POST', body: '{"reason":"x"}' })).status, 401);

    const listed = (await (await api('device-checkout/devices', 'viewer')).json()) as { devices: { udid: string; status: string; overdue?: boolean }[] };
    assert.deepEqual(listed.devices.map((d) => d.udid).sort(), ['CORA', 'HOME', 'LATE', 'OUT', lost.udid].sort(), 'every fleet of this Node-RED');
    assert.equal((await api('device-checkout/audit?format=csv', 'viewer')).status, 200);
    // The insights: a viewer sees the fleet's figures, not its people's; the admin does.
    assert.equal((await api('device-checkout/insights/checkouts-by-hour?fleet=fleet', 'viewer')).status, 200);
    assert.equal((await api('device-checkout/insights/people?fleet=fleet', 'viewer')).status, 401);
    const people = await api('device-checkout/insights/people?fleet=fleet', 'charge');
    assert.equal(people.status, 200, await people.clone().text());
    assert.deepEqual(((await people.json()) as { columns: string[] }).columns, ['user', 'checkouts', 'overdue', 'most_at_once']);
    const refused = await api('device-checkout/devices/OUT/lost', 'viewer', { method: 'POST', body: JSON.stringify({ reason: 'never came back' }) });
    assert.equal(refused.status, 401, 'Node-RED answers a missing permission as it answers no login');
    assert.equal(
      ((await (await api('device-checkout/devices', 'viewer')).json()) as typeof listed).devices.find((d) => d.udid === 'OUT')?.status,
      'Checked Out',
      'nothing changed',
    );

    const done = await api('device-checkout/devices/LATE/lost', 'charge', { method: 'POST', body: JSON.stringify({ reason: 'not back after two shifts' }) });
    assert.equal(done.status, 200, await done.clone().text());
    assert.equal(((await done.json()) as { device: { status: string } }).device.status, 'Lost');
    const trail = (await (await api('device-checkout/devices/LATE/audit', 'viewer')).json()) as {
      entries: { what: string; to?: string; who?: string; why?: string }[];
    };
    assert.ok(trail.entries.some((e) => e.what === 'status' && e.to === 'Lost' && e.who === 'charge' && e.why === 'not back after two shifts'));
    const bad = await api('device-checkout/devices/HOME/lost', 'charge', { method: 'POST', body: '{}' });
    assert.deepEqual([bad.status, ((await bad.json()) as { code: string }).code], [400, 'INVALID_REASON']);
    const csv = await (await api('device-checkout/audit?format=csv&udid=LATE', 'viewer')).text();
    assert.match(csv, /^at,udid,what,from,to,who,why,name,serial\r\n/);
    assert.match(csv, /LATE,status,Checked Out,Lost,charge,not back after two shifts,Cart A 1,/, 'the phone named, as a person knows it');
  });

  it('the ward page: its own login; who has which phone since when, Overdue first; fits a phone\u2019s screen', async () => {
    const page = (auth?: string, fleet = 'fleet') =>
      fetch(`${red.url}device-checkout/ward/${fleet}`, { headers: auth ? { authorization: `Basic ${Buffer.from(auth).toString('base64')}` } : {} });
    assert.equal((await page()).status, 401);
    assert.equal((await page(`${WARD.user}:wrong`)).status, 401);
    assert.equal((await page(`charge:${USERS.charge}`)).status, 401, 'the editor\u2019s users are not the ward\u2019s');
    const res = await page(`${WARD.user}:${WARD.password}`);
    assert.equal(res.status, 200);
    const html = await res.text();
    assert.ok(html.indexOf('Bob Out') > 0 && !html.includes('Cart A 3'), 'phones out only');
    assert.ok(!html.includes('Cora Other'), 'not another ward\u2019s nurses');
    assert.equal((await page(`${WARD.user}:${WARD.password}`, 'other')).status, 401, 'ward 3\u2019s login does not open ward 5');
    const other = await (await page(`${WARD_5.user}:${WARD_5.password}`, 'other')).text();
    assert.ok(other.includes('Cora Other') && !other.includes('Bob Out'), 'each ward page its own fleet');
    assert.equal((await page('ward9:', 'half')).status, 401, 'a user without a password lets nobody in');
    assert.equal((await page(undefined, 'nowhere')).status, 404);

    const context = await browser.newContext({
      viewport: { width: 390, height: 844 },
      isMobile: true,
      httpCredentials: { username: WARD.user, password: WARD.password },
    });
    const phone = await context.newPage();
    await phone.goto(`${red.url}device-checkout/ward/fleet`);
    const rows = await phone.$$eval('tbody tr', (trs) => trs.map((tr) => tr.textContent ?? ''));
    assert.equal(rows.length, 1, 'the lost phone is no longer out with anyone');
    assert.match(rows[0], /Bob Out/);
    assert.ok(await phone.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth), 'no sideways scrolling on a phone');
    mkdirSync(ARTIFACTS, { recursive: true });
    await phone.screenshot({ path: join(ARTIFACTS, 'ward-page-phone.png'), fullPage: true });
    await context.close();
  });

  /** The editor, logged in as `user`, with the fleet tab open. */
  async function editorAs(user: keyof typeof USERS): Promise<Page> {
    const page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    await page.goto(red.url);
    await page.fill('#node-dialog-login-username', user);
    await page.fill('#node-dialog-login-password', USERS[user]);
    await page.click('#node-dialog-login-submit');
    await page.waitForSelector('.red-ui-palette-node', { timeout: 60_000 });
    await openFleetTab(page);
    await page.waitForSelector('.dc-fleet-view tbody tr[data-udid]');
    return page;
  }

  it('in the editor: a read-only user sees every phone and its trail, with the actions switched off', async () => {
    const page = await editorAs('viewer');
    assert.equal(await page.locator('.dc-fleet-view tbody tr[data-udid]').count(), 5, 'every ward\u2019s phones');
    await page.click('.dc-fleet-view tbody tr[data-udid="OUT"]');
    await page.waitForSelector('.dc-trail li');
    assert.ok(await page.locator('.dc-fleet-detail [data-action="lost"]').isDisabled());
    assert.ok(await page.locator('.dc-read-only').isVisible());
    await page.screenshot({ path: join(ARTIFACTS, 'fleet-view-read-only.png') });
    // Her insights: the fleet's figures, Chart.js loaded under her login; no people's.
    await page.click('.dc-fleet-switch [data-show="insights"]');
    await page.waitForSelector('.dc-figure[data-figure="checkouts-by-hour"][data-drawn]');
    assert.equal(await page.locator('.dc-figure[data-figure="people"]').count(), 0, 'no people for a user who may only look');
    await page.close();
  });

  it('in the editor: the admin marks a phone Retired with a reason, and the list shows it', async () => {
    const page = await editorAs('charge');
    await page.click('.dc-fleet-view tbody tr[data-udid="HOME"]');
    await page.fill('.dc-reason', 'cracked screen');
    await page.click('.dc-fleet-detail [data-action="retired"]');
    await page.waitForFunction(() => document.querySelector('.dc-fleet-view tbody tr[data-udid="HOME"]')?.textContent?.includes('Retired'));
    await page.selectOption('.dc-fleet-filter', 'lost');
    await page.waitForFunction(() => document.querySelectorAll('.dc-fleet-view tbody tr[data-udid]').length === 3, undefined, { timeout: 5000 });
    await page.screenshot({ path: join(ARTIFACTS, 'fleet-view-admin.png') });
    await page.close();
  });

  it('a phone in Lost Mode: the admin locates it (a link to the map) and makes it ring, audited; a viewer cannot; one not in Lost Mode is refused', async () => {
    const row = `.dc-fleet-view tbody tr[data-udid="${lost.udid}"]`;
    const viewer = await editorAs('viewer');
    await viewer.click(row);
    await viewer.waitForSelector('.dc-fleet-detail [data-action="locate"]');
    assert.ok(await viewer.locator('.dc-fleet-detail [data-action="locate"]').isDisabled());
    assert.ok(await viewer.locator('.dc-fleet-detail [data-action="ring"]').isDisabled());
    await viewer.close();
    const asViewer = await api(`device-checkout/devices/${lost.udid}/locate`, 'viewer', { method: 'POST', body: '{}' });
    assert.equal(asViewer.status, 401);

    const page = await editorAs('charge');
    await page.click(row);
    await page.click('.dc-fleet-detail [data-action="locate"]');
    const map = await page.waitForSelector('.dc-last-location a');
    assert.match((await map.getAttribute('href')) ?? '', /^https:\/\/www\.openstreetmap\.org\/\?mlat=52\.52667&mlon=13\.37686#map=18\/52\.52667\/13\.37686$/);
    assert.match(await page.locator('.dc-last-location').innerText(), /52\.52667, 13\.37686 ±35 m at \d{4}-/);
    await page.click('.dc-fleet-detail [data-action="ring"]');
    await waitFor('the phone rang', () => lost.soundsPlayed === 1, 10_000);
    await page.screenshot({ path: join(ARTIFACTS, 'fleet-view-locate.png') });
    await page.close();
    const trail = (await (await api(`device-checkout/devices/${lost.udid}/audit`, 'viewer')).json()) as { entries: { what: string; who?: string }[] };
    assert.deepEqual(
      trail.entries.filter((e) => /Last Location|Lost Mode Sound/.test(e.what)).map((e) => [e.what, e.who]),
      [
        ['attribute: Last Location', 'charge'],
        ['attribute: Lost Mode Sound', 'charge'],
      ],
    );
    const located = await api(`device-checkout/devices/${lost.udid}/locate`, 'charge', { method: 'POST', body: '{}' });
    assert.deepEqual(Object.keys((await located.json()) as object).sort(), ['accuracy', 'at', 'device', 'latitude', 'longitude']);
    const notLost = await api('device-checkout/devices/OUT/locate', 'charge', { method: 'POST', body: '{}' });
    assert.deepEqual([notLost.status, ((await notLost.json()) as { code: string }).code], [409, 'NOT_LOST']);
    assert.deepEqual(mdm.invalidCommands, [], 'every command conforms to Apple\u2019s schema');
  });

  // Last: it locks this host out of the ward pages for 15 minutes.
  it('the ward page slows down wrong logins, then refuses that client (429) and says so once', async () => {
    const wrong = () =>
      fetch(`${red.url}device-checkout/ward/fleet`, { headers: { authorization: `Basic ${Buffer.from(`${WARD.user}:guess`).toString('base64')}` } });
    const started = Date.now();
    const answers: number[] = [];
    for (let i = 0; i < 10; i++) answers.push((await wrong()).status);
    assert.deepEqual(answers, Array(10).fill(401));
    assert.ok(Date.now() - started >= 4000, `slowed down (${Date.now() - started} ms for ten)`);
    const locked = await wrong();
    assert.equal(locked.status, 429);
    assert.ok(Number(locked.headers.get('retry-after')) > 800);
    const right = await fetch(`${red.url}device-checkout/ward/fleet`, {
      headers: { authorization: `Basic ${Buffer.from(`${WARD.user}:${WARD.password}`).toString('base64')}` },
    });
    assert.equal(right.status, 429, 'not even the right password while refused');
  });
});
