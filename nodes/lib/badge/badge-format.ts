/** How a reader's text becomes the id the badge service expects. */
export interface BadgeFormat {
  /** Taken off the front when present (a reader's start character, say). */
  prefix?: string;
  /** Taken off the end when present. */
  suffix?: string;
  /** The reader sends hexadecimal (a card's UID); the service wants it in decimal. */
  hexToDecimal?: boolean;
  /** Leading characters dropped after conversion: a facility code the service does not store. */
  stripLeading?: number;
  /** Above 0: shorter ids padded with leading zeros to this length, longer ones keep their last this many characters. */
  length?: number;
}

/** The longest id a badge carries (a 64-bit UID is 20 decimal digits); anything longer is noise on the line. */
export const MAX_BADGE_CHARS = 64;

/** Why a read is not a badge id; said without the read itself, which may be one. */
export type BadgeProblem = 'empty' | 'too-long' | 'unprintable' | 'not-hex';

/** The id from one read, or why the read is not one. */
export function formatBadge(read: string, format: BadgeFormat): { id: string } | { problem: BadgeProblem } {
  let id = read.trim();
  if (format.prefix && id.startsWith(format.prefix)) id = id.slice(format.prefix.length);
  if (format.suffix && id.endsWith(format.suffix)) id = id.slice(0, id.length - format.suffix.length);
  id = id.trim();
  if (id.length > MAX_BADGE_CHARS) return { problem: 'too-long' };
  if (!/^[\x21-\x7e]*$/.test(id)) return { problem: 'unprintable' };
  if (format.hexToDecimal) {
    if (!/^(0x)?[0-9a-f]+$/i.test(id)) return { problem: 'not-hex' };
    id = BigInt(id.toLowerCase().startsWith('0x') ? id : `0x${id}`).toString();
  }
  if (format.stripLeading) id = id.slice(format.stripLeading);
  if (format.length) id = id.length < format.length ? id.padStart(format.length, '0') : id.slice(-format.length);
  return id ? { id } : { problem: 'empty' };
}
