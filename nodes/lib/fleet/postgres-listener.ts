import type { Client, Notification } from 'pg';

/** One who hears a channel. */
export interface ChannelListener {
  onNotification(payload: string): void;
  /** Once listening, after each (re)connect: catch up with what was announced meanwhile. A failure reconnects. */
  onListening?(): Promise<void>;
}

export interface FleetChannelsOptions {
  /** A connection of its own: LISTEN belongs to a session, so a pooled connection cannot carry it. */
  connect(): Promise<Client>;
  /** The connection was lost or could not be made: said once until it is back (tried again a quarter second later, doubling to 2 s). */
  onLost(err: Error): void;
  /** Listening again after a loss. */
  onBack?(): void;
}

/** A failover takes seconds: listened to again soon after (a refused login waits on the pool's gate). */
const FIRST_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 2000;

/**
 * Everything a cart hears from the other carts (their changes, the webhooks they received) on
 * one connection of its own, whatever the number of channels: a cart's connections to the
 * database are its pool and this one. Connected again with backoff whenever the database drops
 * it (a restart, a failover), every channel listened to again and every listener caught up.
 */
export class FleetChannels {
  private client?: Client;
  private readonly listeners = new Map<string, Set<ChannelListener>>();
  private starting?: Promise<void>;
  private retry?: NodeJS.Timeout;
  private backoff = FIRST_BACKOFF_MS;
  private down = false;
  private closed = false;

  constructor(private readonly options: FleetChannelsOptions) {}

  /** Hears `channel` from now on (connecting if nobody listened yet); returns what stops it. */
  listen(channel: string, listener: ChannelListener): () => void {
    let heard = this.listeners.get(channel);
    if (!heard) this.listeners.set(channel, (heard = new Set()));
    heard.add(listener);
    const { client } = this;
    if (client) void this.join(client, channel, listener);
    else this.start();
    return () => heard.delete(listener);
  }

  /** Drops the connection (a listener could not catch up, say), says why once, and connects again later. */
  lost(err: Error): void {
    const { client } = this;
    this.client = undefined;
    void client?.end().catch(() => undefined);
    if (this.closed) return;
    if (!this.down) this.options.onLost(err);
    this.down = true;
    clearTimeout(this.retry);
    this.retry = setTimeout(() => this.start(), this.backoff);
    this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.retry);
    void this.client?.end().catch(() => undefined);
    this.client = undefined;
  }

  private start(): void {
    if (this.starting || this.client || this.closed) return;
    this.starting = this.connect().finally(() => (this.starting = undefined));
  }

  private async connect(): Promise<void> {
    let client: Client | undefined;
    try {
      client = await this.options.connect();
      if (this.closed) return void (await client.end());
      const mine = client;
      const gone = (err: Error): void => {
        if (this.client === mine) this.lost(err);
      };
      client.on('error', gone);
      client.on('end', () => gone(new Error('the database closed the connection')));
      client.on('notification', ({ channel, payload = '' }: Notification) => {
        for (const listener of this.listeners.get(channel) ?? []) listener.onNotification(payload);
      });
      // Set first: a listener that comes while these run joins by itself (LISTEN twice does no harm).
      this.client = client;
      for (const channel of this.listeners.keys()) await client.query(`LISTEN ${channel}`);
      this.backoff = FIRST_BACKOFF_MS;
      if (this.down) this.options.onBack?.();
      this.down = false;
      for (const [, heard] of this.listeners) for (const listener of heard) await listener.onListening?.();
    } catch (err) {
      if (client && this.client !== client) void client.end().catch(() => undefined);
      this.lost(err as Error);
    }
  }

  /** A listener come while connected: its channel listened to, then it catches up. */
  private async join(client: Client, channel: string, listener: ChannelListener): Promise<void> {
    try {
      await client.query(`LISTEN ${channel}`);
      await listener.onListening?.();
    } catch (err) {
      if (this.client === client) this.lost(err as Error);
    }
  }
}
