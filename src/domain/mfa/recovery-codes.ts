// Recovery codes: ten per set, each 50 random bits written as two groups of five letters and digits
// (no 0/O or 1/I/L to misread), shown once and stored only as SHA-256 digests. A fast digest is right
// here: the codes are random, and every check is throttled like a password.
import { createHash, randomInt } from 'node:crypto';

export const RECOVERY_CODE_COUNT = 10;
const ALPHABET = 'abcdefghjkmnpqrstuvwxyz23456789';

function newCode(): string {
  const chars = Array.from({ length: 10 }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');
  return `${chars.slice(0, 5)}-${chars.slice(5)}`;
}

export const newRecoveryCodes = (): string[] => Array.from({ length: RECOVERY_CODE_COUNT }, newCode);

/** What a person typed, as it was issued: case, spaces and dashes do not matter. */
export const normaliseRecoveryCode = (code: string) => code.toLowerCase().replace(/[^a-z0-9]/g, '');

export const hashRecoveryCode = (code: string) => createHash('sha256').update(`recovery:${normaliseRecoveryCode(code)}`).digest('base64url');
