// The everyday database, made afresh on every run: 1,000 accounts that sign in, an owner in five
// organisations (the first with 20 members), a user in 1,000 organisations, and sessions for the load.
// With BENCH_BASELINE, the other build gets a copy of its own, made the same way by its own
// migrations and API, so that the two never share rows.
import { hashPassword } from '../../src/domain/accounts/passwords.ts';
import { addressOf, expect, inParallel, PASSWORD } from '../lib/http.ts';
import { createDatabase, withClient } from '../lib/postgres.ts';
import type { Server } from '../lib/processes.ts';
import { bearer, createOrganisation, login, migrate, organisationIds, register, ROOT, startGatehouse } from './gatehouse.ts';

export const SMALL_DATABASE = 'gatehouse_bench';
export const BASELINE_DATABASE = 'gatehouse_bench_baseline';
export const LOGIN_USERS = 1000;
export const loginEmail = (i: number) => `login-${i}@bench.test`;

export interface SmallFixtures {
  server: Server;
  databaseUrl: string;
  /** A user in five organisations; `orgId` has 20 members. */
  owner: { token: string; orgId: string };
  /** A user in 1,000 organisations. */
  heavyToken: string;
  /** Access tokens of 32 sessions of different users. */
  tokens: string[];
  /** Refresh tokens of sessions nobody else uses, enough for every round of the refresh load. */
  refreshTokens: string[];
}

async function seedAccounts(databaseUrl: string) {
  // One hash for every account: a thousand argon2id hashes would only slow the set-up down.
  const passwordHash = await hashPassword(PASSWORD);
  await withClient(databaseUrl, (client) =>
    client.query(
      `insert into users (email, password_hash, first_name, last_name)
       select 'login-' || g || '@bench.test', $1, 'Login', g::text from generate_series(0, $2 - 1) g`,
      [passwordHash, LOGIN_USERS],
    ),
  );
}

async function userIds(databaseUrl: string, emails: string[]): Promise<string[]> {
  const { rows } = await withClient(databaseUrl, (client) => client.query<{ id: string; email: string }>('select id, email from users where email = any($1)', [emails]));
  const byEmail = new Map(rows.map((row) => [row.email, row.id]));
  return emails.map((email) => byEmail.get(email)!);
}

export interface SmallOptions {
  /** Sessions to set aside for the refresh load. */
  refreshPool: number;
  /** The build that migrates and serves it (this checkout by default), its database and its server's name. */
  root?: string;
  database?: string;
  name?: string;
}

export async function prepareSmall(serverUrl: string, { refreshPool, root = ROOT, database = SMALL_DATABASE, name = 'Gatehouse' }: SmallOptions): Promise<SmallFixtures> {
  const databaseUrl = await createDatabase(serverUrl, database, { replace: true });
  await migrate(databaseUrl, root);
  await seedAccounts(databaseUrl);
  const server = await startGatehouse({ name, databaseUrl, root });

  const owner = await register(server, 'owner@bench.test', 'Owner');
  const [orgId] = await organisationIds(server, owner.accessToken);
  for (let k = 1; k < 5; k++) await createOrganisation(server, owner.accessToken, `Bench Org ${k}`);
  const members = await userIds(databaseUrl, Array.from({ length: 19 }, (_, i) => loginEmail(i + 1)));
  for (const userId of members) {
    await expect(200, `${server.url}/api/organisations/${orgId}/users`, { body: { userId, role: 'member' }, headers: bearer(owner.accessToken) });
  }

  const heavy = await register(server, 'heavy@bench.test', 'Heavy');
  await inParallel(Array.from({ length: 999 }, (_, k) => k), 4, (k) => createOrganisation(server, heavy.accessToken, `Heavy Org ${k}`));

  const signIn = (i: number) => login(server, loginEmail(i), addressOf(i));
  const tokens = (await inParallel(Array.from({ length: 32 }, (_, k) => 100 + k), 4, signIn)).map((s) => s.accessToken);
  if (refreshPool > LOGIN_USERS - 200) throw new Error(`At most ${LOGIN_USERS - 200} refresh sessions`);
  const refreshTokens = (await inParallel(Array.from({ length: refreshPool }, (_, k) => 200 + k), 4, signIn)).map((s) => s.refreshToken);

  // As autovacuum would in a database that lived longer than a minute: plans from real statistics.
  await withClient(databaseUrl, (client) => client.query('analyze'));
  return { server, databaseUrl, owner: { token: owner.accessToken, orgId: orgId! }, heavyToken: heavy.accessToken, tokens, refreshTokens };
}
