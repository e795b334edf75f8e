import type { NodeAPI } from 'node-red';
import { eraseDevice } from '../lib/mdm/commands';
import { registerDeviceAction, type DeviceActionDef } from '../shared/device-action';

interface EraseDeviceDef extends DeviceActionDef {
  preserveDataPlan: boolean;
  disallowProximitySetup: boolean;
}

/** EraseDevice: never re-sent when the MDM may already have queued it. */
export default function (RED: NodeAPI): void {
  registerDeviceAction<EraseDeviceDef>(RED, 'erase-device', async (config, { device, mdm, wait }) => {
    const command = eraseDevice({ preserveDataPlan: Boolean(config.preserveDataPlan), disallowProximitySetup: Boolean(config.disallowProximitySetup) });
    await mdm.perform(device.udid, command, { ...wait, destructive: true });
  });
}
