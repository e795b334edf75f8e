import { catalogText, CodedError } from '../coded-error';
import { parsePlist } from './commands';
import type { MdmAdapter, PerformOptions } from './mdm-adapter';

/** Apple: Return to Service is in iOS 17 and later; an older phone ignores the key and waits in Setup Assistant. */
const FIRST_VERSION = 17;

/**
 * Refuses, before anything is erased, a phone that Return to Service would leave in a dead end:
 * below iOS 17 (RTS_UNSUPPORTED, also when the MDM cannot tell its version) or with Activation
 * Lock on (ACTIVATION_LOCKED: it would stop at the Activation Lock screen).
 */
export async function checkReturnToService(mdm: MdmAdapter, udid: string, options: PerformOptions): Promise<void> {
  const { osVersion, activationLock } = await mdm.readEraseFacts(udid, options);
  const major = osVersion === undefined ? NaN : Number.parseInt(osVersion, 10);
  if (!(major >= FIRST_VERSION))
    throw new CodedError(
      'RTS_UNSUPPORTED',
      osVersion === undefined
        ? catalogText('erase-device.errors.version-unknown', { udid })
        : catalogText('erase-device.errors.too-old', { udid, version: osVersion }),
      { osVersion },
    );
  if (activationLock) throw new CodedError('ACTIVATION_LOCKED', catalogText('erase-device.errors.activation-lock', { udid }));
}

/** A PEM file's armour: `-----BEGIN PKCS7-----` and the like around base64. */
const PEM = /^\s*-----BEGIN [A-Z0-9 ]+-----([A-Za-z0-9+/=\s]+)-----END [A-Z0-9 ]+-----\s*$/;

/**
 * What of `bytes`, read from `file`, is handed to the phone as a profile with a payload of
 * `payloadType` (com.apple.wifi.managed, com.apple.mdm); INVALID_CONFIG saying why it cannot be.
 * A signed profile (CMS in DER, which starts with a SEQUENCE, or the same in PEM) is taken as it
 * is: the phone checks it.
 */
export function profileData(bytes: Buffer, payloadType: string, file: string): Buffer {
  const pem = PEM.exec(bytes.toString('latin1'));
  const data = pem ? Buffer.from(pem[1].replace(/\s+/g, ''), 'base64') : bytes;
  if (data[0] !== 0x30) checkUnsigned(data, payloadType, file);
  return data;
}

/** An unsigned profile: a plist whose payloads include one of `payloadType`. */
function checkUnsigned(bytes: Buffer, payloadType: string, file: string): void {
  let profile: { PayloadType?: unknown; PayloadContent?: { PayloadType?: unknown }[] } | undefined;
  try {
    profile = parsePlist(bytes) as typeof profile;
  } catch {
    profile = undefined;
  }
  if (profile?.PayloadType !== 'Configuration') throw new CodedError('INVALID_CONFIG', catalogText('erase-device.errors.not-a-profile', { file }));
  const payloads = Array.isArray(profile.PayloadContent) ? profile.PayloadContent : [];
  if (!payloads.some((payload) => payload?.PayloadType === payloadType))
    throw new CodedError('INVALID_CONFIG', catalogText('erase-device.errors.no-payload', { file, payloadType }));
}
