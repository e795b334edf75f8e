import { randomUUID } from 'node:crypto';

/** The prefix of every profile identifier this package installs, so it can remove them again. */
const PROFILE_PREFIX = 'org.nodered.device-checkout';

export type WifiSecurity = 'WPA2' | 'WPA3' | 'WPA' | 'WEP' | 'None' | 'Any';
export const WIFI_SECURITY: WifiSecurity[] = ['WPA2', 'WPA3', 'WPA', 'WEP', 'None', 'Any'];

export interface WifiOptions {
  ssid: string;
  security: WifiSecurity;
  /** Omitted for open networks. */
  password?: string;
  hidden?: boolean;
  autoJoin?: boolean;
}

const uuid = (): string => randomUUID().toUpperCase();

/** A top-level configuration profile around one payload; the same identifier replaces it on install. */
function profile(identifier: string, displayName: string, payload: Record<string, unknown>): Record<string, unknown> {
  return {
    PayloadType: 'Configuration',
    PayloadVersion: 1,
    PayloadIdentifier: identifier,
    PayloadUUID: uuid(),
    PayloadDisplayName: displayName,
    PayloadOrganization: 'Device Checkout',
    PayloadContent: [{ PayloadVersion: 1, PayloadIdentifier: `${identifier}.payload`, PayloadUUID: uuid(), PayloadDisplayName: displayName, ...payload }],
  };
}

/** The identifier a Wi-Fi profile for `ssid` is installed under. */
function wifiProfileIdentifier(ssid: string): string {
  return `${PROFILE_PREFIX}.wifi.${Buffer.from(ssid, 'utf8').toString('hex')}`;
}

export function wifiProfile(options: WifiOptions): Record<string, unknown> {
  const payload: Record<string, unknown> = {
    PayloadType: 'com.apple.wifi.managed',
    SSID_STR: options.ssid,
    EncryptionType: options.security,
    HIDDEN_NETWORK: options.hidden ?? false,
    AutoJoin: options.autoJoin ?? true,
  };
  if (options.security !== 'None' && options.password) payload.Password = options.password;
  return profile(wifiProfileIdentifier(options.ssid), `Wi-Fi ${options.ssid}`, payload);
}

export const APP_LOCK_IDENTIFIER = `${PROFILE_PREFIX}.app-lock`;

/** Single-app mode: the device shows only the locker app until the profile is removed. */
export function appLockProfile(bundleId: string): Record<string, unknown> {
  return profile(APP_LOCK_IDENTIFIER, 'Locked to the locker app', { PayloadType: 'com.apple.app.lock', App: { Identifier: bundleId } });
}
