import type { ByteLink } from './byte-link';
import { openSerialLink } from './serial-link';
import { transportFor } from '../transports';

/** A serial port, or a registered stand-in for one (see `transports`). */
export async function openHubLink(path: string, baudRate: number): Promise<ByteLink> {
  const stand = transportFor(path);
  return stand ? stand.transports.hub(stand.name) : openSerialLink(path, baudRate);
}
