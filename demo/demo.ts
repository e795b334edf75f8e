import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type express from 'express';
import { Pool } from 'pg';
import { simulatedHub } from '../sim/hub-registry';
import { SimulatedBadgeServer } from '../sim/badge-server';
import { SimulatedNanoMdm } from '../sim/nanomdm-server';
import { SimulatedCart, locationOf } from '../sim/simulated-cart';
import { SimulatedDevice } from '../sim/simulated-device';
import { simulatedUsbmuxd } from '../sim/usbmuxd-server';
import { registerSimulatedCart } from '../sim/transports';
import type { SimulatedHub } from '../sim/simulated-hub';
import { deployFlows, startNodeRed, waitForWebhook, type Runtime } from './node-red-runtime';
import { PACKAGE_ROOT } from '../nodes/lib/package-root';
import { simulatedReader } from '../sim/simulated-reader';
import { BASE, PHONE_GROUP, SERVICE_DN, startDirectory, type TestDirectory } from '../sim/openldap';

const SECRETS = { apiKey: 'demo-nanomdm-api-key', webhookSecret: 'demo-webhook-hmac-key', wifi: 'demo-wifi-password' };
/** The demo's badges: tap one on the control page. */
export const DEMO_BADGES = new Map([
  ['1001', { user: 'alice', name: 'Alice Adams' }],
  ['1002', { user: 'bashir', name: 'Bashir Rahimi' }],
  ['1003', { user: 'chen', name: 'Chen Wei' }],
  ['1004', { user: 'dana', name: 'Dana Levi' }],
]);
/** Everyone's password in the demo's directory, for signing in on the cart's screen. */
export const DEMO_PASSWORD = 'night-shift';
/** The cart's serial badge reader, `sim:<READER>` in the deployed flows. */
const READER = 'reader';
const HUBS = [
  { id: 'dc-hub-a', name: 'Cart A', sim: 'cart-a' },
  { id: 'dc-hub-b', name: 'Cart B', sim: 'cart-b' },
];

export interface DemoOptions {
  /** 0 picks free ports (Node-RED, the MDM and the badge service); else they take port, +1, +2. */
  port: number;
  /** Dock the ten phones as the demo starts (they then go through Device Prep). */
  dockPhones?: boolean;
  /**
   * Where the demo keeps its Node-RED user directory: the flows as the admin last deployed
   * them survive a restart there. None: a throwaway one.
   */
  userDir?: string;
  /** This cart's part in a fleet shared on PostgreSQL (`npm run start:ward`); none: the file store. */
  shared?: SharedFleet;
}

export interface SharedFleet {
  databaseUrl: string;
  cart: string;
}

export interface Demo extends Runtime {
  /** The hospital's directory (OpenLDAP's slapd) for sign-ins on the cart's screen; none where slapd is not installed. */
  directory?: TestDirectory;
  phones: SimulatedDevice[];
  hubs: SimulatedHub[];
  cart: SimulatedCart;
}

/**
 * The demo takes PORT for the editor and the two ports after it for its simulated MDM and badge
 * service: a port in use is said as the one it is, with the PORT that chose it.
 */
function portTaken(port: number, at: number, what: string): (err: Error & { code?: string }) => never {
  return (err) => {
    if (err.code !== 'EADDRINUSE') throw err;
    throw new Error(
      `port ${at} on 127.0.0.1, the demo's ${what} (PORT=${port} takes ${port} to ${port + 2}), is already in use (another Node-RED or demo?): start with another PORT, e.g. PORT=${port + 10} npm start`,
    );
  };
}

/**
 * Node-RED with the package and the Whole cart and Hands-free Prep examples deployed on a simulated cart: two
 * 8-port hubs, the host's usbmuxd, a NanoMDM with ten phones, a badge lookup service, and a
 * control page at /sim to dock, unplug and tap badges.
 */
