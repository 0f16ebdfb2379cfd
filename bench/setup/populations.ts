// The large populations, seeded once with set-based SQL through Gatehouse's schema and kept across
// runs: a million memberships for the statistics, and 100,000 organisations for the listings.
// Each is seeded in one transaction: a database holding its accounts and counts is complete, and an
// interrupted seeding leaves them missing, so the next run seeds again.
import { performance } from 'node:perf_hooks';
import type pg from 'pg';
import { hashPassword } from '../../src/domain/accounts/passwords.ts';
import { BUILT_IN_ROLES } from '../../src/domain/policy/permissions.ts';
import { PASSWORD } from '../lib/http.ts';
import { createDatabase, databaseExists, databaseUrl, withClient } from '../lib/postgres.ts';
import { migrate } from './gatehouse.ts';

export interface Population {
  database: string;
  /** The accounts that sign in for the load. */
  emails: readonly string[];
  /** Whether what is there is complete. */
  complete(client: pg.Client): Promise<boolean>;
  seed(client: pg.Client, passwordHash: string): Promise<void>;
}

async function builtInRoles(client: pg.Client) {
  for (const role of BUILT_IN_ROLES) {
    await client.query(`insert into roles (organisation_id, name, description, permissions, built_in) select id, $1, $2, $3::text[], true from organisations`, [
      role.name,
      role.description,
      [...role.permissions],
    ]);
  }
}

const count = async (client: pg.Client, table: string) => Number((await client.query<{ n: string }>(`select count(*) as n from ${table}`)).rows[0]?.n ?? 0);
const hasAccounts = async (client: pg.Client, emails: readonly string[]) => (await client.query('select 1 from users where email = any($1)', [[...emails]])).rows.length === emails.length;

/**
 * 100,000 users, 10,000 organisations of 100 members each (one owner, four admins), joined over a
 * year; a platform admin to read them all, and one of the owners to read their own organisation.
 */
export const MILLION_MEMBERSHIPS: Population = {
  database: 'gatehouse_bench_stats',
  emails: ['admin@stats.bench.test', 'owner@stats.bench.test'],
  complete: async (client) => (await hasAccounts(client, MILLION_MEMBERSHIPS.emails)) && (await count(client, 'members')) >= 1_000_000,
  async seed(client, passwordHash) {
    await client.query(`insert into users (email, password_hash, first_name) select 'u' || g || '@stats.bench.test', 'x', 'U' || g from generate_series(1, 100000) g`);
    await client.query(`insert into organisations (name) select 'Org ' || g from generate_series(1, 10000) g`);
    await builtInRoles(client);
    await client.query(`
      with o as (select id, row_number() over (order by id) as n from organisations),
           u as (select id, row_number() over (order by id) as n from users)
      insert into members (organisation_id, user_id, role_id, status, created_at)
      select o.id, u.id, r.id, case when k % 50 = 49 then 'suspended' else 'active' end, now() - (((o.n * 100 + k) % 365) || ' days')::interval
      from o cross join generate_series(0, 99) k
      join u on u.n = ((o.n * 100 + k) % 100000) + 1
      join roles r on r.organisation_id = o.id and r.name = case when k = 0 then 'owner' when k < 5 then 'admin' else 'member' end`);
    // One of the owners signs in (owners and admins hold stats:read: every such user has it in 10 organisations).
    const owner = await client.query(
      `update users set email = $1, password_hash = $2
       where id = (select m.user_id from members m join roles r on r.id = m.role_id where r.name = 'owner' order by m.user_id limit 1)`,
      [MILLION_MEMBERSHIPS.emails[1], passwordHash],
    );
    if (owner.rowCount !== 1) throw new Error('No owner to sign in with');
    await client.query(`insert into users (email, password_hash, first_name, last_name, platform_role) values ($1, $2, 'Platform', 'Admin', 'admin')`, [MILLION_MEMBERSHIPS.emails[0], passwordHash]);
  },
};

/** 100,000 organisations, each with its owner; one user owns 1,000 of them (their personal one among them). */
export const HUNDRED_THOUSAND_ORGANISATIONS: Population = {
  database: 'gatehouse_bench_orgs',
  emails: ['heavy@orgs.bench.test'],
  complete: async (client) => (await hasAccounts(client, HUNDRED_THOUSAND_ORGANISATIONS.emails)) && (await count(client, 'organisations')) >= 100_000,
  async seed(client, passwordHash) {
    await client.query(`insert into users (email, password_hash, first_name, last_name) values ($1, $2, 'Heavy', 'User')`, [HUNDRED_THOUSAND_ORGANISATIONS.emails[0], passwordHash]);
    await client.query(`insert into users (email, password_hash, first_name) select 'o' || g || '@orgs.bench.test', 'x', 'O' || g from generate_series(1001, 100000) g`);
    // Organisation g belongs to the heavy user up to 1,000, then to user `o<g>`; the first of each user's is personal.
    await client.query(
      `insert into organisations (name, personal, created_by, created_at)
       select 'Org ' || g, g = 1 or g > 1000, coalesce(u.id, h.id), timestamptz '2025-01-01' + g * interval '1 minute'
       from generate_series(1, 100000) g
       cross join (select id from users where email = $1) h
       left join users u on g > 1000 and u.email = 'o' || g || '@orgs.bench.test'`,
      [HUNDRED_THOUSAND_ORGANISATIONS.emails[0]],
    );
    await builtInRoles(client);
    await client.query(`
      insert into members (organisation_id, user_id, role_id, created_at)
      select o.id, o.created_by, r.id, o.created_at
      from organisations o join roles r on r.organisation_id = o.id and r.name = 'owner'`);
  },
};

/** The population's database, seeded unless a complete one is already there (or BENCH_RESEED=1). */
export async function ensurePopulation(serverUrl: string, population: Population, { reseed }: { reseed: boolean }): Promise<string> {
  const url = databaseUrl(serverUrl, population.database);
  if (!reseed && (await databaseExists(serverUrl, population.database))) {
    await migrate(url);
    if (await withClient(url, (client) => population.complete(client))) return url;
  }
  const started = performance.now();
  console.error(`Seeding ${population.database} (once; later runs reuse it)…`);
  await createDatabase(serverUrl, population.database, { replace: true });
  await migrate(url);
  const passwordHash = await hashPassword(PASSWORD);
  await withClient(url, async (client) => {
    await client.query('begin');
    await population.seed(client, passwordHash);
    await client.query('commit');
    await client.query('analyze');
  });
  console.error(`Seeded ${population.database} in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  return url;
}
