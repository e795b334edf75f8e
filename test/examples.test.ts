import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fieldRules } from '../nodes/shared/defaults';
import { PACKAGE_ROOT as ROOT } from '../nodes/lib/package-root';

const TYPES = Object.keys(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))['node-red'].nodes as object);
const CORE = ['tab', 'comment', 'inject', 'link in', 'link out', 'link call', 'catch', 'debug', 'switch', 'change', 'http in', 'http response'];
/** What a 1440 px wide editor shows of a flow: the window less the palette (180 px) and the sidebar's default width. */
const CANVAS_WIDTH = 940;
type FlowNode = { id: string; type: string; z?: string; name?: string; wires?: string[][]; x?: number; y?: number; url?: string; method?: string };
const example = (name: string) => JSON.parse(readFileSync(join(ROOT, 'examples', `${name}.json`), 'utf8')) as FlowNode[];

describe('the example workflows', () => {
  it('Whole cart is exactly Device Prep, Check Out and Return together, sharing one set of config nodes', () => {
    const byId = (nodes: FlowNode[]) => new Map(nodes.map((n) => [n.id, JSON.stringify(n)]));
    const parts = new Map([...byId(example('Device Prep')), ...byId(example('Check Out')), ...byId(example('Return'))]);
    assert.deepEqual(byId(example('Whole cart')), parts);
  });

  it('use only this package\u2019s nodes and core nodes, every wire lands on a node, and each explains itself in a comment', () => {
    for (const name of ['Device Prep', 'Hands-free Prep', 'Check Out', 'Return', 'Whole cart', 'Cart tools']) {
      const nodes = example(name);
      const ids = new Set(nodes.map((n) => n.id));
      for (const n of nodes) {
        assert.ok(TYPES.includes(n.type) || CORE.includes(n.type), `${name}: ${n.type}`);
        for (const target of (n.wires ?? []).flat()) assert.ok(ids.has(target), `${name}: ${n.id} is wired to a missing ${target}`);
      }
      for (const tab of nodes.filter((n) => n.type === 'tab')) {
        assert.ok(
          nodes.some((n) => n.type === 'comment' && n.z === tab.id),
          `${name}: the ${tab.id} tab has a comment`,
        );
        if (tab.id !== 'dc-tools')
          assert.ok(
            nodes.some((n) => n.type === 'on-failure' && n.z === tab.id),
            `${name}: the ${tab.id} workflow has its on-failure`,
          );
      }
    }
  });

  it('carry every field of each of the package\u2019s nodes, so no dialog opens blank and saving stores no undefined', () => {
    // DeviceCheckout.defaults, as the editor and the runtime read it.
    const shared = fieldRules;
    const fieldsOf = (type: string): string[] => {
      const html = readFileSync(join(ROOT, 'nodes', type, `${type}.html`), 'utf8');
      const block = html.slice(html.indexOf('defaults: {'), html.indexOf('\n    }', html.indexOf('defaults: {')));
      const own = [...block.matchAll(/^\s+(\w+): \{/gm)].map((m) => m[1]);
      // A device action also has the kit's fields: name, fleet, and its wait when it has one.
      const kit = html.includes('DeviceCheckout.action(') ? ['name', 'fleet', ...('timeout' in shared.defaults[type] ? ['timeout'] : [])] : [];
      return [...new Set([...kit, ...own])];
    };
    const missing: string[] = [];
    for (const name of ['Device Prep', 'Hands-free Prep', 'Check Out', 'Return', 'Whole cart', 'Cart tools']) {
      for (const n of example(name).filter((node) => TYPES.includes(node.type))) {
        for (const field of fieldsOf(n.type)) if (!(field in n)) missing.push(`${name}: ${n.type} ${n.id} has no ${field}`);
      }
    }
    assert.deepEqual(missing, []);
  });

  it('show every node of the package somewhere (the Flow Library asks for it)', () => {
    const used = new Set(['Whole cart', 'Hands-free Prep', 'Cart tools'].flatMap((name) => example(name).map((n) => n.type)));
    assert.deepEqual(
      TYPES.filter((t) => !used.has(t)),
      [],
    );
  });

  it('name the hardware and servers a user replaces, never the simulated cart or this host', () => {
    for (const name of ['Device Prep', 'Hands-free Prep', 'Check Out', 'Return', 'Whole cart', 'Cart tools']) {
      const text = JSON.stringify(example(name));
      assert.doesNotMatch(text, /"sim:|127\.0\.0\.1|localhost/, name);
      assert.match(text, /"serialPort":"\/dev\/ttyACM0"/, name);
    }
  });

  it('never put Add Wi-Fi in Check Out or Return', () => {
    for (const name of ['Check Out', 'Return']) assert.ok(!example(name).some((n) => n.type === 'add-wifi'), name);
  });

  it('read left to right on a 1440 x 900 screen: no node overlaps another or runs off the canvas, and every wire but a retry goes rightwards', () => {
    // Roughly as the editor sizes a node: its label at ~7 px a character, an icon, ports; 100 px at least.
    const label = (n: FlowNode) => n.name || (n.type === 'http in' ? `[${n.method}] ${n.url}` : n.type);
    const width = (n: FlowNode) => Math.max(100, 7 * label(n).length + 50);
    for (const name of ['Device Prep', 'Hands-free Prep', 'Check Out', 'Return', 'Whole cart', 'Cart tools']) {
      const nodes = example(name).filter((n) => n.x !== undefined && n.type !== 'comment');
      const byId = new Map(nodes.map((n) => [n.id, n]));
      for (const [i, a] of nodes.entries()) {
        for (const b of nodes.slice(i + 1)) {
          if (a.z !== b.z || Math.abs(a.y! - b.y!) >= 30) continue;
          assert.ok(Math.abs(a.x! - b.x!) >= (width(a) + width(b)) / 2 + 10, `${name}: "${label(a)}" and "${label(b)}" overlap`);
        }
        // The canvas of a 1440 x 900 editor beside its palette and sidebar: nothing runs off its right edge.
        assert.ok(a.x! + width(a) / 2 <= CANVAS_WIDTH, `${name}: "${label(a)}" runs off a 1440 px editor`);
        for (const target of (a.wires ?? []).flat().map((id) => byId.get(id)!)) {
          if (a.type === 'on-failure' || target.type === 'link out') continue; // a retry goes back to the start by design
          assert.ok(target.x! > a.x!, `${name}: the wire from "${label(a)}" to "${label(target)}" runs backwards`);
        }
      }
    }
  });
});
