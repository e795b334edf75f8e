import type { FleetStore, Pending } from './fleet-store';

export interface DeadlineOptions {
  /**
   * Whether the cart can tell yet if the phone is still there (its hub has been read since
   * the start): a deadline that passed while Node-RED was down waits for that, so a phone
   * taken meanwhile completes its check-out instead of failing in the nurse's hand.
   */
  canJudge?: (record: Pending) => boolean;
  now?: () => number;
  /** After the store could not be read or refused a change, how long until it is tried again, ms. */
  retryMs?: number;
}

/**
 * Fails check-outs not completed by an unplug in time. Deadlines live in the store, so after
 * a restart `arm()` picks them up again and one already past fires as soon as it can be judged.
 */
export class CheckoutDeadlines {
  private timer?: NodeJS.Timeout;
  private readonly now: () => number;
  /** Counts `arm` calls: each reads the store first, and only the newest sets the timer. */
  private arming = 0;
  private closed = false;

  constructor(
    private readonly store: FleetStore,
    private readonly onExpired: (record: Pending) => Promise<void>,
    private readonly options: DeadlineOptions = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  /** (Re)schedules for the earliest deadline that can be judged; call after every check-out change. */
  async arm(delay?: number): Promise<void> {
    const turn = ++this.arming;
    clearTimeout(this.timer);
    let next: Pending | undefined;
    try {
      next = (await this.judgeable())[0];
    } catch {
      delay = this.options.retryMs ?? 5000; // the store cannot be read now: look again shortly
    }
    if (turn !== this.arming || this.closed) return;
    if (!next && delay === undefined) return;
    // setTimeout holds at most ~24.8 days; a longer wait just re-arms.
    const wait = delay ?? Math.min(Math.max(0, Date.parse(next!.checkout.deadline) - this.now()), 2 ** 31 - 1);
    this.timer = setTimeout(() => void this.expire(), wait);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  private async judgeable(): Promise<Pending[]> {
    return (await this.store.pendingCheckouts()).filter((record) => this.options.canJudge?.(record) ?? true);
  }

  private async expire(): Promise<void> {
    const now = this.now();
    try {
      for (const record of await this.judgeable()) {
        if (Date.parse(record.checkout.deadline) > now) break;
        await this.onExpired(record);
      }
    } catch {
      // Still Checking Out in the store: try again shortly.
      return this.arm(this.options.retryMs ?? 5000);
    }
    return this.arm();
  }
}
