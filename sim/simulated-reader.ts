import { EventEmitter } from 'node:events';
import type { ByteLink } from '../nodes/lib/hub/byte-link';

/** One open line of a simulated reader: bytes to the host, nothing back. */
class ReaderLine extends EventEmitter implements ByteLink {
  write(): void {}

  async close(): Promise<void> {
    this.emit('close');
  }
}

/** A serial badge reader in virtual COM mode (a pcProx, say): each tap is the id and CR LF. */
export class SimulatedReader {
  private readonly lines = new Set<ReaderLine>();

  connect(): ByteLink {
    const line = new ReaderLine();
    this.lines.add(line);
    line.once('close', () => this.lines.delete(line));
    return line;
  }

  /** A card held to the reader. */
  tap(badge: string): void {
    for (const line of this.lines) line.emit('data', Buffer.from(`${badge}\r\n`, 'latin1'));
  }
}

const readers = new Map<string, SimulatedReader>();

/** The simulated reader called `name`, for `sim:<name>` paths in this process. */
export function simulatedReader(name: string): SimulatedReader {
  let reader = readers.get(name);
  if (!reader) {
    reader = new SimulatedReader();
    readers.set(name, reader);
  }
  return reader;
}
