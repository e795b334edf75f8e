import { onAbort } from '../abort';
import { catalogText, CodedError } from '../coded-error';

/** A device's answer to one command, as the MDM reports it. */
export interface CommandReport {
  udid: string;
  commandUUID: string;
  status: string;
  /** The device's full answer (QueryResponses, ErrorChain, ...). */
  payload: Record<string, unknown>;
}

interface Waiter {
  resolve(payload: Record<string, unknown>): void;
  reject(err: Error): void;
  /** Runs from when the device was asked (`asked`), not from the registration. */
  timer?: NodeJS.Timeout;
  timeoutMs: number;
  /** Stops listening to the caller's abort signal. */
  unlisten(): void;
}

type ErrorChain = { ErrorCode?: number; ErrorDomain?: string; LocalizedDescription?: string; USEnglishDescription?: string }[];

/**
 * Commands waiting for their device. A command is done when the device acknowledged it;
 * `Error` fails with Apple's ErrorChain text; `NotNow` keeps waiting, the device runs it later.
 */
export class CommandResults {
  private readonly waiting = new Map<string, Waiter>();

  /**
   * Register before sending: the device may answer before the MDM's HTTP reply arrives. The
   * device's `timeoutMs` starts with `asked`, once the MDM took the command: a slow MDM is not a
   * silent phone. An aborted `signal` stops the wait at once (rejecting with its reason).
   */
  wait(udid: string, commandUUID: string, timeoutMs: number, signal?: AbortSignal): Promise<Record<string, unknown>> {
    const key = `${udid}/${commandUUID}`;
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason);
      const unlisten = onAbort(signal, (reason) => this.cancel(udid, commandUUID, reason as Error));
      this.waiting.set(key, { resolve, reject, timeoutMs, unlisten });
    });
  }

  /** The MDM has the command: from now the device has the wait's time to answer. */
  asked(udid: string, commandUUID: string): void {
    const waiter = this.waiting.get(`${udid}/${commandUUID}`);
    if (!waiter || waiter.timer) return;
    const { timeoutMs } = waiter;
    waiter.timer = setTimeout(() => {
      this.cancel(
        udid,
        commandUUID,
        new CodedError('DEVICE_TIMEOUT', catalogText('mdm-server.errors.no-answer', { udid, command: commandUUID, seconds: Math.round(timeoutMs / 1000) })),
      );
    }, timeoutMs);
  }

  /** Stops waiting for a command: never queued, timed out, or no longer wanted. */
  cancel(udid: string, commandUUID: string, err: Error): void {
    const waiter = this.take(`${udid}/${commandUUID}`);
    waiter?.reject(err);
  }

  private take(key: string): Waiter | undefined {
    const waiter = this.waiting.get(key);
    if (!waiter) return undefined;
    this.waiting.delete(key);
    clearTimeout(waiter.timer);
    waiter.unlisten();
    return waiter;
  }

  /** Whether a command (`<udid>/<command uuid>`) is waited for here. */
  waitsFor(key: string): boolean {
    return this.waiting.has(key);
  }

  /** A result from the MDM; true when someone was waiting for it. */
  report({ udid, commandUUID, status, payload }: CommandReport): boolean {
    const key = `${udid}/${commandUUID}`;
    if (!this.waiting.has(key) || status === 'NotNow') return this.waiting.has(key);
    const waiter = this.take(key)!;
    if (status === 'Acknowledged') waiter.resolve(payload);
    else if (status === 'Error')
      waiter.reject(
        new CodedError('DEVICE_ERROR', catalogText('mdm-server.errors.device-refused', { udid, reason: errorChainText(payload.ErrorChain as ErrorChain) }), {
          errorChain: payload.ErrorChain,
        }),
      );
    else waiter.reject(new CodedError('DEVICE_ERROR', catalogText('mdm-server.errors.device-answered', { udid, status })));
    return true;
  }

  /** Fails everything still waiting (the MDM connection is closing). */
  rejectAll(err: Error): void {
    for (const key of [...this.waiting.keys()]) this.take(key)?.reject(err);
  }
}

function errorChainText(chain: ErrorChain | undefined): string {
  if (!chain?.length) return 'no reason given';
  return chain.map((e) => `${e.USEnglishDescription ?? e.LocalizedDescription ?? 'error'} (${e.ErrorDomain ?? '?'} ${e.ErrorCode ?? '?'})`).join('; ');
}
