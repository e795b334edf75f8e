import { randomBytes, randomUUID } from 'node:crypto';
import { parsePlist } from '../nodes/lib/mdm/commands';

/** What a device in Lost Mode still runs. */
const LOST_MODE_COMMANDS = new Set(['EnableLostMode', 'DisableLostMode', 'DeviceInformation', 'DeviceLocation', 'PlayLostModeSound', 'EraseDevice']);

/** What a device answers to one command, as it would report it to the MDM. */
export interface DeviceReport {
  Status: 'Acknowledged' | 'Error' | 'NotNow' | 'CommandFormatError';
  ErrorChain?: { ErrorCode: number; ErrorDomain: string; LocalizedDescription: string; USEnglishDescription: string }[];
  [key: string]: unknown;
}

export interface SimulatedDeviceOptions {
  udid?: string;
  serial?: string;
  model?: string;
  supervised?: boolean;
  /** Assigned to the MDM through DEP: after an erase it enrols again by itself. */
  depAssigned?: boolean;
  /** DEP profile holds the device in Setup Assistant until DeviceConfigured. */
  awaitDeviceConfigured?: boolean;
  batteryLevel?: number;
  /** iOS version, e.g. '18.2': Return to Service needs 17 or later. */
  osVersion?: string;
  /** Find My on with Activation Lock: an erase stops at the Activation Lock screen, asking for the Apple Account. */
  activationLock?: boolean;
  /** A wired network (an iPad on a dock): Return to Service needs no Wi-Fi profile. */
  ethernet?: boolean;
  /**
   * Someone takes the erased phone through Setup Assistant (the USB Prep's technician): after a
   * plain erase it enrols again. Without one, only Return to Service brings it back by itself.
   */
  someoneAtSetup?: boolean;
}

type Command = { RequestType: string; [key: string]: unknown };

const majorVersion = (version: string): number => Number.parseInt(version, 10) || 0;

const error = (code: number, text: string): DeviceReport => ({
  Status: 'Error',
  ErrorChain: [{ ErrorCode: code, ErrorDomain: 'MCMDMErrorDomain', LocalizedDescription: text, USEnglishDescription: text }],
});

/**
 * An iPhone as an MDM sees it: executes commands under Apple's rules (supervision, unlock
 * token, profiles) and keeps what they changed so tests can look.
 */
export class SimulatedDevice {
  readonly udid: string;
  readonly serial: string;
  readonly model: string;
  supervised: boolean;
  depAssigned: boolean;
  awaitDeviceConfigured: boolean;
  batteryLevel: number;
  osVersion: string;
  activationLock: boolean;
  ethernet: boolean;
  someoneAtSetup: boolean;
  enrolled = false;
  awaitingConfiguration = false;
  name = 'iPhone';
  unlockToken: Buffer = randomBytes(32);
  erasures = 0;
  /** How often it came back by itself through Return to Service. */
  returnedToService = 0;
  readonly profiles = new Map<string, Record<string, unknown>>();
  readonly appConfigurations = new Map<string, Record<string, unknown>>();
  readonly wallpapers: { lock?: Buffer; home?: Buffer } = {};
  /** Every command executed, in order. */
  readonly executed: Command[] = [];
  /** Fault injection: answer the next N commands with NotNow (then execute them later). */
  notNowFor = 0;
  /** Fault injection: reject the next command with this error. */
  failNext?: { code: number; text: string };
  /** Fault injection: never answer at all. */
  silent = false;
  /** What its Lock Screen shows while in Lost Mode; undefined: not in Lost Mode. */
  lostMode?: { Message?: string; PhoneNumber?: string; Footnote?: string };
  /** Where its location services put it (told only in Lost Mode, to DeviceLocation); undefined: unknown. */
  location?: { Latitude: number; Longitude: number; HorizontalAccuracy: number } = { Latitude: 52.52667, Longitude: 13.37686, HorizontalAccuracy: 35 };
  /** How often it played the Lost Mode sound. */
  soundsPlayed = 0;
  /** Set over USB (lockdown): com.apple.international. */
  language = 'en';
  locale = 'en_US';
  /** Every lockdown SetValue, in order: what a host changed over USB. */
  readonly lockdownWrites: { domain?: string; key: string; value: string }[] = [];

