import type { NodeAPI } from 'node-red';
import { CodedError } from '../lib/coded-error';
import { registerDeviceAction, type DeviceActionDef } from '../shared/device-action';

interface SetLanguageDef extends DeviceActionDef {
  /** e.g. de */
  language: string;
  /** e.g. de_DE */
  locale: string;
}

const LANGUAGE = /^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$/;
const LOCALE = /^[a-z]{2,3}(_[A-Z]{2}|_[0-9]{3})?(@[\w=;]+)?$/;

/**
 * Language and locale over USB (lockdown, com.apple.international), so Setup Assistant
 * skips that screen; no MDM command or DEP key can set them on iOS.
 */
export default function (RED: NodeAPI): void {
  registerDeviceAction<SetLanguageDef>(RED, 'set-language', async (config, { device, fleet }) => {
    if (!LANGUAGE.test(config.language ?? '') || !LOCALE.test(config.locale ?? '')) {
      throw new CodedError('INVALID_CONFIG', RED._('set-language.errors.invalid', { language: config.language, locale: config.locale }));
    }
    const session = await fleet.lockdown(device.udid);
    try {
      await session.setValue('Language', config.language, 'com.apple.international');
      await session.setValue('Locale', config.locale, 'com.apple.international');
    } finally {
      session.close();
    }
  });
}
