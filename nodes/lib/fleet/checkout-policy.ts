import { catalogText, CodedError } from '../coded-error';
import type { CheckoutRules, DeviceRecord, DeviceStatus } from './fleet-store';

/**
 * The check-out policy both stores apply: who holds a phone, which phones may be handed out
 * and in what order, and the refusals of a check-out, worded once.
 */

const HOLDING: DeviceStatus[] = ['Checking Out', 'Checked Out'];
/** Whether a person holds the phone: being taken or out, or Failed while out with her (a workflow failed on it). */
export const holds = (d: Pick<DeviceRecord, 'user' | 'status' | 'docked'>): boolean =>
  d.user !== undefined && (HOLDING.includes(d.status) || (d.status === 'Failed' && !d.docked));

/** Whether a phone may be handed out under `rules`. */
export const available = (d: DeviceRecord, rules: CheckoutRules): boolean =>
  d.docked && d.status === 'Checked In' && d.healthy && (d.battery ?? 1) >= rules.batteryThreshold;

/** A phone that answered the MDM within this many hours is handed out before a silent one. */
const HEARD_RECENTLY_HOURS = 24;

/** Since when a phone counts as heard from recently, at `now`. */
export const heardRecentlySince = (now: Date): Date => new Date(now.getTime() - HEARD_RECENTLY_HOURS * 3_600_000);

/**
 * Which available phone a check-out hands out first: one heard from recently (one that does
 * not answer costs the person a wait for its unlock), then the best charged.
 */
export function handOutOrder(now: Date): (a: DeviceRecord, b: DeviceRecord) => number {
  const since = heardRecentlySince(now).toISOString();
  const recent = (d: DeviceRecord): number => (d.heardAt !== undefined && d.heardAt >= since ? 1 : 0);
  return (a, b) => recent(b) - recent(a) || (b.battery ?? 1) - (a.battery ?? 1);
}

/** The refusals of `beginCheckout`, worded once for both stores. */
export const refusals = {
  cartBusy: (waiting: Pick<DeviceRecord, 'udid' | 'hub' | 'port'>) =>
    new CodedError(
      'CART_BUSY',
      waiting.hub
        ? catalogText('device-fleet.errors.cart-busy', { cart: waiting.hub, port: waiting.port ?? '?' })
        : catalogText('device-fleet.errors.cart-busy-here'),
      { udid: waiting.udid },
    ),
  userHasDevice: (user: string, held: number, limit: number) =>
    new CodedError('USER_HAS_DEVICE', catalogText('device-fleet.errors.user-has-device', { user, held, limit })),
  noDevice: (udid?: string) =>
    new CodedError(
      'NO_DEVICE_AVAILABLE',
      udid ? catalogText('device-fleet.errors.device-not-ready', { udid }) : catalogText('device-fleet.errors.no-phone-ready'),
    ),
};
