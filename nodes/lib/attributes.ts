import { catalogText, CodedError } from './coded-error';
import type { Device } from './device';
import { MAX_TEXT } from './fleet/person';

/** The built-in square-bracket placeholders and where their values come from. */
const BUILT_IN: Record<string, (device: Device) => unknown> = {
  'Device User': (d) => d.user,
  'Device User Name': (d) => d.userName ?? d.user,
  'Device Name': (d) => d.name,
  'Device Serial': (d) => d.serial,
  'Device UDID': (d) => d.udid,
  Hub: (d) => d.hub,
  Port: (d) => d.port,
  'Device Checkout Status': (d) => d.status,
};

const PLACEHOLDER = /\[([^[\]\r\n]{1,64})\]/g;

/**
 * Fills `[Device User]`, `[Port]`, ... and custom attributes (`msg.device.attributes`) into
 * `template`. A placeholder without a value fails with MISSING_ATTRIBUTE rather than
 * producing a half-filled name or wallpaper, one whose value is longer than 256 characters
 * with INVALID_ATTRIBUTE. Only the device's own values count: `[constructor]` is no attribute.
 * With `leaveEmpty`, a placeholder without a value is left empty instead and `leaveEmpty` told
 * which (a Lost Mode message must go out even for a phone with no recorded name).
 */
export function renderTemplate(template: string, device: Device, leaveEmpty?: (placeholders: string[]) => void): string {
  const missing: string[] = [];
  const text = template.replace(PLACEHOLDER, (whole, name: string) => {
    const value = valueOf(device, name);
    if (value === undefined || value === null || value === '' || typeof value === 'object' || typeof value === 'function') {
      missing.push(whole);
      return leaveEmpty ? '' : whole;
    }
    const rendered = String(value);
    if (rendered.length > MAX_TEXT)
      throw new CodedError('INVALID_ATTRIBUTE', catalogText('device-fleet.errors.value-too-long', { placeholder: whole, max: MAX_TEXT }));
    return rendered;
  });
  if (missing.length > 0 && leaveEmpty) leaveEmpty(missing);
  else if (missing.length > 0)
    throw new CodedError('MISSING_ATTRIBUTE', catalogText('device-fleet.errors.no-value', { placeholders: missing.join(', '), template }));
  return text;
}

/** The placeholder's value: a built-in, else the device's own custom attribute. */
function valueOf(device: Device, name: string): unknown {
  if (Object.hasOwn(BUILT_IN, name)) return BUILT_IN[name](device);
  const { attributes } = device;
  return attributes && typeof attributes === 'object' && Object.hasOwn(attributes, name) ? attributes[name] : undefined;
}

/** Where the text of a template first depends on a placeholder, -1 when it never does. */
export function firstPlaceholder(template: string): number {
  return template.search(new RegExp(PLACEHOLDER.source));
}