  constructor(options: SimulatedDeviceOptions = {}) {
    this.udid = options.udid ?? `00008110-${randomBytes(8).toString('hex').toUpperCase()}`;
    this.serial = options.serial ?? randomBytes(6).toString('hex').toUpperCase();
    this.model = options.model ?? 'iPhone15,2';
    this.supervised = options.supervised ?? true;
    this.depAssigned = options.depAssigned ?? true;
    this.awaitDeviceConfigured = options.awaitDeviceConfigured ?? false;
    this.batteryLevel = options.batteryLevel ?? 0.8;
    this.osVersion = options.osVersion ?? '18.2';
    this.activationLock = options.activationLock ?? false;
    this.ethernet = options.ethernet ?? false;
    this.someoneAtSetup = options.someoneAtSetup ?? true;
  }

  /** Runs one command; undefined when the device is silent. */
  execute(command: Command): DeviceReport | undefined {
    if (this.silent) return undefined;
    if (this.notNowFor > 0) {
      this.notNowFor--;
      return { Status: 'NotNow' };
    }
    if (this.failNext) {
      const { code, text } = this.failNext;
      this.failNext = undefined;
      return error(code, text);
    }
    this.executed.push(command);
    // Apple: while in Lost Mode a device answers commands it does not allow then with 12078.
    if (this.lostMode && !LOST_MODE_COMMANDS.has(command.RequestType as string))
      return error(12078, 'The command is not allowed while the device is in Lost Mode.');
    switch (command.RequestType) {
      case 'EnableLostMode':
        if (!this.supervised) return error(4001, 'Lost Mode requires a supervised device.');
        if (!command.Message && !command.PhoneNumber) return { Status: 'CommandFormatError' }; // Apple: one of the two is required
        this.lostMode = {
          Message: command.Message as string | undefined,
          PhoneNumber: command.PhoneNumber as string | undefined,
          Footnote: command.Footnote as string | undefined,
        };
        return { Status: 'Acknowledged' };
      case 'DisableLostMode':
        if (!this.lostMode) return error(12067, 'The device is not in Lost Mode.');
        this.lostMode = undefined;
        return { Status: 'Acknowledged' };
      case 'DeviceLocation':
        // Apple: 12067 outside Lost Mode, 12068 when the location is unknown; -1 for what it cannot tell.
        if (!this.lostMode) return error(12067, 'The device is not in Lost Mode.');
        if (!this.location) return error(12068, 'The location of the device is unknown.');
        return { Status: 'Acknowledged', ...this.location, VerticalAccuracy: -1, Altitude: -1, Speed: -1, Course: -1, Timestamp: new Date().toISOString() };
      case 'PlayLostModeSound':
        if (!this.lostMode) return error(12067, 'The device is not in Lost Mode.');
        this.soundsPlayed++;
        return { Status: 'Acknowledged' };
      case 'EraseDevice':
        return { Status: 'Acknowledged' };
      case 'ClearPasscode':
        return Buffer.isBuffer(command.UnlockToken) && command.UnlockToken.equals(this.unlockToken)
          ? { Status: 'Acknowledged' }
          : error(12021, 'The unlock token is not valid.');
      case 'Settings':
        return this.settings(command.Settings as Record<string, unknown>[]);
      case 'InstallProfile': {
        const profile = parsePlist(command.Payload as Buffer) as Record<string, unknown>;
        const payloads = (profile.PayloadContent as { PayloadType: string }[]) ?? [];
        if (!this.supervised && payloads.some((p) => p.PayloadType === 'com.apple.app.lock')) return error(4001, 'App Lock requires a supervised device.');
        this.profiles.set(profile.PayloadIdentifier as string, profile);
        return { Status: 'Acknowledged' };
      }
      case 'RemoveProfile':
        if (!this.profiles.delete(command.Identifier as string)) return error(89, 'The profile is not installed.');
        return { Status: 'Acknowledged' };
      case 'DeviceInformation':
        return { Status: 'Acknowledged', QueryResponses: this.information(command.Queries as string[]) };
      case 'DeviceConfigured':
        this.awaitingConfiguration = false;
        return { Status: 'Acknowledged' };
      case 'RestartDevice':
        return this.supervised ? { Status: 'Acknowledged' } : error(4001, 'RestartDevice requires a supervised device.');
      default:
        return {
          Status: 'Error',
          ErrorChain: [{ ErrorCode: 12, ErrorDomain: 'MDMErrorDomain', LocalizedDescription: 'Unknown command', USEnglishDescription: 'Unknown command' }],
        };
    }
  }

  lockdownValue(key: string, domain?: string): unknown {
    if (domain === 'com.apple.international') return key === 'Language' ? this.language : key === 'Locale' ? this.locale : undefined;
    return ({ DeviceName: this.name, SerialNumber: this.serial, UniqueDeviceID: this.udid, ProductType: this.model } as Record<string, unknown>)[key];
  }

