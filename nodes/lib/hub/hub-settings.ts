import { CodedError } from '../coded-error';
import type { HubModelSetting } from './hub-connection';

export interface HubSettings {
  serialPort: string;
  baudRate: number;
  pollInterval: number;
  model: HubModelSetting;
}

const MODELS: HubModelSetting[] = ['auto', 'universal', 'pdsync', 'rgb'];

/** Reads a `smart-hub` config as it appears in a flow file; an empty rate or interval takes `defaults`. */
export function hubSettings(
  config: { serialPort?: unknown; baudRate?: unknown; pollInterval?: unknown; model?: unknown },
  defaults: { baudRate: number; pollInterval: number },
): HubSettings {
  const serialPort = typeof config.serialPort === 'string' ? config.serialPort.trim() : '';
  if (!serialPort) throw new CodedError('INVALID_CONFIG', 'serialPort is empty');
  const baudRate = numberOr(config.baudRate, defaults.baudRate);
  if (!Number.isInteger(baudRate) || baudRate < 300 || baudRate > 4_000_000) throw new CodedError('INVALID_CONFIG', `baudRate ${String(config.baudRate)} is not a serial rate`);
  const pollInterval = numberOr(config.pollInterval, defaults.pollInterval);
  if (!Number.isFinite(pollInterval) || pollInterval < 100 || pollInterval > 60_000) {
    throw new CodedError('INVALID_CONFIG', `pollInterval ${String(config.pollInterval)} must be 100 to 60000 ms`);
  }
  const model = (config.model === undefined || config.model === '' ? 'auto' : config.model) as HubModelSetting;
  if (!MODELS.includes(model)) throw new CodedError('INVALID_CONFIG', `model "${String(config.model)}" is not one of ${MODELS.join(', ')}`);
  return { serialPort, baudRate, pollInterval, model };
}

function numberOr(value: unknown, fallback: number): number {
  return value === undefined || value === '' ? fallback : Number(value);
}
