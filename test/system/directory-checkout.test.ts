import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeAPI, NodeMessage } from 'node-red';
import { STAFF } from '../../harness/openldap';
import { BASE, PHONE_GROUP, SERVICE_DN, startDirectory, type TestDirectory } from '../../sim/openldap';
import { collect, freshUserDir, helper, packageNodes, reports, send } from '../../harness/node-red';
import { waitFor } from '../../harness/support';

// eslint-disable-next-line @typescript-eslint/no-require-imports -- Node-RED's core nodes are CommonJS files without types
const catchNode = require('@node-red/nodes/core/common/25-catch.js') as (RED: NodeAPI) => void;

const { alice, joerg, bob } = STAFF;
type Caught = NodeMessage & { user?: { id: string; name?: string }; password?: unknown; error: { message: string; source: { id: string } } };

/**
 * The directory as an admin sets it up in the fleet's dialog, in a real Node-RED runtime: every
 * directory field and credential deployed, badges and sign-ins into `check-out-device`. The cart
 * has no phone docked, so each tap that identifies its person ends in NO_DEVICE_AVAILABLE, with
 * `msg.user` naming whom the directory found (the full check-out by sign-in is in
 * checkout-workflows.test).
 */
describe('check-out-device identifies people through the hospital directory (a real OpenLDAP server)', function () {
  this.timeout(30_000);
  let server: TestDirectory;
  let userDir: string;

  before(async () => {
    server = await startDirectory(Object.values(STAFF));
  });
  after(() => server?.remove());
  afterEach(() => helper.unload());

  const start = async (fleet: object = {}) => {
    userDir = freshUserDir();
    const flow = [
      { id: 'mdm', type: 'mdm-server', vendor: 'nanomdm', url: 'http://127.0.0.1:9', maxConcurrent: '5', timeout: '5000', webhookPath: '' },
      {
        id: 'fleet',
        type: 'device-fleet',
        mdm: 'mdm',
        usb: '',
        lockerApp: 'org.example.locker',
        badgeLookup: 'ldap',
        ldapUrl: server.ldapsUrl,
        ldapCa: server.ca,
        ldapBase: BASE,
        ldapBadgeAttribute: 'employeeID',
        ldapUserAttribute: 'sAMAccountName',
        ldapNameAttribute: 'displayName',
        ldapGroup: PHONE_GROUP,
        ...fleet,
      },
      { id: 'checkout', type: 'check-out-device', fleet: 'fleet', wires: [[]] },
      { id: 'caught-here', type: 'catch', scope: null, uncaught: false, wires: [['caught']] },
      { id: 'caught', type: 'helper' },
    ];
    await helper.load([...packageNodes, catchNode], flow as Parameters<typeof helper.load>[1], {
      mdm: { apiKey: 'k' },
      fleet: { ldapBindDn: SERVICE_DN, ldapBindPassword: server.servicePassword },
    });
    return collect('caught') as Caught[];
  };
  const code = (msg: Caught) => msg.error.message.split(':')[0];

  it('a badge tap finds its holder over LDAPS with the hospital’s CA; unknown: BADGE_NOT_FOUND; outside the group: NOT_IN_GROUP', async () => {
    const caught = await start();
    send('checkout', { badge: alice.badge });
    send('checkout', { badge: '0000000' });
    send('checkout', { badge: bob.badge });
    await waitFor('three answers', () => caught.length === 3);
    const byCode = Object.fromEntries(caught.map((msg) => [code(msg), msg]));
    assert.deepEqual(Object.keys(byCode).sort(), ['BADGE_NOT_FOUND', 'NOT_IN_GROUP', 'NO_DEVICE_AVAILABLE']);
    assert.deepEqual(byCode.NO_DEVICE_AVAILABLE.user, { id: alice.user, name: alice.name }, 'identified, then no phone on the empty cart');
    for (const msg of caught) assert.ok(!('badge' in msg), 'the badge id gone from the message');
  });

  it('a sign-in with the right password is her; the password is gone from every message; a wrong one: SIGN_IN_FAILED', async () => {
    const caught = await start();
    send('checkout', { user: joerg.user, password: joerg.password, payload: { password: joerg.password } });
    await waitFor('identified', () => caught.length === 1);
    assert.equal(code(caught[0]), 'NO_DEVICE_AVAILABLE');
    assert.deepEqual(caught[0].user, { id: joerg.user, name: joerg.name });
    send('checkout', { user: joerg.user, password: 'wrong' });
    await waitFor('refused', () => caught.length === 2);
    assert.equal(code(caught[1]), 'SIGN_IN_FAILED');
    assert.ok(!JSON.stringify(caught).includes(joerg.password) && !JSON.stringify(caught).includes('wrong'), 'no password in what the flow sees');
    const files = readdirSync(join(userDir, 'device-checkout')).map((file) => readFileSync(join(userDir, 'device-checkout', file), 'utf8'));
    assert.ok(!files.some((text) => text.includes(joerg.password)), 'nor in the fleet’s files');
  });

  it('five wrong passwords lock that user at this cart: SIGN_IN_LOCKED, said once in the log without the password', async () => {
    const caught = await start();
    const warned = reports('fleet', 'warn');
    for (let i = 0; i < 7; i++) send('checkout', { user: alice.user, password: `guess-${i}` });
    await waitFor('seven refusals', () => caught.length === 7);
    assert.deepEqual(caught.map(code), [...Array(5).fill('SIGN_IN_FAILED'), 'SIGN_IN_LOCKED', 'SIGN_IN_LOCKED']);
    send('checkout', { user: alice.user, password: alice.password });
    await waitFor('the right password too', () => caught.length === 8);
    assert.equal(code(caught[7]), 'SIGN_IN_LOCKED');
    const locks = warned.filter((w) => /sign-in-locked-log/.test(String(w)));
    assert.equal(locks.length, 1);
    assert.match(String(locks[0]), new RegExp(`"user":"${alice.user}".*"minutes":5`));
    assert.doesNotMatch(JSON.stringify(warned), /guess-/);
  });

  it('badges through the lookup service and a directory that is down: the badge works, a sign-in answers DIRECTORY_UNAVAILABLE', async () => {
    const { SimulatedBadgeServer } = await import('../../sim/badge-server');
    const badges = new SimulatedBadgeServer(new Map([['1001', { user: 'alice', name: 'Alice Example' }]]));
    await badges.start();
    try {
      const caught = await start({ badgeLookup: 'http', badgeLookupUrl: badges.url });
      await server.stop();
      send('checkout', { user: alice.user, password: alice.password });
      await waitFor('refused', () => caught.length === 1);
      assert.equal(code(caught[0]), 'DIRECTORY_UNAVAILABLE');
      send('checkout', { badge: '1001' });
      await waitFor('the badge answered', () => caught.length === 2);
      assert.deepEqual([code(caught[1]), caught[1].user], ['NO_DEVICE_AVAILABLE', { id: 'alice', name: 'Alice Example' }]);
    } finally {
      await server.start();
      await badges.stop();
    }
  });

  it('a sign-in at a fleet without a directory: NO_DIRECTORY (never trusted); badges to a directory not set: the fleet does not start, saying why', async () => {
    let caught = await start({ ldapUrl: '', badgeLookup: 'http' });
    send('checkout', { user: alice.user, password: alice.password });
    await waitFor('refused', () => caught.length === 1);
    assert.equal(code(caught[0]), 'NO_DIRECTORY');
    await helper.unload();
    caught = await start({ ldapUrl: '' });
    const errors = reports('fleet', 'error');
    send('checkout', { badge: alice.badge });
    await waitFor('refused', () => caught.length === 1);
    assert.equal(caught[0].error.message, 'INVALID_CONFIG: device-fleet.errors.no-directory', 'every tap says why');
    assert.deepEqual(errors, ['device-fleet.errors.misconfigured {"message":"device-fleet.errors.no-directory"}'], 'and the log, at the start');
  });
});
