import { INPUT_EVENT_BYTES } from '../nodes/lib/badge/reads';

/** Linux key codes a reader types with (input-event-codes.h). */
export const KEY: Record<string, number> = {
  '1': 2,
  '2': 3,
  '3': 4,
  '4': 5,
  '5': 6,
  '6': 7,
  '7': 8,
  '8': 9,
  '9': 10,
  '0': 11,
  a: 30,
  b: 48,
  c: 46,
  d: 32,
  e: 18,
  f: 33,
  g: 34,
};
const ENTER = 28;
const SHIFT = 42;

/** One `struct input_event` as 64-bit Linux writes it: time, type, code, value. */
export function inputEvent(type: number, code: number, value: number): Buffer {
  const record = Buffer.alloc(INPUT_EVENT_BYTES);
  record.writeBigInt64LE(BigInt(Math.floor(Date.now() / 1000)), 0);
  record.writeBigInt64LE(123456n, 8);
  record.writeUInt16LE(type, 16);
  record.writeUInt16LE(code, 18);
  record.writeInt32LE(value, 20);
  return record;
}
const SYN = inputEvent(0, 0, 0);
const press = (code: number): Buffer[] => [inputEvent(4, 4, 0x70000 + code), inputEvent(1, code, 1), SYN, inputEvent(1, code, 0), SYN];

/** What a keyboard-wedge reader writes for `text` and Enter: uppercase letters with shift held. */
export function typed(text: string): Buffer {
  const records: Buffer[] = [];
  for (const char of text) {
    const upper = char !== char.toLowerCase();
    if (upper) records.push(inputEvent(1, SHIFT, 1));
    records.push(...press(KEY[char.toLowerCase()]));
    if (upper) records.push(inputEvent(1, SHIFT, 0));
  }
  return Buffer.concat([...records, ...press(ENTER)]);
}
