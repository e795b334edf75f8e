import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
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

/** Keys the node's runtime and editor code ask for: RED._('…'), this._('…'), data-i18n="…". */
function keysUsed(type: string): { type: string; key: string }[] {
  const sources = [join(ROOT, 'nodes', type, `${type}.ts`), join(ROOT, 'nodes', type, `${type}.html`)].map((f) => readFileSync(f, 'utf8')).join('\n');
  const found = [...sources.matchAll(/_\('([\w./-]+:)?([\w-]+\.[\w.-]*\w)'/g), ...sources.matchAll(/data-i18n="(?:\[\w+\])?()([\w-]+\.[\w.-]*\w)"/g)];
  return found.map((m) => ({ type: m[1] ? m[1].slice(PACKAGE.length + 1, -1) : type, key: m[2] }));
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

  it('node files say nothing to users in literal English: every error, warning and status comes from the catalogs', () => {
    const literal = /CodedError\('[A-Z_]+', ['`"]|\.(warn|error|log)\(['`"]|\btext: ['`"]|new Error\(['`"]/;
    const nodeFiles = readdirSync(join(ROOT, 'nodes'), { withFileTypes: true })
      .filter((entry) => entry.isDirectory() && entry.name !== 'lib')
      .flatMap((dir) => readdirSync(join(ROOT, 'nodes', dir.name)).filter((f) => f.endsWith('.ts')).map((f) => join(ROOT, 'nodes', dir.name, f)));
    assert.ok(nodeFiles.length >= 17);
    const offending = nodeFiles.flatMap((file) => readFileSync(file, 'utf8').split('\n').map((line, i) => [file, i + 1, line] as const)).filter(([, , line]) => literal.test(line));
    assert.deepEqual(offending.map(([file, n, line]) => `${file.slice(ROOT.length + 1)}:${n}: ${line.trim()}`), []);
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

    it(`${type}: every message key its code uses exists`, () => {
      const used = keysUsed(type);
      assert.ok(used.length > 0);
      for (const { type: owner, key } of used) assert.ok(catalog('en-US', owner).has(key), `${type} uses ${owner}:${key}`);
    });
  }
});
