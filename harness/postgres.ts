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

/** A real PostgreSQL server for one test file: its URL, and what stops it and removes its data. */
export interface TestServer extends TestPostgres {
  port: number;
  /** The data directory. */
  data: string;
  /** Kills the server at once (SIGKILL to the postmaster), as a host that died. */
  kill(): Promise<void>;
}

/** Runs `program` of the server's binaries, as the `postgres` user when this is root (initdb and the server refuse root). */
function asServerUser(program: string, args: string[]): [string, string[]] {
  const path = join(serverBin(), program);
  return process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', path, ...args]] : [path, args];
}

/** A fresh temporary directory the server's user owns. */
function serverDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'device-checkout-pg-'));
  if (process.getuid?.() === 0) {
    const [uid, gid] = ['-u', '-g'].map((flag) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8' })));
    chownSync(dir, uid, gid);
  }
  return dir;
}

/**
 * Starts PostgreSQL on a fresh temporary data directory, listening on a loopback port only, as
 * a hospital runs it: every login over TCP with a password (`scram-sha-256` in pg_hba.conf), no
 * trust. `url` is its superuser's, with the password in it.
 * initdb and the server refuse to run as root (CI runs as root): there they run as the
 * `postgres` user Debian's package creates. `settings` go to the server as `-c name=value`
 * (max_connections, say).
 */
export async function startPostgres(settings: Record<string, string | number> = {}): Promise<TestServer> {
  const dir = serverDir();
  const data = join(dir, 'data');
  const password = randomBytes(12).toString('hex');
  const pwfile = join(dir, 'superuser-password');
  writeFileSync(pwfile, password);
  if (process.getuid?.() === 0) execFileSync('chown', ['postgres', pwfile]);
  execFileSync(
    ...asServerUser('initdb', [
      '-D',
      data,
      '-U',
      'checkout',
      '--pwfile',
      pwfile,
      '--auth-host=scram-sha-256',
      '--auth-local=scram-sha-256',
      '-E',
      'UTF8',
      '--no-sync',
    ]),
    { stdio: 'ignore' },
  );
  return runServer(dir, data, password, settings);
}

/**
 * A streaming standby of `primary` (pg_basebackup with `-R`: it follows the primary's WAL as a
 * hospital's standby does, asynchronously, and answers reads), on a port of its own; `settings`
 * as the primary's where they must be at least as large (`max_connections`).
 */
export async function startStandby(primary: TestServer, settings: Record<string, string | number> = {}): Promise<TestServer & { promote(): Promise<void> }> {
  const dir = serverDir();
  const data = join(dir, 'data');
  const password = new URL(primary.url).password;
  const [program, args] = asServerUser('pg_basebackup', [
    '-D',
    data,
    '-h',
    '127.0.0.1',
    '-p',
    String(primary.port),
    '-U',
    'checkout',
    '-R',
    '-X',
    'stream',
    '-c',
    'fast',
    '--no-sync',
  ]);
  execFileSync(program, args, { stdio: 'ignore', env: { ...process.env, PGPASSWORD: password } });
  const standby = await runServer(dir, data, password, settings);
  return {
    ...standby,
    // The standby becomes the primary (what Patroni does when the primary is gone), waiting until it takes writes.
    promote: async () => {
      const admin = new Client({ connectionString: standby.url });
      await admin.connect();
      try {
        await admin.query('SELECT pg_promote(true, 60)');
      } finally {
        await admin.end();
      }
    },
  };
}

/** Runs the server on `data` on a free loopback port, and waits until it takes logins. */
async function runServer(dir: string, data: string, password: string, settings: Record<string, string | number>): Promise<TestServer> {
  const port = await freeLoopbackPort();
  const server: ChildProcess = spawn(
    ...asServerUser('postgres', [
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
  // The postmaster itself (runuser does not pass signals on).
  const postmaster = Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
  const signal = async (name: NodeJS.Signals): Promise<void> => {
    if (server.exitCode !== null) return;
    const exited = new Promise((resolve) => server.once('exit', resolve));
    process.kill(postmaster, name);
    await exited;
  };
  return {
    url,
    port,
    data,
    kill: () => signal('SIGKILL'),
    stop: async () => {
      await signal('SIGINT'); // a fast shutdown
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

/** The superuser's rows from `sql` on `server`'s `database` (on its reserved connections). */
export async function superuserQuery(server: TestPostgres, sql: string, database = 'postgres'): Promise<Record<string, unknown>[]> {
  const client = new Client({ connectionString: server.url.replace(/\/postgres$/, `/${database}`) });
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

/**
 * Waits until `standby` has everything `primary` wrote, then cuts its replication: from here on
 * the primary's commits reach only the primary, as asynchronous replication loses the newest
 * commits when the primary dies.
 */
export async function cutReplication(primary: TestServer, standby: TestServer): Promise<void> {
  const [{ lsn }] = await superuserQuery(primary, 'SELECT pg_current_wal_lsn()::text AS lsn');
  for (let caught = false; !caught; await new Promise((resolve) => setTimeout(resolve, 50)))
    caught = (await superuserQuery(standby, `SELECT pg_last_wal_replay_lsn() >= '${String(lsn)}'::pg_lsn AS caught`))[0].caught === true;
  await superuserQuery(standby, "ALTER SYSTEM SET primary_conninfo = ''");
  await superuserQuery(standby, 'SELECT pg_reload_conf()');
  for (let receiving = true; receiving; await new Promise((resolve) => setTimeout(resolve, 50)))
    receiving = (await superuserQuery(standby, 'SELECT count(*)::int AS n FROM pg_stat_wal_receiver'))[0].n !== 0;
}
