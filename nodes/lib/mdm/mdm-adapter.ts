import type { CodedError } from '../coded-error';
import type { EventEmitter } from 'node:events';
import type { MdmCommand, PlistValue } from './commands';

export interface DeviceFacts {
  battery?: number;
  serial?: string;
}

/** What Return to Service needs to know of a phone before it is erased; undefined where the MDM cannot tell. */
export interface EraseFacts {
  /** e.g. '17.4.1'. */
  osVersion?: string;
  activationLock?: boolean;
}

export interface PerformOptions {
  /** How long to wait for the device, ms. */
  timeout: number;
  /** Never re-sent when the request may have reached the server (EraseDevice). */
  destructive?: boolean;
  /** Stops waiting (the node that asked was closed): the wait rejects with the signal's reason. */
  signal?: AbortSignal;
}

export interface AssignedUser {
  /** Username. */
  id: string;
  /** Display name. */
  name?: string;
}

/** What a device told the MDM when it enrolled. */
export interface Enrolment {
  udid: string;
  serial?: string;
  unlockToken?: Buffer;
  awaitingConfiguration?: boolean;
  /** When the device last completed enrolment (TokenUpdate after Authenticate), ms epoch. */
  enrolledAt?: number;
  /** When the device last acknowledged an EraseDevice sent through this adapter, ms epoch. */
  erasedAt?: number;
  /** That erase asked for Return to Service: the phone should enrol again by itself. */
  returnToService?: boolean;
}

/**
 * How long a webhook relayed to the other carts of a fleet teaches them something: `read-once`
 * (a command's result: kept a few days for carts that were down), `adds` (a check-in: kept while
 * its device is enrolled, for carts that join the fleet later), `begins` (an enrolment or its
 * end: what came before about the same device teaches nothing more).
 */
export type WebhookLasting = 'read-once' | 'adds' | 'begins';

/**
 * One MDM server, whatever its vendor. Events: `authenticate` and `token-update`
 * (Enrolment) as devices enrol.
 */
export interface MdmAdapter extends EventEmitter {
  readonly vendor: string;
  /** Sends `command` and resolves with the device's answer once it acknowledged it. */
  perform(udid: string, command: MdmCommand, options: PerformOptions): Promise<Record<string, unknown>>;
  /** What enrolment and erasure told us about the device. */
  enrolment(udid: string): Enrolment | undefined;
  /** The device's UnlockToken, for ClearPasscode; undefined where the MDM keeps it to itself. */
  unlockToken(udid: string): Promise<Buffer | undefined>;
  /**
   * Clears the passcode: ClearPasscode with the UnlockToken the device gave at enrolment
   * (NO_UNLOCK_TOKEN without one), or the MDM's own command where it keeps the token.
   */
  clearPasscode(udid: string, options: PerformOptions): Promise<void>;
  /**
   * Locks the device to one app (single-app mode), or with `undefined` unlocks it. NanoMDM
   * installs or removes the `com.apple.app.lock` profile; Jamf Pro scopes profiles itself, so
   * there the device's lock extension attribute changes and the admin's smart group follows.
   */
  setAppLock(udid: string, bundleId: string | undefined, options: PerformOptions): Promise<void>;
  /**
   * Configures a managed app (`com.apple.configuration.managed`) where the MDM does it otherwise
   * than by Apple's Settings command (Intune: the app configuration policy of the device's group).
   */
  configureApp?(udid: string, bundleId: string, configuration: Record<string, PlistValue>, options: PerformOptions): Promise<void>;
  /** Sets (or with `undefined` clears) the MDM's assigned user, where the MDM has one. */
  assignUser(udid: string, user: AssignedUser | undefined): Promise<void>;
  /**
   * What the phone says of itself now: charge (0 to 1) and serial number; each undefined where
   * the MDM cannot tell. Asked at every check-in, it re-learns what a lost check-in webhook took.
   */
  readDevice(udid: string, options: PerformOptions): Promise<DeviceFacts>;
  /** The OS version and Activation Lock, read before a Return to Service erase. */
  readEraseFacts(udid: string, options: PerformOptions): Promise<EraseFacts>;
  /**
   * The editor's Test connection: logs in and reads once, failing with what is wrong (the URL,
   * the credentials, the API permissions, the tenant). Absent where only a command can tell.
   */
  checkConnection?(): Promise<void>;
  /** Removes the device's record, so its next enrolment counts as new. */
  deleteDevice(udid: string): Promise<void>;
  /** Answers one webhook POST (exact bytes), for MDMs that report by webhook. */
  handleWebhook?(body: Buffer, signature: string | undefined): number;
  /** Why its webhooks are refused right now (events: `webhook-status`). */
  readonly webhookProblem?: CodedError;
  close(): Promise<void>;
}
