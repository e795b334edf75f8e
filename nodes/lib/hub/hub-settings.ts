import { catalogText, CodedError } from '../coded-error';
import type { HubModelSetting } from './hub-connection';

export interface HubSettings {
  serialPort: string;
  baudRate: number;
  pollInterval: number;
  model: HubModelSetting;
}

const MODELS: HubModelSetting[] = ['auto', 'universal', 'pdsync', 'rgb'];

/** Reads a `smart-hub` config as it appears in a flow file; its rate and interval come checked against the shared field rules. */
export function hubSettings(config: { serialPort?: unknown; model?: unknown }, numbers: { baudRate: number; pollInterval: number }): HubSettings {
  const serialPort = typeof config.serialPort === 'string' ? config.serialPort.trim() : '';
  if (!serialPort) throw new CodedError('INVALID_CONFIG', catalogText('smart-hub.errors.no-serial-port'));
  const model = (config.model === undefined || config.model === '' ? 'auto' : config.model) as HubModelSetting;
  if (!MODELS.includes(model))
    throw new CodedError('INVALID_CONFIG', catalogText('smart-hub.errors.model', { value: String(config.model), allowed: MODELS.join(', ') }));
  return { serialPort, ...numbers, model };
}
