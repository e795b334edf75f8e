import axios from 'axios';
import { onAbort } from '../abort';
import { catalogText, CodedError } from '../coded-error';
import { clearPasscode, type MdmCommand } from './commands';
import type { Enrolment, MdmAdapter, PerformOptions } from './mdm-adapter';

/** ClearPasscode with the UnlockToken `mdm` learnt at enrolment: the way of MDMs that hand it out (NanoMDM, Jamf Pro). */
export async function clearWithUnlockToken(mdm: MdmAdapter, udid: string, options: PerformOptions): Promise<void> {
  const token = await mdm.unlockToken(udid);
  if (!token) throw new CodedError('NO_UNLOCK_TOKEN', catalogText('clear-passcode.errors.no-token', { udid }));
  await mdm.perform(udid, clearPasscode(token), options);
}

/** Keeps when `command`, if an EraseDevice, erased the device, and whether it asked for Return to Service. */
export function noteErase(known: Enrolment, command: MdmCommand, at: number): void {
  if (command.Command.RequestType !== 'EraseDevice') return;
  known.erasedAt = at;
  known.returnToService = (command.Command.ReturnToService as { Enabled?: boolean } | undefined)?.Enabled === true;
}

/**
 * Resolves once `udid` has enrolled since it was last erased through this MDM (or, if it
 * never was, the next time it enrols). An enrolment that already happened counts, so the
 * wait cannot miss a device that was quicker than the flow.
 */
export function waitForEnrolment(mdm: MdmAdapter, udid: string, timeoutMs: number, signal?: AbortSignal): Promise<Enrolment> {
  const since = mdm.enrolment(udid)?.erasedAt ?? Date.now();
  const enrolled = (e?: Enrolment): e is Enrolment => e?.udid === udid && e.enrolledAt !== undefined && e.enrolledAt >= since;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onEnrolment = (e: Enrolment): void => {
      if (!enrolled(e)) return;
      stop();
      resolve(e);
    };
    const timer = setTimeout(() => {
      stop();
      reject(new CodedError('DEVICE_TIMEOUT', catalogText('mdm-server.errors.not-enrolled', { udid, seconds: Math.round(timeoutMs / 1000) })));
    }, timeoutMs);
    const unlisten = onAbort(signal, (reason) => {
      stop();
      reject(reason);
    });
    const stop = (): void => {
      clearTimeout(timer);
      unlisten();
      mdm.off('token-update', onEnrolment);
    };
    // Listen first: asking an MDM without check-ins (Jamf) is what starts it looking.
    mdm.on('token-update', onEnrolment);
    onEnrolment(mdm.enrolment(udid) ?? { udid });
  });
}

/**
 * Resolves once `udid`, erased with Return to Service, has enrolled again by itself; past
 * `timeoutMs` it has not come back (RTS_NOT_RETURNED), usually for its Wi-Fi profile.
 */
export function waitForReturn(mdm: MdmAdapter, udid: string, timeoutMs: number, signal?: AbortSignal): Promise<Enrolment> {
  return waitForEnrolment(mdm, udid, timeoutMs, signal).catch((err: CodedError) => {
    if (err.code !== 'DEVICE_TIMEOUT') throw err;
    throw new CodedError('RTS_NOT_RETURNED', catalogText('dep-enroll.errors.not-returned', { udid, seconds: Math.round(timeoutMs / 1000) }));
  });
}

/** Apple's per-serial answers to a profile assignment. */
type AssignReply = { devices?: Record<string, string> };

/**
 * Assigns a DEP profile to one serial number through a NanoDEP-style proxy of Apple's
 * `POST /profile/devices`. Anything but SUCCESS fails with DEP_ASSIGN_FAILED.
 */
export async function assignDepProfile(proxyUrl: string, apiKey: string, profileUuid: string, serial: string, timeout: number): Promise<void> {
  const response = await axios
    .post<AssignReply>(
      `${proxyUrl.replace(/\/+$/, '')}/profile/devices`,
      { profile_uuid: profileUuid, devices: [serial] },
      { auth: { username: 'depserver', password: apiKey }, timeout, validateStatus: () => true },
    )
    .catch((err: Error) => {
      throw new CodedError('DEP_UNREACHABLE', catalogText('mdm-server.errors.dep-unreachable', { reason: err.message }));
    });
  if (response.status !== 200)
    throw new CodedError('DEP_ASSIGN_FAILED', catalogText('mdm-server.errors.dep-answered', { status: response.status }), { status: response.status });
  const result = response.data?.devices?.[serial];
  if (result !== 'SUCCESS')
    throw new CodedError(
      'DEP_ASSIGN_FAILED',
      result
        ? catalogText('mdm-server.errors.dep-not-assigned', { profile: profileUuid, serial, result })
        : catalogText('mdm-server.errors.dep-no-answer', { profile: profileUuid, serial }),
      { result },
    );
}
