import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { freeLoopbackPort } from '../sim/listen';

/** A real PostgreSQL server for one test file: its URL, and what stops it and removes its data. */
export interface TestPostgres {
  url: string;
  stop(): Promise<void>;
}

/** Debian's `postgresql` puts the server programs in /usr/lib/postgresql/<version>/bin. */
function serverBin(): string {
  const root = '/usr/lib/postgresql';
  const version = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a))[0] : undefined;
  const bin = version && join(root, version, 'bin');
  if (!bin || !existsSync(join(bin, 'initdb'))) throw new Error('no PostgreSQL server here (apt-get install postgresql)');
  return bin;
}

/**
 * Starts PostgreSQL on a fresh temporary data directory, listening on a loopback port only, as
 * a hospital runs it: every login over TCP with a password (`scram-sha-256` in pg_hba.conf), no
 * trust. `url` is its superuser's, with the password in it.
 * initdb and the server refuse to run as root (CI runs as root): there they run as the
 * `postgres` user Debian's package creates. `settings` go to the server as `-c name=value`
 * (max_connections, say).
 */
export async function startPostgres(settings: Record<string, string | number> = {}): Promise<TestPostgres> {
  const bin = serverBin();
  const dir = mkdtempSync(join(tmpdir(), 'device-checkout-pg-'));
  const data = join(dir, 'data');
  const asRoot = process.getuid?.() === 0;
  if (asRoot) {
    const [uid, gid] = ['-u', '-g'].map((flag) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' })));
    chownSync(dir, uid, gid);
  }
  const run = (program: string, args: string[]) =>
    (asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, program), ...args]] : [join(bin, program), args]) as [string, string[]];
  const password = randomBytes(12).toString('hex');
  const pwfile = join(dir, 'superuser-password');
  writeFileSync(pwfile, password);
  if (asRoot) execFileSync('chown', ['postgres', pwfile]);
  execFileSync(
    ...run('initdb', ['-D', data, '-U', 'checkout', '--pwfile', pwfile, '--auth-host=scram-sha-256', '--auth-local=scram-sha-256', '-E', 'UTF8', '--no-sync']),
    { stdio: 'ignore' },
  );
  const port = await freeLoopbackPort();
  const server: ChildProcess = spawn(
    ...run('postgres', [
      '-D',
      data,
      '-p',
      String(port),
      ...Object.entries({ listen_addresses: '127.0.0.1', unix_socket_directories: '', fsync: 'off', ...settings }).flatMap(([name, value]) => [
        '-c',
        `${name}=${value}`,
      ]),
    ]),
    { stdio: 'ignore' },
  );
  const url = `postgres://checkout:${password}@127.0.0.1:${port}/postgres`;
  const deadline = Date.now() + 20_000;
  for (;;) {
    const client = new Client({ connectionString: url });
    try {
      await client.connect();
      await client.end();
      break;
    } catch (err) {
      await client.end().catch(() => undefined);
      if (server.exitCode !== null || Date.now() > deadline) throw new Error(`PostgreSQL did not start: ${(err as Error).message}`, { cause: err });
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
  return {
    url,
    stop: async () => {
      if (server.exitCode === null) {
        const exited = new Promise((resolve) => server.once('exit', resolve));
        // The postmaster itself (runuser does not pass signals on): SIGINT is a fast shutdown.
        const postmaster = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
        process.kill(postmaster, 'SIGINT');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Creates an empty database on the test server, as a hospital's would be; returns its URL. */
export async function createDatabase(server: TestPostgres, name: string): Promise<string> {
  const admin = new Client({ connectionString: server.url });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return server.url.replace(/\/postgres$/, `/${name}`);
}

/** How the editor sets a cart up: the address alone in the URL, a login role and its password in the credentials. */
export interface CartLogin {
  databaseUrl: string;
  credentials: { databaseUser: string; databasePassword: string };
}

/**
 * A login role of its own owning `database` (so it may create the fleet's tables), with a
 * password full of what a URL would need escaped, as a hospital's DBA hands it over.
 */
export async function createCartLogin(server: TestPostgres, database: string): Promise<CartLogin> {
  const role = `${database}_cart`;
  const password = `p@ss:w/rd%25 ${randomBytes(4).toString('hex')}`;
  const admin = new Client({ connectionString: server.url });
  await admin.connect();
  try {
    await admin.query(`CREATE ROLE ${role} LOGIN PASSWORD ${admin.escapeLiteral(password)}`);
    await admin.query(`ALTER DATABASE ${database} OWNER TO ${role}`);
  } finally {
    await admin.end();
  }
  const { port } = new URL(server.url);
  return { databaseUrl: `postgres://127.0.0.1:${port}/${database}?sslmode=disable`, credentials: { databaseUser: role, databasePassword: password } };
}
