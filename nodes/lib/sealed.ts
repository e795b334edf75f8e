import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/** Sealed bytes: AES-256-GCM under a key derived (HKDF-SHA256, with a salt) from a secret and a purpose. */
export interface Sealed {
  salt: Buffer;
  iv: Buffer;
  tag: Buffer;
  data: Buffer;
}

/**
 * Keys derived before, by secret, purpose and salt: a cart reads thousands of relayed webhooks a
 * shift, all sealed under a few salts, and HKDF for each was most of reading them.
 */
const derived = new Map<string, Map<string, Buffer>>();
/** At most this many keys kept per secret (a few carts' salts, a vault's); past it, derived anew. */
const KEYS_KEPT = 256;

function keyOf(secret: string, salt: Buffer, purpose: string): Buffer {
  let keys = derived.get(secret);
  if (!keys) derived.set(secret, (keys = new Map()));
  const id = `${purpose} ${salt.toString('base64')}`;
  let key = keys.get(id);
  if (!key) {
    if (keys.size >= KEYS_KEPT) keys.clear();
    key = Buffer.from(hkdfSync('sha256', secret, salt, `node-red-contrib-device-checkout ${purpose}`, 32));
    keys.set(id, key);
  }
  return key;
}

/**
 * The salt this process seals under, per secret and purpose: one key for all it seals (AES-GCM
 * with a fresh random IV each time stays safe for billions of messages under one key).
 */
const salts = new Map<string, Buffer>();

export function seal(plain: Buffer, secret: string, purpose: string): Sealed {
  const id = `${purpose} ${secret}`;
  let salt = salts.get(id);
  if (!salt) salts.set(id, (salt = randomBytes(16)));
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', keyOf(secret, salt, purpose), iv);
  const data = Buffer.concat([cipher.update(plain), cipher.final()]);
  return { salt, iv, tag: cipher.getAuthTag(), data };
}

/** Throws when the bytes were changed or sealed under another secret or purpose. */
export function unseal({ salt, iv, tag, data }: Sealed, secret: string, purpose: string): Buffer {
  const decipher = createDecipheriv('aes-256-gcm', keyOf(secret, salt, purpose), iv);
  decipher.setAuthTag(tag);
  return Buffer.concat([decipher.update(data), decipher.final()]);
}

/** One buffer (salt, iv, tag, data) for a database column. */
export const packSealed = ({ salt, iv, tag, data }: Sealed): Buffer => Buffer.concat([salt, iv, tag, data]);
export const unpackSealed = (packed: Buffer): Sealed => ({
  salt: packed.subarray(0, 16),
  iv: packed.subarray(16, 28),
  tag: packed.subarray(28, 44),
  data: packed.subarray(44),
});
