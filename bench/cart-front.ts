import { readFileSync } from 'node:fs';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Client, EqualityFilter, OrFilter } from 'ldapts';
import helper from 'node-red-node-test-helper';
import type { Node, NodeMessage } from 'node-red';
import { launchChromium } from '../harness/chromium';
import { nodeHttpApp } from '../harness/node-red';
import { tempDir } from '../harness/support';
import { cartPage } from '../nodes/lib/cart-screen/cart-page';
import type { ScreenState, ScreenView } from '../nodes/lib/cart-screen/cart-screen';
import { builtFile, PACKAGE_ROOT } from '../nodes/lib/package-root';
import { BASE, PHONE_GROUP, SERVICE_DN, startDirectory } from '../sim/openldap';
import { PtyPair } from '../sim/pty-pair';
import { BADGE, bareClient, checkoutLedWire, startRemoteMdm, tapsToReady } from './checkout';
import { median, ms, percentile, sleep } from './stats';

/** The screen's views as a browser on the cart host receives them: over its event stream, from the test runtime's HTTP. */
async function followScreen(): Promise<{ next(match: (view: ScreenView) => boolean): Promise<ScreenView>; close(): Promise<void> }> {
  const server: Server = createServer(nodeHttpApp() as unknown as Parameters<typeof createServer>[1]);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const abort = new AbortController();
  const res = await fetch(`http://127.0.0.1:${(server.address() as AddressInfo).port}/device-checkout/cart/fleet/events`, { signal: abort.signal });
  const waiting = new Set<{ match: (view: ScreenView) => boolean; resolve: (view: ScreenView) => void }>();
  void (async () => {
    let buffer = '';
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffer += decoder.decode(chunk, { stream: true });
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const event = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (!event.startsWith('data: ')) continue;
        const view = JSON.parse(event.slice(6)) as ScreenView;
        for (const wait of waiting) {
          if (!wait.match(view)) continue;
          waiting.delete(wait);
          wait.resolve(view);
        }
      }
    }
  })().catch(() => undefined);
  return {
    next: (match) => new Promise((resolve) => waiting.add({ match, resolve })),
    close: async () => {
      abort.abort();
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

export interface ReaderToScreenResult {
  samples: number;
  /** From the read on the reader's serial line to the screen's view with her name and port arriving at its browser, ms. */
  screen: { p50: number; p99: number };
  /** The same taps to the flashing-white LED. */
  led: { p50: number; p99: number };
}

/**
 * Badge reads on a serial reader behind a real pty (the badge-reader node, 9600 baud, CR LF) on a
 * cart with its screen on: each read's time until the screen's event stream brings her name and
 * the port, beside the same tap's time until flashing white. Reads are a little over a second
 * apart, as the reader counts a card held longer once.
 */
export async function measureReaderToScreen(samples: number): Promise<ReaderToScreenResult> {
  const { mdm, close } = await startRemoteMdm();
  const path = join(tempDir('bench-reader'), 'ttyREADER');
  const reader = await PtyPair.start(path);
  let screen: Awaited<ReturnType<typeof followScreen>> | undefined;
  const shown: number[] = [];
  let lastRead = 0;
  const led = await tapsToReady(samples, mdm, { cartScreen: true }, undefined, undefined, {
    nodes: [{ id: 'reader', type: 'badge-reader', kind: 'serial', path, baudRate: '9600', lineEnd: 'crlf', wires: [['checkout']] }],
    started: async () => {
      screen = await followScreen();
      await sleep(1000); // the reader's port opened
    },
    before: () => sleep(Math.max(0, lastRead + 1100 - Date.now())),
    tap: async () => {
      const welcome = screen!.next((view) => view.state.kind === 'welcome');
      const read = performance.now();
      reader.port.write(`${BADGE}\r\n`);
      lastRead = Date.now();
      await welcome;
      shown.push(performance.now() - read);
    },
  });
  await screen?.close();
  await Promise.all([reader.stop(), close()]);
  return { samples, screen: { p50: median(shown), p99: percentile(shown, 99) }, led: { p50: median(led), p99: percentile(led, 99) } };
}

export function formatReaderToScreen(r: ReaderToScreenResult): string {
  return (
    `${r.samples} reads on a serial reader (pty) to the screen showing name and port: p50 ${ms(r.screen.p50)}, p99 ${ms(r.screen.p99)}; ` +
    `the same taps to flashing white: p50 ${ms(r.led.p50)}, p99 ${ms(r.led.p99)}; screen p99/LED p99 ${(r.screen.p99 / r.led.p99).toFixed(2)} (target at most 1.2)`
  );
}

export interface SignInResult {
  samples: number;
  p50: number;
  p99: number;
  /** A bare LDAP client doing what a sign-in asks of the directory (search as the service account, bind as her, the group), median. */
  ldap: number;
  /** One MDM enqueue and acknowledgement by a bare client, median: a check-out needs two. */
  roundTrip: number;
  /** One HTTP badge lookup by a bare client, median: the badge tap's floor has it. */
  lookup: number;
  /** The bare client's directory questions and two round trips in a row, p99: the tail the simulated machines have. */
  bareP99: number;
  ledWire: number;
}

const PASSWORD = 'Bench-night-shift-1';

/**
 * Sign-ins (`msg.user` and `msg.password` into check-out-device) checked by a real slapd on
 * loopback, to Checking Out and flashing white, beside their floor measured in the same run: a
 * bare ldapts client's search-and-bind, two MDM round trips, and the LED commands on the wire.
 */
export async function measureSignIn(samples: number): Promise<SignInResult> {
  const directory = await startDirectory([{ user: 'alice', name: 'Alice Example', badge: BADGE, password: PASSWORD, allowed: true }]);
  const { mdm, close } = await startRemoteMdm();
  const fleet = { ldapUrl: directory.url, ldapBase: BASE, ldapGroup: PHONE_GROUP };
  const signIns = await tapsToReady(samples, mdm, fleet, undefined, undefined, {
    credentials: { fleet: { ldapBindDn: SERVICE_DN, ldapBindPassword: directory.servicePassword } },
    tap: async () => (helper.getNode('checkout') as Node).receive({ user: 'alice', password: PASSWORD } as NodeMessage),
  });
  // What the directory is asked for each sign-in, by a bare client; alone, and with the MDM's round trips in a row.
  const askDirectory = async () => {
    const client = new Client({ url: directory.url });
    await client.bind(SERVICE_DN, directory.servicePassword);
    const { searchEntries } = await client.search(BASE, { scope: 'sub', filter: new EqualityFilter({ attribute: 'sAMAccountName', value: 'alice' }) });
    await client.bind(searchEntries[0].dn, PASSWORD);
    await client.bind(SERVICE_DN, directory.servicePassword);
    await client.search(PHONE_GROUP, {
      scope: 'base',
      filter: new OrFilter({ filters: [new EqualityFilter({ attribute: 'member', value: searchEntries[0].dn })] }),
    });
    await client.unbind();
  };
  const { roundTrips, lookups: ldap, bare } = await bareClient(mdm, samples, askDirectory);
  const { lookups } = await bareClient(mdm, samples);
  await Promise.all([close(), directory.remove()]);
  return {
    samples,
    p50: median(signIns),
    p99: percentile(signIns, 99),
    ldap: median(ldap),
    roundTrip: median(roundTrips),
    lookup: median(lookups),
    bareP99: percentile(bare, 99),
    ledWire: checkoutLedWire(),
  };
}

export function formatSignIn(r: SignInResult): string {
  // The floor: the directory's part and the badge tap's floor (its lookup included); and what a sign-in does need.
  const floor = r.ldap + 2 * r.roundTrip + r.lookup + r.ledWire;
  const needed = r.ldap + 2 * r.roundTrip + r.ledWire;
  return (
    `${r.samples} sign-ins through a real slapd to flashing white: p50 ${ms(r.p50)}, p99 ${ms(r.p99)}; ` +
    `floor ${ms(floor)} = the directory's search and binds by a bare client ${ms(r.ldap)} + the badge tap's floor (2 MDM round trips 2 x ${ms(r.roundTrip)} + lookup ${ms(r.lookup)} + LED wire ${ms(r.ledWire)}); ` +
    `p50/floor ${(r.p50 / floor).toFixed(2)}, p99/floor ${(r.p99 / floor).toFixed(2)} (target at most 1.2); without the lookup a sign-in does not make: p99/${ms(needed)} ${(r.p99 / needed).toFixed(2)}; ` +
    `the bare client's directory questions and round trips in a row, p99 ${ms(r.bareP99)}: p99/(its p99 + LED wire) ${(r.p99 / (r.bareP99 + r.ledWire)).toFixed(2)}`
  );
}

export interface ScreenMemoryResult {
  early: number;
  taps: number;
  late: number;
  /** DOM nodes of the page at each point. */
  nodes: { early: number; late: number };
}

/**
 * The cart screen's page in Chromium, fed the views a cart sends for `taps` taps (her welcome,
 * "taken", idle; every tenth tap a refusal), its JavaScript heap after garbage collection after
 * 50 taps and after all of them.
 */
export async function measureScreenMemory(taps: number): Promise<ScreenMemoryResult> {
  const texts = Object.fromEntries(
    ['en-US', 'de'].map((lang) => [
      lang,
      (JSON.parse(readFileSync(builtFile('nodes', 'device-fleet', 'locales', lang, 'device-fleet.json'), 'utf8')) as { 'device-fleet': { screen: unknown } })[
        'device-fleet'
      ].screen,
    ]),
  );
  const script = readFileSync(join(PACKAGE_ROOT, 'resources', 'cart-screen.js'), 'utf8');
  let stream: ServerResponse | undefined;
  const server = createServer((req, res) => {
    if (req.url === '/screen/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      stream = res;
      return;
    }
    res.setHeader('content-type', 'text/html');
    res.end(cartPage({ title: 'Ward 3', lang: 'en-US', volume: 0.5, locked: false, base: '/screen', texts }, script));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const browser = await launchChromium(['--autoplay-policy=no-user-gesture-required']);
  const page = await browser.newPage({ viewport: { width: 800, height: 480 } });
  const cdp = await page.context().newCDPSession(page);
  await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/screen`);
  while (!stream) await sleep(10);
  const ports = Array.from({ length: 16 }, (_, i) => ({
    hub: i < 8 ? 'Cart A' : 'Cart B',
    port: (i % 8) + 1,
    phone: `Phone ${i + 1}`,
    status: 'Checked In',
    battery: 80,
    ready: true,
  }));
  let seq = 0;
  const send = (state: ScreenState, beeps?: number) => {
    const view: ScreenView = { state, ports, seq: ++seq, now: new Date().toISOString(), ...(beeps && { beeps }) };
    stream!.write(`data: ${JSON.stringify(view)}\n\n`);
  };
  const tap = (i: number) => {
    if (i % 10 === 9) return send({ kind: 'refused', code: 'USER_HAS_DEVICE', name: `Nurse ${i}`, held: { cart: 'Cart B', port: 5 } }, 4);
    send({ kind: 'welcome', name: `Nurse ${i} Ångström`, hub: 'Cart A', port: (i % 8) + 1, deadline: new Date(Date.now() + 60_000).toISOString() }, 1);
    send({ kind: 'taken', name: `Nurse ${i} Ångström` });
    send({ kind: 'idle' });
  };
  const heap = async (): Promise<{ bytes: number; nodes: number }> => {
    // Every view drawn (a last one says so), the beeps played out, then what stays after a full collection.
    const end = `end of ${seq}`;
    send({ kind: 'message', text: end });
    await page.waitForFunction((text) => document.querySelector('#state')?.textContent === text, end, { timeout: 120_000 });
    await sleep(1500);
    await cdp.send('HeapProfiler.collectGarbage');
    const { usedSize } = await cdp.send('Runtime.getHeapUsage');
    const { nodes } = await cdp.send('Memory.getDOMCounters');
    return { bytes: usedSize, nodes };
  };
  for (let i = 0; i < 50; i++) tap(i);
  const early = await heap();
  for (let i = 50; i < taps; i++) {
    tap(i);
    if (i % 100 === 0) await sleep(20); // a burst at a time, as the stream delivers them
  }
  const late = await heap();
  await browser.close();
  stream?.end();
  server.close();
  return { early: early.bytes, taps, late: late.bytes, nodes: { early: early.nodes, late: late.nodes } };
}

export function formatScreenMemory(r: ScreenMemoryResult): string {
  return (
    `the cart screen in Chromium: JS heap after 50 taps ${(r.early / 1024).toFixed(0)} KiB, after ${r.taps} ${(r.late / 1024).toFixed(0)} KiB ` +
    `(ratio ${(r.late / r.early).toFixed(2)}, target at most 1.2); DOM nodes ${r.nodes.early} and ${r.nodes.late}`
  );
}
