import type { NodeAPI } from 'node-red';
import { renderTemplate } from '../lib/attributes';
import { deviceName, settings } from '../lib/mdm/commands';
import { registerDeviceAction, type DeviceActionDef } from '../device-fleet/device-fleet';

interface SetDeviceNameDef extends DeviceActionDef {
  /** e.g. "Cart 3 - [Port]"; placeholders come from msg.device. */
  deviceName: string;
}

/** Settings DeviceName through the MDM (the device must be supervised). */
export default function (RED: NodeAPI): void {
  registerDeviceAction<SetDeviceNameDef>(RED, 'set-device-name', async (config, { msg, device, mdm, timeout }) => {
    const name = renderTemplate(config.deviceName ?? '', device);
    await mdm.perform(device.udid, settings(deviceName(name)), { timeout });
    msg.device = { ...device, name };
  });
}
