import type { ByteLink } from './byte-link';
import { openSerialLink } from './serial-link';
import { simulatedHub } from '../../../sim/hub-registry';
import { simName } from '../sim-name';

export async function openHubLink(path: string, baudRate: number): Promise<ByteLink> {
  const sim = simName(path);
  return sim ? simulatedHub(sim).connect() : openSerialLink(path, baudRate);
}
