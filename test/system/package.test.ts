import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { logProblems, startNodeRedChild, type NodeRedChild } from '../../harness/node-red-child';
import { tempDir } from '../../harness/support';
import { PACKAGE_ROOT as ROOT } from '../../nodes/lib/package-root';

const PKG = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { name: string; version: string; 'node-red': { nodes: Record<string, string> } };
const TYPES = Object.keys(PKG['node-red'].nodes);

/** What an admin gets from `npm install`: the packed tarball in a fresh user directory. */
describe('the packed package, installed into a fresh Node-RED user directory', function () {
  this.timeout(300_000);
  let nodeRed: NodeRedChild;

  before(async () => {
    const out = tempDir('pack');
    // dist/ is built already (pretest); packing must not rebuild it under the running tests.
    const tarball = join(
      out,
      execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', out], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
        .trim()
        .split('\n')
        .pop()!,
    );
    const userDir = tempDir('userdir');
    writeFileSync(join(userDir, 'package.json'), JSON.stringify({ name: 'node-red-project', private: true }));
    execFileSync('npm', ['install', '--no-fund', '--no-audit', '--omit=dev', tarball], { cwd: userDir, stdio: 'pipe' });
    nodeRed = await startNodeRedChild({ userDir, url: 'http://127.0.0.1:0/' });
  });

  after(() => nodeRed?.stop());

  it('ships only what runs in a user\u2019s Node-RED: built nodes, the schemas as JSON, fonts, Chart.js\u2019s browser build, the editor\u2019s shared code, examples, README; no simulator', () => {
    const listed = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    const files = (JSON.parse(listed) as { files: { path: string }[] }[])[0].files.map((f) => f.path);
    const unexpected = files.filter(
      (f) =>
        !/^(dist\/(nodes|bin|schemas|fonts)\/|dist\/vendor\/chart\.(umd\.min\.js|js-LICENSE\.md)$|resources\/[\w-]+\.js$|examples\/|README\.md$|LICENSE$|package\.json$)/.test(
          f,
        ),
    );
    assert.deepEqual(unexpected, []);
    assert.ok(files.includes('dist/vendor/chart.umd.min.js'), 'the insights\u2019 charts work without internet');
    assert.deepEqual(
      files.filter((f) => f.endsWith('.map') || f.endsWith('.yaml')),
      [],
      'no source maps to sources it does not ship, no YAML copies',
    );
    assert.equal(files.filter((f) => f.endsWith('smart-hub.svg')).length, 1, 'one copy of the icons');
    for (const type of TYPES) for (const ext of ['js', 'html']) assert.ok(files.includes(`dist/nodes/${type}/${type}.${ext}`), `${type}.${ext}`);
  });

  it('loads every node without an error or a warning', async () => {
    const sets = (
      (await (await fetch(`${nodeRed.url}nodes`, { headers: { accept: 'application/json' } })).json()) as {
        id: string;
        module: string;
        version: string;
        enabled: boolean;
        err?: string;
        types: string[];
      }[]
    ).filter((s) => s.module === PKG.name);
    assert.deepEqual(sets.map((s) => s.types[0]).sort(), [...TYPES].sort());
    for (const set of sets) assert.ok(set.enabled && !set.err && set.version === PKG.version, `${set.id}: ${set.err}`);
    assert.deepEqual(logProblems(nodeRed.output()), []);
    const html = await (await fetch(`${nodeRed.url}nodes`, { headers: { accept: 'text/html' } })).text();
    for (const type of TYPES) assert.match(html, new RegExp(`registerType\\('${type}'`));
    const examples = JSON.stringify(await (await fetch(`${nodeRed.url}library/examples/flows/${PKG.name}`)).json());
    for (const name of ['Device Prep', 'Check Out', 'Return', 'Whole cart']) assert.match(examples, new RegExp(name));
    // The editor's shared code, where the node definitions load it from.
    const shared = await fetch(`${nodeRed.url}resources/${PKG.name}/device-checkout.js`);
    assert.equal(shared.status, 200);
    assert.match(await shared.text(), /function action\(type, own\)/);
    console.log(`      ${process.version}, ${/Node-RED version: (\S+)/.exec(nodeRed.output())?.[1]}`);
  });
});
