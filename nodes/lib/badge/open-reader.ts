import type { ByteLink } from '../hub/byte-link';
import { openSerialLink } from '../hub/serial-link';
import { catalogText, CodedError } from '../coded-error';
import { transportFor } from '../transports';
import type { ReaderKind } from './badge-reader';
import { openInputDevice } from './input-device-link';

/** A reader's device: a serial port, an input device, or a registered stand-in for a serial one (see `transports`). */
export async function openReader(kind: ReaderKind, path: string, baudRate: number): Promise<ByteLink> {
  if (kind === 'keyboard') return openInputDevice(path);
  const stand = transportFor(path);
  if (stand) return stand.transports.reader(stand.name);
  return openSerialLink(path, baudRate, (reason) => new CodedError('READER_OPEN_FAILED', catalogText('badge-reader.errors.cannot-open', { path, reason })));
}