export async function startDemo({ port, dockPhones = true, ...options }: DemoOptions): Promise<Demo> {
  registerSimulatedCart();
  const mdm = new SimulatedNanoMdm({ ...SECRETS, checkinDelay: 200, reenrolDelay: 1500 });
  const mdmUrl = await mdm.start(port ? port + 1 : 0).catch(portTaken(port, port + 1, 'simulated MDM'));
  const badges = new SimulatedBadgeServer(DEMO_BADGES);
  const badgeUrl = await badges.start(port ? port + 2 : 0).catch(portTaken(port, port + 2, 'badge service'));
  const hubs = HUBS.map((h) => simulatedHub(h.sim, { ports: 8 }));
  // Sign-in on the cart's screen asks a real directory: slapd where it is installed (apt-get install slapd).
  const directory = await startDirectory(
    [...DEMO_BADGES].map(([badge, { user, name }]) => ({ user, name, badge, password: DEMO_PASSWORD, allowed: true })),
  ).catch(() => undefined);
  const usb = await simulatedUsbmuxd('cart');
  const cart = new SimulatedCart(hubs, usb, 300);
  const phones = Array.from({ length: 10 }, (_, i) => new SimulatedDevice({ serial: `DEMO${String(i + 1).padStart(8, '0')}`, batteryLevel: 0.5 + i * 0.05 }));

  const userDir = options.userDir ?? mkdtempSync(join(tmpdir(), 'device-checkout-demo-'));
  const dataDir = join(userDir, 'device-checkout');
  mkdirSync(dataDir, { recursive: true });
  // The flows the admin last deployed are kept; the cart is new on every start (its phones are
  // simulated afresh), so what the fleet and the MDM learnt of the last one goes.
  const kept = keptFlows(userDir);
  for (const file of readdirSync(dataDir)) rmSync(join(dataDir, file), { recursive: true, force: true });
  // The cart was set up before: its ports' USB locations are known, so docks at the same moment are told apart.
  const locations = Object.fromEntries(HUBS.flatMap((h, i) => Array.from({ length: 8 }, (_, p) => [`${h.id}#${p + 1}`, locationOf(i, p + 1)])));
  writeFileSync(join(userDir, 'device-checkout', 'usb-locations-dc-fleet.json'), JSON.stringify(locations));

  const records = options.shared ? databaseRecords(options.shared) : fileRecords(userDir);
  let editor = '';
  const runtime = await startNodeRed({
    port,
    userDir,
    flows: [],
    beforeStart: (app) =>
      serveControls(app, {
        hubs,
        cart,
        phones,
        records: records.read,
        morning: () => simulateMorning(editor, cart, phones, records.read),
        signIn: directory && { user: [...DEMO_BADGES.values()][0].user, password: DEMO_PASSWORD },
      }),
    logLevel: process.env.DEMO_LOG_LEVEL ?? 'info',
  }).catch(portTaken(port, port, 'editor'));
  editor = runtime.url;
  const webhook = `${runtime.url}device-checkout/webhook`;
  mdm.webhookUrl = webhook;
  await deployFlows(
    runtime.url,
    pointAtDemo(kept ?? DEMO_EXAMPLES.flatMap(exampleFlows).filter(firstOfEachId), { mdmUrl, badgeUrl, directory }, options.shared),
  );
  await waitForWebhook(webhook, SECRETS.webhookSecret);
  for (const phone of phones) {
    await mdm.enrol(phone);
    usb.pair(phone.udid); // supervised phones, paired with this host when the cart was set up
  }
  if (dockPhones) phones.forEach((phone, i) => setTimeout(() => cart.dock(phone, i % 2, Math.floor(i / 2) + 1), 1500 + i * 700));

  return {
    ...runtime,
    directory,
    phones,
    hubs,
    cart,
    async stop() {
      cart.stop();
      await runtime.stop();
      await Promise.all([mdm.stop(), badges.stop(), usb.stop(), records.close(), directory?.remove()]);
    },
  };
}

/** Where the demo's simulators (and its directory, if it has one) listen. */
export interface DemoServers {
  mdmUrl: string;
  badgeUrl: string;
  directory?: Pick<TestDirectory, 'url' | 'servicePassword'>;
}

/** An example (by default Whole cart), pointed at this demo's simulators, with their secrets as credentials. */
export function demoFlows(servers: DemoServers, example = 'Whole cart'): object[] {
  return pointAtDemo(exampleFlows(example), servers);
}

/** What a fresh demo deploys: the three workflows, the hands-free Prep and the admin's tools beside them (one set of config nodes). */
const DEMO_EXAMPLES = ['Whole cart', 'Hands-free Prep', 'Cart tools'];
const firstOfEachId = (node: { id?: unknown }, index: number, nodes: { id?: unknown }[]) => nodes.findIndex((other) => other.id === node.id) === index;

const exampleFlows = (name: string) => JSON.parse(readFileSync(join(PACKAGE_ROOT, 'examples', `${name}.json`), 'utf8')) as Record<string, unknown>[];

/** The flows deployed in `userDir` when the demo last ran, if any. */
function keptFlows(userDir: string): Record<string, unknown>[] | undefined {
  const file = join(userDir, 'flows.json');
  if (!existsSync(file)) return undefined;
  const flows = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>[];
  return Array.isArray(flows) && flows.length > 0 ? flows : undefined;
}

