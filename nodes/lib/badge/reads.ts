import { MAX_BADGE_CHARS } from './badge-format';

/** The longest line kept: a badge with any prefix and suffix a reader adds fits many times over. */
const MAX_READ_CHARS = MAX_BADGE_CHARS * 4;
/** Starts a frame on readers that send STX ... ETX. */
const STX = '\x02';

/** What a reader delivered: a read's text, or a read too long to be a badge (its text not kept). */
export type Read = { text: string } | { tooLong: true };

/**
 * Splits a serial reader's bytes into reads: one per line, ended by CR, LF (or both) or, for
 * readers framed STX ... ETX, by ETX. A line longer than any read can be is reported once as
 * too long and skipped to its end, so 10 kB of noise never becomes a read or a buffer that grows.
 */
export class LineReads {
  private line = '';
  private overlong = false;

  constructor(private readonly end: 'crlf' | 'etx' = 'crlf') {}

  push(chunk: Buffer): Read[] {
    const reads: Read[] = [];
    for (const char of chunk.toString('latin1')) {
      const ends = this.end === 'etx' ? char === '\x03' : char === '\r' || char === '\n';
      if (ends) {
        if (this.overlong) reads.push({ tooLong: true });
        else if (this.line.trim()) reads.push({ text: this.line.startsWith(STX) ? this.line.slice(1) : this.line });
        this.line = '';
        this.overlong = false;
      } else if (!this.overlong) {
        this.line += char;
        if (this.line.length > MAX_READ_CHARS) {
          this.overlong = true;
          this.line = '';
        }
      }
    }
    return reads;
  }
}

/** Bytes of one `struct input_event` on 64-bit Linux: a 16-byte time, u16 type, u16 code, s32 value. */
export const INPUT_EVENT_BYTES = 24;
const EV_KEY = 1;
const PRESSED = 1;
const RELEASED = 0;
const SHIFTS = new Set([42, 54]);
/** Keys that end a read: Enter, keypad Enter, Tab. */
const ENDS = new Set([28, 96, 15]);

/** Linux key codes (input-event-codes.h) to what a US layout types, plain and with shift. */
const KEYS: Record<number, [string, string]> = {};
const row = (first: number, plain: string, shifted: string): void => {
  [...plain].forEach((char, i) => (KEYS[first + i] = [char, shifted[i]]));
};
row(2, '1234567890-=', '!@#$%^&*()_+');
row(16, 'qwertyuiop[]', 'QWERTYUIOP{}');
row(30, "asdfghjkl;'", 'ASDFGHJKL:"');
row(44, 'zxcvbnm,./', 'ZXCVBNM<>?');
row(57, ' ', ' ');
// The keypad types the same with or without shift.
const KEYPAD: Record<number, string> = {
  71: '7',
  72: '8',
  73: '9',
  74: '-',
  75: '4',
  76: '5',
  77: '6',
  78: '+',
  79: '1',
  80: '2',
  81: '3',
  82: '0',
  83: '.',
  98: '/',
  55: '*',
};
for (const [code, char] of Object.entries(KEYPAD)) KEYS[Number(code)] = [char, char];

/**
 * Turns a keyboard-wedge reader's input events into reads: key presses typed with shift as a US
 * keyboard would, a read ended by Enter (or Tab). Records may arrive split across chunks.
 */
export class KeyboardReads {
  private pending = Buffer.alloc(0);
  private readonly lines = new LineReads();
  private readonly shiftsHeld = new Set<number>();

  push(chunk: Buffer): Read[] {
    const bytes = this.pending.length > 0 ? Buffer.concat([this.pending, chunk]) : chunk;
    const whole = bytes.length - (bytes.length % INPUT_EVENT_BYTES);
    this.pending = Buffer.from(bytes.subarray(whole));
    let typed = '';
    for (let at = 0; at < whole; at += INPUT_EVENT_BYTES) {
      const type = bytes.readUInt16LE(at + 16);
      const code = bytes.readUInt16LE(at + 18);
      const value = bytes.readInt32LE(at + 20);
      if (type !== EV_KEY) continue;
      if (SHIFTS.has(code)) {
        if (value === PRESSED) this.shiftsHeld.add(code);
        if (value === RELEASED) this.shiftsHeld.delete(code);
        continue;
      }
      if (value !== PRESSED) continue; // releases and auto-repeat type nothing
      if (ENDS.has(code)) typed += '\n';
      else if (KEYS[code]) typed += KEYS[code][this.shiftsHeld.size > 0 ? 1 : 0];
    }
    return this.lines.push(Buffer.from(typed, 'latin1'));
  }
}
