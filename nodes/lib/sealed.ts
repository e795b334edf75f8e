import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/** Sealed bytes: AES-256-GCM under a key derived (HKDF-SHA256, a fresh salt each time) from a secret and a purpose. */
export interface Sealed {
  salt: Buffer;
  iv: Buffer;
  tag: Buffer;
  data: Buffer;
}

const keyOf = (secret: string, salt: Buffer, purpose: string): Buffer =>
  Buffer.from(hkdfSync('sha256', secret, salt, `node-red-contrib-device-checkout ${purpose}`, 32));

export function seal(plain: Buffer, secret: string, purpose: string): Sealed {
  const salt = randomBytes(16);
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
