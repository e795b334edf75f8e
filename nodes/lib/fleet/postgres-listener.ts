import type { Notification, Pool, PoolClient } from 'pg';

export interface PostgresListenerOptions {
  pool: Pool;
  channel: string;
  /** Each announcement on the channel. */
  onNotification(payload: string): void;
  /** Once listening, after each (re)connect: catch up with what was announced meanwhile. A failure reconnects. */
  onListening?(): Promise<void>;
  /** The connection was lost or could not be made (tried again 1 s later, doubling to 30 s). */
  onLost(err: Error): void;
}

const MAX_BACKOFF_MS = 30_000;

/**
 * One connection of its own that LISTENs on a channel (a pooled connection cannot: it is
 * shared), connected again with backoff whenever the database drops it.
 */
export class PostgresListener {
  private client?: PoolClient;
  private retry?: NodeJS.Timeout;
  private backoff = 1000;
  private closed = false;

  constructor(private readonly options: PostgresListenerOptions) {}

  async start(): Promise<void> {
    const { pool, channel, onNotification, onListening } = this.options;
    try {
      const client = await pool.connect();
      if (this.closed) return client.release(); // closed (a redeploy) while it connected
      this.client = client;
      client.on('notification', ({ payload = '' }: Notification) => onNotification(payload));
      client.on('error', (err: Error) => this.lost(err));
      await client.query(`LISTEN ${channel}`);
      this.backoff = 1000;
      await onListening?.();
    } catch (err) {
      this.lost(err as Error);
    }
  }

  /** Drops the connection, says why, and connects again later (unless closed). */
  lost(err: Error): void {
    this.client?.release(true);
    this.client = undefined;
    if (this.closed) return;
    this.options.onLost(err);
    clearTimeout(this.retry);
    this.retry = setTimeout(() => void this.start(), this.backoff);
    this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retry);
    this.client?.release(true);
    this.client = undefined;
  }
}
