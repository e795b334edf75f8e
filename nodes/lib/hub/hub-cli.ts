import type { ByteLink } from './byte-link';
import { catalogText, CodedError } from '../coded-error';

/** The hub's prompt at the end of a reply; `boot>> ` means the boot loader is running. */
const PROMPT = /(?:^|[\r\n])(boot)?>> $/;
// eslint-disable-next-line no-control-regex -- the escape sequences a hub's terminal output carries
const ANSI_ESCAPE = /\x1b\[[0-9;?]*[A-Za-z]/g;
const ERROR_LINE = /^\*E(\d+)\b:?\s*(.*)$/;
const FATAL_LINE = /^\*FATAL ERROR\s+E?(\d+)\b:?\s*(.*)$/;
/** The longest reply any command produces is a few hundred bytes; more is noise. */
const MAX_REPLY_CHARS = 16 * 1024;
const RESYNC = '\x03\r\n';

interface Pending {
  /** The command line, or undefined for a resynchronisation. */
  line?: string;
  /** Goes before queued commands that are not (a person waits on an LED; nobody on a poll). */
  urgent?: boolean;
  resolve(lines: string[]): void;
  reject(err: Error): void;
}

/**
 * The hub's command line: one command in flight, the rest queued; each waits for the
 * `>> ` prompt, drops its echo, and turns `*Ennn` replies into coded errors.
 */
export class HubCli {
  private readonly queue: Pending[] = [];
  private current?: Pending;
  private timer?: NodeJS.Timeout;
  private reply = '';
  private needsResync = true;
  private closedWith?: Error;

  constructor(
    private readonly link: ByteLink,
    private readonly timeoutMs: number,
  ) {
    link.on('data', (chunk: Buffer) => this.onData(chunk));
    link.once('close', (err?: Error) => this.onClose(err));
  }

  /**
   * Runs one command and resolves with its reply lines (echo, blanks and prompt removed). An
   * `urgent` one is queued ahead of every command that is not, after the urgent ones before it.
   */
  command(line: string, urgent = false): Promise<string[]> {
    return new Promise((resolve, reject) => {
      if (this.closedWith) return reject(this.closedWith);
      const pending: Pending = { line, urgent, resolve, reject };
      const firstCalm = urgent ? this.queue.findIndex((p) => !p.urgent) : -1;
      if (firstCalm < 0) this.queue.push(pending);
      else this.queue.splice(firstCalm, 0, pending);
      this.next();
    });
  }

  private next(): void {
    if (this.current || this.queue.length === 0 || this.closedWith) return;
    // Ctrl-C and wait for the prompt after opening and after any timeout, so a half-typed
    // line or a late reply never pairs with the wrong command.
    const pending: Pending = this.needsResync ? { resolve: () => this.next(), reject: (err) => this.failAll(err) } : this.queue.shift()!;
    this.needsResync = false;
    this.current = pending;
    this.reply = '';
    this.timer = setTimeout(() => this.onTimeout(), this.timeoutMs);
    this.link.write(pending.line === undefined ? RESYNC : `${pending.line}\r\n`);
  }

  private onData(chunk: Buffer): void {
    if (!this.current) return; // unsolicited output (a reboot banner): nothing is waiting for it
    this.reply += chunk.toString('latin1');
    if (this.reply.length > MAX_REPLY_CHARS) {
      this.needsResync = true;
      return this.finish(new CodedError('HUB_PROTOCOL', catalogText('smart-hub.errors.reply-too-long', { chars: MAX_REPLY_CHARS })));
    }
    const prompt = PROMPT.exec(this.reply);
    if (!prompt) return;
    if (prompt[1]) {
      return this.finish(new CodedError('HUB_BOOTLOADER', catalogText('smart-hub.errors.bootloader')));
    }
    const line = this.current.line;
    const lines = this.reply
      .slice(0, prompt.index)
      .replace(ANSI_ESCAPE, '')
      .split(/\r\n|\r|\n/)
      .map((l) => l.trim())
      .filter((l) => l.length > 0);
    if (line === undefined) return this.finish(undefined, lines);
    const echo = lines.indexOf(line);
    // A prompt before our echo belongs to an earlier exchange: keep waiting for ours.
    if (echo === -1) {
      this.reply = '';
      return;
    }
    this.finish(undefined, lines.slice(echo + 1));
  }

  private finish(err: Error | undefined, lines: string[] = []): void {
    const pending = this.current!;
    clearTimeout(this.timer);
    this.current = undefined;
    const failure = err ?? replyError(pending.line ?? '', lines);
    if (failure) pending.reject(failure);
    else pending.resolve(lines);
    this.next();
  }

  private onTimeout(): void {
    this.needsResync = true;
    const what = this.current?.line ?? 'resynchronisation';
    this.finish(new CodedError('HUB_TIMEOUT', catalogText('smart-hub.errors.timeout', { command: what, ms: this.timeoutMs })));
  }

  private onClose(err?: Error): void {
    this.failAll(
      new CodedError(
        'HUB_DISCONNECTED',
        err ? catalogText('smart-hub.errors.link-failed', { message: err.message }) : catalogText('smart-hub.errors.link-closed'),
      ),
    );
  }

  private failAll(err: Error): void {
    this.closedWith ??= err instanceof CodedError && err.code === 'HUB_DISCONNECTED' ? err : undefined;
    clearTimeout(this.timer);
    const waiting = this.current?.line !== undefined ? [this.current, ...this.queue] : [...this.queue];
    this.current = undefined;
    this.queue.length = 0;
    for (const pending of waiting) pending.reject(err);
  }
}

function replyError(line: string, lines: string[]): CodedError | undefined {
  for (const text of lines) {
    const fatal = FATAL_LINE.exec(text);
    if (fatal) return new CodedError('HUB_FATAL', catalogText('smart-hub.errors.fatal', { command: line, reply: text }), { hubCode: Number(fatal[1]) });
    const error = ERROR_LINE.exec(text);
    if (error)
      return new CodedError('HUB_COMMAND_ERROR', catalogText('smart-hub.errors.refused', { command: line, reply: text }), { hubCode: Number(error[1]) });
  }
  return undefined;
}
