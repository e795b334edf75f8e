import { join } from 'node:path';
import { catalogText, CodedError } from '../lib/coded-error';
import { PACKAGE_ROOT } from '../lib/package-root';

interface FieldRule {
  default?: number | string;
  min?: number;
  max?: number;
  integer?: boolean;
}

export interface SharedTable {
  fields: Record<string, Record<string, FieldRule>>;
  defaults: Record<string, Record<string, number | string>>;
  problem(type: string, field: string, value: unknown): 'not-a-number' | 'not-whole' | 'out-of-range' | undefined;
}

/** The table the editor reads too (resources/device-checkout.js): one place for every field's default and range. */
// eslint-disable-next-line @typescript-eslint/no-require-imports -- a plain script the editor loads too, found at run time
export const fieldRules = require(join(PACKAGE_ROOT, 'resources', 'device-checkout.js')) as SharedTable;

/** The default of `field` on node `type`, as a new node shows it in the editor. */
export function defaultOf(type: string, field: string): number | string | undefined {
  return fieldRules.defaults[type]?.[field];
}

/**
 * A numeric config field: its default when empty; a value the editor would not have saved (a
 * flow file edited by hand) is refused with INVALID_CONFIG naming the field and its range.
 */
export function numberField(type: string, config: object, field: string): number {
  const value = (config as Record<string, unknown>)[field];
  const problem = fieldRules.problem(type, field, value);
  if (problem) {
    const { min, max } = fieldRules.fields[type][field];
    const values = { field, value: String(value).slice(0, 40), min, max };
    const why = {
      'not-a-number': 'device-fleet.errors.field-not-a-number',
      'not-whole': 'device-fleet.errors.field-not-whole',
      'out-of-range': 'device-fleet.errors.field-out-of-range',
    }[problem];
    throw new CodedError('INVALID_CONFIG', catalogText(why, values));
  }
  return value === undefined || value === '' ? Number(defaultOf(type, field)) : Number(value);
}
