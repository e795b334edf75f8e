import { EventEmitter } from 'node:events';
import type { ByteLink } from '../hub/byte-link';
import { reconnect, WakeablePause, type RetryDelays } from '../reconnect';
import { KeyboardReads, LineReads, type Read } from './reads';

export type ReaderKind = 'serial' | 'keyboard';

export interface BadgeReaderOptions {
  kind: ReaderKind;
  path: string;
  /** Opens the device: a serial port, or an input device for keyboard readers. */
  open(path: string): Promise<ByteLink>;
  /** How a serial reader ends a read. */
  lineEnd?: 'crlf' | 'etx';
  retry?: RetryDelays;
}

/** The same read again within this long counts once: a card held on the reader, ms. */
const REPEAT_WINDOW_MS = 1000;

export interface ReaderStatus {
  status: 'connecting' | 'connected' | 'disconnected';
  /** Why not connected: never what was read. */
  reason?: string;
}

/**
 * One badge reader on one device path, shared by the nodes that name it: reopened with growing
 * pauses while it is away, its bytes turned into reads, a card held on the reader counted once.
 * Events: `read` (Read), `status` (ReaderStatus).
 */
export class BadgeReader extends EventEmitter {
  private current: ReaderStatus = { status: 'connecting' };
  private link?: ByteLink;
  private closing = false;
  private started = false;
  /** The pause before the reader is opened again, cut short by close. */
  private readonly backoff = new WakeablePause();
  private last?: { text: string; at: number };

  constructor(private readonly options: BadgeReaderOptions) {
    super();
  }

  get status(): ReaderStatus {
    return this.current;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    void this.run();
  }

  async close(): Promise<void> {
    this.closing = true;
    this.backoff.wake();
    await this.link?.close();
  }

  private run(): Promise<void> {
    return reconnect(
      {
        closing: () => this.closing,
        session: async (opened) => {
          const link = await this.options.open(this.options.path);
          // Closed while it opened (a redeploy): let go of it at once.
          if (this.closing) {
            await link.close();
            return;
          }
          opened();
          return this.session(link);
        },
        status: (status) => this.setStatus(status),
        pause: (ms) => this.backoff.wait(ms),
      },
      this.options.retry,
    );
  }

  /** Reads until the link closes; why it closed. */
  private session(link: ByteLink): Promise<string> {
    this.link = link;
    const reads = this.options.kind === 'keyboard' ? new KeyboardReads() : new LineReads(this.options.lineEnd);
    this.setStatus({ status: 'connected' });
    return new Promise((resolve) => {
      link.on('data', (chunk: Buffer) => reads.push(chunk).forEach((read) => this.deliver(read)));
      link.once('close', (err?: Error) => {
        this.link = undefined;
        resolve(err?.message ?? 'closed');
      });
    });
  }

  private deliver(read: Read): void {
    if ('text' in read) {
      const now = Date.now();
      const repeated = this.last?.text === read.text && now - this.last.at < REPEAT_WINDOW_MS;
      this.last = { text: read.text, at: now };
      if (repeated) return;
    }
    this.emit('read', read);
  }

  private setStatus(status: ReaderStatus): void {
    this.current = status;
    this.emit('status', status);
  }
}
