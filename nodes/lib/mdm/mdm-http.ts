import axios, { AxiosError, type AxiosInstance, type AxiosRequestConfig, type AxiosResponse } from 'axios';
import { catalogText, CodedError } from '../coded-error';
import type { ErrorCode } from '../error-codes';

export interface MdmHttpOptions {
  baseURL: string;
  /** Requests in flight at once (Jamf asks for at most 5). */
  maxConcurrent: number;
  /** Per-request timeout, ms. */
  timeout: number;
  /** Attempts for a request that failed in a way worth repeating (5xx, 429, timeouts). */
  attempts?: number;
  /** First backoff delay, ms; doubles each attempt, capped at `maxBackoff`. */
  backoff?: number;
  maxBackoff?: number;
}

export interface MdmRequest extends AxiosRequestConfig {
  /**
   * A request that must never run twice (EraseDevice). When it may have reached the server
   * (timeout, 5xx, dropped connection) it fails with MDM_UNCERTAIN instead of being re-sent.
   */
  destructive?: boolean;
  /** Statuses the caller reads itself rather than treat as failures (NanoMDM's 500). */
  accept?: number[];
}

type Outcome<T> = { response: AxiosResponse<T> } | { error: CodedError; retryAfter?: number };

/** Connection errors that prove the request never reached the server. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

/**
 * HTTP to one MDM server: at most `maxConcurrent` requests in flight, bounded retries with
 * exponential backoff that honours Retry-After, and errors with stable codes.
 */
export class MdmHttp {
  readonly client: AxiosInstance;
  private inFlight = 0;
  private readonly waiting: (() => void)[] = [];
  /** The most requests ever in flight at once, for benchmarks. */
  peakInFlight = 0;

  constructor(private readonly options: MdmHttpOptions) {
    // Status codes are judged here, not by axios, so every answer reaches `request`.
    this.client = axios.create({ baseURL: options.baseURL, timeout: options.timeout, validateStatus: () => true, maxRedirects: 0 });
  }

  async request<T = unknown>(config: MdmRequest): Promise<AxiosResponse<T>> {
    const attempts = this.options.attempts ?? 4;
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.once<T>(config, attempt);
      if ('response' in outcome) return outcome.response;
      if (outcome.retryAfter === undefined || attempt >= attempts) throw outcome.error;
      await new Promise((resolve) => setTimeout(resolve, outcome.retryAfter));
    }
  }

  /** One attempt; `retryAfter` says when (ms) it may be repeated, if at all. */
  private async once<T>(config: MdmRequest, attempt: number): Promise<Outcome<T>> {
    const { destructive, accept = [], ...request } = config;
    const backoff = Math.min(this.options.maxBackoff ?? 8000, (this.options.backoff ?? 250) * 2 ** (attempt - 1));
    await this.slot();
    try {
      const response = await this.client.request<T>(request);
      const { status } = response;
      if (accept.includes(status)) return { response };
      if (status === 429) return { error: httpError(response, 'MDM_THROTTLED'), retryAfter: retryAfterMs(response) ?? backoff };
      if (status >= 500) {
        const error = httpError(response, destructive ? 'MDM_UNCERTAIN' : 'MDM_SERVER_ERROR');
        return destructive ? { error } : { error, retryAfter: retryAfterMs(response) ?? backoff };
      }
      if (status === 401 || status === 403) return { error: httpError(response, 'MDM_AUTH') };
      if (status >= 400) return { error: httpError(response, 'MDM_REJECTED') };
      return { response };
    } catch (err) {
      const code = (err as AxiosError).code ?? '';
      if (NOT_SENT.has(code))
        return { error: new CodedError('MDM_UNREACHABLE', catalogText('mdm-server.errors.unreachable', { where: this.where, code })), retryAfter: backoff };
      const silent = code === 'ECONNABORTED' || code === 'ETIMEDOUT';
      const values = { where: this.where, ms: this.options.timeout, reason: code || (err as Error).message };
      if (destructive)
        return {
          error: new CodedError('MDM_UNCERTAIN', catalogText(silent ? 'mdm-server.errors.uncertain-silent' : 'mdm-server.errors.uncertain-failed', values)),
        };
      return {
        error: new CodedError('MDM_TIMEOUT', catalogText(silent ? 'mdm-server.errors.silent' : 'mdm-server.errors.failed', values)),
        retryAfter: backoff,
      };
    } finally {
      this.release();
    }
  }

  /** Where the server is, for a message that says where to look: its origin, never a user or password in the URL. */
  private get where(): string {
    try {
      return new URL(this.options.baseURL).origin;
    } catch {
      return '(no valid URL)';
    }
  }

  private slot(): Promise<void> {
    if (this.inFlight < this.options.maxConcurrent) {
      this.inFlight++;
      this.peakInFlight = Math.max(this.peakInFlight, this.inFlight);
      return Promise.resolve();
    }
    return new Promise<void>((resolve) => this.waiting.push(resolve)).then(() => {
      this.peakInFlight = Math.max(this.peakInFlight, this.inFlight);
    });
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next)
      next(); // the slot passes straight to the next request
    else this.inFlight--;
  }
}

/** Retry-After in seconds or as an HTTP date, as milliseconds from now (capped at a minute). */
function retryAfterMs(response: AxiosResponse): number | undefined {
  const header = response.headers['retry-after'] as string | undefined;
  if (!header) return undefined;
  const seconds = Number(header);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(header) - Date.now();
  return Number.isFinite(ms) ? Math.min(60_000, Math.max(0, ms)) : undefined;
}

/** The server's own words, shortened; never the request (it may carry secrets). */
function httpError(response: AxiosResponse, code: ErrorCode): CodedError {
  const body = typeof response.data === 'string' ? response.data : JSON.stringify(response.data ?? '');
  const values = { status: response.status, body: body.slice(0, 300) };
  return new CodedError(code, catalogText(body ? 'mdm-server.errors.answered-with' : 'mdm-server.errors.answered', values), { status: response.status });
}
