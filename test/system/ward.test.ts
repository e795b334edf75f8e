import assert from 'node:assert/strict';
import { builtFile } from '../../nodes/lib/package-root';
import { tempDir } from '../../harness/support';
import { pressHandsFreePrep, untilCart } from '../../harness/demo-child';
import { logProblems, startChild, type Child } from '../../harness/node-red-child';
import { createDatabase, startPostgres, type TestPostgres } from '../../harness/postgres';

/** `npm run start:ward`: two demo carts, each its own Node-RED, one fleet on PostgreSQL. */
describe('npm run start:ward: two carts on one PostgreSQL', function () {
  this.timeout(120_000);
  let postgres: TestPostgres;
  let ward: Child<Record<string, string>>;

  before(async () => {
    postgres = await startPostgres();
    const databaseUrl = await createDatabase(postgres, 'ward');
    ward = await startChild(builtFile('demo', 'start-ward.js'), [], { PORT: '0', DATABASE_URL: databaseUrl, DEMO_WARD_DIR: tempDir('ward') }, (output) => {
      const urls = Object.fromEntries([...output.matchAll(/\[(ward-[ab])\] .*open (http:\/\/127\.0\.0\.1:\d+\/)/g)].map((m) => [m[1], m[2]]));
      return Object.keys(urls).length === 2 ? urls : undefined;
    });
  });

  after(async () => {
    await ward?.stop();
    await postgres?.stop();
  });

  it('without a database it says what it needs', async () => {
    const alone = await startChild(builtFile('demo', 'start-ward.js'), [], { DATABASE_URL: '' }, (output) => /needs a PostgreSQL database/.exec(output)?.[0]);
    await alone.stop();
  });

  it('both carts prepare their phones, and one person gets one phone across the ward', async () => {
    const { 'ward-a': a, 'ward-b': b } = ward.ready;
    await Promise.all(
      [a, b].map((url) => untilCart(url, 'ten phones checked in', (s) => s.phones.length === 10 && s.phones.every((p) => p.status === 'Checked In'), 90_000)),
    );
    const tap = (url: string) =>
      fetch(`${url}device-checkout/tap`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ badge: '1001' }) });
    const atA = await tap(a);
    assert.equal(atA.status, 200, await atA.clone().text());
    const atB = await tap(b);
    assert.equal(atB.status, 409);
    assert.equal(((await atB.json()) as { code: string }).code, 'USER_HAS_DEVICE', 'alice has ward A\u2019s phone');
    assert.deepEqual(logProblems(ward.output()), []);
  });

  it('the Hands-free Prep button prepares a phone again with the fleet on PostgreSQL', async () => {
    await pressHandsFreePrep(ward.ready['ward-b']);
    assert.deepEqual(logProblems(ward.output()), []);
  });
});
