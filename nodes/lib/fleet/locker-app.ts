import type { PlistValue } from '../mdm/commands';
import type { AssignedUser } from '../mdm/mdm-adapter';

/**
 * The managed app configuration the locker app reads (`com.apple.configuration.managed`):
 * who has the phone, or that it is checked in and nobody does.
 */
export function lockerAppConfiguration(user: AssignedUser | undefined): Record<string, PlistValue> {
  if (!user) return { CheckoutStatus: 'Checked In' };
  return { CheckoutStatus: 'Checked Out', UserId: user.id, UserName: user.name ?? user.id };
}