/** Said on the demo's first tab. */
const DEMO_NOTE =
  "**On this demo the examples are deployed already** (Whole cart, Hands-free Prep and Cart tools, on a simulated cart): importing one again adds a second copy (a second tap route, more hub inputs). To start clean, stop the demo and run `npm start -- --fresh`. The simulated cart itself (its hubs, phones and a badge reader to tap) is the [cart page](/sim); every phone, its trail and the admin's actions are in the sidebar's *Device fleet* tab: the editor's menu (☰ at the top right), *View*, *Device fleet*. The *Hands-free Prep* tab's button prepares the phone at Cart A port 1 again with nobody at it. The cart page's *Simulate a morning* has every nurse take a phone and sets the next shift change half an hour ahead with 7 phones wanted: the fleet's *Insights* show the check-outs and the forecast, and the *Cart tools* tab's alert wire gets the `low-stock` event.";

/** Flows pointed at this demo's simulators (they take new ports on every start), with their secrets as credentials. */
function pointAtDemo(flows: Record<string, unknown>[], { mdmUrl, badgeUrl, directory }: DemoServers, shared?: SharedFleet): object[] {
  // The examples name the hardware a user replaces (/dev/ttyACM0, the MDM's URL...): here, the simulated cart.
  const simulated = new Map(HUBS.map((hub) => [hub.name, `sim:${hub.sim}`]));
  // The first tab's comment tells a new admin what is deployed already, before she imports it twice.
  const firstTab = flows.find((node) => node.type === 'tab')?.id;
  const intro = flows.find((node) => node.type === 'comment' && node.z === firstTab);
  return flows.map((node) => {
    if (node === intro && !String(node.info ?? '').startsWith(DEMO_NOTE)) return { ...node, info: `${DEMO_NOTE}\n\n${String(node.info ?? '')}` };
    if (node.type === 'smart-hub' && simulated.has(node.name as string)) return { ...node, serialPort: simulated.get(node.name as string) };
    if (node.type === 'badge-reader') return { ...node, kind: 'serial', path: `sim:${READER}` };
    if (node.type === 'mdm-server') return { ...node, url: mdmUrl, credentials: { apiKey: SECRETS.apiKey, webhookSecret: SECRETS.webhookSecret } };
    if (node.type === 'device-fleet') {
      const signIn = directory && {
        ldapUrl: directory.url,
        ldapBase: BASE,
        ldapGroup: PHONE_GROUP,
        credentials: { ldapBindDn: SERVICE_DN, ldapBindPassword: directory.servicePassword },
      };
      return { ...node, usb: 'sim:cart', badgeLookupUrl: badgeUrl, ...signIn, ...(shared && { store: 'postgres', ...shared }) };
    }
    if (node.type === 'add-wifi') return { ...node, credentials: { password: SECRETS.wifi } };
    return node;
  });
}

/** What a port's LED rows show, as the control page draws it. */
function ledName(hub: SimulatedHub, port: number): string {
  const { rows } = hub.led(port);
  if (rows.every((r) => r === 'firmware')) return hub.isDocked(port) ? 'charging' : 'idle';
  const [green, amber, blue] = rows.map((r) => (r === 'firmware' ? '00000000' : r));
  if (green === '11001100' && amber === '11001100' && blue === '11001100') return 'ready';
  if (amber === '10101010') return 'error';
  if (blue === '11111111') return 'deploying';
  if (green === '11111111') return 'granted';
  return 'off';
}

/** What the control page shows of the fleet: each phone's record, and the newest audit entries. */
interface Records {
  devices: Record<string, { status: string; user?: string; name?: string; checkout?: { deadline: string } }>;
  trail: object[];
}

/** The fleet's records in its file. */
function fileRecords(userDir: string): { read(): Promise<Records>; close(): Promise<void> } {
  const read = (path: string) => {
    try {
      return readFileSync(path, 'utf8');
    } catch {
      return '';
    }
  };
  return {
    read: async () => {
      const devices = (JSON.parse(read(join(userDir, 'device-checkout', 'fleet-dc-fleet.json')) || '{"devices":{}}') as Pick<Records, 'devices'>).devices;
      const audit = read(join(userDir, 'device-checkout', 'fleet-dc-fleet.audit.jsonl'));
      return {
        devices,
        trail: audit
          .trim()
          .split('\n')
          .filter(Boolean)
          .slice(-15)
          .reverse()
          .map((line) => JSON.parse(line) as object),
      };
    },
    close: async () => undefined,
  };
}

