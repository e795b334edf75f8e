import { catalogText, CodedError } from '../coded-error';

/** The longest user id, display name or attribute value a person or a lookup may supply. */
export const MAX_TEXT = 256;

// C0 and C1 controls (NUL, escapes, line breaks...): no user id or name has a use for them.
const CONTROL = /\p{Cc}/u;

/** Whether `text` has a control character (NUL, BEL, ESC, a line break...). */
export const hasControl = (text: string): boolean => CONTROL.test(text);
// Format characters (zero-width spaces and joiners, bidi overrides) are invisible: "user1"
// with one is still user1.
const FORMAT = /\p{Cf}/gu;

/**
 * A user id as a person or the badge service gave it, checked: trimmed, 1 to 256 characters,
 * no control characters (INVALID_USER otherwise). It is stored as given; `userKey` compares.
 */
export function checkUserId(id: unknown): string {
  if (typeof id !== 'string') throw new CodedError('INVALID_USER', catalogText('device-fleet.errors.user-not-text'));
  const trimmed = id.trim();
  if (!trimmed || !userKey(trimmed)) throw new CodedError('INVALID_USER', catalogText('device-fleet.errors.user-empty'));
  if (trimmed.length > MAX_TEXT)
    throw new CodedError('INVALID_USER', catalogText('device-fleet.errors.user-too-long', { max: MAX_TEXT, length: trimmed.length }));
  if (CONTROL.test(trimmed)) throw new CodedError('INVALID_USER', catalogText('device-fleet.errors.user-control'));
  return trimmed;
}

/** A display name: as for ids, except that an unusable one is dropped (the id stands in). */
export function checkDisplayName(name: unknown): string | undefined {
  if (typeof name !== 'string') return undefined;
  const trimmed = name.trim();
  if (!trimmed) return undefined;
  if (trimmed.length > MAX_TEXT)
    throw new CodedError('INVALID_USER', catalogText('device-fleet.errors.name-too-long', { max: MAX_TEXT, length: trimmed.length }));
  if (CONTROL.test(trimmed)) throw new CodedError('INVALID_USER', catalogText('device-fleet.errors.name-control'));
  return trimmed;
}

/**
 * What makes two user ids the same person: Unicode compatibility form (NFKC), case folded,
 * invisible format characters removed. `USER1`, `user1` and `user1` + zero-width space are
 * one person, and so one per-user limit.
 */
export function userKey(id: string): string {
  return id.normalize('NFKC').replace(FORMAT, '').toLowerCase().normalize('NFKC').trim();
}
