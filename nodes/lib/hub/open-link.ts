import type { ByteLink } from './byte-link';
import { openSerialLink } from './serial-link';
import { simulatedHub } from '../../../sim/hub-registry';

/** Serial paths starting with this name a simulated hub in this process instead of a device. */
export const SIM_PREFIX = 'sim:';

export async function openHubLink(path: string, baudRate: number): Promise<ByteLink> {
  if (path.startsWith(SIM_PREFIX)) return simulatedHub(path.slice(SIM_PREFIX.length)).connect();
  return openSerialLink(path, baudRate);
}
