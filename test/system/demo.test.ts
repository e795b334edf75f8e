import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { demoFlows } from '../../demo/demo';
import { cartState, pressHandsFreePrep, startDemoChild, untilCart, type DemoChild } from '../../harness/demo-child';
import { logProblems, startChild } from '../../harness/node-red-child';
import { sleep, tempDir, waitFor } from '../../harness/support';
import { deployFlows } from '../../demo/node-red-runtime';
import { builtFile, PACKAGE_ROOT as ROOT } from '../../nodes/lib/package-root';
import WebSocket from 'ws';

const PACKAGE = 'node-red-contrib-device-checkout';
const TYPES = Object.keys(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))['node-red'].nodes as object);
const EXAMPLES = readdirSync(join(ROOT, 'examples')).map((f) => f.replace(/\.json$/, ''));

/** `npm start`'s program, on free loopback ports: Node-RED, the simulated cart and the examples. */
describe('the demo (npm start) in a real Node-RED process', function () {
  this.timeout(60_000);
  let demo: DemoChild;
  let url: string;

  before(async () => {
    demo = await startDemoChild();
    url = demo.url;
  });

  after(() => demo.stop());

  const get = async (path: string, accept = 'application/json') => fetch(url + path, { headers: { accept } });
  const cart = () => cartState(url);

  it('loads every node of the package from the working tree without an error', async () => {
    const sets = ((await (await get('nodes')).json()) as { id: string; enabled: boolean; err?: string; types: string[] }[]).filter((s) =>
      s.id.startsWith(`${PACKAGE}/`),
    );
    assert.deepEqual(sets.map((s) => s.types[0]).sort(), [...TYPES].sort());
    for (const set of sets) assert.ok(set.enabled && !set.err, `${set.id}: ${set.err}`);
  });

  it('serves the editor, the help, the icons and both languages where Node-RED looks', async () => {
    const html = await (await get('nodes', 'text/html')).text();
    for (const type of TYPES) {
      assert.match(html, new RegExp(`RED\\.nodes\\.registerType\\('${type}'`));
      assert.match(html, new RegExp(`data-help-name="${type}"`));
    }
    assert.equal((await get(`icons/${PACKAGE}/smart-hub.svg`, 'image/svg+xml')).status, 200);
    const de = (await (await get(`locales/${PACKAGE}/hub-led?lng=de`)).json()) as { 'hub-led': { paletteLabel: string } };
    assert.equal(de['hub-led'].paletteLabel, 'Hub-LED');
  });

  it('lists serial ports for the editor even where the host cannot (no udevadm)', async () => {
    const res = await get('device-checkout/serial-ports');
    assert.equal(res.status, 200, await res.clone().text());
    assert.ok(Array.isArray(await res.json()));
  });

  it('offers the examples under Import > Examples', async () => {
    const listed = JSON.stringify(await (await get(`library/examples/flows/${PACKAGE}`)).json());
    for (const name of ['Device Prep', 'Check Out', 'Return', 'Whole cart']) assert.match(listed, new RegExp(name), name);
    // ...and says on its first tab that they are deployed already, and how to start clean.
    const flows = (await (await get('flows')).json()) as { type: string; id: string; z?: string; info?: string }[];
    const first = flows.find((n) => n.type === 'tab')!;
    const intro = flows.find((n) => n.type === 'comment' && n.z === first.id);
    assert.match(intro?.info ?? '', /^\*\*On this demo the examples are deployed already\*\*.*npm start -- --fresh/s);
  });

  it('prepares the ten new phones through the Device Prep example: all end Checked In', async () => {
    const { phones } = await untilCart(url, 'ten phones checked in', (s) => s.phones.length === 10 && s.phones.every((p) => p.status === 'Checked In'));
    assert.deepEqual(
      phones.map((p) => p.status),
      Array(10).fill('Checked In'),
    );
    assert.deepEqual(logProblems(demo.output()), [], 'no warnings or errors while preparing');
  });

  it('the Hands-free Prep button prepares the phone at Cart A port 1 again: erased with Return to Service, back by itself, no USB step, Checked In', async () => {
    await pressHandsFreePrep(url);
    assert.deepEqual(logProblems(demo.output()), [], 'no warnings or errors');
  });

  it('a badge tap checks a phone out (white LED, her name on the lock screen); unplugged and docked again, it is returned', async () => {
    const tap = (badge: string) =>
      fetch(`${url}device-checkout/tap`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ badge }) });
    const refused = await tap('0000');
    assert.equal(refused.status, 409);
    assert.equal(((await refused.json()) as { code: string }).code, 'BADGE_NOT_FOUND');

    const res = await tap('1001');
    assert.equal(res.status, 200, await res.clone().text());
    const { hub, port, user } = (await res.json()) as { hub: string; port: number; user: string };
    assert.equal(user, 'alice');
    let state = await cart();
    const slot = state.hubs.find((h) => h.name === hub)!.ports[port - 1];
    assert.equal(slot.led, 'ready', 'flashing white');
    const phone = state.phones.find((p) => p.udid === slot.phone)!;
    assert.deepEqual([phone.status, phone.user, phone.wallpaper], ['Checking Out', 'alice', true]);

    await fetch(`${url}sim/phones/${phone.udid}/unplug`, { method: 'POST' });
    await untilCart(url, 'Checked Out once unplugged', (s) => s.phones.find((p) => p.udid === phone.udid)!.status === 'Checked Out');
    await fetch(`${url}sim/phones/${phone.udid}/dock`, { method: 'POST' });
    state = await untilCart(url, 'Checked In once docked again', (s) => s.phones.find((p) => p.udid === phone.udid)!.status === 'Checked In');
    assert.ok(state.audit.some((e) => e.udid === phone.udid && e.what === 'status' && e.to === 'Checked In'));
  });

  it('a simulated morning: the insights show its check-outs and the forecast for the next shift, and low-stock reaches the Cart tools tab\u2019s alert wire', async () => {
    await untilCart(url, 'every phone Checked In', (s) => s.phones.every((p) => p.status === 'Checked In'));
    const alerts = await debugMessages(url, 'dc-tools-alert-out');
    try {
      const checkoutsNow = async () => {
        const { rows } = (await (await get('device-checkout/insights/checkouts-by-hour?fleet=dc-fleet&range=24h')).json()) as { rows: number[][] };
        return rows[new Date().getHours()][1];
      };
      const before = await checkoutsNow();
      const morning = await fetch(`${url}sim/morning`, { method: 'POST' });
      assert.equal(morning.status, 200, await morning.clone().text());
      const { taken, shift, minimum } = (await morning.json()) as { taken: string[]; shift: string; minimum: number };
      assert.deepEqual(taken, ['alice', 'bashir', 'chen', 'dana'], 'every nurse took a phone');
      const state = await cart();
      assert.equal(state.phones.filter((p) => p.status === 'Checked Out').length, 4);
      // The hour's check-outs (the hour may turn meanwhile: then they are the new hour's).
      assert.ok((await checkoutsNow()) - before === 4 || (await checkoutsNow()) === 4, 'the morning\u2019s check-outs in the insights');
      await waitFor('the alert', () => alerts.length > 0, 20_000);
      assert.match(alerts[0], new RegExp(`^low-stock: .*[0-6] phones expected ready at ${shift}, ${minimum} wanted`));
      const readiness = (await (await get('device-checkout/readiness/dc-fleet')).json()) as { ready: number; docked: number; minimum: number; at: string };
      assert.deepEqual([readiness.docked, readiness.minimum], [6, 7]);
      assert.ok(readiness.ready < 7);
      assert.equal(new Date(readiness.at).toTimeString().slice(0, 5), shift, 'the forecast is for the next shift change');
      await sleep(1000);
      assert.equal(alerts.length, 1, 'raised once');
    } finally {
      alerts.close();
    }
  });

  it('every example deploys on its own against the simulated cart without an error', async () => {
    const deployed = (await (await get('flows')).json()) as { type: string; url?: string; badgeLookupUrl?: string }[];
    const mdmUrl = deployed.find((n) => n.type === 'mdm-server')!.url!;
    const badgeUrl = deployed.find((n) => n.type === 'device-fleet')!.badgeLookupUrl!;
    for (const example of EXAMPLES) {
      const before = demo.output().length;
      await deployFlows(url, demoFlows({ mdmUrl, badgeUrl }, example));
      await new Promise((resolve) => setTimeout(resolve, 1500));
      assert.deepEqual(logProblems(demo.output().slice(before)), [], `${example} deployed without warnings or errors`);
    }
  });
});

