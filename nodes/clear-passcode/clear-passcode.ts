import type { NodeAPI } from 'node-red';
import { CodedError } from '../lib/coded-error';
import { clearPasscode } from '../lib/mdm/commands';
import { registerDeviceAction, type DeviceActionDef } from '../shared/device-action';

/** ClearPasscode with the UnlockToken the device gave the MDM when it enrolled. */
export default function (RED: NodeAPI): void {
  registerDeviceAction<DeviceActionDef>(RED, 'clear-passcode', async (_config, { device, mdm, wait }) => {
    const token = await mdm.unlockToken(device.udid);
    if (!token) throw new CodedError('NO_UNLOCK_TOKEN', RED._('clear-passcode.errors.no-token', { udid: device.udid }));
    await mdm.perform(device.udid, clearPasscode(token), wait);
  });
}