  setLockdownValue(key: string, value: string, domain?: string): void {
    this.lockdownWrites.push({ domain, key, value });
    if (domain === 'com.apple.international' && key === 'Language') this.language = value;
    else if (domain === 'com.apple.international' && key === 'Locale') this.locale = value;
    else if (!domain && key === 'DeviceName') this.name = value;
  }

  /**
   * An acknowledged EraseDevice: wiped, and whether it enrols again without anyone at it (its MDM
   * then enrols it). Return to Service as Apple documents it: iOS 17 or later (an older phone ignores
   * the key and waits in Setup Assistant), Activation Lock off, a network (the Wi-Fi profile given,
   * or Ethernet); the phone keeps its language and region from iOS 18 on.
   */
  erase(command: Command): boolean {
    const service = command.ReturnToService as { Enabled?: boolean; WiFiProfileData?: Buffer } | undefined;
    const returning = service?.Enabled === true && majorVersion(this.osVersion) >= 17;
    const { language, locale } = this;
    this.wipe();
    if (returning && majorVersion(this.osVersion) >= 18) Object.assign(this, { language, locale });
    if (!this.depAssigned || this.activationLock) return false;
    if (returning && (service.WiFiProfileData || this.ethernet)) {
      this.returnedToService++;
      return true;
    }
    return this.someoneAtSetup;
  }

  /** What an erase leaves: nothing of the last user, not enrolled, a new unlock token (and no Lost Mode). */
  wipe(): void {
    this.erasures++;
    this.language = 'en';
    this.locale = 'en_US';
    this.lostMode = undefined;
    this.enrolled = false;
    this.name = 'iPhone';
    this.profiles.clear();
    this.appConfigurations.clear();
    delete this.wallpapers.lock;
    delete this.wallpapers.home;
    this.unlockToken = randomBytes(32);
  }

  /** The Authenticate check-in's payload. */
  authenticateMessage(): Record<string, unknown> {
    return {
      MessageType: 'Authenticate',
      UDID: this.udid,
      SerialNumber: this.serial,
      Model: this.model,
      ModelName: 'iPhone',
      ProductName: this.model,
      Topic: 'com.apple.mgmt.External.' + randomUUID(),
    };
  }

  /** The TokenUpdate check-in's payload, carrying the UnlockToken. */
  tokenUpdateMessage(): Record<string, unknown> {
    return {
      MessageType: 'TokenUpdate',
      UDID: this.udid,
      Topic: 'com.apple.mgmt.External',
      PushMagic: randomUUID(),
      Token: randomBytes(32),
      UnlockToken: this.unlockToken,
      AwaitingConfiguration: this.awaitingConfiguration,
    };
  }

  private settings(items: Record<string, unknown>[]): DeviceReport {
    const results: Record<string, unknown>[] = [];
    for (const item of items) {
      if ((item.Item === 'DeviceName' || item.Item === 'Wallpaper') && !this.supervised) {
        results.push({ Item: item.Item, Status: 'Error', ErrorChain: error(4001, `${String(item.Item)} requires a supervised device.`).ErrorChain });
        continue;
      }
      if (item.Item === 'DeviceName') this.name = item.DeviceName as string;
      if (item.Item === 'Wallpaper') {
        const where = item.Where as number;
        if (where & 1) this.wallpapers.lock = item.Image as Buffer;
        if (where & 2) this.wallpapers.home = item.Image as Buffer;
      }
      if (item.Item === 'ApplicationConfiguration')
        this.appConfigurations.set(item.Identifier as string, (item.Configuration as Record<string, unknown>) ?? {});
      results.push({ Item: item.Item, Status: 'Acknowledged' });
    }
    const failed = results.find((r) => r.Status === 'Error');
    return failed
      ? { Status: 'Error', ErrorChain: failed.ErrorChain as DeviceReport['ErrorChain'], Settings: results }
      : { Status: 'Acknowledged', Settings: results };
  }

  private information(queries: string[]): Record<string, unknown> {
    const known: Record<string, unknown> = {
      UDID: this.udid,
      SerialNumber: this.serial,
      DeviceName: this.name,
      Model: this.model,
      BatteryLevel: this.batteryLevel,
      IsSupervised: this.supervised,
      AwaitingConfiguration: this.awaitingConfiguration,
      OSVersion: this.osVersion,
      IsActivationLockEnabled: this.activationLock,
    };
    return Object.fromEntries(queries.filter((q) => q in known).map((q) => [q, known[q]]));
  }
}
