// The databases every suite runs on: the embedded one always, and a real PostgreSQL server when
// TEST_DATABASE_URL is set (each test file gets a fresh database of its own there).
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { Config } from '../../src/config/config.js';

export type Target = 'embedded' | 'postgres';

export function targets(): Target[] {
  return process.env.TEST_DATABASE_URL ? ['embedded', 'postgres'] : ['embedded'];
}

export interface TestDatabase {
  config: Config['database'];
  drop(): Promise<void>;
}

export async function createTestDatabase(target: Target): Promise<TestDatabase> {
  if (target === 'embedded') return { config: { kind: 'embedded', dataDir: null }, drop: async () => {} };
  const serverUrl = process.env.TEST_DATABASE_URL;
  if (!serverUrl) throw new Error('TEST_DATABASE_URL is not set');
  const name = `gatehouse_test_${process.pid}_${randomBytes(4).toString('hex')}`;
  await adminQuery(serverUrl, `create database ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    config: { kind: 'postgres', url: url.toString() },
    drop: () => adminQuery(serverUrl, `drop database if exists ${name} with (force)`),
  };
}

async function adminQuery(serverUrl: string, statement: string) {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    await client.query(statement);
  } finally {
    await client.end();
  }
}
