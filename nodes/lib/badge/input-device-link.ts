import { EventEmitter } from 'node:events';
import { constants } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { ByteLink } from '../hub/byte-link';
import { catalogText, CodedError } from '../coded-error';
import { INPUT_EVENT_BYTES } from './reads';

/** How often an idle input device is looked at: a reader types a badge in about 100 ms. */
const POLL_MS = 20;

/**
 * A Linux input device (`/dev/input/...-event-kbd`) or a pipe carrying its events, read without
 * blocking: a blocking read would hold one of libuv's four file threads for as long as nobody
 * taps, and the fleet's writes need them. Emits `data` and, when the device goes away (unplugged,
 * or the pipe's writer gone), `close` once.
 */
class InputDeviceLink extends EventEmitter implements ByteLink {
  private timer?: NodeJS.Timeout;
  private closed = false;
  /** Room for 64 events: a whole badge typed, in one read. */
  private readonly buffer = Buffer.alloc(64 * INPUT_EVENT_BYTES);

  constructor(
    private readonly handle: FileHandle,
    /** A regular file ends for now, not for good: it is read on as it grows (tests, replays). */
    private readonly growing: boolean,
  ) {
    super();
    this.schedule(0);
  }

  /** Input devices take no bytes. */
  write(): void {}

  /** Closed by its user, or (`err`) because the device went away: `close` once either way. */
  async close(err?: Error): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.timer);
    await this.handle.close().catch(() => undefined);
    this.emit('close', err);
  }

  private schedule(ms: number): void {
    if (!this.closed) this.timer = setTimeout(() => void this.read(), ms);
  }

  private async read(): Promise<void> {
    try {
      const { bytesRead } = await this.handle.read(this.buffer, 0, this.buffer.length, null);
      if (this.closed) return;
      if (bytesRead > 0) {
        this.emit('data', Buffer.from(this.buffer.subarray(0, bytesRead)));
        return this.schedule(0);
      }
      if (!this.growing) return void this.close();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') return void this.close(err as Error);
    }
    this.schedule(POLL_MS);
  }
}

export async function openInputDevice(path: string): Promise<ByteLink> {
  let handle: FileHandle;
  try {
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
  } catch (err) {
    throw new CodedError(
      'READER_OPEN_FAILED',
      catalogText('badge-reader.errors.cannot-open', { path, reason: (err as NodeJS.ErrnoException).code ?? (err as Error).message }),
    );
  }
  const growing = (await handle.stat()).isFile();
  return new InputDeviceLink(handle, growing);
}
