import { readFile } from 'node:fs/promises';
import type { NodeAPI } from 'node-red';
import { CodedError } from '../lib/coded-error';
import type { Device } from '../lib/device';
import { eraseDevice, toPlist, type EraseOptions } from '../lib/mdm/commands';
import { checkReturnToService, profileData } from '../lib/mdm/return-to-service';
import { deviceLabel, registerDeviceAction, type DeviceActionDef } from '../shared/device-action';
import { wifiProfileOf } from '../shared/wifi-source';

interface EraseDeviceDef extends DeviceActionDef {
  preserveDataPlan: boolean;
  disallowProximitySetup: boolean;
  /** iOS 17+: the phone joins Wi-Fi and enrols again by itself after the erase. */
  returnToService: boolean;
  /** The Add Wi-Fi node whose network the phone joins; empty: `wifiProfile`, or none (Ethernet). */
  wifi: string;
  /** A Wi-Fi profile file (.mobileconfig), when no Add Wi-Fi node is chosen. */
  wifiProfile: string;
  /** An MDM enrolment profile file (plist or PEM), for a DEP profile with configuration-web-url; empty: none. */
  mdmProfile: string;
}

/** EraseDevice: never re-sent when the MDM may already have queued it. */
export default function (RED: NodeAPI): void {
  /** A profile file, read at each erase (an admin may replace it), checked before a phone is erased with it. */
  async function profileFile(file: string, payloadType: string): Promise<Buffer> {
    const bytes = await readFile(file).catch((err: NodeJS.ErrnoException) => {
      throw new CodedError('INVALID_CONFIG', RED._('erase-device.errors.unreadable', { file, reason: err.code ?? err.message }));
    });
    return profileData(bytes, payloadType, file);
  }

  async function wifiToJoin(config: EraseDeviceDef, device: Device): Promise<Buffer | undefined> {
    if (config.wifi) {
      const build = wifiProfileOf(RED, config.wifi);
      if (!build) throw new CodedError('INVALID_CONFIG', RED._('erase-device.errors.no-wifi-node'));
      return Buffer.from(toPlist(build(device)), 'utf8');
    }
    return config.wifiProfile ? profileFile(config.wifiProfile, 'com.apple.wifi.managed') : undefined;
  }

  registerDeviceAction<EraseDeviceDef>(RED, 'erase-device', async (config, { device, mdm, fleet, wait }) => {
    const options: EraseOptions = { preserveDataPlan: Boolean(config.preserveDataPlan), disallowProximitySetup: Boolean(config.disallowProximitySetup) };
    if (config.returnToService) {
      // Everything that could refuse is asked before the erase: a phone is never erased into a dead end.
      const wifi = await wifiToJoin(config, device);
      const mdmProfile = config.mdmProfile ? await profileFile(config.mdmProfile, 'com.apple.mdm') : undefined;
      await checkReturnToService(mdm, device.udid, wait);
      options.returnToService = { wifiProfile: wifi, mdmProfile };
    }
    // A docked phone being erased is nobody's to take (a Checked In one prepared again) until it is checked in.
    if (!(await fleet.store.beginPrep(device.udid, { who: 'erase-device', why: 'erasing' })))
      throw new CodedError('DEVICE_IN_USE', RED._('erase-device.errors.being-taken', { device: deviceLabel(device) }));
    await mdm.perform(device.udid, eraseDevice(options), { ...wait, destructive: true });
  });
}
