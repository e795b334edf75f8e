import assert from 'node:assert/strict';
import { useCatalogs } from '../nodes/lib/coded-error';
import { englishText } from '../nodes/lib/english-texts';

const problems: string[] = [];

/**
 * How the tests render a catalog text: its key and values, so a test can see what a status or
 * error says without depending on the wording; and a key the catalogs lack, or a placeholder
 * left without a value, fails the test that rendered it.
 */
export function checkedText(key: string, values?: object): string {
  const text = englishText(key.slice(key.indexOf(':') + 1));
  if (text === undefined) problems.push(`no catalog text for ${key}`);
  for (const [, name] of (text ?? '').matchAll(/__(\w+)__/g)) if (!values || !(name in values)) problems.push(`${key} has no value for __${name}__`);
  return values ? `${key} ${JSON.stringify(values)}` : key;
}

useCatalogs(checkedText);

/** Loaded with mocha's --require (package.json): after every test, no text it rendered lacked its entry or a value. */
export const mochaHooks = {
  afterEach(): void {
    assert.deepEqual(problems.splice(0), [], 'every text rendered has its catalog entry and its values');
  },
};