/** The fleet's records in the shared database: every phone's, and this cart's newest audit entries. */
function databaseRecords({ databaseUrl, cart }: SharedFleet): { read(): Promise<Records>; close(): Promise<void> } {
  const pool = new Pool({ connectionString: databaseUrl, max: 2 });
  pool.on('error', () => undefined); // the page shows what it can read; the fleet itself says what went wrong
  return {
    read: async () => {
      const devices = await pool.query<{ udid: string; status: string; user: string | null; name: string | null; deadline: Date | null }>(
        'SELECT d.udid, d.status, d.user_id AS user, d.name, k.deadline FROM checkout_devices d LEFT JOIN checkout_deadlines k USING (udid)',
      );
      const trail = await pool.query(
        'SELECT at, udid, what, from_value AS "from", to_value AS "to", who, why FROM checkout_audit WHERE cart = $1 ORDER BY id DESC LIMIT 15',
        [cart],
      );
      return {
        devices: Object.fromEntries(
          devices.rows.map(({ udid, status, user, name, deadline }) => [
            udid,
            { status, ...(user && { user }), ...(name && { name }), ...(deadline && { checkout: { deadline: deadline.toISOString() } }) },
          ]),
        ),
        trail: trail.rows,
      };
    },
    close: () => pool.end(),
  };
}

/**
 * The control page and its API: `GET /sim` (the page), `GET /sim/state` (hubs, phones, fleet
 * statuses, the last audit entries), `POST /sim/phones/<udid>/dock|unplug`, `POST /sim/reader/<badge>`
 * (a badge held to the cart's serial reader), `POST /sim/morning` (see `simulateMorning`), and
 * `GET /sim/phones/<udid>/wallpaper.png`.
 */
function serveControls(
  app: express.Express,
  demo: {
    hubs: SimulatedHub[];
    cart: SimulatedCart;
    phones: SimulatedDevice[];
    records: () => Promise<Records>;
    morning: () => Promise<Morning>;
    signIn?: { user: string; password: string };
  },
): void {
  const { hubs, cart, phones, records, morning, signIn } = demo;
  // The page's links are relative to /sim/: /sim (as printed and typed) comes there first.
  app.get('/sim', (req, res) => {
    const [path, query = ''] = req.originalUrl.split('?');
    if (!path.endsWith('/')) return res.redirect(301, `${path}/${query && `?${query}`}`);
    res.type('html').send(readFileSync(join(PACKAGE_ROOT, 'demo', 'demo-page.html'), 'utf8'));
  });
  app.get('/sim/state', async (_req, res) => {
    const { devices, trail } = await records().catch(() => ({ devices: {}, trail: [] }) as Records);
    res.json({
      badges: [...DEMO_BADGES].map(([badge, holder]) => ({ badge, ...holder })),
      signIn,
      hubs: hubs.map((hub, h) => ({
        name: HUBS[h].name,
        ports: Array.from({ length: hub.portCount }, (_, i) => {
          const phone = phones.find((p) => cart.whereIs(p.udid)?.hub === h && cart.whereIs(p.udid)?.port === i + 1);
          return { port: i + 1, docked: hub.isDocked(i + 1), led: ledName(hub, i + 1), phone: phone?.udid };
        }),
      })),
      phones: phones.map((p) => ({
        udid: p.udid,
        serial: p.serial,
        name: p.name,
        docked: Boolean(cart.whereIs(p.udid)),
        status: devices[p.udid]?.status ?? 'Unknown',
        user: devices[p.udid]?.user,
        unplugBy: devices[p.udid]?.checkout?.deadline,
        wallpaper: Boolean(p.wallpapers.lock),
        erasures: p.erasures,
        returnedToService: p.returnedToService,
        usbWrites: p.lockdownWrites.length,
      })),
      audit: trail,
    });
  });
  app.post('/sim/phones/:udid/:action', (req, res) => {
    const phone = phones.find((p) => p.udid === req.params.udid);
    if (!phone || !['dock', 'unplug'].includes(req.params.action)) return void res.status(404).json({ error: 'POST /sim/phones/<udid>/dock or /unplug' });
    const at = cart.whereIs(phone.udid);
    if (req.params.action === 'unplug') {
      if (at) cart.unplug(at.hub, at.port);
      return void res.json({ ok: true });
    }
    if (at) return void res.json({ ok: true, ...at });
    const free = cart.freePort();
    if (!free) return void res.status(409).json({ error: 'every port is taken' });
    cart.dock(phone, free.hub, free.port);
    res.json({ ok: true, ...free });
  });
  // A badge held to the cart's reader: the Badge Reader node reads it as it would a pcProx's line.
  app.post('/sim/reader/:badge', (req, res) => {
    simulatedReader(READER).tap(req.params.badge);
    res.json({ ok: true });
  });
  app.post('/sim/morning', (_req, res) => {
    morning().then(
      (done) => res.json(done),
      (err: Error) => res.status(500).json({ error: err.message }),
    );
  });
  app.get('/sim/phones/:udid/wallpaper.png', (req, res) => {
    const image = phones.find((p) => p.udid === req.params.udid)?.wallpapers.lock;
    if (!image) return void res.status(404).end();
    res.type('png').send(image);
  });
}

