import type { Pool } from 'pg';
import { CodedError } from '../coded-error';
import type { CheckoutRules, PendingCheckout } from './fleet-store';
import { checkUserId, userKey } from './person';
import { transaction } from './postgres-transaction';

export interface SharedCheckoutRequest {
  /** The cart the badge was tapped at: the phone comes from there. */
  cart: string;
  user: string;
  userName?: string;
  /** A given phone, else the most charged available one on the cart. */
  udid?: string;
  rules: CheckoutRules;
  started: Omit<PendingCheckout, 'deadline'>;
}

/**
 * Starts a check-out in the shared fleet with the rules `FleetStore.beginCheckout` applies on
 * one cart, in one transaction: every tap of one person, at any cart, waits on her lock, so
 * her limit holds across carts (two carts tapping one badge at the same instant hand out one
 * phone); a cart's taps wait on the cart's lock (CART_BUSY stays per cart). The locks are
 * always taken person first, then cart, so two taps never wait on each other in a circle.
 */
export async function beginSharedCheckout(pool: Pool, request: SharedCheckoutRequest): Promise<{ udid: string; deadline: string }> {
  const { cart, rules, started } = request;
  const id = checkUserId(request.user);
  const key = userKey(id);
  return transaction(pool, async (db) => {
    await db.query(`SELECT pg_advisory_xact_lock(hashtext('device-checkout user ' || $1))`, [key]);
    await db.query(`SELECT pg_advisory_xact_lock(hashtext('device-checkout cart ' || $1))`, [cart]);
    const waiting = await db.query<{ udid: string; hub: string | null; port: number | null }>(
      `SELECT udid, hub, port FROM checkout_devices WHERE cart = $1 AND status = 'Checking Out' AND docked LIMIT 1`,
      [cart],
    );
    if (waiting.rows[0]) {
      const { udid, hub, port } = waiting.rows[0];
      throw new CodedError('CART_BUSY', `a phone is already waiting to be taken from ${hub ?? 'the cart'} port ${port ?? '?'}`, { udid });
    }
    // As on one cart: out with her, or failed while out with her, counts toward her limit.
    const held = await db.query<{ count: number }>(
      `SELECT count(*)::int AS count FROM checkout_devices
        WHERE user_key = $1 AND (status IN ('Checking Out', 'Checked Out') OR (status = 'Failed' AND NOT docked))`,
      [key],
    );
    const count = held.rows[0].count;
    if (count >= rules.userLimit) throw new CodedError('USER_HAS_DEVICE', `${id} already has ${count} device${count === 1 ? '' : 's'} (limit ${rules.userLimit})`);
    const chosen = await db.query<{ udid: string }>(
      `SELECT udid FROM checkout_devices
        WHERE cart = $1 AND docked AND status = 'Checked In' AND healthy AND coalesce(battery, 1) >= $2 AND ($3::text IS NULL OR udid = $3)
        ORDER BY coalesce(battery, 1) DESC, udid LIMIT 1 FOR UPDATE`,
      [cart, rules.batteryThreshold, request.udid ?? null],
    );
    const udid = chosen.rows[0]?.udid;
    if (!udid) {
      throw new CodedError('NO_DEVICE_AVAILABLE', request.udid ? `device ${request.udid} is not docked, checked in, healthy and charged enough` : 'no docked, checked-in, healthy phone is charged enough');
    }
    await db.query(`UPDATE checkout_devices SET status = 'Checking Out', user_id = $2, user_key = $3, user_name = $4, updated_at = now() WHERE udid = $1`, [udid, id, key, request.userName ?? null]);
    const deadline = await db.query<{ deadline: Date }>(
      `INSERT INTO checkout_deadlines (udid, cart, node, deadline, message) VALUES ($1, $2, $3, now() + make_interval(secs => $4), $5)
       ON CONFLICT (udid) DO UPDATE SET cart = EXCLUDED.cart, node = EXCLUDED.node, deadline = EXCLUDED.deadline, message = EXCLUDED.message
       RETURNING deadline`,
      [udid, cart, started.node ?? null, rules.deadlineSeconds, started.message ?? null],
    );
    await db.query(`INSERT INTO checkout_audit (udid, cart, what, from_value, to_value, who, why) VALUES ($1, $2, 'status', 'Checked In', 'Checking Out', $3, 'check-out started')`, [udid, cart, id]);
    return { udid, deadline: deadline.rows[0].deadline.toISOString() };
  });
}
