import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PACKAGE_ROOT as ROOT } from '../nodes/lib/package-root';
import { LED_STATES } from '../nodes/lib/hub/led-plan';

const PACKAGE = 'node-red-contrib-device-checkout';
const TYPES = Object.keys(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))['node-red'].nodes as object);
const LANGS = readdirSync(join(ROOT, 'locales'));

type Catalog = { [key: string]: string | Catalog };

function flatten(catalog: Catalog, prefix = ''): Map<string, string> {
  const out = new Map<string, string>();
  for (const [key, value] of Object.entries(catalog)) {
    if (typeof value === 'string') out.set(prefix + key, value);
    else for (const [k, v] of flatten(value, `${prefix}${key}.`)) out.set(k, v);
  }
  return out;
}

const catalog = (lang: string, type: string) => flatten(JSON.parse(readFileSync(join(ROOT, 'locales', lang, `${type}.json`), 'utf8')));
const placeholders = (text: string) => [...text.matchAll(/__(\w+)__/g)].map((m) => m[1]).sort();

/** Every .ts file of every node folder (nodes/lib holds no user-facing text). */
const nodeSources = (): string[] =>
  readdirSync(join(ROOT, 'nodes'), { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && entry.name !== 'lib')
    .flatMap((dir) =>
      readdirSync(join(ROOT, 'nodes', dir.name))
        .filter((f) => f.endsWith('.ts'))
        .map((f) => join(ROOT, 'nodes', dir.name, f)),
    );

/**
 * Every catalog key the nodes' code names, wherever it is built: a literal `'<type>.…'` or
 * `'node-red-contrib-device-checkout/<type>:…'` (in RED._, a helper or a ternary alike), a
 * template on a constant holding such a prefix (`${STATUS}.done`), and the editor's
 * `this._('…')` and `data-i18n="…"`. A key computed from anything else is reported as unreadable.
 */
function keysUsed(): { owner: string; key: string; where: string }[] {
  const constants = new Map<string, string>();
  // nodes/lib takes its texts as a function, but names the keys (the fleet's log lines): read it too.
  const lib = readdirSync(join(ROOT, 'nodes', 'lib'), { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(ROOT, 'nodes', 'lib', f));
  const files = [...nodeSources(), ...lib].map((file) => ({ file, text: readFileSync(file, 'utf8') }));
  for (const { text } of files) for (const m of text.matchAll(/const ([A-Z_]+) = '([^']+)'/g)) constants.set(m[1], m[2]);
  const html = TYPES.map((type) => ({ file: join(ROOT, 'nodes', type, `${type}.html`), type }));
  const found: { owner: string; key: string; where: string }[] = [];
  const add = (literal: string, where: string, defaultOwner?: string): void => {
    const namespaced = new RegExp(`^${PACKAGE}/([\\w-]+):(.+)$`).exec(literal);
    const owner = literal.split('.')[0];
    if (namespaced) found.push({ owner: namespaced[1], key: namespaced[2], where });
    else if (TYPES.includes(owner)) found.push({ owner, key: literal, where });
    else if (defaultOwner) found.push({ owner: defaultOwner, key: literal, where });
  };
  for (const { file, text } of files) {
    const where = file.slice(ROOT.length + 1);
    // Permissions (`needsPermission('smart-hub.read')`) and key prefixes held in constants are not keys.
    for (const m of text.matchAll(/(needsPermission\(|const [A-Z_]+ = )?'([\w./:-]+\.[\w.-]*\w)'/g)) if (!m[1]) add(m[2], where);
    for (const m of text.matchAll(/`\$\{([A-Z_]+)\}(\.[\w.-]*\w)`/g)) add(`${constants.get(m[1]) ?? `unknown constant ${m[1]}`}${m[2]}`, where);
    for (const m of text.matchAll(/_\(`([^`]*)`/g)) if (!/^\$\{[A-Z_]+\}\.[\w.-]+$/.test(m[1])) found.push({ owner: '?', key: `computed key ${m[1]}`, where });
  }
  for (const { file, type } of html) {
    const text = readFileSync(file, 'utf8');
    for (const m of [...text.matchAll(/_\('([\w./:-]+)'(\s*\+\s*[\w.]+)?/g), ...text.matchAll(/data-i18n="(?:\[\w+\])?([\w.:/-]+)"/g)]) {
      // `_('hub-led.led.' + this.led)`: one key per LED state.
      if (m[2]?.includes('this.led')) for (const state of LED_STATES) add(`${m[1]}${state}`, file.slice(ROOT.length + 1), type);
      else if (m[2]) found.push({ owner: '?', key: `computed key ${m[0]}`, where: file.slice(ROOT.length + 1) });
      else add(m[1], file.slice(ROOT.length + 1), type);
    }
  }
  return found;
}

describe('the palette', () => {
  const editor = (type: string) => readFileSync(join(ROOT, 'nodes', type, `${type}.html`), 'utf8');
  const property = (type: string, name: string) => new RegExp(`\\b${name}: '([^']+)'`).exec(editor(type))?.[1];
  const palette = TYPES.filter((type) => !/category: 'config'/.test(editor(type)));

  it('gives every node its own icon, and one colour per family (hub, device action, workflow)', () => {
    const icons = palette.map((type) => property(type, 'icon'));
    assert.equal(new Set(icons).size, palette.length, palette.map((t, i) => `${t}: ${icons[i]}`).join(', '));
    const colours = new Set(palette.map((type) => property(type, 'color')));
    assert.equal(colours.size, 3, [...colours].join());
  });
});

describe('locales', () => {
  it('covers en-US and de', () => assert.deepEqual([...LANGS].sort(), ['de', 'en-US']));

  it('every message key the nodes\u2019 code and editors use exists in every language, computed ones included', () => {
    const used = keysUsed();
    assert.ok(used.length > 100, `${used.length} keys found`);
    const missing = used.flatMap(({ owner, key, where }) =>
      LANGS.filter((lang) => !TYPES.includes(owner) || !catalog(lang, owner).has(key)).map((lang) => `${where}: ${lang} ${owner}:${key}`),
    );
    assert.deepEqual(missing, []);
  });

  it('node files say nothing to users in literal English: every error, warning, status and API answer comes from the catalogs', () => {
    const literal = /CodedError\('[A-Z_]+', ['`"]|\.(warn|error|log)\(['`"]|\b(text|message): ['`"]|new Error\(['`"]/;
    const nodeFiles = nodeSources();
    assert.ok(nodeFiles.length >= 17);
    const offending = nodeFiles
      .flatMap((file) =>
        readFileSync(file, 'utf8')
          .split('\n')
          .map((line, i) => [file, i + 1, line] as const),
      )
      .filter(([, , line]) => literal.test(line));
    assert.deepEqual(
      offending.map(([file, n, line]) => `${file.slice(ROOT.length + 1)}:${n}: ${line.trim()}`),
      [],
    );
  });

  for (const type of TYPES) {
    it(`${type}: every language has the same messages with the same placeholders, and help`, () => {
      const reference = catalog('en-US', type);
      for (const lang of LANGS) {
        const messages = catalog(lang, type);
        assert.deepEqual([...messages.keys()].sort(), [...reference.keys()].sort(), lang);
        for (const [key, text] of messages) {
          assert.ok(text.trim(), `${lang} ${key} is empty`);
          assert.deepEqual(placeholders(text), placeholders(reference.get(key)!), `${lang} ${key}`);
        }
        const help = join(ROOT, 'locales', lang, `${type}.html`);
        assert.ok(existsSync(help), `${lang} help for ${type}`);
        assert.match(readFileSync(help, 'utf8'), new RegExp(`data-help-name="${type}"`));
      }
    });
  }
});
