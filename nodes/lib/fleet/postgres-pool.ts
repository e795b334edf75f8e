import { Client, Pool, type ClientConfig } from 'pg';
import { catalogText, CodedError, say } from '../coded-error';

export interface FleetPoolOptions {
  /** `postgres://host:port/database?sslmode=...`; a user or password in it is overridden by the two below. */
  url: string;
  user?: string;
  password?: string;
  /** Shown in `pg_stat_activity`, so a DBA sees which cart a connection is. */
  applicationName: string;
  /** The pool's connections (the listening one comes on top). */
  max?: number;
}

/** A cart's way into the fleet database: its pool, and a connection of its own for what it listens to. */
export interface FleetDatabase {
  pool: Pool;
  /** A new connection outside the pool, made and refused as the pool's are. */
  connect(): Promise<Client>;
}

type ConnectCallback = ((err: Error) => void) | ((err: null, c: Client) => void);

const LOCK_TIMEOUT_MS = 3000;
const STATEMENT_TIMEOUT_MS = 10_000;
/** After a refused login, connects wait this long, doubling up to MAX_BACKOFF_MS: only a person fixes it. */
const FIRST_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 30_000;
/**
 * A server away (restarting, failing over) is tried again soon, and at least this often: it is
 * back any moment, and every cart's taps and webhooks wait on it (at 1 s doubling to 5 s, a
 * failover's few failed connects kept a hundred carts refusing taps 19 s past the promotion).
 */
const FIRST_AWAY_BACKOFF_MS = 250;
const MAX_AWAY_BACKOFF_MS = 2000;
/** A login refused: the wrong password or role, which only a person fixes. */
const LOGIN_REFUSED = new Set(['28P01', '28000']);
/** PostgreSQL's `too_many_connections`: max_connections reached. */
export const TOO_MANY_CONNECTIONS = '53300';

/**
 * A pool for the shared fleet, built the way the editor asks for it: the address in the URL,
 * the role and its password from the credentials (pg lets a connection string override
 * separate options, so the credentials go into the URL, percent-encoded: any character works).
 *
 * A failed connect must not cost the server anything afterwards: pg leaves the socket of a
 * connect that failed on the client's side (no password for a SCRAM login, say) open, and the
 * backend waits on it until `authentication_timeout`; here it is closed at once. And after a
 * failure the next connects fail at once, without reaching the server, for a backoff that
 * doubles from 1 s to 30 s, so a cart with a wrong password never floods the database; a
 * server that is away (a restart, a failover) is tried again after a quarter second, doubling to 2 s.
 */
export function fleetDatabase({ url, user, password, applicationName, max = 2 }: FleetPoolOptions): FleetDatabase {
  const config: ClientConfig = {
    connectionString: withLogin(url, user, password),
    application_name: applicationName.slice(0, 63),
    connectionTimeoutMillis: 5000,
    // A tap waits a few seconds at most: a lock another session holds, or a statement that hangs,
    // ends in STORE_BUSY (said to the person) instead of a cart that freezes.
    lock_timeout: LOCK_TIMEOUT_MS,
    statement_timeout: STATEMENT_TIMEOUT_MS,
  };
  const gate = new ConnectGate();
  class GatedClient extends Client {
    constructor(options?: ClientConfig) {
      super(options);
      // A connection lost while a transaction holds it between two queries (a failover) emits an
      // error nobody listens to, which would end Node-RED: its next query fails instead, and the
      // pool drops it.
      this.on('error', () => undefined);
    }

    connect(): Promise<Client>;
    connect(callback: ConnectCallback): void;
    connect(callback?: ConnectCallback): Promise<Client> | void {
      const connecting =
        gate.refusal() ??
        super.connect().then(
          (client) => {
            gate.passed();
            return client;
          },
          (err: Error) => {
            // The socket of a connect that failed, so the server's backend ends now.
            (this as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy();
            gate.failed(err);
            throw err;
          },
        );
      if (!callback) return connecting;
      connecting.then((client) => (callback as (err: null, c: Client) => void)(null, client), callback as (err: Error) => void);
    }
  }
  return {
    pool: new Pool({ ...config, max, Client: GatedClient }),
    connect: () => new GatedClient(config).connect(),
  };
}

/** The pool alone (a cart that listens to nothing, a tool). */
export function fleetPool(options: FleetPoolOptions): Pool {
  return fleetDatabase(options).pool;
}

/** `url` with the login in it (the credentials win over a login in the URL). */
function withLogin(url: string, user?: string, password?: string): string {
  let address: URL;
  try {
    address = new URL(url);
  } catch {
    throw new CodedError('INVALID_CONFIG', catalogText('device-fleet.errors.database-url', { url: url.slice(0, 200) }));
  }
  // Already percent-encoded, the setters keep it as it is; pg decodes it.
  if (user) address.username = encodeURIComponent(user);
  if (password) address.password = encodeURIComponent(password);
  return address.toString();
}

/** Whether a connect may be tried now; after failures, not until their backoff has passed. */
class ConnectGate {
  private backoff = 0;
  private until = 0;
  private lastError?: Error;

  refusal(): Promise<never> | undefined {
    if (Date.now() >= this.until || !this.lastError) return undefined;
    const err = new Error(
      say(catalogText('device-fleet.errors.not-tried-again', { message: this.lastError.message, seconds: Math.ceil((this.until - Date.now()) / 1000) })),
    );
    Object.assign(err, { code: (this.lastError as NodeJS.ErrnoException).code });
    return Promise.reject(err);
  }

  passed(): void {
    this.backoff = 0;
    this.lastError = undefined;
  }

  failed(err: Error): void {
    // A server with every connection taken frees one any moment: tried again soon, not ever later.
    const code = (err as { code?: string }).code ?? '';
    if (code === TOO_MANY_CONNECTIONS) this.backoff = 0;
    // A login refused (by the server, or a password the client cannot even offer) waits long; a server away, briefly.
    const refused = LOGIN_REFUSED.has(code) || /password/i.test(err.message);
    const [first, cap] = refused ? [FIRST_BACKOFF_MS, MAX_BACKOFF_MS] : [FIRST_AWAY_BACKOFF_MS, MAX_AWAY_BACKOFF_MS];
    this.backoff = this.backoff ? Math.min(this.backoff * 2, cap) : first;
    this.until = Date.now() + this.backoff;
    this.lastError = err;
  }
}
