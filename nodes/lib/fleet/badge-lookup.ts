import axios from 'axios';
import { catalogText, CodedError } from '../coded-error';

/** Who a badge belongs to: a username, and a display name when the service has one. */
export interface BadgeHolder {
  user: string;
  name?: string;
}

/**
 * Turns a badge id into a user through the site's lookup service, `GET <url>?id=<badge>` ->
 * `{"user": "alice"}`, so raw badge ids stay on the local network. The badge id never
 * appears in an error message: it is as good as a key to the cart.
 */
export async function lookUpBadge(url: string, badge: string, timeout = 5000): Promise<BadgeHolder> {
  const response = await axios
    .get<unknown>(url, { params: { id: badge }, timeout, validateStatus: () => true, responseType: 'json', maxContentLength: 64 * 1024 })
    .catch((err: Error) => {
      throw new CodedError('BADGE_LOOKUP_FAILED', catalogText('device-fleet.errors.badge-silent', { reason: err.message }));
    });
  const body = response.data as { user?: unknown; name?: unknown } | undefined;
  if (response.status === 404 || (response.status === 200 && (typeof body?.user !== 'string' || !body.user))) {
    throw new CodedError('BADGE_NOT_FOUND', catalogText('device-fleet.errors.badge-unknown'));
  }
  if (response.status !== 200) throw new CodedError('BADGE_LOOKUP_FAILED', catalogText('device-fleet.errors.badge-answered', { status: response.status }));
  return { user: body!.user as string, ...(typeof body!.name === 'string' && body!.name && { name: body!.name }) };
}

/** Parts of an HTTP request that are plain data (and so may carry the badge); the rest is sockets. */
const REQUEST_DATA = ['body', 'query', 'params'];

/**
 * Removes the badge id from a message, wherever in it it came (`msg.badge`, `msg.payload.badge`,
 * an HTTP request's body...): every property or array item equal to it. A badge id is as good
 * as a key to the cart and must not travel on to Catch nodes, retries or the fleet's files.
 */
export function forgetBadge(msg: Record<string, unknown>, badge: string | number): void {
  const target = String(badge);
  const seen = new Set<object>();
  const visit = (value: unknown, depth: number): void => {
    if (value === null || typeof value !== 'object' || seen.has(value) || depth > 32 || Buffer.isBuffer(value)) return;
    seen.add(value);
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) {
        if (isBadge(value[i])) value.splice(i, 1);
        else visit(value[i], depth + 1);
      }
      return;
    }
    for (const [key, child] of Object.entries(value)) {
      if (isBadge(child)) delete (value as Record<string, unknown>)[key];
      else visit(child, depth + 1);
    }
  };
  const isBadge = (value: unknown): boolean => (typeof value === 'string' || typeof value === 'number') && String(value) === target;
  const { req, res: _res, ...rest } = msg;
  for (const [key, value] of Object.entries(rest)) {
    if (isBadge(value)) delete msg[key];
    else visit(value, 1);
  }
  if (req && typeof req === 'object') for (const part of REQUEST_DATA) visit((req as Record<string, unknown>)[part], 1);
}

/**
 * Removes a sign-in's password from a message: `msg.password`, and `password` in its payload or
 * in an HTTP request's body or query. By name only: a password may equal any other text in it.
 */
export function forgetPassword(msg: Record<string, unknown>): void {
  delete msg.password;
  const req = msg.req as Record<string, unknown> | undefined;
  for (const holder of [msg.payload, req?.body, req?.query]) if (holder && typeof holder === 'object') delete (holder as Record<string, unknown>).password;
}
