import type { NodeAPI } from 'node-red';
import { registerDeviceAction, type DeviceActionDef } from '../shared/device-action';

/**
 * Locks the phone to the locker app, tells the app it is checked in, clears the Device User
 * (and the MDM's assigned user) and hands the port's LED back to the charging display.
 */
export default function (RED: NodeAPI): void {
  registerDeviceAction<DeviceActionDef>(RED, 'check-in-device', async (_config, { msg, device, fleet, mdm, wait }) => {
    msg.device = await fleet.checkIn(device.udid, mdm, wait, { who: 'check-in', why: 'locked to the locker app' });
  });
}
