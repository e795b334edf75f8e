import { applicationConfiguration, settings, type PlistValue } from '../mdm/commands';
import type { AssignedUser, MdmAdapter, PerformOptions } from '../mdm/mdm-adapter';

/**
 * The managed app configuration the locker app reads (`com.apple.configuration.managed`):
 * who has the phone, or that it is checked in and nobody does.
 */
export function lockerAppConfiguration(user: AssignedUser | undefined): Record<string, PlistValue> {
  if (!user) return { CheckoutStatus: 'Checked In' };
  return { CheckoutStatus: 'Checked Out', UserId: user.id, UserName: user.name ?? user.id };
}

/** Tells the locker app who has the phone (`undefined`: checked in, nobody), the way its MDM configures apps. */
export async function tellLockerApp(mdm: MdmAdapter, lockerApp: string, udid: string, user: AssignedUser | undefined, wait: PerformOptions): Promise<void> {
  const configuration = lockerAppConfiguration(user);
  if (mdm.configureApp) return mdm.configureApp(udid, lockerApp, configuration, wait);
  await mdm.perform(udid, settings(applicationConfiguration(lockerApp, configuration)), wait);
}

/** Locks the phone to the locker app, then tells the app nobody has it: the lock first, so whatever fails after it the phone is no longer open. */
export async function lockToLockerApp(mdm: MdmAdapter, lockerApp: string, udid: string, wait: PerformOptions): Promise<void> {
  await mdm.setAppLock(udid, lockerApp, wait);
  await tellLockerApp(mdm, lockerApp, udid, undefined, wait);
}
