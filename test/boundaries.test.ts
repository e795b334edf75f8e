import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { PACKAGE_ROOT } from '../nodes/lib/package-root';

const LIB = join(PACKAGE_ROOT, 'nodes', 'lib');

describe('the product\u2019s boundaries', () => {
  it('nodes/lib imports nothing outside nodes/lib (no simulator in what users run)', () => {
    const files = readdirSync(LIB, { recursive: true }).map(String).filter((f) => f.endsWith('.ts'));
    assert.ok(files.length > 20);
    const outside = files.flatMap((file) =>
      [...readFileSync(join(LIB, file), 'utf8').matchAll(/from '(\.[^']+)'/g)]
        .map((m) => relative(LIB, resolve(dirname(join(LIB, file)), m[1])))
        .filter((target) => target.startsWith('..'))
        .map((target) => `${file} -> ${target}`),
    );
    assert.deepEqual(outside, []);
  });
});
