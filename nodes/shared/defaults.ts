import { join } from 'node:path';
import { PACKAGE_ROOT } from '../lib/package-root';

type Defaults = Record<string, Record<string, number | string>>;

/** The table the editor shows too (resources/device-checkout.js): one place for every field's default. */
// eslint-disable-next-line @typescript-eslint/no-require-imports
const DEFAULTS = (require(join(PACKAGE_ROOT, 'resources', 'device-checkout.js')) as { defaults: Defaults }).defaults;

/** The default of `field` on node `type`, as a new node shows it in the editor. */
export function defaultOf(type: string, field: string): number | string | undefined {
  return DEFAULTS[type]?.[field];
}

/** A numeric config field, or its default when empty or not a number. */
export function numberField(type: string, config: object, field: string): number {
  const value = (config as Record<string, unknown>)[field];
  const given = value === undefined || value === '' ? NaN : Number(value);
  return Number.isFinite(given) ? given : Number(defaultOf(type, field));
}
