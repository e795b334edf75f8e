import type { NodeAPI } from 'node-red';
import { registerDeviceAction, type DeviceActionDef } from '../shared/device-action';

/** Clears the passcode: ClearPasscode with the UnlockToken the device gave the MDM when it enrolled, or the MDM's own command. */
export default function (RED: NodeAPI): void {
  registerDeviceAction<DeviceActionDef>(RED, 'clear-passcode', async (_config, { device, mdm, wait }) => {
    await mdm.clearPasscode(device.udid, wait);
  });
}
