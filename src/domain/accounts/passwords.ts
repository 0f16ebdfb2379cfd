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

export interface PasswordHasher {
  hash(password: string): Promise<string>;
  verify(passwordHash: string, password: string): Promise<boolean>;
  /**
   * Spends the same work as checking a real password, for an account that does not exist, so that
   * an unknown email and a wrong password cannot be told apart by timing.
   */
  verifyDecoy(password: string): Promise<false>;
}

/** argon2id's costs, for a hasher that changes them. */
export type PasswordHashing = Pick<Options, 'memoryCost' | 'timeCost'>;

/**
 * Hashes with argon2id at OWASP's costs, what Gatehouse always runs with, unless `hashing` changes
 * them (only the test harness does, to spend less CPU); a stored hash is checked with the costs
 * written in it.
 */
export function passwordHasher(hashing: PasswordHashing = {}): PasswordHasher {
  const options: Options = { ...ARGON2ID_OPTIONS, ...hashing };
  let decoy: Promise<string> | null = null;
  const hasher: PasswordHasher = {
    hash(password) {
      passwordWork.hashes++;
      return threads.hash(password, options);
    },
    async verify(passwordHash, password) {
      passwordWork.verifications++;
      try {
        return await threads.verify(passwordHash, password);
      } catch {
        return false;
      }
    },
    async verifyDecoy(password) {
      decoy ??= hasher.hash(randomBytes(16).toString('hex'));
      await hasher.verify(await decoy, password);
      return false;
    },
  };
  return hasher;
}

const standard = passwordHasher();

/** With Gatehouse's parameters (the benchmarks' set-up uses it to make accounts). */
export const hashPassword = (password: string) => standard.hash(password);
