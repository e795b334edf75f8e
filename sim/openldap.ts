import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freeLoopbackPort } from './listen';

/** Someone in the hospital's directory. */
export interface StaffMember {
  user: string;
  name: string;
  badge: string;
  password: string;
  /** In the group that may take phones. */
  allowed: boolean;
}

export const BASE = 'ou=people,dc=hospital,dc=test';
export const PHONE_GROUP = 'cn=phone-users,ou=groups,dc=hospital,dc=test';
export const SERVICE_DN = 'cn=cart-service,ou=services,dc=hospital,dc=test';

/** A real OpenLDAP server (for a test file or the demo), seeded with staff, a group and a service account. */
export interface TestDirectory {
  /** `ldap://127.0.0.1:<port>` */
  url: string;
  /** `ldaps://127.0.0.1:<port>`, its certificate signed by `ca`. */
  ldapsUrl: string;
  /** The test CA's certificate (PEM), as a hospital hands its own CA to the cart. */
  ca: string;
  servicePassword: string;
  /** Stops answering without closing connections (SIGSTOP), and `resume` again. */
  freeze(): void;
  resume(): void;
  /** Stops the server (its data kept) and starts it again on the same ports. */
  stop(): Promise<void>;
  /** Kills it at once (SIGKILL), frozen or not: nothing it had received is answered. */
  crash(): Promise<void>;
  start(): Promise<void>;
  /** Stops it for good and removes its files. */
  remove(): Promise<void>;
}

/**
 * Active Directory's two attributes the defaults name (`sAMAccountName`, `employeeID`, with
 * their Microsoft OIDs), on an auxiliary class, so the tests use the dialog's defaults as a
 * hospital on AD does. (Debian's msuser.schema has them too, but its user class needs a dozen
 * AD-internal attributes.)
 */
const AD_ATTRIBUTES = `
attributetype ( 1.2.840.113556.1.4.221 NAME 'sAMAccountName'
  EQUALITY caseIgnoreMatch SUBSTR caseIgnoreSubstringsMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.2.840.113556.1.4.35 NAME 'employeeID'
  EQUALITY caseIgnoreMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.32473.1 NAME 'hospitalAccount' SUP top AUXILIARY
  MAY ( sAMAccountName $ employeeID ) )
`;

const ldif = (entries: Record<string, string | string[]>[]): string =>
  entries
    .map((entry) =>
      Object.entries(entry)
        .flatMap(([key, value]) =>
          (Array.isArray(value) ? value : [value]).map((v) => (/^[\x20-\x7e]*$/.test(v) ? `${key}: ${v}` : `${key}:: ${Buffer.from(v).toString('base64')}`)),
        )
        .join('\n'),
    )
    .join('\n\n') + '\n';

/** A salted hash of the password (`{SSHA}`: SHA-1 of the password and salt, then the salt), as a directory keeps it. */
function hashed(password: string): string {
  const salt = randomBytes(8);
  return '{SSHA}' + Buffer.concat([createHash('sha1').update(password).update(salt).digest(), salt]).toString('base64');
}

/**
 * Starts Debian's slapd on a fresh temporary directory, on loopback ports only, plain LDAP and
 * LDAPS with a certificate from a test CA made for it. Only the service account may search;
 * anyone may bind as a person with her password (as a hospital's directory allows).
 */
export async function startDirectory(staff: StaffMember[]): Promise<TestDirectory> {
  for (const program of ['/usr/sbin/slapd', '/usr/bin/openssl'])
    if (!existsSync(program)) throw new Error(`${program} missing (apt-get install slapd openssl)`);
  const dir = mkdtempSync(join(tmpdir(), 'device-checkout-ldap-'));
  const file = (name: string) => join(dir, name);
  mkdirSync(file('db'));
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'ignore' });
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  openssl('req', '-x509', ...ecKey, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=Test Hospital CA');
  openssl('req', ...ecKey, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  writeFileSync(file('san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.pem',
    '-days',
    '2',
    '-extfile',
    'san.ext',
  );

  const servicePassword = `svc-${randomBytes(6).toString('hex')}`;
  writeFileSync(file('hospital.schema'), AD_ATTRIBUTES);
  writeFileSync(
    file('slapd.conf'),
    [
      ...['core', 'cosine', 'inetorgperson'].map((schema) => `include /etc/ldap/schema/${schema}.schema`),
      `include ${file('hospital.schema')}`,
      'modulepath /usr/lib/ldap',
      'moduleload back_mdb',
      `pidfile ${file('slapd.pid')}`,
      `TLSCACertificateFile ${file('ca.pem')}`,
      `TLSCertificateFile ${file('server.pem')}`,
      `TLSCertificateKeyFile ${file('server.key')}`,
      'database mdb',
      'suffix "dc=hospital,dc=test"',
      `directory ${file('db')}`,
      'access to attrs=userPassword by anonymous auth by * none',
      `access to * by dn.exact="${SERVICE_DN}" read by * none`,
    ].join('\n') + '\n',
  );
  writeFileSync(
    file('seed.ldif'),
    ldif([
      { dn: 'dc=hospital,dc=test', objectClass: ['dcObject', 'organization'], o: 'Test Hospital', dc: 'hospital' },
      ...['people', 'groups', 'services'].map((ou) => ({ dn: `ou=${ou},dc=hospital,dc=test`, objectClass: 'organizationalUnit', ou })),
      { dn: SERVICE_DN, objectClass: 'person', cn: 'cart-service', sn: 'service', userPassword: hashed(servicePassword) },
      ...staff.map((person) => ({
        dn: `cn=${person.name},${BASE}`,
        objectClass: ['inetOrgPerson', 'hospitalAccount'],
        cn: person.name,
        sn: person.name.split(' ')[1],
        displayName: person.name,
        sAMAccountName: person.user,
        employeeID: person.badge,
        userPassword: hashed(person.password),
      })),
      {
        dn: PHONE_GROUP,
        objectClass: 'groupOfNames',
        cn: 'phone-users',
        member: staff.filter((person) => person.allowed).map((person) => `cn=${person.name},${BASE}`),
      },
    ]),
  );
  execFileSync('/usr/sbin/slapadd', ['-f', file('slapd.conf'), '-l', file('seed.ldif')], { stdio: 'pipe' });

  const [port, ldapsPort] = [await freeLoopbackPort(), await freeLoopbackPort()];
  let server: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    const output: string[] = [];
    const child = spawn('/usr/sbin/slapd', ['-f', file('slapd.conf'), '-h', `ldap://127.0.0.1:${port}/ ldaps://127.0.0.1:${ldapsPort}/`, '-d', '0'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr!.on('data', (chunk: Buffer) => output.push(chunk.toString()));
    server = child;
    const deadline = Date.now() + 10_000;
    while (!(await listening(port)) || !(await listening(ldapsPort))) {
      if (child.exitCode !== null || Date.now() > deadline) throw new Error(`slapd did not start: ${output.join('')}`);
      await sleep(50);
    }
  };
  const end = async (signals: NodeJS.Signals[]): Promise<void> => {
    const child = server;
    server = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    for (const signal of signals) child.kill(signal);
    await exited;
  };
  const stop = () => end(['SIGCONT', 'SIGTERM']);
  await start();
  return {
    url: `ldap://127.0.0.1:${port}`,
    ldapsUrl: `ldaps://127.0.0.1:${ldapsPort}`,
    ca: readFileSync(file('ca.pem'), 'utf8'),
    servicePassword,
    freeze: () => server?.kill('SIGSTOP'),
    resume: () => server?.kill('SIGCONT'),
    stop,
    crash: () => end(['SIGKILL']),
    start,
    remove: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}
