import type { DeviceRecord, FleetStore, PendingCheckout } from './fleet-store';

type Expired = DeviceRecord & { checkout: PendingCheckout };

export interface DeadlineOptions {
  /**
   * Whether the cart can tell yet if the phone is still there (its hub has been read since
   * the start): a deadline that passed while Node-RED was down waits for that, so a phone
   * taken meanwhile completes its check-out instead of failing in the nurse's hand.
   */
  canJudge?: (record: Expired) => boolean;
  now?: () => number;
  /** After `onExpired` threw (the disk refused the change), how long until it is tried again, ms. */
  retryMs?: number;
}

/**
 * Fails check-outs not completed by an unplug in time. Deadlines live in the store, so after
 * a restart `arm()` picks them up again and one already past fires as soon as it can be judged.
 */
export class CheckoutDeadlines {
  private timer?: NodeJS.Timeout;
  private readonly now: () => number;

  constructor(
    private readonly store: FleetStore,
    private readonly onExpired: (record: Expired) => void,
    private readonly options: DeadlineOptions = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  /** (Re)schedules for the earliest deadline that can be judged; call after every check-out change. */
  arm(delay?: number): void {
    clearTimeout(this.timer);
    const next = this.judgeable()[0];
    if (!next) return;
    // setTimeout holds at most ~24.8 days; a longer wait just re-arms.
    const wait = delay ?? Math.min(Math.max(0, Date.parse(next.checkout.deadline) - this.now()), 2 ** 31 - 1);
    this.timer = setTimeout(() => this.expire(), wait);
  }

  close(): void {
    clearTimeout(this.timer);
  }

  private judgeable(): Expired[] {
    return this.store.pendingCheckouts().filter((record) => this.options.canJudge?.(record) ?? true);
  }

  private expire(): void {
    const now = this.now();
    for (const record of this.judgeable()) {
      if (Date.parse(record.checkout.deadline) > now) break;
      try {
        this.onExpired(record);
      } catch {
        // Still Checking Out on disk and in memory: try again shortly.
        return this.arm(this.options.retryMs ?? 5000);
      }
    }
    this.arm();
  }
}
