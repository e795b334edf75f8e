import type { Node, NodeAPI } from 'node-red';
import { CodedError } from '../lib/coded-error';
import { renderTemplate } from '../lib/attributes';
import type { Device } from '../lib/device';
import { installProfile } from '../lib/mdm/commands';
import { WIFI_SECURITY, wifiProfile, type WifiSecurity } from '../lib/mdm/profiles';
import { registerDeviceAction, type DeviceActionDef } from '../shared/device-action';
import { offerWifiProfile } from '../shared/wifi-source';

interface AddWifiDef extends DeviceActionDef {
  ssid: string;
  security: WifiSecurity;
  hidden: boolean;
  autoJoin: boolean;
}

/** Installs a Wi-Fi profile; the password lives only in the node's credentials. Erase Device's Return to Service takes the same profile. */
export default function (RED: NodeAPI): void {
  const profileFor = (config: AddWifiDef, node: Node, device: Device): Record<string, unknown> => {
    if (!WIFI_SECURITY.includes(config.security))
      throw new CodedError('INVALID_CONFIG', RED._('add-wifi.errors.security', { security: config.security, allowed: WIFI_SECURITY.join(', ') }));
    const ssid = renderTemplate(config.ssid ?? '', device);
    if (!ssid || Buffer.byteLength(ssid) > 32) throw new CodedError('INVALID_CONFIG', RED._('add-wifi.errors.ssid'));
    const password = (node.credentials as { password?: string } | undefined)?.password;
    if (config.security !== 'None' && config.security !== 'Any' && !password)
      throw new CodedError('INVALID_CONFIG', RED._('add-wifi.errors.password', { security: config.security }));
    return wifiProfile({ ssid, security: config.security, password, hidden: Boolean(config.hidden), autoJoin: config.autoJoin !== false });
  };
  registerDeviceAction<AddWifiDef>(
    RED,
    'add-wifi',
    async (config, { device, mdm, wait }, node) => {
      await mdm.perform(device.udid, installProfile(profileFor(config, node, device)), wait);
    },
    {
      credentials: { password: { type: 'password' } },
      setup: (node, config) => offerWifiProfile(node, (device) => profileFor(config, node, device)),
    },
  );
}
