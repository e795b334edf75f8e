import type { NodeAPI } from 'node-red';
import { registerDeviceAction, type DeviceActionDef } from '../shared/device-action';

/** Removes the device's record so its next enrolment counts as new. */
export default function (RED: NodeAPI): void {
  registerDeviceAction<DeviceActionDef>(RED, 'delete-from-mdm', async (_config, { device, mdm }) => {
    await mdm.deleteDevice(device.udid);
  });
}
