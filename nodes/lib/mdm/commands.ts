import { randomUUID } from 'node:crypto';
import plist from '@expo/plist';

/** An Apple MDM command as the device receives it. */
export interface MdmCommand {
  CommandUUID: string;
  Command: { RequestType: string; [key: string]: unknown };
}

/** Any value a plist can hold (Buffer is <data>, Date is <date>). */
export type PlistValue = string | number | boolean | Date | Buffer | PlistValue[] | { [key: string]: PlistValue };

/** A command with a fresh CommandUUID: a device never accepts the same one twice. */
export function mdmCommand(requestType: string, keys: Record<string, unknown> = {}): MdmCommand {
  return { CommandUUID: randomUUID().toUpperCase(), Command: { RequestType: requestType, ...keys } };
}

/** The XML plist NanoMDM's enqueue API and the device expect. */
export function toPlist(value: object): string {
  return plist.build(value as Parameters<typeof plist.build>[0]);
}

export function parsePlist(xml: string | Buffer): unknown {
  return plainObjects(plist.parse(typeof xml === 'string' ? xml : xml.toString('utf8')));
}

/** The parser's dicts have no prototype; plain objects behave as every caller expects. */
function plainObjects(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plainObjects);
  if (value === null || typeof value !== 'object' || Buffer.isBuffer(value) || value instanceof Date) return value;
  return Object.fromEntries(Object.entries(value).map(([key, v]) => [key, plainObjects(v)]));
}

export interface EraseOptions {
  preserveDataPlan?: boolean;
  disallowProximitySetup?: boolean;
  /** iOS 17+: after the erase, join this Wi-Fi (a profile) and re-enrol without a person. */
  returnToService?: { wifiProfile?: Buffer; mdmProfile?: Buffer };
}

export function eraseDevice(options: EraseOptions = {}): MdmCommand {
  const keys: Record<string, unknown> = {};
  if (options.preserveDataPlan !== undefined) keys.PreserveDataPlan = options.preserveDataPlan;
  if (options.disallowProximitySetup !== undefined) keys.DisallowProximitySetup = options.disallowProximitySetup;
  if (options.returnToService) {
    const { wifiProfile, mdmProfile } = options.returnToService;
    keys.ReturnToService = { Enabled: true, ...(wifiProfile && { WiFiProfileData: wifiProfile }), ...(mdmProfile && { MDMProfileData: mdmProfile }) };
  }
  return mdmCommand('EraseDevice', keys);
}

export const clearPasscode = (unlockToken: Buffer): MdmCommand => mdmCommand('ClearPasscode', { UnlockToken: unlockToken });

/** One item of a Settings command. */
export type SettingsItem =
  | { Item: 'DeviceName'; DeviceName: string }
  | { Item: 'Wallpaper'; Image: Buffer; Where: WallpaperWhere }
  | { Item: 'ApplicationConfiguration'; Identifier: string; Configuration?: Record<string, PlistValue> };

/** 1 lock screen, 2 home screen, 3 both. */
export type WallpaperWhere = 1 | 2 | 3;

export const settings = (...items: SettingsItem[]): MdmCommand => mdmCommand('Settings', { Settings: items });
export const deviceName = (name: string): SettingsItem => ({ Item: 'DeviceName', DeviceName: name });
export const wallpaper = (image: Buffer, where: WallpaperWhere): SettingsItem => ({ Item: 'Wallpaper', Image: image, Where: where });
export const applicationConfiguration = (identifier: string, configuration: Record<string, PlistValue>): SettingsItem => ({
  Item: 'ApplicationConfiguration',
  Identifier: identifier,
  Configuration: configuration,
});

/** Installs a configuration profile, sent as plist bytes. */
export const installProfile = (profile: object): MdmCommand => mdmCommand('InstallProfile', { Payload: Buffer.from(toPlist(profile), 'utf8') });
export const removeProfile = (identifier: string): MdmCommand => mdmCommand('RemoveProfile', { Identifier: identifier });
export const deviceInformation = (queries: string[]): MdmCommand => mdmCommand('DeviceInformation', { Queries: queries });
/** Releases a device held in Setup Assistant by await_device_configured. */
export const deviceConfigured = (): MdmCommand => mdmCommand('DeviceConfigured');
/** What the Lock Screen of a phone in Lost Mode shows: a message or a phone number (Apple requires one), and a footnote. */
export interface LostModeText {
  Message?: string;
  PhoneNumber?: string;
  Footnote?: string;
}
export const enableLostMode = (text: LostModeText): MdmCommand =>
  mdmCommand('EnableLostMode', Object.fromEntries(Object.entries(text).filter(([, value]) => value)));
export const disableLostMode = (): MdmCommand => mdmCommand('DisableLostMode');
/** Where a phone in Lost Mode is: its answer has Latitude, Longitude, HorizontalAccuracy and Timestamp. */
export const deviceLocation = (): MdmCommand => mdmCommand('DeviceLocation');
export const playLostModeSound = (): MdmCommand => mdmCommand('PlayLostModeSound');
export const restartDevice = (notifyUser?: boolean): MdmCommand => mdmCommand('RestartDevice', notifyUser === undefined ? {} : { NotifyUser: notifyUser });
