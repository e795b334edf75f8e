import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { cartPage } from '../../nodes/lib/cart-screen/cart-page';
import type { ScreenState, ScreenView } from '../../nodes/lib/cart-screen/cart-screen';
import { builtFile, PACKAGE_ROOT } from '../../nodes/lib/package-root';
import { DEMO_BADGES, DEMO_PASSWORD } from '../../demo/demo';
import { ARTIFACTS } from '../../harness/artifacts';
import { launchChromium } from '../../harness/chromium';
import { cartState, startDemoChild, untilCart, type DemoChild } from '../../harness/demo-child';
import { startNodeRedChild, type NodeRedChild } from '../../harness/node-red-child';
import { waitFor } from '../../harness/support';

type Texts = Record<string, string | Record<string, string>>;
const catalog = (lang: string): Texts =>
  (JSON.parse(readFileSync(builtFile('nodes', 'device-fleet', 'locales', lang, 'device-fleet.json'), 'utf8')) as { 'device-fleet': { screen: Texts } })[
    'device-fleet'
  ].screen;
const TEXTS = { 'en-US': catalog('en-US'), de: catalog('de') };
/** A catalog text with its placeholders filled, as the page says it. */
const said = (lang: keyof typeof TEXTS, path: string, values: Record<string, unknown> = {}): string => {
  const text = path.split('.').reduce<unknown>((node, part) => (node as Texts)?.[part], TEXTS[lang]) as string;
  assert.ok(text, `${lang} ${path}`);
  return text.replace(/__(\w+)__/g, (_, name: string) => String(values[name]));
};
const SCRIPT = readFileSync(join(PACKAGE_ROOT, 'resources', 'cart-screen.js'), 'utf8');

/** Records each tone the page starts (Web Audio), as a person hears the beeps. */
const COUNT_TONES = () => {
  const w = window as unknown as { tones: number };
  w.tones = 0;
  const start = OscillatorNode.prototype.start;
  OscillatorNode.prototype.start = function (this: OscillatorNode, ...args: Parameters<typeof start>) {
    w.tones++;
    return start.apply(this, args);
  };
};
const tones = (page: Page) => page.evaluate(() => (window as unknown as { tones: number }).tones);
const stateText = (page: Page) => page.locator('#state').innerText();

