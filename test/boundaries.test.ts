import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { PACKAGE_ROOT } from '../nodes/lib/package-root';

const NODES = join(PACKAGE_ROOT, 'nodes');
const LIB = join(NODES, 'lib');

/** Every relative import of the .ts files under `dir`, as `file -> target` (both relative to nodes/). */
function imports(dir: string): { file: string; target: string }[] {
  return readdirSync(dir, { recursive: true })
    .map(String)
    .filter((f) => f.endsWith('.ts'))
    .flatMap((f) =>
      [...readFileSync(join(dir, f), 'utf8').matchAll(/from '(\.[^']+)'/g)].map((m) => ({
        file: relative(NODES, join(dir, f)),
        target: relative(NODES, resolve(dirname(join(dir, f)), m[1])),
      })),
    );
}

describe('the product\u2019s boundaries', () => {
  it('nodes/lib imports nothing outside nodes/lib (no simulator in what users run)', () => {
    const found = imports(LIB);
    assert.ok(found.length > 20);
    assert.deepEqual(
      found.filter(({ target }) => !target.startsWith('lib/')).map(({ file, target }) => `${file} -> ${target}`),
      [],
    );
  });

  it('a node folder imports only nodes/shared, nodes/lib and itself; nodes/shared only nodes/lib and itself', () => {
    const folders = readdirSync(NODES, { withFileTypes: true }).filter((entry) => entry.isDirectory() && entry.name !== 'lib');
    assert.ok(folders.length >= 20);
    const crossing = folders.flatMap(({ name }) =>
      imports(join(NODES, name))
        .filter(({ target }) => {
          const folder = target.split('/')[0];
          return folder !== name && folder !== 'lib' && (name === 'shared' || folder !== 'shared');
        })
        .map(({ file, target }) => `${file} -> ${target}`),
    );
    assert.deepEqual(crossing, []);
  });
});
