export interface LoginThrottleOptions {
  /** Failures a client may have before its answers slow down. */
  freeFailures?: number;
  /** Failures after which a client is refused outright, for `lockoutMs`. */
  maxFailures?: number;
  lockoutMs?: number;
  /** How long a failure counts. */
  windowMs?: number;
  now?: () => number;
}

/** What to do with a client's login attempt. */
export type Verdict = { refused: true; retryAfterMs: number } | { refused: false; delayMs: number };

/**
 * Slows down and then refuses clients that keep failing a login (a ward page's basic auth):
 * the first few failures cost nothing, each further one half a second more (up to two), and past
 * `maxFailures` within the window the client is refused for `lockoutMs`. Per client address;
 * a success forgets the client. Bounded: the oldest clients are forgotten past 10,000.
 */
export class LoginThrottle {
  private readonly clients = new Map<string, { failures: number; since: number; lockedUntil: number }>();
  private readonly now: () => number;

  constructor(private readonly options: LoginThrottleOptions = {}) {
    this.now = options.now ?? Date.now;
  }

  verdict(client: string): Verdict {
    const seen = this.current(client);
    if (seen && seen.lockedUntil > this.now()) return { refused: true, retryAfterMs: seen.lockedUntil - this.now() };
    const over = (seen?.failures ?? 0) - (this.options.freeFailures ?? 5);
    return { refused: false, delayMs: over > 0 ? Math.min(over * 500, 2000) : 0 };
  }

  /** Counts a failure; true when it locked the client out (say so once). */
  failed(client: string): boolean {
    const now = this.now();
    const seen = this.current(client) ?? { failures: 0, since: now, lockedUntil: 0 };
    seen.failures++;
    this.clients.delete(client);
    this.clients.set(client, seen);
    if (this.clients.size > 10_000) this.clients.delete(this.clients.keys().next().value!);
    if (seen.failures < (this.options.maxFailures ?? 10) || seen.lockedUntil > now) return false;
    seen.lockedUntil = now + (this.options.lockoutMs ?? 15 * 60_000);
    return true;
  }

  succeeded(client: string): void {
    this.clients.delete(client);
  }

  private current(client: string) {
    const seen = this.clients.get(client);
    if (seen && seen.lockedUntil <= this.now() && this.now() - seen.since > (this.options.windowMs ?? 15 * 60_000)) {
      this.clients.delete(client);
      return undefined;
    }
    return seen;
  }
}