describe('the cart screen page: every refusal in words, in en-US and de (the page and its script in Chromium)', function () {
  this.timeout(60_000);
  let browser: Browser;
  let server: ReturnType<typeof createServer>;
  let url: string;
  const streams = new Set<ServerResponse>();
  const show = (state: ScreenState, beeps?: number) => {
    const view: ScreenView = { state, ports: [], seq: Date.now(), now: new Date().toISOString(), ...(beeps && { beeps }) };
    for (const res of streams) res.write(`data: ${JSON.stringify(view)}\n\n`);
  };

  before(async () => {
    server = createServer((req, res) => {
      if (req.url === '/screen/events') {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        streams.add(res);
        return void res.on('close', () => streams.delete(res));
      }
      res.setHeader('content-type', 'text/html');
      res.end(cartPage({ title: 'Ward 3', lang: '', volume: 0.7, locked: false, base: '/screen', texts: TEXTS }, SCRIPT));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/screen`;
    browser = await launchChromium(['--autoplay-policy=no-user-gesture-required']);
    mkdirSync(ARTIFACTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    for (const res of streams) res.end();
    server?.close();
  });

  const refusals: [ScreenState & { kind: 'refused' }, string, Record<string, unknown>?][] = [
    [{ kind: 'refused', code: 'BADGE_NOT_FOUND' }, 'refusals.badge-unknown'],
    [{ kind: 'refused', code: 'SIGN_IN_FAILED' }, 'refusals.sign-in-failed'],
    [{ kind: 'refused', code: 'SIGN_IN_LOCKED', minutes: 4 }, 'refusals.sign-in-locked', { minutes: 4 }],
    [{ kind: 'refused', code: 'NOT_IN_GROUP' }, 'refusals.not-in-group'],
    [{ kind: 'refused', code: 'DIRECTORY_UNAVAILABLE' }, 'refusals.directory-down'],
    [{ kind: 'refused', code: 'BADGE_LOOKUP_FAILED' }, 'refusals.badges-down'],
    [{ kind: 'refused', code: 'NO_DEVICE_AVAILABLE', charging: true }, 'refusals.charging'],
    [{ kind: 'refused', code: 'NO_DEVICE_AVAILABLE', charging: false }, 'refusals.empty'],
    [{ kind: 'refused', code: 'USER_HAS_DEVICE' }, 'refusals.has-phone'],
    [{ kind: 'refused', code: 'CART_BUSY' }, 'refusals.busy'],
    [{ kind: 'refused', code: 'UNPLUG_TIMEOUT' }, 'refusals.not-taken'],
    [{ kind: 'refused', code: 'UNLOCK_FAILED' }, 'refusals.no-unlock'],
    [{ kind: 'refused', code: 'STORE_UNAVAILABLE' }, 'refusals.other'],
  ];

  for (const lang of ['en-US', 'de'] as const) {
    it(`${lang} (the browser's language): each refusal says what happened and what to do, never a code; it fits 800x480`, async () => {
      const page = await browser.newPage({ viewport: { width: 800, height: 480 }, locale: lang === 'de' ? 'de-DE' : 'en-US' });
      await page.addInitScript(COUNT_TONES);
      await page.goto(url);
      await waitFor('the stream', () => streams.size === 1);
      for (const [state, key, values] of refusals) {
        show({ ...state, name: 'Dana Levi' }, 2);
        await page.waitForFunction((text) => document.querySelector('#state .words')?.textContent === text, said(lang, key, values));
        assert.doesNotMatch(await stateText(page), /[A-Z]+_[A-Z]+/, `${state.code}: no code`);
      }
      show({ kind: 'refused', code: 'USER_HAS_DEVICE', name: 'Dana Levi', held: { cart: 'Cart B', port: 5 } }, 4);
      const place = said(lang, 'place-at-cart', { cart: 'Cart B', port: 5 });
      await page.waitForFunction((text) => document.querySelector('#state .words')?.textContent === text, said(lang, 'refusals.has-phone-at', { place }));
      const box = (await page.locator('#state .words').boundingBox())!;
      assert.ok(box.y + box.height <= 480 && box.x + box.width <= 800, `the words fit the screen: ${JSON.stringify(box)}`);
      assert.ok(await page.evaluate(() => document.documentElement.scrollHeight <= innerHeight), 'nothing scrolls');
      await page.screenshot({ path: join(ARTIFACTS, `cart-screen-refused-${lang}-800x480.png`) });
      assert.equal(await tones(page), 2 * refusals.length + 4, 'each refusal beeped as it came');
      streams.forEach((res) => res.end());
      await page.close();
    });
  }

  it('a name or a message written as markup is shown as text', async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(url);
    await waitFor('the stream', () => streams.size === 1);
    show({ kind: 'message', text: '<img src=x onerror="document.title=1">Handover at 19:00' });
    await page.waitForFunction(() => document.querySelector('#state .words')?.textContent?.endsWith('Handover at 19:00'));
    assert.equal(await page.locator('#state img').count(), 0);
    show({ kind: 'welcome', name: '<b>Eve</b>', hub: 'Cart A', port: 3, deadline: new Date(Date.now() + 30_000).toISOString() });
    await page.waitForFunction(() => document.querySelector('#state .mid')?.textContent === 'Hello, <b>Eve</b>');
    streams.forEach((res) => res.end());
    await page.close();
  });
});

describe('a fleet’s cart screen in a real Node-RED process: its PIN, its stream, a restart', function () {
  this.timeout(90_000);
  let red: NodeRedChild;
  let browser: Browser;
  const PIN = '4711';
  const flows = (checkout = true) => [
    { id: 'tab', type: 'tab', label: 'Cart' },
    {
      id: 'mdm',
      type: 'mdm-server',
      vendor: 'nanomdm',
      url: 'http://127.0.0.1:9',
      maxConcurrent: '5',
      timeout: '5000',
      webhookPath: '',
      credentials: { apiKey: 'k' },
    },
    {
      id: 'fleet',
      type: 'device-fleet',
      name: 'Ward 3 cart',
      mdm: 'mdm',
      usb: '',
      lockerApp: 'org.example.locker',
      cart: 'ward-3',
      cartScreen: true,
      cartScreenVolume: '40',
      credentials: { cartScreenPin: PIN },
    },
    // A second cart's fleet on the same Node-RED: its own screen, no PIN.
    { id: 'fleet-5', type: 'device-fleet', name: 'Ward 5 cart', mdm: 'mdm', usb: '', lockerApp: 'org.example.locker', cart: 'ward-5', cartScreen: true },
    ...(checkout ? [{ id: 'checkout', type: 'check-out-device', z: 'tab', fleet: 'fleet', wires: [[]] }] : []),
    { id: 'show-in', type: 'http in', z: 'tab', url: '/show', method: 'post', wires: [['display']] },
    { id: 'display', type: 'cart-display', z: 'tab', fleet: 'fleet', seconds: '30', wires: [['show-out']] },
    { id: 'show-out', type: 'http response', z: 'tab', statusCode: '204', wires: [] },
  ];
  const screen = () => `${red.url}device-checkout/cart/ward-3`;

  before(async () => {
    red = await startNodeRedChild();
    await red.deploy(flows());
    browser = await launchChromium();
  });
  after(async () => {
    await browser?.close();
    await red?.stop();
  });

  it('asks for the PIN first: nothing of the cart without it; the right PIN opens the screen, its cookie for that address only', async () => {
    assert.equal((await fetch(`${screen()}/events`)).status, 401);
    assert.match(await (await fetch(screen())).text(), /"locked":true/);
    const pin = (value: string, cookie = '') =>
      fetch(`${screen()}/pin`, { method: 'POST', headers: { 'content-type': 'application/json', cookie }, body: JSON.stringify({ pin: value }) });
    assert.equal((await pin('0000')).status, 401);
    const right = await pin(PIN);
    assert.equal(right.status, 204);
    const cookie = right.headers.get('set-cookie')!.split(';')[0];
    assert.match(right.headers.get('set-cookie')!, /HttpOnly/i);
    const events = await fetch(`${screen()}/events`, { headers: { cookie } });
    assert.equal(events.status, 200);
    const reader = events.body!.getReader();
    const first = new TextDecoder().decode((await reader.read()).value);
    assert.match(first, /retry: 1000/);
    await reader.cancel();
    assert.equal(
      (await fetch(`${red.url}device-checkout/cart/fleet/events`, { headers: { cookie } })).status,
      401,
      'the cookie is for the address it was earned at',
    );
    assert.match(await (await fetch(`${red.url}device-checkout/cart/ward-5`)).text(), /"locked":false/, 'the cart beside it has no PIN');
    const beside = await fetch(`${red.url}device-checkout/cart/ward-5/events`);
    assert.equal(beside.status, 200);
    await beside.body?.cancel();
  });

  it('in Chromium: the PIN pad, then the screen; an admin’s message from a flow; Node-RED restarted: it reconnects by itself', async () => {
    const page = await browser.newPage({ viewport: { width: 800, height: 480 } });
    await page.goto(screen());
    await page.fill('#pin input', PIN);
    await page.click('#pin button');
    await page.waitForSelector('#sign-in-open');
    assert.equal(await page.locator('#title').innerText(), 'ward-3');
    const shown = await fetch(`${red.url}show`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'Handover at 19:00' });
    assert.equal(shown.status, 204);
    await page.waitForFunction(() => document.querySelector('#state')?.textContent === 'Handover at 19:00');
    const beside = await browser.newPage({ viewport: { width: 800, height: 480 } });
    await beside.goto(`${red.url}device-checkout/cart/ward-5`);
    await beside.waitForSelector('#sign-in-open');
    assert.equal(await beside.locator('#title').innerText(), 'ward-5');
    assert.equal(await beside.locator('#state .big').innerText(), said('en-US', 'idle'), 'the message is for ward 3\u2019s screen only');
    await beside.close();

    await red.stop();
    await page.waitForSelector('#offline:not([hidden])');
    red = await startNodeRedChild({ userDir: red.userDir, url: red.url });
    await page.waitForSelector('#offline', { state: 'hidden', timeout: 20_000 });
    await page.waitForSelector('#sign-in-open');
    await page.close();
  });

  it('the language and the volume set in the fleet: German in an English browser; at volume 0 a refusal makes no sound', async () => {
    const flow = flows();
    Object.assign(
      flow.find((node) => node.id === 'fleet')!,
      { cartScreenLanguage: 'de', cartScreenVolume: '0' },
    );
    await red.deploy(flow);
    await waitFor('the screen served again', async () => (await fetch(screen())).status === 200);
    const page = await browser.newPage({ viewport: { width: 1280, height: 800 }, locale: 'en-US' });
    await page.addInitScript(COUNT_TONES);
    await page.goto(screen());
    await page.fill('#pin input', PIN);
    await page.click('#pin button');
    await page.waitForFunction((text) => document.querySelector('#state .big')?.textContent === text, said('de', 'idle'));
    await page.click('#sign-in-open');
    await page.fill('#sign-in input[name=user]', 'alice');
    await page.fill('#sign-in input[name=password]', 'secret');
    await page.click('#sign-in button[type=submit]');
    await page.waitForFunction((text) => document.querySelector('#state .words')?.textContent === text, said('de', 'refusals.other'));
    assert.equal(await tones(page), 0, 'muted');
    assert.ok(await page.evaluate(() => document.documentElement.scrollHeight <= innerHeight), 'nothing scrolls at 1280x800');
    await page.screenshot({ path: join(ARTIFACTS, 'cart-screen-refused-de-1280x800.png') });
    await page.close();
    await red.deploy(flows());
    await waitFor('the screen served again', async () => (await fetch(screen())).status === 200);
  });

  it('a sign-in from the screen goes to the fleet’s check-out node, and only from the screen’s own page', async () => {
    const page = await browser.newPage({ viewport: { width: 800, height: 480 } });
    await page.goto(screen());
    await page.fill('#pin input', PIN);
    await page.click('#pin button');
    await page.click('#sign-in-open');
    await page.fill('#sign-in input[name=user]', 'alice');
    await page.fill('#sign-in input[name=password]', 'secret');
    await page.click('#sign-in button[type=submit]');
    // This fleet has no directory: the sign-in is refused (NO_DIRECTORY), said in words.
    await page.waitForFunction((text) => document.querySelector('#state .words')?.textContent === text, said('en-US', 'refusals.other'));
    assert.equal(await page.locator('#sign-in').isHidden(), true);
    const cookie = (await page.context().cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
    const foreign = await fetch(`${screen()}/sign-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie, origin: 'https://evil.example' },
      body: JSON.stringify({ user: 'alice', password: 'x' }),
    });
    assert.equal(foreign.status, 403);
    await red.deploy(flows(false));
    await waitFor('the screen served again', async () => (await fetch(screen())).status === 200);
    const nowhere = await fetch(`${screen()}/sign-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie },
      body: JSON.stringify({ user: 'a', password: 'b' }),
    });
    assert.deepEqual([nowhere.status, ((await nowhere.json()) as { code: string }).code], [409, 'INVALID_CONFIG']);
    await page.close();
  });
});

