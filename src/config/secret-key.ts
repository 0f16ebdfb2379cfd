// The key that TOTP secrets are sealed under (AES-256-GCM). From GATEHOUSE_SECRET_KEY; on the embedded
// database without one, a key generated into the data folder on first start (in memory for a
// throwaway `memory://` database). A PostgreSQL server without one has no authenticator apps: a key
// generated on one node would not open what another node sealed, and a key kept beside the database it
// protects protects nothing.
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from './config.ts';

/** The keys, or why there are none. */
export type SecretKeys = { current: Buffer; previous: Buffer | null } | { current: null; reason: string };

export const SECRET_KEY_FILE = 'secret-key';

const decode = (base64: string) => Buffer.from(base64, 'base64');

export function secretKeyFile(dataDir: string): string {
  return join(dataDir, SECRET_KEY_FILE);
}

/** Reads the data folder's key, or makes one (readable by its owner only) when there is none. */
export function embeddedSecretKey(dataDir: string): Buffer {
  const file = secretKeyFile(dataDir);
  try {
    writeFileSync(file, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const key = decode(readFileSync(file, 'utf8').trim());
  if (key.length !== 32) throw new Error(`The key file ${file} does not hold a 32-byte base64 key`);
  return key;
}

export function resolveSecretKeys(config: Pick<Config, 'secretKey' | 'previousSecretKey' | 'database'>): SecretKeys {
  const previous = config.previousSecretKey ? decode(config.previousSecretKey) : null;
  if (config.secretKey) return { current: decode(config.secretKey), previous };
  if (config.database.kind === 'embedded') return { current: config.database.dataDir ? embeddedSecretKey(config.database.dataDir) : randomBytes(32), previous };
  return { current: null, reason: 'GATEHOUSE_SECRET_KEY is not set' };
}
