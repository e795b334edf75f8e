import type { NodeAPI } from 'node-red';
import { CodedError } from '../lib/coded-error';
import { lockToLockerApp } from '../lib/fleet/locker-app';
import { asDevice } from '../lib/fleet/fleet';
import { NO_LOCKER_APP, registerDeviceAction, type DeviceActionDef } from '../shared/device-action';

/**
 * Locks the phone to the locker app, tells the app it is checked in, clears the Device User
 * (and the MDM's assigned user) and hands the port's LED back to the charging display.
 */
export default function (RED: NodeAPI): void {
  registerDeviceAction<DeviceActionDef>(RED, 'check-in-device', async (_config, { msg, device, fleet, mdm, wait }) => {
    if (!fleet.lockerApp) throw new CodedError('INVALID_CONFIG', RED._(NO_LOCKER_APP));
    await lockToLockerApp(mdm, fleet.lockerApp, device.udid, wait);
    await mdm.assignUser(device.udid, undefined);
    // The charge decides which phone the next check-out hands out; the serial is re-learnt too.
    const { battery, serial } = await mdm.readDevice(device.udid, wait);
    await fleet.store.reportHealth(device.udid, battery, true, serial);
    const record = await fleet.store.checkIn(device.udid, { who: 'check-in', why: 'locked to the locker app' });
    await fleet.setLed(record, 'release');
    msg.device = asDevice(record);
  });
}
