import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from './support';

const PACKAGE = 'node-red-contrib-device-checkout';
const TYPES = Object.keys(JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8'))['node-red'].nodes as object);

/** `npm start`'s program, on a free loopback port, with the cart standing still. */
describe('the demo (npm start) in a real Node-RED process', function () {
  let demo: ChildProcess;
  let url: string;
  let output = '';

  before(async () => {
    demo = spawn(process.execPath, [join(__dirname, '..', 'flows', 'start-demo.js')], {
      env: { ...process.env, PORT: '0', DEMO_AUTOPILOT_MS: '0' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    demo.stdout!.on('data', (chunk: Buffer) => (output += chunk));
    demo.stderr!.on('data', (chunk: Buffer) => (output += chunk));
    url = await waitFor('the demo URL', () => /open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(output)?.[1], 30000);
  });

  after(async () => {
    if (demo.exitCode !== null) return;
    await new Promise((resolve) => {
      demo.once('exit', resolve);
      demo.kill('SIGTERM');
    });
  });

  const get = async (path: string, accept = 'application/json') => fetch(url + path, { headers: { accept } });

  it('loads every node of the package from the working tree without an error', async () => {
    const sets = ((await (await get('nodes')).json()) as { id: string; enabled: boolean; err?: string; types: string[] }[]).filter((s) => s.id.startsWith(`${PACKAGE}/`));
    assert.deepEqual(sets.map((s) => s.types[0]).sort(), [...TYPES].sort());
    for (const set of sets) assert.ok(set.enabled && !set.err, `${set.id}: ${set.err}`);
    assert.doesNotMatch(output, new RegExp(`\\[(warn|error)\\].*(device-checkout|${TYPES.join('|')})`));
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
    assert.equal(res.status, 200);
    assert.ok(Array.isArray(await res.json()));
  });

  it('runs the deployed flow: a docked phone lights green, unplugged the hub takes the LED back', async () => {
    const port = async (n: number) => ((await (await get('sim/cart1')).json()) as { port: number; docked: boolean; led: { rows: string[] } }[])[n - 1];
    assert.equal((await fetch(`${url}sim/cart1/3/dock`, { method: 'POST' })).status, 200);
    const deadline = Date.now() + 10000;
    while ((await port(3)).led.rows[0] !== '11111111') {
      assert.ok(Date.now() < deadline, 'port 3 never turned green');
      await new Promise((r) => setTimeout(r, 100));
    }
    await fetch(`${url}sim/cart1/3/unplug`, { method: 'POST' });
    while ((await port(3)).led.rows.join() !== 'firmware,firmware,firmware') {
      assert.ok(Date.now() < deadline, 'port 3 never went back to the firmware');
      await new Promise((r) => setTimeout(r, 100));
    }
  });
});
