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

describe('locales', () => {
  it('covers en-US and de', () => assert.deepEqual([...LANGS].sort(), ['de', 'en-US']));

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
