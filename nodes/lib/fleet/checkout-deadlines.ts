import type { DeviceRecord, FleetStore, PendingCheckout } from './fleet-store';

type Expired = DeviceRecord & { checkout: PendingCheckout };

/**
 * Fails check-outs not completed by an unplug in time. Deadlines live in the store, so after
 * a restart `arm()` picks them up again and one already past fires at once.
 */
export class CheckoutDeadlines {
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly store: FleetStore,
    private readonly onExpired: (record: Expired) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** (Re)schedules for the earliest pending deadline; call after every check-out change. */
  arm(): void {
    clearTimeout(this.timer);
    const next = this.store.pendingCheckouts()[0];
    if (!next) return;
    // setTimeout holds at most ~24.8 days; a longer wait just re-arms.
    const wait = Math.min(Math.max(0, Date.parse(next.checkout.deadline) - this.now()), 2 ** 31 - 1);
    this.timer = setTimeout(() => this.expire(), wait);
  }

  close(): void {
    clearTimeout(this.timer);
  }

  private expire(): void {
    const now = this.now();
    for (const record of this.store.pendingCheckouts()) {
      if (Date.parse(record.checkout.deadline) > now) break;
      this.onExpired(record);
    }
    this.arm();
  }
}
