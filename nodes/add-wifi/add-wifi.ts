import type { NodeAPI } from 'node-red';
import { CodedError } from '../lib/coded-error';
import { renderTemplate } from '../lib/attributes';
import { installProfile } from '../lib/mdm/commands';
import { WIFI_SECURITY, wifiProfile, type WifiSecurity } from '../lib/mdm/profiles';
import { registerDeviceAction, type DeviceActionDef } from '../shared/device-action';

interface AddWifiDef extends DeviceActionDef {
  ssid: string;
  security: WifiSecurity;
  hidden: boolean;
  autoJoin: boolean;
}

/** Installs a Wi-Fi profile; the password lives only in the node's credentials. */
export default function (RED: NodeAPI): void {
  registerDeviceAction<AddWifiDef>(
    RED,
    'add-wifi',
    async (config, { device, mdm, wait }, node) => {
      if (!WIFI_SECURITY.includes(config.security))
        throw new CodedError('INVALID_CONFIG', RED._('add-wifi.errors.security', { security: config.security, allowed: WIFI_SECURITY.join(', ') }));
      const ssid = renderTemplate(config.ssid ?? '', device);
      if (!ssid || Buffer.byteLength(ssid) > 32) throw new CodedError('INVALID_CONFIG', RED._('add-wifi.errors.ssid'));
      const password = (node.credentials as { password?: string } | undefined)?.password;
      if (config.security !== 'None' && config.security !== 'Any' && !password)
        throw new CodedError('INVALID_CONFIG', RED._('add-wifi.errors.password', { security: config.security }));
      const profile = wifiProfile({ ssid, security: config.security, password, hidden: Boolean(config.hidden), autoJoin: config.autoJoin !== false });
      await mdm.perform(device.udid, installProfile(profile), wait);
    },
    { credentials: { password: { type: 'password' } } },
  );
}