async function isFree(port: number): Promise<boolean> {
  const probe = createServer();
  return new Promise((resolve) => {
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

async function holdPortBetweenFreeOnes(): Promise<{ holder: Server; port: number }> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
    const held = (holder.address() as AddressInfo).port;
    if (held < 65535 && (await isFree(held - 1)) && (await isFree(held + 1))) return { holder, port: held - 1 };
    await new Promise<void>((resolve) => holder.close(() => resolve()));
  }
  throw new Error('no free port with free neighbours on 127.0.0.1 in 20 tries');
}

describe('the demo on a port another program holds', function () {
  this.timeout(60_000);

  it('names the port that is taken and what the demo wanted it for, and the PORT to try instead', async () => {
    // P + 1 held by someone else, as another demo's MDM would be: a port the system hands out,
    // with P and P + 2 free (asked, not assumed: another program may hold them).
    const { holder, port } = await holdPortBetweenFreeOnes();
    try {
      const demo = await startChild(
        builtFile('demo', 'start-demo.js'),
        [],
        { PORT: String(port), DEMO_USERDIR: tempDir('demo') },
        (output) => /could not start: (.*)/.exec(output)?.[1],
      );
      assert.equal(
        demo.ready,
        `port ${port + 1} on 127.0.0.1, the demo's simulated MDM (PORT=${port} takes ${port} to ${port + 2}), is already in use (another Node-RED or demo?): start with another PORT, e.g. PORT=${port + 10} npm start`,
      );
      await demo.stop();
    } finally {
      await new Promise<void>((resolve) => holder.close(() => resolve()));
    }
  });
});

describe('the demo keeps its flows in one folder', function () {
  this.timeout(120_000);

  it('a flow the admin deployed survives a restart; --fresh starts over with the example', async () => {
    const userDir = tempDir('demo-kept');
    const marker = { id: 'admin-note', type: 'comment', z: 'dc-return', name: 'the admin was here', info: '', x: 600, y: 40, wires: [] };
    const flowsOf = async (url: string) => JSON.stringify(await (await fetch(`${url}flows`)).json());
    let demo = await startDemoChild(userDir);
    try {
      const deployed = (await (await fetch(`${demo.url}flows`)).json()) as object[];
      await deployFlows(demo.url, [...deployed, marker]);
    } finally {
      await demo.stop();
    }
    demo = await startDemoChild(userDir);
    try {
      assert.match(await flowsOf(demo.url), /the admin was here/, 'kept across the restart');
      assert.match(await flowsOf(demo.url), /dc-checkout-device/, 'with the rest of the cart');
    } finally {
      await demo.stop();
    }
    demo = await startDemoChild(userDir, ['--fresh']);
    try {
      assert.doesNotMatch(await flowsOf(demo.url), /the admin was here/, '--fresh: the example again');
      assert.match(await flowsOf(demo.url), /dc-checkout-device/);
    } finally {
      await demo.stop();
    }
  });
});

/** What the debug node `id` shows in the editor's sidebar (Node-RED's comms), as text, from now on. */
async function debugMessages(url: string, id: string): Promise<string[] & { close(): void }> {
  const socket = new WebSocket(`${url.replace(/^http/, 'ws')}comms`);
  await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
  const shown = Object.assign([] as string[], { close: () => socket.close() });
  socket.on('message', (data) => {
    for (const { topic, data: message } of JSON.parse(String(data)) as { topic: string; data: { id?: string; msg?: string } }[])
      if (topic === 'debug' && message.id === id) shown.push(String(message.msg));
  });
  socket.send(JSON.stringify({ subscribe: 'debug' }));
  return shown;
}