/** What a simulated morning did: the nurses who took a phone, and the shift change it set. */
export interface Morning {
  taken: string[];
  shift: string;
  minimum: number;
}

/** The phones a simulated morning wants ready at the next shift change: more than ten less four leaves. */
const MORNING_MINIMUM = 7;

/**
 * A morning on the cart in seconds: each of the demo's nurses taps her badge at the kiosk route
 * and takes the phone that flashes for her (one refused, e.g. already holding one, takes none);
 * then, as the clock cannot be moved on, the fleet's next shift change is set half an hour ahead
 * with MORNING_MINIMUM phones wanted (deployed as the admin would, the fleet's other fields
 * kept). Its readiness check at the start finds the cart short and raises `low-stock`.
 */
async function simulateMorning(editor: string, cart: SimulatedCart, phones: SimulatedDevice[], records: () => Promise<Records>): Promise<Morning> {
  const taken: string[] = [];
  const status = async (udid: string) => (await records()).devices[udid]?.status;
  for (const badge of DEMO_BADGES.keys()) {
    const answer = await tapWhenFree(editor, badge);
    if (!answer) continue;
    const phone = phones.find((p) => {
      const at = cart.whereIs(p.udid);
      return at && HUBS[at.hub].name === answer.hub && at.port === answer.port;
    });
    if (!phone) continue;
    const at = cart.whereIs(phone.udid)!;
    cart.unplug(at.hub, at.port);
    // The cart hands out one phone at a time: the next nurse once this one is out.
    for (let waited = 0; waited < 100 && (await status(phone.udid)) !== 'Checked Out'; waited++) await sleep(200);
    taken.push(answer.user);
  }
  const soon = new Date(Date.now() + 30 * 60_000);
  const shift = `${String(soon.getHours()).padStart(2, '0')}:${String(soon.getMinutes()).padStart(2, '0')}`;
  const headers = { 'content-type': 'application/json', 'node-red-api-version': 'v2' };
  const { rev, flows } = (await (await fetch(`${editor}flows`, { headers })).json()) as { rev: string; flows: Record<string, unknown>[] };
  const changed = flows.map((node) => (node.type === 'device-fleet' ? { ...node, shiftTimes: shift, readyMinimum: String(MORNING_MINIMUM) } : node));
  const deployed = await fetch(`${editor}flows`, {
    method: 'POST',
    headers: { ...headers, 'node-red-deployment-type': 'nodes' },
    body: JSON.stringify({ rev, flows: changed }),
  });
  if (!deployed.ok) throw new Error(`the shift change could not be deployed: ${deployed.status} ${await deployed.text()}`);
  // Answered once the fleets restarted by the deploy forecast that shift change: until then their figures are not served.
  for (const fleet of changed.filter((node) => node.type === 'device-fleet')) {
    const forecasting = async () => ((await (await fetch(`${editor}device-checkout/readiness/${String(fleet.id)}`)).json()) as { at?: string }).at;
    for (let tries = 0; tries < 100 && !(await forecasting().catch(() => undefined)); tries++) await sleep(100);
  }
  return { taken, shift, minimum: MORNING_MINIMUM };
}

/** A badge tapped at the kiosk route, again while the cart is busy handing out another phone (CART_BUSY); undefined when refused otherwise. */
async function tapWhenFree(editor: string, badge: string): Promise<{ hub: string; port: number; user: string } | undefined> {
  for (let tries = 0; tries < 50; tries++) {
    const tapped = await fetch(`${editor}device-checkout/tap`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ badge }),
    });
    if (tapped.status === 200) return (await tapped.json()) as { hub: string; port: number; user: string };
    if (((await tapped.json()) as { code?: string }).code !== 'CART_BUSY') return undefined;
    await sleep(200);
  }
  return undefined;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
