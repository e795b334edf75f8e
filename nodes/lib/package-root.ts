import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The package's folder (where its package.json is), found alike from the compiled code in dist/ and from the TypeScript sources. */
export const PACKAGE_ROOT = ((): string => {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${__dirname}`);
  }
})();

/** A file the build writes into dist/ for the code to read at run time (scripts/copy-assets.js: Apple's schemas as JSON, the fonts). */
export const builtFile = (...path: string[]): string => join(PACKAGE_ROOT, 'dist', ...path);