describe('the demo’s cart screen in Chromium: a nurse at the cart', function () {
  this.timeout(120_000);
  let demo: DemoChild;
  let browser: Browser;
  let page: Page;
  const [[aliceBadge, alice], [, bashir]] = [...DEMO_BADGES];

  before(async () => {
    demo = await startDemoChild();
    browser = await launchChromium(['--autoplay-policy=no-user-gesture-required']);
    await untilCart(demo.url, 'ten phones checked in', (s) => s.phones.filter((p) => p.status === 'Checked In').length === 10, 90_000);
    page = await browser.newPage({ viewport: { width: 800, height: 480 } });
    await page.addInitScript(COUNT_TONES);
    await page.goto(`${demo.url}device-checkout/cart/dc-fleet`);
    await page.waitForSelector('#sign-in-open');
  });
  after(async () => {
    await browser?.close();
    await demo?.stop();
  });

  const hold = (badge: string) => fetch(`${demo.url}sim/reader/${badge}`, { method: 'POST' });
  const takePhone = async () => {
    const waiting = (await cartState(demo.url)).phones.find((p) => p.status === 'Checking Out')!;
    await fetch(`${demo.url}sim/phones/${waiting.udid}/unplug`, { method: 'POST' });
  };
  const signIn = async (user: string, password: string) => {
    await page.click('#sign-in-open');
    await page.fill('#sign-in input[name=user]', user);
    await page.fill('#sign-in input[name=password]', password);
    await page.click('#sign-in button[type=submit]');
  };

  // How fast the screen follows a read is the bench's to say (npm run bench -- front), not a timed assertion.
  it('idle; a badge on the serial reader: her name, the port and a countdown, one beep; unplugged: taken, then idle', async () => {
    assert.equal(await page.locator('#state .big').innerText(), said('en-US', 'idle'));
    await page.screenshot({ path: join(ARTIFACTS, 'cart-screen-idle-800x480.png') });
    const before = await tones(page);
    await hold(aliceBadge);
    await page.waitForFunction((name) => document.querySelector('#state .mid')?.textContent === name, said('en-US', 'hello', { name: alice.name }));
    const welcome = await stateText(page);
    assert.match(welcome, /Take the phone at port \d/);
    assert.match(welcome, /\d+ s left to take it/);
    await page.screenshot({ path: join(ARTIFACTS, 'cart-screen-welcome-800x480.png') });
    assert.equal((await tones(page)) - before, 1);
    await takePhone();
    await page.waitForFunction((text) => document.querySelector('#state .big')?.textContent === text, said('en-US', 'taken'));
    await page.waitForFunction((text) => document.querySelector('#state .big')?.textContent === text, said('en-US', 'idle'), { timeout: 10_000 });
  });

  it('two beeps and words for an unknown badge; four and where her phone is when she has one already', async () => {
    let before = await tones(page);
    await hold('0000');
    await page.waitForFunction((text) => document.querySelector('#state .words')?.textContent === text, said('en-US', 'refusals.badge-unknown'));
    await waitFor('two beeps', async () => (await tones(page)) - before === 2);
    before = await tones(page);
    await hold(aliceBadge);
    await page.waitForFunction(() =>
      /You already have a phone: .*port \d\. Return it first\./.test(document.querySelector('#state .words')?.textContent ?? ''),
    );
    await waitFor('four beeps', async () => (await tones(page)) - before === 4);
  });

  it('sign-in through the demo’s OpenLDAP: a wrong password in words; the right one checks a phone out', async () => {
    await signIn(bashir.user, 'not-my-password');
    await page.waitForFunction((text) => document.querySelector('#state .words')?.textContent === text, said('en-US', 'refusals.sign-in-failed'));
    await signIn(bashir.user, DEMO_PASSWORD);
    await page.waitForFunction((name) => document.querySelector('#state .mid')?.textContent === name, said('en-US', 'hello', { name: bashir.name }));
    await takePhone();
    await page.waitForFunction((text) => document.querySelector('#state .big')?.textContent === text, said('en-US', 'taken'));
    const state = await cartState(demo.url);
    assert.deepEqual(
      state.phones
        .filter((p) => p.status === 'Checked Out')
        .map((p) => p.user)
        .sort(),
      [alice.user, bashir.user],
    );
  });
});
