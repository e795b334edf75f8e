import axios from 'axios';
import { CodedError } from '../coded-error';

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
    .get<unknown>(url, { params: { id: badge }, timeout, validateStatus: () => true, responseType: 'json' })
    .catch((err: Error) => {
      throw new CodedError('BADGE_LOOKUP_FAILED', `the badge lookup service did not answer: ${err.message}`);
    });
  const body = response.data as { user?: unknown; name?: unknown } | undefined;
  if (response.status === 404 || (response.status === 200 && (typeof body?.user !== 'string' || !body.user))) {
    throw new CodedError('BADGE_NOT_FOUND', 'the badge belongs to no known user');
  }
  if (response.status !== 200) throw new CodedError('BADGE_LOOKUP_FAILED', `the badge lookup service answered HTTP ${response.status}`);
  return { user: body!.user as string, ...(typeof body!.name === 'string' && body!.name && { name: body!.name }) };
}
