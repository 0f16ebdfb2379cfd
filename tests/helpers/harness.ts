// One Gatehouse per test file and database: a copy of the migrated template database (see
// databases.ts), shared by the file's tests, each of which makes its own users and organisations so
// that tests never depend on each other's data.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe } from 'node:test';
import { sql } from 'kysely';
import { buildApp, type App } from '../../src/app.ts';
import { loadConfig, type Config } from '../../src/config/config.ts';
import type { PasswordHashing } from '../../src/domain/accounts/passwords.ts';
import { openDatabase, type Db } from '../../src/db/database.ts';
import type { Clock } from '../../src/domain/clock.ts';
import { DEFAULT_THROTTLE_POLICY, type ThrottlePolicy } from '../../src/domain/throttle/throttles.ts';
import { createTestDatabase, targets, type Target } from './databases.ts';

export const PUBLIC_URL = 'https://gatehouse.test';

/** A clock the tests move by hand, to step past expiries without waiting. */
export class TestClock implements Clock {
  private offsetMs = 0;
  now() {
    return new Date(Date.now() + this.offsetMs);
  }
  advance(seconds: number) {
    this.offsetMs += seconds * 1000;
  }
  reset() {
    this.offsetMs = 0;
  }
}

export interface Harness {
  target: Target;
  app: App;
  db: Db;
  clock: TestClock;
  config: Config;
  close(): Promise<void>;
}

export function testConfig(env: Record<string, string> = {}): Config {
  return loadConfig({ PUBLIC_URL, LOG_LEVEL: 'silent', ...env });
}

/** Suites sign in and register far more often than a person would: they get room, unless they test throttling. */
export const ROOMY_THROTTLES: ThrottlePolicy = Object.fromEntries(
  Object.entries(DEFAULT_THROTTLE_POLICY).map(([name, rule]) => [name, { ...rule, points: 1_000_000 }]),
) as unknown as ThrottlePolicy;

/**
 * argon2id at a sliver of Gatehouse's costs: suites hash and check hundreds of passwords, and at
 * OWASP's costs that was about a seventh of `npm test`'s CPU. The algorithm and every code path are the same.
 */
export const CHEAP_PASSWORD_HASHING: PasswordHashing = { memoryCost: 256, timeCost: 1 };

export interface HarnessOptions {
  /** The throttling rules; ROOMY_THROTTLES by default. */
  throttles?: ThrottlePolicy;
  /** Hash new passwords at Gatehouse's own argon2id costs instead of CHEAP_PASSWORD_HASHING. */
  realPasswordCosts?: boolean;
  /** How long a webhook receiver has to answer; Gatehouse's 5 s by default. */
  webhookTimeoutMs?: number;
}

/** The Redis the PostgreSQL target shares its throttling counters through, as in production. */
export const redisFor = (target: Target): string | undefined => (target === 'postgres' ? process.env.TEST_REDIS_URL : undefined);

export async function startHarness(target: Target, env: Record<string, string> = {}, options: HarnessOptions = {}): Promise<Harness> {
  const testDb = await createTestDatabase(target, { migrated: true });
  const redisUrl = redisFor(target);
  // Each harness counts on its own, even with others sharing the Redis.
  const redis: Record<string, string> = redisUrl ? { REDIS_URL: redisUrl, REDIS_KEY_PREFIX: `gatehouse-test:${randomUUID()}` } : {};
  const config = { ...testConfig({ ...redis, ...env }), database: testDb.config };
  const database = openDatabase(config.database, { poolSize: 20 });
  const clock = new TestClock();
  const passwordHashing = options.realPasswordCosts ? undefined : CHEAP_PASSWORD_HASHING;
  const app = await buildApp({ config, database, clock, logger: false, throttlePolicy: options.throttles ?? ROOMY_THROTTLES, passwordHashing, webhookTimeoutMs: options.webhookTimeoutMs });
  await app.ready();
  return {
    target,
    app,
    db: database.db,
    clock,
    config,
    async close() {
      await app.close();
      await database.close();
      await testDb.drop();
    },
  };
}

/** Runs a suite once per database target, with a started harness. */
export function forEachDatabase(title: string, suite: (harness: () => Harness) => void, env: Record<string, string> = {}, options: HarnessOptions = {}) {
  for (const target of targets()) {
    describe(`${title} [${target}]`, () => {
      let harness: Harness | undefined;
      before(async () => {
        harness = await startHarness(target, env, options);
      });
      after(async () => {
        await harness?.close();
      });
      suite(() => {
        if (!harness) throw new Error('harness not started');
        return harness;
      });
    });
  }
}

const TABLES = [
  'users',
  'organisations',
  'roles',
  'members',
  'invitations',
  'sessions',
  'refresh_tokens',
  'one_time_tokens',
  'signing_keys',
  'outbox',
  'audit_events',
  'webhook_endpoints',
  'webhook_messages',
  'webhook_deliveries',
  'api_keys',
  'applications',
  'application_secrets',
  'revoked_tokens',
  'mfa_totp',
  'mfa_recovery_codes',
  'passkeys',
  'mfa_challenges',
  'webauthn_challenges',
];

/**
 * Waits (a few seconds at most) until no mail is due: the outbox worker marks mail sent in the
 * background, which would otherwise change a fingerprint that a refused request left alone. Mail in
 * back-off is not due, so with no delivery failing this is also "every queued mail was sent".
 * By default a wait that runs out returns quietly; with `failOnTimeout` it fails the test.
 */
export async function settled(db: Db, { failOnTimeout = false }: { failOnTimeout?: boolean } = {}): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from outbox where status = 'pending' and next_attempt_at <= now()`.execute(db);
    if (rows[0]?.n === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  if (failOnTimeout) assert.fail('the outbox did not drain');
}

/** A digest of every row of every table: equal before and after means the request changed nothing. */
export async function fingerprint(db: Db): Promise<string> {
  await settled(db);
  const parts: string[] = [];
  for (const table of TABLES) {
    const { rows } = await sql<{ digest: string | null }>`select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as digest from ${sql.table(table)} t`.execute(db);
    parts.push(`${table}:${rows[0]?.digest}`);
  }
  return parts.join(',');
}
