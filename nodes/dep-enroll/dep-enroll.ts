import type { NodeAPI } from 'node-red';
import { CodedError } from '../lib/coded-error';
import { deviceConfigured } from '../lib/mdm/commands';
import { assignDepProfile, waitForEnrolment, waitForReturn } from '../lib/mdm/enrolment';
import { numberField } from '../shared/defaults';
import { registerDeviceAction, type DeviceActionDef } from '../shared/device-action';

interface DepEnrollDef extends DeviceActionDef {
  /** A NanoDEP-style proxy of Apple's DEP API; empty skips the profile assignment. */
  depProxyUrl: string;
  profileUuid: string;
  /** Release a device the profile holds in Setup Assistant (await_device_configured). */
  sendDeviceConfigured: boolean;
  /** Seconds a phone erased with Return to Service has to come back by itself. */
  returnTimeout?: string;
}

/**
 * Waits for an erased device to enrol again, optionally assigning its DEP profile first; one
 * erased with Return to Service has its own deadline and fails with RTS_NOT_RETURNED.
 */
export default function (RED: NodeAPI): void {
  registerDeviceAction<DepEnrollDef>(
    RED,
    'dep-enroll',
    async (config, { msg, device, mdm, wait }, node) => {
      if (config.depProxyUrl) {
        if (!config.profileUuid) throw new CodedError('INVALID_CONFIG', RED._('dep-enroll.errors.no-profile'));
        const serial = device.serial ?? mdm.enrolment(device.udid)?.serial;
        if (!serial) throw new CodedError('NO_SERIAL', RED._('dep-enroll.errors.no-serial', { udid: device.udid }));
        const apiKey = (node.credentials as { depApiKey?: string } | undefined)?.depApiKey ?? '';
        await assignDepProfile(config.depProxyUrl, apiKey, config.profileUuid, serial, 30_000);
      }
      // Counts an enrolment since the erase too, so the device cannot be quicker than us.
      const enrolment = await (mdm.enrolment(device.udid)?.returnToService
        ? waitForReturn(mdm, device.udid, numberField('dep-enroll', config, 'returnTimeout') * 1000, wait.signal)
        : waitForEnrolment(mdm, device.udid, wait.timeout, wait.signal));
      if (config.sendDeviceConfigured && enrolment.awaitingConfiguration) {
        await mdm.perform(device.udid, deviceConfigured(), wait);
      }
      if (enrolment.serial) msg.device = { ...device, serial: enrolment.serial };
    },
    { credentials: { depApiKey: { type: 'password' } } },
  );
}
