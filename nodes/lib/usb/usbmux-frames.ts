import { parsePlist, toPlist } from '../mdm/commands';

/** usbmuxd's header: four little-endian uint32s, then an XML plist. */
const HEADER = 16;
const VERSION = 1;
const PLIST_MESSAGE = 8;
/** usbmuxd's largest messages (device lists) are a few KiB; anything huge is a broken peer. */
const MAX_FRAME = 1024 * 1024;

export function encodeFrame(message: object, tag: number): Buffer {
  const body = Buffer.from(toPlist(message), 'utf8');
  const header = Buffer.alloc(HEADER);
  header.writeUInt32LE(HEADER + body.length, 0);
  header.writeUInt32LE(VERSION, 4);
  header.writeUInt32LE(PLIST_MESSAGE, 8);
  header.writeUInt32LE(tag, 12);
  return Buffer.concat([header, body]);
}

/** Collects bytes from a stream and hands out whole frames, however the bytes were split. */
export class FrameReader {
  private pending = Buffer.alloc(0);

  /** The complete frames in `chunk` (with what came before); throws on a frame usbmuxd would never send. */
  push(chunk: Buffer): { tag: number; message: Record<string, unknown> }[] {
    this.pending = Buffer.concat([this.pending, chunk]);
    const frames: { tag: number; message: Record<string, unknown> }[] = [];
    while (this.pending.length >= HEADER) {
      const length = this.pending.readUInt32LE(0);
      if (length < HEADER || length > MAX_FRAME) throw new Error(`usbmuxd frame of ${length} bytes`);
      if (this.pending.readUInt32LE(8) !== PLIST_MESSAGE) throw new Error(`usbmuxd message type ${this.pending.readUInt32LE(8)} is not a plist`);
      if (this.pending.length < length) break;
      const tag = this.pending.readUInt32LE(12);
      const body = this.pending.subarray(HEADER, length);
      this.pending = this.pending.subarray(length);
      frames.push({ tag, message: parsePlist(body) as Record<string, unknown> });
    }
    return frames;
  }
}
