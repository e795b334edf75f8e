import { CodedError } from './coded-error';

/** `msg.device`: the device a message is about. */
export interface Device {
  udid?: string;
  serial?: string;
  name?: string;
  hub?: string;
  port?: number;
  status?: string;
  user?: string;
  attributes?: Record<string, unknown>;
}

/** The built-in square-bracket placeholders and where their values come from. */
const BUILT_IN: Record<string, (device: Device) => unknown> = {
  'Device User': (d) => d.user,
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
 * producing a half-filled name or wallpaper.
 */
export function renderTemplate(template: string, device: Device): string {
  const missing: string[] = [];
  const text = template.replace(PLACEHOLDER, (whole, name: string) => {
    const value = name in BUILT_IN ? BUILT_IN[name](device) : device.attributes?.[name];
    if (value === undefined || value === null || value === '') {
      missing.push(whole);
      return whole;
    }
    return String(value);
  });
  if (missing.length > 0) throw new CodedError('MISSING_ATTRIBUTE', `no value for ${missing.join(', ')} in "${template}"`);
  return text;
}
