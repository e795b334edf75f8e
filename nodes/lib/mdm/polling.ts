import { pause } from '../abort';

export interface PollOptions {
  /** When to give up, ms epoch. */
  deadline: number;
  /** Between two reads, ms. */
  interval: number;
  signal?: AbortSignal;
  /** The adapter was closed: stop at once. */
  closed?: () => boolean;
  /** What past the deadline (or once closed) fails with. */
  timedOut: () => Error;
}

/**
 * Reads until `read` resolves with an answer (not undefined), at most once per `interval`, and
 * fails with `timedOut` past the deadline: how an MDM that reports by being asked (Jamf Pro,
 * Workspace ONE, Intune) is followed until the phone answered.
 */
export async function pollUntil<T>(read: () => Promise<T | undefined>, { deadline, interval, signal, closed, timedOut }: PollOptions): Promise<T> {
  for (;;) {
    const answer = await read();
    if (answer !== undefined) return answer;
    if (Date.now() >= deadline || closed?.()) throw timedOut();
    await pause(Math.min(interval, Math.max(0, deadline - Date.now())), signal);
  }
}

/**
 * One task at a time per key (a phone): the next starts once the last settled, however it
 * ended. MDMs followed by reading a device's command state (Workspace ONE's queue, Intune's
 * action results) tell one command from the one before only this way.
 */
export class Lanes {
  private readonly last = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const ran = (this.last.get(key) ?? Promise.resolve()).catch(() => undefined).then(task);
    this.last.set(key, ran);
    void ran
      .finally(() => {
        if (this.last.get(key) === ran) this.last.delete(key);
      })
      .catch(() => undefined);
    return ran;
  }
}
