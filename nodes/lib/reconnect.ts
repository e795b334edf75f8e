/** Delays between attempts: doubling from `min` up to `max` ms. */
export interface RetryDelays {
  min: number;
  max: number;
}

/** What `reconnect` drives: one connection of a hub, a usbmuxd or a badge reader. */
export interface Reconnecting {
  /** True once the owner closes: no new attempt starts. */
  closing(): boolean;
  /** One connection until it ends; `opened` once it is up, so the pauses start short again. Resolves with why it ended (else "closed"). */
  session(opened: () => void): Promise<string | void>;
  status(status: { status: 'connecting' } | { status: 'disconnected'; reason: string }): void;
  /** A pause that closing cuts short. */
  pause(ms: number): Promise<void>;
}

/** Connects, and after each loss or failure connects again after a growing pause, until closed. */
export async function reconnect(target: Reconnecting, retry: RetryDelays = { min: 500, max: 10_000 }): Promise<void> {
  let delay = retry.min;
  while (!target.closing()) {
    target.status({ status: 'connecting' });
    let reason: string;
    try {
      reason = (await target.session(() => (delay = retry.min))) || 'closed';
    } catch (err) {
      reason = (err as Error).message;
    }
    if (target.closing()) break;
    target.status({ status: 'disconnected', reason });
    await target.pause(delay);
    delay = Math.min(delay * 2, retry.max);
  }
  target.status({ status: 'disconnected', reason: 'closed' });
}

/** A pause that `wake` ends early (a close during a back-off). */
export class WakeablePause {
  private wakeUp?: () => void;

  wait(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done(): void {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
  }

  wake(): void {
    this.wakeUp?.();
  }
}
