// argon2id with the parameters OWASP recommends (m=19456 KiB, t=2, p=1), computed by @node-rs/argon2
// on Gatehouse's password threads (password-threads.ts), so the event loop keeps serving, ahead of
// them, while a password is checked.
import { randomBytes } from 'node:crypto';
import type { Options } from '@node-rs/argon2';
import { PasswordThreads } from './password-threads.ts';

const ARGON2ID = 2; // Algorithm.Argon2id (a const enum the library does not export at run time)
export const ARGON2ID_OPTIONS: Options = { algorithm: ARGON2ID, memoryCost: 19456, timeCost: 2, parallelism: 1 };

export const MAX_PASSWORD_LENGTH = 256;

/** argon2id runs in this process since it started: /metrics publishes them. */
export const passwordWork = { hashes: 0, verifications: 0 };

const threads = new PasswordThreads();

export function hashPassword(password: string): Promise<string> {
  passwordWork.hashes++;
  return threads.hash(password, ARGON2ID_OPTIONS);
}

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  passwordWork.verifications++;
  try {
    return await threads.verify(passwordHash, password);
  } catch {
    return false;
  }
}

let decoy: Promise<string> | null = null;

/**
 * Spends the same work as checking a real password, for an account that does not exist, so that
 * an unknown email and a wrong password cannot be told apart by timing.
 */
export async function verifyDecoy(password: string): Promise<false> {
  decoy ??= hashPassword(randomBytes(16).toString('hex'));
  await verifyPassword(await decoy, password);
  return false;
}
