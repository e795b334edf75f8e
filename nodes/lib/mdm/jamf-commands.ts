import { catalogText, CodedError } from '../coded-error';
import { toPlist, type MdmCommand } from './commands';

/** Jamf Pro's `commandData` for `POST /api/v2/mdm/commands`. */
export type JamfCommandData = { commandType: string; [key: string]: unknown };

/**
 * The Jamf Pro API form of an Apple command. Jamf manages profiles as scoped configuration
 * profiles, not per-device commands, and some commands have no API form: those fail with
 * UNSUPPORTED and say what to do instead.
 */
export function jamfCommandData(command: MdmCommand): JamfCommandData {
  const c = command.Command;
  switch (c.RequestType) {
    case 'EraseDevice': {
      const service = c.ReturnToService as { WiFiProfileData?: Buffer; MDMProfileData?: Buffer } | undefined;
      return {
        commandType: 'ERASE_DEVICE',
        preserveDataPlan: c.PreserveDataPlan === true,
        disallowProximitySetup: c.DisallowProximitySetup === true,
        // Jamf Pro 10.50+: the profiles base64-encoded, as its Return to Service guide shows.
        ...(service && {
          returnToService: {
            enabled: true,
            ...(service.WiFiProfileData && { wifiProfileData: service.WiFiProfileData.toString('base64') }),
            ...(service.MDMProfileData && { mdmProfileData: service.MDMProfileData.toString('base64') }),
          },
        }),
      };
    }
    case 'ClearPasscode':
      return { commandType: 'CLEAR_PASSCODE', unlockToken: (c.UnlockToken as Buffer).toString('base64') };
    case 'RestartDevice':
      return { commandType: 'RESTART_DEVICE', notifyUser: c.NotifyUser === true };
    case 'EnableLostMode':
      return { commandType: 'ENABLE_LOST_MODE', lostModeMessage: c.Message, lostModePhone: c.PhoneNumber, lostModeFootnote: c.Footnote };
    case 'DisableLostMode':
      return { commandType: 'DISABLE_LOST_MODE' };
    case 'PlayLostModeSound':
      return { commandType: 'PLAY_LOST_MODE_SOUND' };
    case 'Settings': {
      const items = c.Settings as Record<string, unknown>[];
      const data: JamfCommandData = { commandType: 'SETTINGS' };
      for (const item of items) {
        if (item.Item === 'DeviceName') data.deviceName = item.DeviceName;
        else if (item.Item === 'ApplicationConfiguration') {
          data.applicationConfiguration = { identifier: item.Identifier, configuration: toPlist((item.Configuration as object) ?? {}) };
        } else throw new CodedError('UNSUPPORTED', catalogText('mdm-server.errors.jamf-no-setting', { item: String(item.Item) }));
      }
      return data;
    }
    case 'InstallProfile':
    case 'RemoveProfile':
      throw new CodedError('UNSUPPORTED', catalogText('mdm-server.errors.jamf-profiles'));
    default:
      throw new CodedError('UNSUPPORTED', catalogText('mdm-server.errors.jamf-no-command', { command: c.RequestType }));
  }
}
