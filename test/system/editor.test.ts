import assert from 'node:assert/strict';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchChromium, openFleetTab } from '../../harness/chromium';
import { startDemoChild, untilCart, type DemoChild } from '../../harness/demo-child';
import { logProblems } from '../../harness/node-red-child';
import { PACKAGE_ROOT as ROOT } from '../../nodes/lib/package-root';
import { defaultOf } from '../../nodes/shared/defaults';
import { ARTIFACTS } from '../../harness/artifacts';
import { SimulatedWorkspaceOne } from '../../sim/workspace-one-server';
import { INTUNE, startIntune } from '../../harness/mdm-vendors';

const NODES = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))['node-red'].nodes as Record<string, string>;
const CONFIG_TYPES = ['smart-hub', 'mdm-server', 'device-fleet'];
const EXAMPLES = ['Device Prep', 'Hands-free Prep', 'Check Out', 'Return', 'Whole cart', 'Cart tools'];

type Status = { text?: string; fill?: string } | undefined;

/** The Node-RED editor in Debian's headless Chromium, driven by playwright-core, on the demo cart. */
describe('the editor in a real browser (headless Chromium)', function () {
  this.timeout(120_000);
  let demo: DemoChild;
  let browser: Browser;
  let page: Page;
  const pageErrors: string[] = [];

  before(async () => {
    demo = await startDemoChild();
    // As root and without network: no sandbox, no background fetches (see the machine notes).
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1600, height: 1000 } });
    page.on('pageerror', (err) => pageErrors.push(err.message));
    await page.goto(demo.url);
    await page.waitForSelector('.red-ui-palette-node', { timeout: 60_000 });
    await page.waitForFunction(() => (window as unknown as { RED?: { nodes: { node(id: string): unknown } } }).RED?.nodes.node('dc-fleet') !== undefined);
  });

  after(async () => {
    await browser?.close();
    await demo?.stop();
  });

  const status = (id: string): Promise<Status> =>
    page.evaluate((nodeId) => (window as unknown as { RED: { nodes: { node(id: string): { status?: Status } } } }).RED.nodes.node(nodeId)?.status, id);
  const untilStatus = async (id: string, check: (s: Status) => boolean, what: string): Promise<Status> => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const now = await status(id);
      if (check(now)) return now;
      assert.ok(Date.now() < deadline, `${what} (status now ${JSON.stringify(now)})`);
      await page.waitForTimeout(200);
    }
  };

  it('the cart page works at the address the README prints (/sim, no trailing slash) and at /sim/', async () => {
    const cart = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    try {
      for (const address of ['sim', 'sim/']) {
        await cart.goto(`${demo.url}${address}`);
        await cart.waitForFunction(() => document.querySelectorAll('#phones tr').length >= 10, undefined, { timeout: 20_000 });
      }
      mkdirSync(ARTIFACTS, { recursive: true });
      await cart.screenshot({ path: join(ARTIFACTS, 'cart-page.png') });
    } finally {
      await cart.close();
    }
  });

  it('shows every node in the palette under "device checkout"', async () => {
    const category = await page.evaluate(() => {
      const headers = Array.from(document.querySelectorAll('.red-ui-palette-header'));
      const header = headers.find((h) => h.textContent?.trim().toLowerCase() === 'device checkout');
      return Array.from(header?.parentElement?.querySelectorAll('.red-ui-palette-node') ?? []).map((n) => n.getAttribute('data-palette-type'));
    });
    const expected = Object.keys(NODES).filter((t) => !CONFIG_TYPES.includes(t));
    assert.deepEqual([...category].sort(), expected.sort());
    // What a new node shows is what the runtime falls back to: one table (resources/device-checkout.js).
    const fields: [string, string][] = [
      ['erase-device', 'timeout'],
      ['check-out-device', 'timeout'],
      ['check-out-device', 'unlockPhones'],
      ['dep-enroll', 'timeout'],
      ['delete-from-mdm', 'timeout'],
      ['device-fleet', 'checkoutDeadline'],
      ['mdm-server', 'timeout'],
      ['smart-hub', 'pollInterval'],
      ['on-failure', 'maxAttempts'],
      ['set-wallpaper', 'width'],
    ];
    const shown = await page.evaluate((asked) => {
      const RED = (window as unknown as { RED: { nodes: { getType(t: string): { defaults: Record<string, { value: unknown }> } } } }).RED;
      return asked.map(([type, field]) => RED.nodes.getType(type).defaults[field]?.value ?? null);
    }, fields);
    assert.deepEqual(
      shown,
      fields.map(([type, field]) => defaultOf(type, field) ?? null),
    );
    assert.deepEqual(shown, [120, 15, 2, 600, null, 60, 30000, 1000, 3, 1179], 'and they are the documented ones');
  });

  it('on the demo cart: a dock changes the hub input\u2019s status, and a returned phone shows its check-in', async () => {
    const ready = await untilCart(demo.url, 'the ten phones prepared', (s) => s.phones.every((p) => p.status === 'Checked In'));
    const docked = (s: Status) => Number(/(\d+)/.exec(s?.text ?? '')?.[1]);
    const before = docked(await untilStatus('dc-return-hub-a', (s) => s?.fill === 'green', 'hub A connected'));
    const phone = ready.phones.find((p) => ready.hubs[0].ports.some((port) => port.phone === p.udid))!;
    await fetch(`${demo.url}sim/phones/${phone.udid}/unplug`, { method: 'POST' });
    await untilStatus('dc-return-hub-a', (s) => docked(s) === before - 1, 'one phone fewer on hub A');

    // Bashir holds his badge to the cart's serial reader (the cart page's button), which the Badge Reader node reads.
    const cartPage = await browser.newPage();
    await cartPage.goto(`${demo.url}sim/`);
    await cartPage.click('#badges button:has-text("Bashir Rahimi (1002)")');
    await cartPage.close();
    await untilStatus('dc-checkout-reader', (s) => s?.fill === 'green' && /read at/.test(s.text ?? ''), 'the reader read a badge');
    // Not "done" while the phone still waits in the cart: a countdown, then "taken".
    await untilStatus(
      'dc-checkout-device',
      (s) => s?.fill === 'yellow' && /: waiting to be taken \(\d+ s\)$/.test(s.text ?? ''),
      'check-out waits to be taken',
    );
    const state = await untilCart(demo.url, 'a phone checked out', (s) => s.phones.some((p) => p.status === 'Checking Out'));
    const out = state.phones.find((p) => p.status === 'Checking Out')!;
    assert.equal(out.user, 'bashir');
    assert.ok(
      state.hubs.some((h) => h.ports.some((p) => p.phone === out.udid)),
      'her phone waits on a port of the cart',
    );
    await fetch(`${demo.url}sim/phones/${out.udid}/unplug`, { method: 'POST' });
    await untilCart(demo.url, 'Checked Out', (s) => s.phones.find((p) => p.udid === out.udid)!.status === 'Checked Out');
    await untilStatus('dc-checkout-device', (s) => s?.fill === 'green' && /: taken$/.test(s.text ?? ''), 'check-out says taken');
    const { hub: backHub, port: backPort } = (await (await fetch(`${demo.url}sim/phones/${out.udid}/dock`, { method: 'POST' })).json()) as {
      hub: number;
      port: number;
    };
    // Device Prep named it after its port ("Cart B 5"); docked back on the first free port, the status names it and says where it is now.
    const now = `${state.hubs[backHub].name} ${backPort}`;
    const label = out.name === now ? out.name : `${out.name} (${now})`;
    await untilStatus('dc-return-checkin', (s) => s?.fill === 'green' && s.text === `${label}: done`, `Check In Device done for ${label}`);
    await untilCart(demo.url, 'Checked In again', (s) => s.phones.find((p) => p.udid === out.udid)!.status === 'Checked In');
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.evaluate(() => (window as unknown as { RED: { workspaces: { show(id: string): void } } }).RED.workspaces.show('dc-return'));
    await page.waitForTimeout(300);
    await page.screenshot({ path: join(ARTIFACTS, 'editor-return.png') });
  });

  it('the fleet tab lists the demo\u2019s phones, shows a check-out made on the cart without reloading, filters, and exports the audit trail as CSV', async () => {
    await untilCart(demo.url, 'the ten phones prepared', (s) => s.phones.filter((p) => p.status === 'Checked In').length === 10);
    const listRequests: string[] = [];
    page.on('request', (request) => request.url().endsWith('/device-checkout/devices') && listRequests.push(request.url()));
    const rows = page.locator('.dc-fleet-view tbody tr[data-udid]');
    await openFleetTab(page);
    await page.waitForFunction(() => document.querySelectorAll('.dc-fleet-view tbody tr[data-udid]').length === 10);

    const tap = await fetch(`${demo.url}device-checkout/tap`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ badge: '1001' }),
    });
    assert.equal(tap.status, 200, await tap.clone().text());
    const out = (await untilCart(demo.url, 'a phone checked out', (s) => s.phones.some((p) => p.status === 'Checking Out'))).phones.find(
      (p) => p.status === 'Checking Out',
    )!;
    const row = page.locator(`.dc-fleet-view tbody tr[data-udid="${out.udid}"]`);
    await page.waitForFunction(
      (udid) => document.querySelector(`.dc-fleet-view tbody tr[data-udid="${udid}"]`)?.textContent?.includes('Checking Out'),
      out.udid,
    );
    await fetch(`${demo.url}sim/phones/${out.udid}/unplug`, { method: 'POST' });
    await page.waitForFunction(
      (udid) => document.querySelector(`.dc-fleet-view tbody tr[data-udid="${udid}"]`)?.textContent?.includes('Checked Out'),
      out.udid,
    );
    assert.equal(listRequests.length, 1, 'live through RED.comms: the list was fetched once, never polled');

    await page.selectOption('.dc-fleet-filter', 'out');
    await page.waitForFunction(() => document.querySelectorAll('.dc-fleet-view tbody tr[data-udid]').length === 1);
    assert.match((await row.textContent()) ?? '', /Alice/);
    await page.selectOption('.dc-fleet-filter', 'all');
    await page.fill('.dc-fleet-search', 'alice');
    await page.waitForFunction(() => document.querySelectorAll('.dc-fleet-view tbody tr[data-udid]').length === 1);
    await page.fill('.dc-fleet-search', '');
    await page.waitForFunction(() => document.querySelectorAll('.dc-fleet-view tbody tr[data-udid]').length === 10);
    assert.equal(await rows.count(), 10);

    await row.click();
    await page.waitForSelector('.dc-trail li');
    const download = page.waitForEvent('download');
    await page.click('.dc-export[data-format="csv"]');
    const csv = readFileSync(await (await download).path(), 'utf8');
    const [header, ...lines] = csv.trimEnd().split('\r\n');
    assert.equal(header, 'at,udid,what,from,to,who,why,name,serial');
    const trail = ((await (await fetch(`${demo.url}device-checkout/devices/${out.udid}/audit`)).json()) as { entries: { at: string; what: string }[] }).entries;
    assert.deepEqual(
      lines.map((line) => line.split(',').slice(0, 3).join(',')),
      trail.map((e) => `${e.at},${out.udid},${e.what}`),
      'one row per entry of the phone\u2019s audit trail, in order',
    );
    assert.ok(trail.some((e) => e.what === 'status') && lines.length === trail.length);
    // Between days chosen, both included: today holds them all, tomorrow none.
    const exported = async (from: string, to: string) => {
      await page.fill('.dc-from', from);
      await page.fill('.dc-to', to);
      const file = page.waitForEvent('download');
      await page.click('.dc-export[data-format="csv"]');
      return (
        readFileSync(await (await file).path(), 'utf8')
          .trimEnd()
          .split('\r\n').length - 1
      );
    };
    const today = new Date().toISOString().slice(0, 10);
    const tomorrow = new Date(Date.now() + 86_400_000).toISOString().slice(0, 10);
    assert.equal(await exported(today, today), trail.filter((e) => e.at.startsWith(today)).length);
    assert.equal(await exported(tomorrow, tomorrow), 0);
    await page.fill('.dc-from', '');
    await page.fill('.dc-to', '');
    await page.screenshot({ path: join(ARTIFACTS, 'fleet-view-demo.png') });
    // Back to every phone: the exports are of the whole fleet again.
    await page.click('.dc-all-phones');
    assert.ok(await page.locator('.dc-fleet-detail').isHidden());
    const everything = (await (await fetch(`${demo.url}device-checkout/audit?format=csv`)).text()).trimEnd().split('\r\n').length - 1;
    assert.ok(everything > trail.length);
    assert.ok((await exported('', '')) >= everything, 'every phone\u2019s trail (the cart may add to it meanwhile)');
  });

  it('imports each example and deploys it without an error', async () => {
    for (const name of EXAMPLES) {
      const flow = JSON.parse(readFileSync(join(ROOT, 'examples', `${name}.json`), 'utf8')) as { type: string }[];
      // The cart's config nodes are deployed already (with their secrets): the example uses them.
      const imported = await page.evaluate(
        (nodes) => {
          const RED = (
            window as unknown as {
              RED: {
                view: { importNodes(n: object[], o: object): void };
                nodes: { eachNode(f: (n: { z: string }) => void): void };
                workspaces: { active(): string };
              };
            }
          ).RED;
          RED.view.importNodes(nodes, { generateIds: true, addFlow: false });
          let count = 0;
          RED.nodes.eachNode(() => count++);
          return count;
        },
        flow.filter((n) => !CONFIG_TYPES.includes(n.type)),
      );
      assert.ok(imported > 0);
      const before = demo.output().length;
      await page.click('#red-ui-header-button-deploy');
      const deployed = '.red-ui-notification:has-text("Successfully deployed")';
      await page.waitForSelector(deployed, { timeout: 15_000 });
      await page.waitForSelector(deployed, { state: 'detached', timeout: 15_000 }); // so the next deploy shows its own
      // An imported Badge Reader names the example's reader, /dev/ttyACM1, which this host lacks: saying so is right.
      const problems = logProblems(demo.output().slice(before)).filter((line) => !/Badge reader \/dev\/ttyACM1 is away: cannot open \/dev\/ttyACM1/.test(line));
      assert.deepEqual(problems, [], `${name}: deployed without warnings or errors`);
    }
    await page.screenshot({ path: join(ARTIFACTS, 'editor-examples.png') });
    assert.deepEqual(pageErrors, [], 'no script errors in the editor');
  });

  it('edit dialogs: the serial port lookup with manual entry, bad values and Add Wi-Fi in the wrong workflow flagged before deploy', async () => {
    await page.evaluate(() =>
      (window as unknown as { RED: { editor: { editConfig(a: string, t: string, id: string): void } } }).RED.editor.editConfig('', 'smart-hub', 'dc-hub-a'),
    );
    await page.waitForSelector('#node-config-input-serialPort', { state: 'visible' });
    await page.click('#node-config-lookup-serialPort');
    // The lookup shows the ports as a pick list, or (no ports, or a host that cannot list them) says so in the dialog; typing always works.
    await page.waitForSelector('.ui-autocomplete li:visible, #smart-hub-no-ports:visible', { timeout: 10_000 });
    await page.screenshot({ path: join(ARTIFACTS, 'smart-hub-port-lookup.png') });
    await page.fill('#node-config-input-serialPort', '/dev/ttyUSB7');
    assert.equal(await page.inputValue('#node-config-input-serialPort'), '/dev/ttyUSB7');
    await page.click('.red-ui-tray-toolbar button:has-text("Cancel")');
    await page.waitForSelector('#node-config-input-serialPort', { state: 'detached' });
    // A new smart hub starts empty: nothing simulated is offered as a hub.
    await page.evaluate(() =>
      (window as unknown as { RED: { editor: { editConfig(a: string, t: string, id: string): void } } }).RED.editor.editConfig('', 'smart-hub', '_ADD_'),
    );
    await page.waitForSelector('#node-config-input-serialPort', { state: 'visible' });
    assert.equal(await page.inputValue('#node-config-input-serialPort'), '');
    await page.click('.red-ui-tray-toolbar button:has-text("Cancel")');
    await page.waitForSelector('#node-config-input-serialPort', { state: 'detached' });

    const validity = await page.evaluate(() => {
      type EditorNode = { valid: boolean; validationErrors?: string[] };
      const RED = (
        window as unknown as {
          RED: {
            view: { importNodes(n: object[], o?: object): void };
            nodes: { node(id: string): EditorNode };
            editor: { validateNode(n: EditorNode): void };
            workspaces: { show(id: string): void };
          };
        }
      ).RED;
      // As an admin pastes a node: into the workflow tab on show.
      const paste = (z: string, node: object) => {
        RED.workspaces.show(z);
        RED.view.importNodes([{ ...node, z, x: 200, y: 600, wires: [[]] }], { generateIds: false });
      };
      const wifi = (id: string) => ({ id, type: 'add-wifi', fleet: 'dc-fleet', ssid: 'Ward', security: 'WPA2', hidden: false, autoJoin: true, timeout: '120' });
      paste('dc-checkout', wifi('wifi-in-checkout'));
      paste('dc-return', wifi('wifi-in-return'));
      paste('dc-prep', wifi('wifi-in-prep'));
      paste('dc-checkout', {
        id: 'huge-wallpaper',
        type: 'set-wallpaper',
        fleet: 'dc-fleet',
        text: 'x',
        background: 'black',
        where: 'lock',
        width: '50000',
        height: '2556',
        timeout: '60',
      });
      const of = (id: string) => {
        RED.editor.validateNode(RED.nodes.node(id)); // as the editor does on every change
        return { valid: RED.nodes.node(id).valid, errors: RED.nodes.node(id).validationErrors ?? [] };
      };
      const exported = (RED.nodes as unknown as { convertNode(n: EditorNode): Record<string, unknown> }).convertNode(RED.nodes.node('wifi-in-checkout'));
      return {
        checkout: of('wifi-in-checkout'),
        return: of('wifi-in-return'),
        prep: of('wifi-in-prep'),
        wallpaper: of('huge-wallpaper'),
        exportedKeys: Object.keys(exported),
      };
    });
    for (const where of ['checkout', 'return'] as const) {
      assert.equal(validity[where].valid, false, `Add Wi-Fi in ${where} is flagged`);
      assert.match(validity[where].errors.join(), /does not belong in Check Out or Return/, 'with the reason');
    }
    assert.equal(validity.prep.valid, true, 'Add Wi-Fi belongs in Device Prep');
    assert.ok(
      !validity.exportedKeys.includes('placement') && validity.exportedKeys.includes('ssid'),
      `saved with its own fields only: ${validity.exportedKeys.join()}`,
    );
    assert.deepEqual([validity.wallpaper.valid, validity.wallpaper.errors], [false, ['width']]);
    await page.screenshot({ path: join(ARTIFACTS, 'editor-validation.png') });
    assert.deepEqual(pageErrors, []);
  });

  it('the badge reader\u2019s dialog: serial settings only for a serial reader, the device lookup for each kind, typed paths kept', async () => {
    await page.evaluate(() => {
      const RED = (window as unknown as { RED: { editor: { edit(node: unknown): void }; nodes: { node(id: string): unknown } } }).RED;
      RED.editor.edit(RED.nodes.node('dc-checkout-reader'));
    });
    await page.waitForSelector('#node-input-path', { state: 'visible' });
    assert.equal(await page.inputValue('#node-input-kind'), 'serial');
    assert.ok(await page.isVisible('#node-input-baudRate'), 'a serial reader has a baud rate');
    await page.selectOption('#node-input-kind', 'keyboard');
    assert.ok(!(await page.isVisible('#node-input-baudRate')), 'a keyboard reader has none');
    assert.match((await page.getAttribute('#node-input-path', 'placeholder')) ?? '', /event-kbd/);
    // The host's keyboard readers, listed by the runtime (none here, or it cannot list them: the dialog says so); typing always works.
    const listed = page.waitForResponse((response) => response.url().includes('/device-checkout/input-devices'), { timeout: 20_000 });
    await page.click('#node-lookup-path');
    assert.equal((await listed).status(), 200);
    await page.waitForSelector('.ui-autocomplete li:visible, #badge-reader-no-devices:visible', { timeout: 10_000 });
    await page.fill('#node-input-path', '/dev/input/by-id/usb-Reader-event-kbd');
    await page.screenshot({ path: join(ARTIFACTS, 'badge-reader-dialog.png') });
    await page.click('.red-ui-tray-toolbar button:has-text("Cancel")');
    await page.waitForSelector('#node-input-path', { state: 'detached' });
  });

  it('the erase dialog: Return to Service offers the flows’ Add Wi-Fi nodes by name, a profile file only without one, nothing of it when off', async () => {
    await page.evaluate(() => {
      const RED = (window as unknown as { RED: { editor: { edit(node: unknown): void }; nodes: { node(id: string): unknown } } }).RED;
      RED.editor.edit(RED.nodes.node('dc-rts-erase'));
    });
    await page.waitForSelector('#node-input-wifi', { state: 'visible' });
    assert.equal(await page.inputValue('#node-input-wifi'), 'dc-rts-wifi', 'the example’s own Add Wi-Fi node');
    const offered = await page.$$eval('#node-input-wifi option', (options) => options.map((o) => [(o as HTMLOptionElement).value, o.textContent]));
    assert.ok(
      offered.some(([id, label]) => id === 'dc-prep-wifi' && label === 'Add Wi-Fi'),
      `Device Prep's Add Wi-Fi offered too: ${JSON.stringify(offered)}`,
    );
    assert.ok(!(await page.isVisible('#node-input-wifiProfile')), 'no file while an Add Wi-Fi node gives the network');
    await page.selectOption('#node-input-wifi', '');
    assert.ok(await page.isVisible('#node-input-wifiProfile'), 'a profile file without one');
    await page.screenshot({ path: join(ARTIFACTS, 'erase-return-to-service-dialog.png') });
    await page.uncheck('#node-input-returnToService');
    for (const field of ['#node-input-wifi', '#node-input-wifiProfile', '#node-input-mdmProfile'])
      assert.ok(!(await page.isVisible(field)), `${field} hidden without Return to Service`);
    await page.click('.red-ui-tray-toolbar button:has-text("Cancel")');
    await page.waitForSelector('#node-input-wifi', { state: 'detached' });
  });

  it('the MDM server dialog: Workspace ONE\u2019s fields, and Test connection saying connected, then what is wrong', async () => {
    const ws1 = new SimulatedWorkspaceOne({ clientId: 'editor-client', clientSecret: 'editor-secret-41aa', tenantCode: 'editor-tenant-0c3e' });
    await ws1.start();
    try {
      await page.evaluate(() =>
        (window as unknown as { RED: { editor: { editConfig(a: string, t: string, id: string): void } } }).RED.editor.editConfig('', 'mdm-server', 'dc-mdm'),
      );
      await page.waitForSelector('#node-config-input-vendor', { state: 'visible' });
      assert.ok(!(await page.isVisible('#node-config-input-tenantCode')), 'NanoMDM has no tenant code');
      await page.selectOption('#node-config-input-vendor', 'workspace-one');
      for (const [field, value] of [
        ['url', ws1.url],
        ['tokenUrl', ws1.tokenUrl],
        ['tenantCode', 'editor-tenant-0c3e'],
        ['clientId', 'editor-client'],
        ['clientSecret', 'editor-secret-41aa'],
      ])
        await page.fill(`#node-config-input-${field}`, value);
      assert.ok(!(await page.isVisible('#node-config-input-apiKey')), 'no NanoMDM API key for Workspace ONE');
      await page.click('#mdm-server-test');
      await page.waitForFunction(() => /Connected|Not connected/.test(document.querySelector('#mdm-server-test-result')?.textContent ?? ''));
      assert.match((await page.textContent('#mdm-server-test-result')) ?? '', /^Connected: workspace-one/);
      await page.fill('#node-config-input-tenantCode', 'another-tenant');
      await page.click('#mdm-server-test');
      await page.waitForFunction(() => /Not connected/.test(document.querySelector('#mdm-server-test-result')?.textContent ?? ''));
      assert.match((await page.textContent('#mdm-server-test-result')) ?? '', /MDM_AUTH.*tenant code/);
      await page.screenshot({ path: join(ARTIFACTS, 'mdm-server-test-connection.png') });
      await page.click('.red-ui-tray-toolbar button:has-text("Cancel")');
      await page.waitForSelector('#node-config-input-vendor', { state: 'detached' });
    } finally {
      await ws1.stop();
    }
  });

  it('the MDM server dialog: Intune\u2019s fields (Graph filled in for a new server), Test connection naming the permission to grant', async () => {
    const intune = await startIntune('org.example.locker');
    const editConfig = (id: string) =>
      page.evaluate(
        (id) => (window as unknown as { RED: { editor: { editConfig(a: string, t: string, id: string): void } } }).RED.editor.editConfig('', 'mdm-server', id),
        id,
      );
    const result = async (pattern: RegExp) => {
      await page.waitForFunction(() => /Connected|Not connected/.test(document.querySelector('#mdm-server-test-result')?.textContent ?? ''));
      assert.match((await page.textContent('#mdm-server-test-result')) ?? '', pattern);
    };
    try {
      await editConfig('_ADD_');
      await page.waitForSelector('#node-config-input-vendor', { state: 'visible' });
      await page.selectOption('#node-config-input-vendor', 'intune');
      assert.equal(await page.inputValue('#node-config-input-url'), 'https://graph.microsoft.com');
      assert.equal(await page.getAttribute('#node-config-input-tokenUrl', 'placeholder'), 'https://login.microsoftonline.com');
      await page.click('.red-ui-tray-toolbar button:has-text("Cancel")');
      await page.waitForSelector('#node-config-input-vendor', { state: 'detached' });

      await editConfig('dc-mdm');
      await page.waitForSelector('#node-config-input-vendor', { state: 'visible' });
      await page.selectOption('#node-config-input-vendor', 'intune');
      for (const field of ['#node-config-input-tenantCode', '#node-config-input-username', '#node-config-input-apiKey'])
        assert.ok(!(await page.isVisible(field)), `${field} is not Intune's`);
      const { tenantId, clientId, clientSecret, checkedOutGroup, lockedGroup } = INTUNE;
      for (const [field, value] of Object.entries({ url: intune.url, tokenUrl: intune.url, tenantId, clientId, clientSecret, checkedOutGroup, lockedGroup }))
        await page.fill(`#node-config-input-${field}`, value);
      await page.click('#mdm-server-test');
      await result(/^Connected: intune/);
      intune.permissions = ['DeviceManagementManagedDevices.ReadWrite.All']; // each test logs in afresh: its token carries these
      await page.click('#mdm-server-test');
      await result(/MDM_AUTH.*GroupMember\.ReadWrite\.All/);
      await page.screenshot({ path: join(ARTIFACTS, 'mdm-server-intune.png') });
      await page.click('.red-ui-tray-toolbar button:has-text("Cancel")');
      await page.waitForSelector('#node-config-input-vendor', { state: 'detached' });
    } finally {
      await intune.stop();
    }
  });

  it('a fleet from a flow that predates its fields opens with their defaults, and its dialog links its own ward page and cart screen', async () => {
    await page.evaluate(() => {
      const RED = (window as unknown as { RED: { view: { importNodes(n: object[], o?: object): void } } }).RED;
      // As saved by 0.1: no lending period, no store, no audit files.
      RED.view.importNodes(
        [{ id: 'fleet-of-0-1', type: 'device-fleet', name: 'Ward 2 (0.1)', mdm: '', usb: '/var/run/usbmuxd', lockerApp: 'org.example.locker', wardPage: true }],
        { generateIds: false },
      );
    });
    await page.evaluate(() =>
      (window as unknown as { RED: { editor: { editConfig(a: string, t: string, id: string): void } } }).RED.editor.editConfig(
        '',
        'device-fleet',
        'fleet-of-0-1',
      ),
    );
    await page.waitForSelector('#node-config-input-lendingPeriod', { state: 'visible' });
    const value = (field: string) => page.inputValue(`#node-config-input-${field}`);
    const shown = {
      lendingPeriod: await value('lendingPeriod'),
      store: await value('store'),
      auditFiles: await value('auditFiles'),
      ward: await page.textContent('#device-fleet-ward-link'),
      badgeLookup: await value('badgeLookup'),
      directory: [await value('ldapBadgeAttribute'), await value('ldapUserAttribute'), await value('ldapNameAttribute')],
      volume: await value('cartScreenVolume'),
    };
    assert.deepEqual(shown, {
      lendingPeriod: '13',
      store: 'file',
      auditFiles: 'one',
      ward: '/device-checkout/ward/fleet-of-0-1',
      badgeLookup: 'http',
      directory: ['employeeID', 'sAMAccountName', 'displayName'],
      volume: '70',
    });
    assert.ok(await page.locator('#node-config-input-auditFiles').isVisible(), 'the file store\u2019s own field');
    // Badges from the directory: the lookup URL is not asked; the cart screen's own link and settings when ticked.
    await page.selectOption('#node-config-input-badgeLookup', 'ldap');
    assert.equal(await page.locator('#node-config-input-badgeLookupUrl').isVisible(), false);
    assert.equal(await page.locator('#node-config-input-cartScreenPin').isVisible(), false);
    await page.check('#node-config-input-cartScreen');
    assert.equal(await page.textContent('#device-fleet-screen-link'), '/device-checkout/cart/fleet-of-0-1');
    assert.ok(await page.locator('#node-config-input-cartScreenPin').isVisible());
    await page.screenshot({ path: join(ARTIFACTS, 'device-fleet-directory-and-screen.png'), fullPage: true });
    await page.click('.red-ui-tray-toolbar button:has-text("Cancel")');
    await page.waitForSelector('#node-config-input-lendingPeriod', { state: 'detached' });
    assert.deepEqual(pageErrors, []);
  });
});
