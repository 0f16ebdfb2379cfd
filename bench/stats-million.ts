// Statistics on a million memberships: seeds 100,000 users, 10,000 organisations and 1,000,000
// memberships into a fresh PostgreSQL database (set-based SQL), then times the three statistics
// queries as a platform admin (every organisation) and as an owner with `stats:read` in one.
//
//   npx tsx bench/stats-million.ts            (BENCH_DATABASE_URL, default the local server)
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { sql } from 'kysely';
import pg from 'pg';
import { openDatabase } from '../src/db/database.js';
import { migrateToLatest } from '../src/db/migrate.js';
import { BUILT_IN_ROLES } from '../src/domain/permissions.js';
import { statsRepo, type StatsFilter } from '../src/domain/stats/stats.repo.js';

const serverUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const RUNS = 15;
const name = `gatehouse_stats_${randomBytes(4).toString('hex')}`;

async function admin(statement: string) {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  await client.query(statement).finally(() => client.end());
}

await admin(`create database ${name}`);
const url = new URL(serverUrl);
url.pathname = `/${name}`;
const database = openDatabase({ kind: 'postgres', url: url.toString() });
const { db } = database;
try {
  await migrateToLatest(db);
  const started = performance.now();
  await sql`insert into users (email, password_hash, first_name) select 'u' || g || '@bench.test', 'x', 'U' || g from generate_series(1, 100000) g`.execute(db);
  await sql`insert into organisations (name) select 'Org ' || g from generate_series(1, 10000) g`.execute(db);
  for (const role of BUILT_IN_ROLES) {
    await sql`insert into roles (organisation_id, name, permissions, built_in) select id, ${role.name}, ${sql.val([...role.permissions])}::text[], true from organisations`.execute(db);
  }
  // 100 members in each organisation: one owner, four admins, the rest members, joined over a year.
  await sql`
    with o as (select id, row_number() over (order by id) as n from organisations),
         u as (select id, row_number() over (order by id) as n from users)
    insert into members (organisation_id, user_id, role_id, status, created_at)
    select o.id, u.id, r.id, case when k % 50 = 49 then 'suspended' else 'active' end, now() - (((o.n * 100 + k) % 365) || ' days')::interval
    from o cross join generate_series(0, 99) k
    join u on u.n = ((o.n * 100 + k) % 100000) + 1
    join roles r on r.organisation_id = o.id and r.name = case when k = 0 then 'owner' when k < 5 then 'admin' else 'member' end`.execute(db);
  await sql`analyze`.execute(db);
  const seeded = await sql<{ n: number }>`select count(*)::int as n from members`.execute(db);
  console.log(`Seeded ${seeded.rows[0]?.n} memberships in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);

  const owner = await sql<{ user_id: string }>`select m.user_id from members m join roles r on r.id = m.role_id where r.name = 'owner' limit 1`.execute(db);
  const viewers: Array<[string, StatsFilter]> = [
    ['platform admin, all organisations', { viewerId: owner.rows[0]!.user_id, admin: true }],
    ['platform admin, last 30 days, active', { viewerId: owner.rows[0]!.user_id, admin: true, from: new Date(Date.now() - 30 * 86400_000), status: 'active' }],
    ['owner with stats:read in one organisation', { viewerId: owner.rows[0]!.user_id, admin: false }],
  ];
  console.log('| viewer | query | p50 ms | max ms | rows |\n|---|---|---|---|---|');
  for (const [viewer, filter] of viewers) {
    for (const query of ['usersByRole', 'membersByOrganisation', 'usersByOrganisationRole'] as const) {
      const times: number[] = [];
      let rows = 0;
      for (let i = 0; i < RUNS; i++) {
        const t = performance.now();
        rows = (await statsRepo[query](db, filter)).length;
        times.push(performance.now() - t);
      }
      times.sort((a, b) => a - b);
      console.log(`| ${viewer} | ${query} | ${times[Math.floor(RUNS / 2)]!.toFixed(1)} | ${times[RUNS - 1]!.toFixed(1)} | ${rows} |`);
    }
  }
} finally {
  await database.close();
  await admin(`drop database if exists ${name} with (force)`);
}
