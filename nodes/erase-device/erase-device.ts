import type { NodeAPI } from 'node-red';
import { eraseDevice } from '../lib/mdm/commands';
import { registerDeviceAction, type DeviceActionDef } from '../device-fleet/device-action';

interface EraseDeviceDef extends DeviceActionDef {
  preserveDataPlan: boolean;
  disallowProximitySetup: boolean;
}

/** EraseDevice: never re-sent when the MDM may already have queued it. */
export default function (RED: NodeAPI): void {
  registerDeviceAction<EraseDeviceDef>(RED, 'erase-device', async (config, { device, mdm, timeout }) => {
    const command = eraseDevice({ preserveDataPlan: Boolean(config.preserveDataPlan), disallowProximitySetup: Boolean(config.disallowProximitySetup) });
    await mdm.perform(device.udid, command, { timeout, destructive: true });
  });
}
