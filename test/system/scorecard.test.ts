import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../harness/support';
import { PACKAGE_ROOT as ROOT } from '../../nodes/lib/package-root';

/** The Flow Library's own checks (node-red-dev validate), run as the catalogue would. */
describe('the Flow Library scorecard', function () {
  this.timeout(240_000);

  it('passes every check', () => {
    const tools = tempDir('node-red-dev');
    writeFileSync(join(tools, 'package.json'), JSON.stringify({ name: 'scorecard-tools', private: true }));
    execFileSync('npm', ['install', '--no-fund', '--no-audit', 'node-red-dev@0.1.6'], { cwd: tools, stdio: 'pipe' });
    const file = join(tools, 'scorecard.json');
    execFileSync(process.execPath, [join(ROOT, 'scripts', 'scorecard.js'), tools, file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const scorecard = JSON.parse(readFileSync(file, 'utf8')) as Record<string, { test?: boolean }>;
    const checks = Object.entries(scorecard).filter(([, result]) => typeof result.test === 'boolean');
    assert.ok(checks.length >= 12, `the scorecard ran its checks (${checks.map(([id]) => id).join(' ')})`);
    assert.deepEqual(
      checks.filter(([, result]) => !result.test),
      [],
    );
  });
});
