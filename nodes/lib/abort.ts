import { setTimeout as delay } from 'node:timers/promises';

/** Waits `ms`; rejects with the signal's reason as soon as it is aborted. */
export async function pause(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await delay(ms, undefined, { signal });
  } catch (err) {
    signal?.throwIfAborted();
    throw err;
  }
}

/** Runs `then` with the reason when `signal` is aborted (check `signal.aborted` first); returns what stops listening. */
export function onAbort(signal: AbortSignal | undefined, then: (reason: unknown) => void): () => void {
  if (!signal) return () => {};
  const listener = (): void => then(signal.reason);
  signal.addEventListener('abort', listener, { once: true });
  return () => signal.removeEventListener('abort', listener);
}
