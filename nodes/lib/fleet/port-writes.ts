import { pause } from '../abort';
import { errorCode } from '../coded-error';
import { meaning } from '../error-codes';

/** The database away or busy: a port event's write is tried again, the event still happened. */
function storeAway(err: unknown): boolean {
  const { area, retry } = meaning(errorCode(err));
  return area === 'store' && retry;
}

/**
 * Port events' writes to the store, in the order the events came, each waiting for the one
 * before. While the store cannot be reached or is busy it is tried again, 1 s apart at first and
 * at most 30 s, so a dock or unplug seen meanwhile is recorded (and its event sent on) once, when
 * the database is back; a deadline judged behind them sees them first. Other failures are the
 * caller's; `signal` aborted (the fleet closing), waiting writes give up.
 */
export class PortWrites {
  private last: Promise<unknown> = Promise.resolve();

  constructor(private readonly signal: AbortSignal) {}

  record<T>(write: () => Promise<T>): Promise<T> {
    const attempt = async (): Promise<T> => {
      for (let wait = 1000; ; wait = Math.min(wait * 2, 30_000)) {
        try {
          return await write();
        } catch (err) {
          if (!storeAway(err) || this.signal.aborted) throw err;
          await pause(wait, this.signal);
        }
      }
    };
    const recorded = this.last.then(attempt);
    this.last = recorded.catch(() => undefined);
    return recorded;
  }
}
