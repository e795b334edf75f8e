import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { CodedError } from '../../nodes/lib/coded-error';
import { Directory, SIGN_IN_ATTEMPTS, type DirectoryOptions } from '../../nodes/lib/directory/directory';
import { STAFF } from '../../harness/openldap';
import { BASE, PHONE_GROUP, SERVICE_DN, startDirectory, type TestDirectory } from '../../sim/openldap';

const { alice, joerg, bob } = STAFF;

/** What the promise was refused with: its code and words. */
async function refusal(promise: Promise<unknown>): Promise<{ code: string; message: string }> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof CodedError, `a coded error, not ${(err as Error).stack}`);
    return { code: err.code, message: err.message };
  }
  assert.fail('expected a refusal');
}

describe('the hospital directory (a real OpenLDAP server: search as the service account, bind as the person)', function () {
  this.timeout(30_000);
  let server: TestDirectory;
  // The dialog's defaults, as a hospital on Active Directory keeps them.
  const settings = (more: Partial<DirectoryOptions> = {}): DirectoryOptions => ({
    url: server.url,
    base: BASE,
    badgeAttribute: 'employeeID',
    userAttribute: 'sAMAccountName',
    nameAttribute: 'displayName',
    group: PHONE_GROUP,
    bindDn: SERVICE_DN,
    bindPassword: server.servicePassword,
    ...more,
  });

  before(async () => {
    server = await startDirectory(Object.values(STAFF));
  });
  after(() => server?.remove());

  it('a badge in the directory: the person’s user id and display name; unknown: BADGE_NOT_FOUND', async () => {
    const directory = new Directory(settings());
    assert.deepEqual(await directory.badgeHolder(alice.badge), { user: alice.user, name: alice.name });
    assert.deepEqual(await directory.badgeHolder(joerg.badge), { user: joerg.user, name: joerg.name });
    assert.equal((await refusal(directory.badgeHolder('0009999'))).code, 'BADGE_NOT_FOUND');
  });

  it('a badge of someone outside the group: NOT_IN_GROUP; with no group set, anyone found gets a phone', async () => {
    assert.equal((await refusal(new Directory(settings()).badgeHolder(bob.badge))).code, 'NOT_IN_GROUP');
    assert.deepEqual(await new Directory(settings({ group: '' })).badgeHolder(bob.badge), { user: bob.user, name: bob.name });
  });

  it('signs in with the right password (any characters); a wrong one, an unknown user and an empty password all read the same', async () => {
    const directory = new Directory(settings());
    assert.deepEqual(await directory.signIn(alice.user, alice.password), { user: alice.user, name: alice.name });
    assert.deepEqual(await directory.signIn(` ${joerg.user.toUpperCase()} `, joerg.password), { user: joerg.user, name: joerg.name });
    const wrong = await refusal(directory.signIn(alice.user, 'not-her-password'));
    const nobody = await refusal(directory.signIn('nobody-here', 'whatever'));
    const empty = await refusal(directory.signIn(alice.user, ''));
    assert.equal(wrong.code, 'SIGN_IN_FAILED');
    assert.deepEqual(nobody, wrong, 'the answer does not tell whether the user exists');
    assert.deepEqual(empty, wrong, 'an empty password is never an anonymous bind that passes');
    assert.equal((await refusal(directory.signIn(bob.user, bob.password))).code, 'NOT_IN_GROUP');
  });

  it('a user name or badge written as an LDAP filter finds nobody (`*)(uid=*`, a wildcard that would match one person)', async () => {
    const directory = new Directory(settings({ group: '' }));
    for (const user of ['*)(uid=*', '*)(sAMAccountName=*', 'aarch*', '*', `${alice.user})(|(sAMAccountName=*`]) {
      assert.equal((await refusal(directory.signIn(user, alice.password))).code, 'SIGN_IN_FAILED', user);
    }
    for (const badge of ['*', '000471*', `${alice.badge})(employeeID=*`])
      assert.equal((await refusal(directory.badgeHolder(badge))).code, 'BADGE_NOT_FOUND', badge);
  });

  it(`${SIGN_IN_ATTEMPTS} wrong passwords within 5 minutes refuse that user (however her name is typed) at this cart for 5 minutes (said once), others unaffected`, async () => {
    let now = Date.parse('2026-12-07T07:00:00Z');
    const locked: string[] = [];
    const directory = new Directory(settings({ now: () => now, onLocked: (user) => locked.push(user) }));
    // One person however her name is typed: case, a full-width letter, an invisible character.
    const typed = [alice.user.toUpperCase(), alice.user, `\uff41${alice.user.slice(1)}`, `${alice.user}\u200b`, alice.user.toUpperCase()];
    for (const [i, user] of typed.entries()) {
      now += 30_000;
      assert.equal((await refusal(directory.signIn(user, `guess-${i}`))).code, 'SIGN_IN_FAILED');
    }
    assert.deepEqual(locked, [alice.user.toUpperCase()], 'the lock said once');
    const refused = await refusal(directory.signIn(alice.user, alice.password));
    assert.equal(refused.code, 'SIGN_IN_LOCKED', 'even the right password');
    assert.match(refused.message, /"minutes":5/);
    await refusal(directory.signIn(alice.user, 'one more guess'));
    assert.deepEqual(locked.length, 1, 'refusals while locked are not said again');
    assert.deepEqual(await directory.signIn(joerg.user, joerg.password), { user: joerg.user, name: joerg.name }, 'another user signs in');
    now += 4 * 60_000;
    assert.equal((await refusal(directory.signIn(alice.user, alice.password))).code, 'SIGN_IN_LOCKED', 'four minutes on: still locked');
    now += 61_000;
    assert.deepEqual(await directory.signIn(alice.user, alice.password), { user: alice.user, name: alice.name }, 'unlocked after the window');
  });

  it('a burst of guesses sent at once is taken one after the other: the lock holds after the fifth', async () => {
    const directory = new Directory(settings());
    const answers = await Promise.all([...Array(8).keys()].map((i) => refusal(directory.signIn(joerg.user, `burst-${i}`))));
    assert.deepEqual(
      answers.map((answer) => answer.code),
      [...Array(SIGN_IN_ATTEMPTS).fill('SIGN_IN_FAILED'), ...Array(8 - SIGN_IN_ATTEMPTS).fill('SIGN_IN_LOCKED')],
    );
  });

  it('failures spread over more than 5 minutes do not lock; a success starts the count again', async () => {
    let now = Date.parse('2026-12-07T07:00:00Z');
    const directory = new Directory(settings({ now: () => now }));
    for (let i = 0; i < SIGN_IN_ATTEMPTS - 1; i++) await refusal(directory.signIn(alice.user, 'typo'));
    assert.ok(await directory.signIn(alice.user, alice.password));
    for (let i = 0; i < SIGN_IN_ATTEMPTS - 1; i++) await refusal(directory.signIn(alice.user, 'typo'));
    now += 6 * 60_000;
    for (let i = 0; i < SIGN_IN_ATTEMPTS - 1; i++) await refusal(directory.signIn(alice.user, 'typo'));
    assert.ok(await directory.signIn(alice.user, alice.password));
  });

  it('LDAPS with the hospital’s CA; without it the certificate is not trusted: DIRECTORY_UNAVAILABLE saying so', async () => {
    assert.deepEqual(await new Directory(settings({ url: server.ldapsUrl, ca: server.ca })).signIn(alice.user, alice.password), {
      user: alice.user,
      name: alice.name,
    });
    const untrusted = await refusal(new Directory(settings({ url: server.ldapsUrl })).badgeHolder(alice.badge));
    assert.equal(untrusted.code, 'DIRECTORY_UNAVAILABLE');
    assert.match(untrusted.message, /certificate/i);
  });

  it('a wrong service password, a wrong base and a server not there: DIRECTORY_UNAVAILABLE naming why, never a password', async () => {
    const wrongService = await refusal(new Directory(settings({ bindPassword: 'not-it' })).badgeHolder(alice.badge));
    assert.equal(wrongService.code, 'DIRECTORY_UNAVAILABLE');
    assert.match(wrongService.message, /device-fleet\.errors\.directory-service-refused$/);
    const wrongBase = await refusal(new Directory(settings({ base: 'ou=nurses,dc=hospital,dc=test' })).badgeHolder(alice.badge));
    assert.equal(wrongBase.code, 'DIRECTORY_UNAVAILABLE');
    assert.match(wrongBase.message, /device-fleet\.errors\.directory-no-base$/);
    const nothingThere = await refusal(new Directory(settings({ url: 'ldap://127.0.0.1:1' })).signIn(alice.user, alice.password));
    assert.equal(nothingThere.code, 'DIRECTORY_UNAVAILABLE');
    assert.match(nothingThere.message, /ECONNREFUSED/);
    for (const { message } of [wrongService, wrongBase, nothingThere]) {
      assert.doesNotMatch(message, new RegExp(`not-it|${server.servicePassword}|${alice.password}`));
    }
  });

  it('the server stopped mid-tap, or hanging: DIRECTORY_UNAVAILABLE within the timeout; the next tap after its restart works', async () => {
    const directory = new Directory(settings({ timeoutMs: 1000 }));
    server.freeze();
    const started = Date.now();
    const hanging = await refusal(directory.badgeHolder(alice.badge));
    assert.equal(hanging.code, 'DIRECTORY_UNAVAILABLE');
    assert.ok(Date.now() - started < 3000, `refused after ${Date.now() - started} ms`);
    // Still frozen when the sign-in starts; killed before it answers anything.
    const midTap = refusal(directory.signIn(alice.user, alice.password));
    await new Promise((resolve) => setTimeout(resolve, 200));
    await server.crash();
    assert.equal((await midTap).code, 'DIRECTORY_UNAVAILABLE');
    assert.equal((await refusal(directory.badgeHolder(alice.badge))).code, 'DIRECTORY_UNAVAILABLE', 'while it is down');
    await server.start();
    assert.deepEqual(await directory.badgeHolder(alice.badge), { user: alice.user, name: alice.name });
  });

  it('a cart installed without optional packages (no ldapts): DIRECTORY_UNAVAILABLE saying what to install', () => {
    // A process in which `ldapts` cannot be found, as after `npm install --omit=optional`.
    const script = `
      const Module = require('node:module');
      const resolve = Module._resolveFilename;
      Module._resolveFilename = function (request, ...rest) {
        if (request === 'ldapts') throw Object.assign(new Error("Cannot find module 'ldapts'"), { code: 'MODULE_NOT_FOUND' });
        return resolve.call(this, request, ...rest);
      };
      const { Directory } = require(${JSON.stringify(require.resolve('../../nodes/lib/directory/directory'))});
      new Directory({ url: ${JSON.stringify(server.url)}, base: 'dc=x', badgeAttribute: 'a', userAttribute: 'b', nameAttribute: 'c' })
        .badgeHolder('1')
        .then(() => console.log('found'), (err) => console.log(err.code, err.message));`;
    assert.equal(execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' }).trim(), 'DIRECTORY_UNAVAILABLE device-fleet.errors.no-ldapts');
  });
});
