import type { NodeAPI } from 'node-red';
import { renderTemplate } from '../lib/attributes';
import { CodedError } from '../lib/coded-error';
import { deviceName, settings } from '../lib/mdm/commands';
import { registerDeviceAction, type DeviceActionDef } from '../shared/device-action';

interface SetDeviceNameDef extends DeviceActionDef {
  /** e.g. "Cart 3 - [Port]"; placeholders come from msg.device. */
  deviceName: string;
  /** `mdm`: Settings DeviceName (needs supervision); `usb`: lockdown DeviceName (needs a pair record). */
  via?: 'mdm' | 'usb';
}

export default function (RED: NodeAPI): void {
  registerDeviceAction<SetDeviceNameDef>(RED, 'set-device-name', async (config, input) => {
    const { msg, device, wait } = input;
    const name = renderTemplate(config.deviceName ?? '', device).trim();
    // A phone with no name is nobody's to find: refused, never sent.
    if (!name) throw new CodedError('INVALID_CONFIG', RED._('set-device-name.errors.empty'));
    if (config.via === 'usb') {
      const session = await input.fleet.lockdown(device.udid);
      try {
        await session.setValue('DeviceName', name);
      } finally {
        session.close();
      }
    } else {
      await input.mdm.perform(device.udid, settings(deviceName(name)), wait);
    }
    await input.fleet.store.setName(device.udid, name, { who: 'set-device-name' });
    msg.device = { ...device, name };
  });
}
