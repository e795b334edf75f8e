import type { EventEmitter } from 'node:events';
import type { MdmCommand } from './commands';

export interface PerformOptions {
  /** How long to wait for the device, ms. */
  timeout: number;
  /** Never re-sent when the request may have reached the server (EraseDevice). */
  destructive?: boolean;
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
}

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
  /** The device's UnlockToken, for ClearPasscode. */
  unlockToken(udid: string): Promise<Buffer | undefined>;
  /** Removes the device's record, so its next enrolment counts as new. */
  deleteDevice(udid: string): Promise<void>;
  /** Answers one webhook POST (exact bytes), for MDMs that report by webhook. */
  handleWebhook?(body: Buffer, signature: string | undefined): number;
  close(): Promise<void>;
}
