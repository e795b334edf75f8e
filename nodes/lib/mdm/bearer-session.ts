import type { AxiosResponse } from 'axios';
import type { CodedError } from '../coded-error';
import type { MdmHttp, MdmRequest } from './mdm-http';

/** A bearer token and when it stops working, ms epoch. */
export interface BearerToken {
  value: string;
  expiresAt: number;
}

/** Renew this long before a token expires, ms. */
const RENEW_EARLY = 30_000;

/**
 * An MDM's bearer token (OAuth client credentials, or a token bought with a password): fetched
 * once for every request waiting on it, renewed before it expires, and once more when the
 * server refuses it anyway (revoked, a server restarted).
 */
export class BearerSession {
  private token?: BearerToken;
  private pending?: Promise<string>;

  constructor(private readonly fetchToken: () => Promise<BearerToken>) {}

  /** `request` with the token; a 401 or 403 renews it and tries once more. */
  async request<T>(http: MdmHttp, request: MdmRequest, renewed = false): Promise<AxiosResponse<T>> {
    const token = await this.current();
    try {
      return await http.request<T>({ ...request, headers: { ...request.headers, authorization: `Bearer ${token}` } });
    } catch (err) {
      if ((err as CodedError).code !== 'MDM_AUTH' || renewed) throw err;
      this.token = undefined;
      return this.request<T>(http, request, true);
    }
  }

  private async current(): Promise<string> {
    if (this.token && Date.now() < this.token.expiresAt - RENEW_EARLY) return this.token.value;
    this.pending ??= this.fetchToken()
      .then((token) => (this.token = token).value)
      .finally(() => (this.pending = undefined));
    return this.pending;
  }
}
