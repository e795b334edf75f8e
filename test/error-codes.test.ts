import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES, type ErrorCode } from '../nodes/lib/error-codes';
import { PACKAGE_ROOT as ROOT } from '../nodes/lib/package-root';

const CODES = Object.keys(ERROR_CODES) as ErrorCode[];
const LANGS = readdirSync(join(ROOT, 'locales'));
const TYPES = Object.keys(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))['node-red'].nodes as object);
const read = (...path: string[]) => readFileSync(join(ROOT, ...path), 'utf8');
const sources = (dir: string): string[] =>
  readdirSync(join(ROOT, dir), { recursive: true })
    .map(String)
    .filter((file) => file.endsWith('.ts'))
    .map((file) => read(dir, file));

/** Every code a source names: a CodedError's, and any other literal shaped like one (refused, compared, answered). */
const codesNamed = (text: string): string[] => [...text.matchAll(/CodedError\(\s*'([A-Z_]+)'|'([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)'/g)].map((m) => m[1] ?? m[2]);

describe('error codes', () => {
  it('every code the package raises is in the table (a misspelt one does not compile), and every code in the table is raised', () => {
    const named = new Set([...sources('nodes'), ...sources('resources')].flatMap(codesNamed));
    // Codes of other systems the package reads: a socket error, Jamf's command state and command names, an MDM's answer.
    const foreign = [
      'EAI_AGAIN',
      'NOT_NOW',
      'ERASE_DEVICE',
      'RESTART_DEVICE',
      'CLEAR_PASSCODE',
      'ENABLE_LOST_MODE',
      'DISABLE_LOST_MODE',
      'PLAY_LOST_MODE_SOUND',
    ];
    assert.deepEqual(
      [...named].filter((code) => !(code in ERROR_CODES) && !foreign.includes(code)),
      [],
      'raised but not in ERROR_CODES',
    );
    assert.deepEqual(
      CODES.filter((code) => !named.has(code)),
      [],
      'codes in the table nothing raises',
    );
  });

  it('every code has a text for people in every language', () => {
    for (const lang of LANGS) {
      const texts = (JSON.parse(read('locales', lang, 'device-fleet.json')) as { 'device-fleet': { codes: Record<string, string> } })['device-fleet'].codes;
      assert.deepEqual(Object.keys(texts).sort(), [...CODES].sort(), lang);
      for (const code of CODES) assert.ok(texts[code].trim().length > 10, `${lang} ${code}`);
    }
  });

  it('the README lists every code with its HTTP status and whether trying again can help', () => {
    const readme = read('README.md');
    const list = readme.slice(readme.indexOf('### Error codes'), readme.indexOf('\n## ', readme.indexOf('### Error codes')));
    for (const code of CODES) {
      const row = new RegExp(`^\\| \`${code}\` \\| (\\d{3}) \\| (yes|no) \\|`, 'm').exec(list);
      assert.ok(row, `README: ${code}`);
      assert.deepEqual([Number(row[1]), row[2] === 'yes'], [ERROR_CODES[code].http, ERROR_CODES[code].retry], `README: ${code}`);
    }
  });

  it("each node's help, in every language, names the codes its own code raises, and every code is in some help", () => {
    const inSomeHelp = new Set<string>();
    for (const type of TYPES) {
      const own = new Set(
        sources(join('nodes', type))
          .flatMap(codesNamed)
          .filter((code) => code in ERROR_CODES),
      );
      for (const lang of LANGS) {
        const help = read('locales', lang, `${type}.html`);
        for (const code of CODES) if (help.includes(code)) inSomeHelp.add(`${lang} ${code}`);
        assert.deepEqual(
          [...own].filter((code) => !help.includes(code)),
          [],
          `${lang} help of ${type}`,
        );
      }
    }
    assert.deepEqual(
      LANGS.flatMap((lang) => CODES.filter((code) => !inSomeHelp.has(`${lang} ${code}`)).map((code) => `${lang} ${code}`)),
      [],
    );
  });
});
