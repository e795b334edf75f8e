export interface DueTimesOptions<T> {
  /**
   * Whether an item can be judged yet. A check-out deadline that passed while Node-RED was down
   * waits until its hub has been read since the start, so a phone taken meanwhile completes its
   * check-out instead of failing in the nurse's hand.
   */
  canJudge?: (item: T) => boolean;
  now?: () => number;
  /** After the store could not be read or refused a change, how long until it is tried again, ms. */
  retryMs?: number;
}

/**
 * Acts on stored items when their time comes: check-outs not completed by an unplug in time,
 * phones out past the lending period. The times live in the store, so after a restart `arm()`
 * picks them up again and one already past is acted on as soon as it can be judged.
 */
export class DueTimes<T> {
  private timer?: NodeJS.Timeout;
  private readonly now: () => number;
  /** Counts `arm` calls: each reads the store first, and only the newest sets the timer. */
  private arming = 0;
  private closed = false;

  constructor(
    /** The items still waiting, read from the store. */
    private readonly waiting: () => Promise<T[]>,
    private readonly dueAt: (item: T) => number,
    private readonly onDue: (item: T) => Promise<void>,
    private readonly options: DueTimesOptions<T> = {},
  ) {
    this.now = options.now ?? Date.now;
  }

  /** (Re)schedules for the earliest item that can be judged; call after every change of them. */
  async arm(delay?: number): Promise<void> {
    const turn = ++this.arming;
    clearTimeout(this.timer);
    let next: T | undefined;
    try {
      next = (await this.judgeable())[0];
    } catch {
      delay = this.options.retryMs ?? 5000; // the store cannot be read now: look again shortly
    }
    if (turn !== this.arming || this.closed) return;
    if (next === undefined && delay === undefined) return;
    // setTimeout holds at most ~24.8 days; a longer wait just re-arms.
    const wait = delay ?? Math.min(Math.max(0, this.dueAt(next!) - this.now()), 2 ** 31 - 1);
    this.timer = setTimeout(() => void this.expire(), wait);
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }

  private async judgeable(): Promise<T[]> {
    return (await this.waiting()).filter((item) => this.options.canJudge?.(item) ?? true).sort((a, b) => this.dueAt(a) - this.dueAt(b));
  }

  private async expire(): Promise<void> {
    const now = this.now();
    try {
      for (const item of await this.judgeable()) {
        if (this.dueAt(item) > now) break;
        await this.onDue(item);
      }
    } catch {
      // Still waiting in the store: try again shortly.
      return this.arm(this.options.retryMs ?? 5000);
    }
    return this.arm();
  }
}
