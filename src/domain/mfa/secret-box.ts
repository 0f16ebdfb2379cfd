// TOTP secrets at rest: AES-256-GCM under the configured key (src/config/secret-key.ts), a fresh
// 96-bit nonce each time, the user's id as additional data so that a sealed secret copied onto another
// account does not open. Each sealed value names (by a short digest) the key that sealed it, so that
// after a rotation the previous key still opens what it sealed until `rotate-secret-key` re-seals it.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { SecretKeys } from '../../config/secret-key.ts';
import { AppError } from '../errors.ts';

const VERSION = 'v1';
const keyId = (key: Buffer) => createHash('sha256').update(key).digest('base64url').slice(0, 8);

/** A sealed secret names a key this server was not given (neither the current nor the previous one). */
export class UnknownSecretKeyError extends Error {
  constructor() {
    super('A sealed secret names a key this server does not have');
    this.name = 'UnknownSecretKeyError';
  }
}

export interface SecretBox {
  seal(plain: string, context: string): string;
  open(sealed: string, context: string): string;
  /** Sealed under the current key already (nothing for a rotation to do). */
  isCurrent(sealed: string): boolean;
}

export function secretBox(key: Buffer, previous: Buffer | null = null): SecretBox {
  const keys = new Map<string, Buffer>([[keyId(key), key]]);
  if (previous) keys.set(keyId(previous), previous);
  const currentId = keyId(key);
  return {
    seal(plain, context) {
      const iv = randomBytes(12);
      const cipher = createCipheriv('aes-256-gcm', key, iv).setAAD(Buffer.from(context));
      const sealed = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
      return [VERSION, currentId, iv.toString('base64url'), sealed.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
    },
    open(sealed, context) {
      const [version, id, iv, data, tag] = sealed.split('.');
      const opener = id === undefined ? undefined : keys.get(id);
      if (version !== VERSION || !opener || iv === undefined || data === undefined || tag === undefined) throw new UnknownSecretKeyError();
      const decipher = createDecipheriv('aes-256-gcm', opener, Buffer.from(iv, 'base64url')).setAAD(Buffer.from(context));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]).toString('utf8');
    },
    isCurrent: (sealed) => sealed.split('.')[1] === currentId,
  };
}

/** The box of the configured keys, or one that refuses, saying why, when there is no key. */
export function secretBoxOf(keys: SecretKeys): SecretBox & { available: boolean } {
  if (keys.current === null) {
    const refuse = (): never => {
      throw new AppError('SECOND_FACTORS_UNAVAILABLE');
    };
    return { available: false, seal: refuse, open: refuse, isCurrent: () => false };
  }
  return { available: true, ...secretBox(keys.current, keys.previous) };
}
