// The membership counts the database keeps (membership_counts, role_holders: migration 0004), on
// every database target: after each kind of change through the API, after set-based statements of
// many rows, under concurrent changes to one organisation, and when migrating a database that already
// holds memberships. Each check compares the kept rows with the same counted from `members`, and each
// statistics route's undated answer (read from the kept counts) with its answer from `from=0` (counted
// from the memberships).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { openDatabase, type DatabaseHandle, type Db } from '../src/db/database.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { MIGRATIONS } from '../src/db/migrations/index.ts';
import { addMember, call, createOrganisation, registerUser, type Answer, type TestUser } from './helpers/api.ts';
import { createTestDatabase, migrateBefore, targets, type TestDatabase } from './helpers/databases.ts';
import { forEachDatabase } from './helpers/harness.ts';

const ROUTES = ['/api/stats/users-by-role', '/api/stats/members-by-organisation', '/api/stats/users-by-organisation-role'] as const;

/** The kept rows and the same counted from `members` now, in one order. */
async function keptAndCounted(db: Db) {
  const [kept, counted, holders, held] = await Promise.all([
    sql`select organisation_id, role_id, status, members from membership_counts order by 1, 2, 3`.execute(db),
    sql`select organisation_id, role_id, status, count(*)::int as members from members group by 1, 2, 3 order by 1, 2, 3`.execute(db),
    sql`select role_name, user_id, active, suspended from role_holders order by 1, 2`.execute(db),
    sql`select r.name as role_name, m.user_id, (count(*) filter (where m.status = 'active'))::int as active, (count(*) filter (where m.status = 'suspended'))::int as suspended
        from members m join roles r on r.id = m.role_id group by 1, 2 order by 1, 2`.execute(db),
  ]);
  return { kept: kept.rows, counted: counted.rows, holders: holders.rows, held: held.rows };
}

async function assertCountsKept(db: Db, when: string) {
  const { kept, counted, holders, held } = await keptAndCounted(db);
  assert.ok(counted.length > 0, `${when}: no memberships to count`);
  assert.deepEqual(kept, counted, `${when}: membership_counts`);
  assert.deepEqual(holders, held, `${when}: role_holders`);
}

const expectOk = (answer: Answer, what: string) => assert.equal(answer.status, 200, `${what}: ${JSON.stringify(answer.body)}`);

forEachDatabase('kept membership counts', (h) => {
  async function makeAdmin(): Promise<TestUser> {
    const user = await registerUser(h().app);
    await h().db.updateTable('users').set({ platform_role: 'admin' }).where('id', '=', user.userId).execute();
    const login = await call(h().app, 'POST', '/auth/login', { body: { email: user.email, password: user.password } });
    expectOk(login, 'admin login');
    return { ...user, accessToken: login.body.data.accessToken as string };
  }

  const rows = async (viewer: TestUser, url: string) => {
    const answer = await call(h().app, 'GET', url, { token: viewer.accessToken });
    expectOk(answer, url);
    return answer.body.data.rows as Array<Record<string, unknown>>;
  };

  /** Each route answers the same from the kept counts as from the memberships (`from=0` counts those). */
  async function assertAnswersAsCounted(viewer: TestUser, queries: string[], when: string) {
    for (const route of ROUTES) {
      for (const query of queries) {
        const kept = await rows(viewer, `${route}?${query}`);
        const counted = await rows(viewer, `${route}?${query}${query ? '&' : ''}from=0`);
        assert.deepEqual(kept, counted, `${when}: ${route}?${query}`);
      }
    }
  }

  const members = (org: string, user: TestUser) => `/api/organisations/${org}/members/${user.userId}`;
  const changeRole = async (by: TestUser, org: string, user: TestUser, role: string) =>
    expectOk(await call(h().app, 'PATCH', members(org, user), { token: by.accessToken, body: { role } }), `role of ${user.userId} to ${role}`);
  const remove = async (by: TestUser, org: string, user: TestUser) => expectOk(await call(h().app, 'DELETE', members(org, user), { token: by.accessToken }), `removing ${user.userId}`);
  // No route suspends a membership: the status changes in the database, as an operator would change it.
  const setStatus = (org: string, user: TestUser, status: string) =>
    h().db.updateTable('members').set({ status }).where('organisation_id', '=', org).where('user_id', '=', user.userId).execute();
  const holdings = (user: TestUser) => h().db.selectFrom('role_holders').select(['role_name', 'active', 'suspended']).where('user_id', '=', user.userId).orderBy('role_name').execute();
  const countsOf = (org: string) =>
    h()
      .db.selectFrom('membership_counts as k')
      .innerJoin('roles as r', 'r.id', 'k.role_id')
      .select(['r.name', 'k.status', 'k.members'])
      .where('k.organisation_id', '=', org)
      .orderBy('r.name')
      .orderBy('k.status')
      .execute();

  it('keeps the counts through additions, role changes, suspensions, removals, leaving, renames and deletions', async () => {
    const { app } = h();
    const platform = await makeAdmin();
    const [olga, adam, mia, max, ana] = await Promise.all(['Olga', 'Adam', 'Mia', 'Max', 'Ana'].map((firstName) => registerUser(app, { firstName })));
    const a = await createOrganisation(app, olga!.accessToken, 'Counts A');
    const b = await createOrganisation(app, olga!.accessToken, 'Counts B');
    const check = async (when: string) => {
      await assertCountsKept(h().db, when);
      await assertAnswersAsCounted(platform, ['', 'status=active', 'status=suspended', `organisationId=${a}`], `${when}, platform admin`);
      await assertAnswersAsCounted(olga!, ['', 'status=active', 'status=suspended', `organisationId=${a}&status=active`], `${when}, owner`);
    };
    await check('after registrations');

    for (const [user, role] of [[adam, 'admin'], [mia, 'member'], [max, 'member'], [ana, 'member']] as const) await addMember(app, olga!.accessToken, a, user!.userId, role);
    for (const [user, role] of [[mia, 'member'], [adam, 'member']] as const) await addMember(app, olga!.accessToken, b, user!.userId, role);
    await check('after additions');
    assert.deepEqual(await holdings(mia!), [{ role_name: 'member', active: 2, suspended: 0 }, { role_name: 'owner', active: 1, suspended: 0 }]);

    const created = await call(app, 'POST', `/api/organisations/${a}/roles`, { token: olga!.accessToken, body: { name: 'analyst', permissions: ['org:read', 'stats:read'] } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const analyst = created.body.data.roleId as string;
    await changeRole(olga!, a, ana!, 'analyst');
    await changeRole(olga!, b, adam!, 'admin');
    await check('after role changes');
    assert.deepEqual(await holdings(adam!), [{ role_name: 'admin', active: 2, suspended: 0 }, { role_name: 'owner', active: 1, suspended: 0 }]);

    await setStatus(a, max!, 'suspended');
    await setStatus(b, mia!, 'suspended');
    await check('after suspensions');
    assert.deepEqual(await holdings(max!), [{ role_name: 'member', active: 0, suspended: 1 }, { role_name: 'owner', active: 1, suspended: 0 }]);
    await setStatus(a, max!, 'active');
    await check('after a reactivation');

    const rename = async (name: string) => expectOk(await call(app, 'PATCH', `/api/organisations/${a}/roles/${analyst}`, { token: olga!.accessToken, body: { name } }), `renaming to ${name}`);
    await rename('Analyst');
    await check('after a rename in another letter case');
    await rename('auditor');
    await check('after a rename');
    assert.deepEqual(await holdings(ana!), [{ role_name: 'auditor', active: 1, suspended: 0 }, { role_name: 'owner', active: 1, suspended: 0 }]);

    await remove(olga!, a, max!);
    await remove(mia!, a, mia!);
    await check('after a removal and a member leaving');
    await changeRole(olga!, a, ana!, 'member');
    expectOk(await call(app, 'DELETE', `/api/organisations/${a}/roles/${analyst}`, { token: olga!.accessToken }), 'deleting the role');
    await check('after deleting a role nobody holds');

    expectOk(await call(app, 'DELETE', `/api/organisations/${b}`, { token: olga!.accessToken }), 'deleting organisation B');
    await check('after deleting an organisation');
    assert.deepEqual(await h().db.selectFrom('membership_counts').selectAll().where('organisation_id', '=', b).execute(), []);
    expectOk(await call(app, 'DELETE', `/api/admin/users/${adam!.userId}`, { token: platform.accessToken }), 'deleting Adam');
    await check('after an admin deleted a user');
    assert.deepEqual(await holdings(adam!), []);

    // What is left, by hand: Olga owns A, where Ana is a member; Mia holds nothing but her own organisation.
    assert.deepEqual(await countsOf(a), [{ name: 'member', status: 'active', members: 1 }, { name: 'owner', status: 'active', members: 1 }]);
    assert.deepEqual(await holdings(olga!), [{ role_name: 'owner', active: 2, suspended: 0 }]);
    assert.deepEqual(await holdings(mia!), [{ role_name: 'owner', active: 1, suspended: 0 }]);
    const inA = (role: string, userCount: number) => ({ organisationId: a, organisation: 'Counts A', role, userCount });
    assert.deepEqual(await rows(platform, `${ROUTES[2]}?organisationId=${a}`), [inA('member', 1), inA('owner', 1)]);
    assert.deepEqual((await rows(olga!, ROUTES[1])).map((r) => [r.organisation, r.userCount]), [['Counts A', 2], ["Olga's Organisation", 1]]);
  });

  it('answers undated questions from the kept counts and dated ones from the memberships', async () => {
    const { app, db } = h();
    const platform = await makeAdmin();
    const owner = await registerUser(app);
    const org = await createOrganisation(app, owner.accessToken, 'Kept');
    const ghost = randomUUID();
    // A count that is not true: only an answer read from the kept counts can show it.
    await sql`update membership_counts set members = members + 1000 where organisation_id = ${org}`.execute(db);
    await sql`insert into role_holders (role_name, user_id, active) values ('ghost', ${ghost}, 1)`.execute(db);
    try {
      const kept = (await rows(platform, ROUTES[1])).find((r) => r.organisationId === org);
      assert.equal(kept?.userCount, 1001);
      assert.equal((await rows(owner, `${ROUTES[2]}?organisationId=${org}`))[0]?.userCount, 1001);
      assert.equal((await rows(platform, `${ROUTES[1]}?from=0`)).find((r) => r.organisationId === org)?.userCount, 1);
      assert.deepEqual((await rows(platform, ROUTES[0])).find((r) => r.role === 'ghost'), { role: 'ghost', userCount: 1 });
      assert.equal((await rows(platform, `${ROUTES[0]}?status=suspended`)).find((r) => r.role === 'ghost'), undefined);
      // Users by role over some organisations only is counted from their memberships.
      assert.equal((await rows(platform, `${ROUTES[0]}?from=0`)).find((r) => r.role === 'ghost'), undefined);
      assert.deepEqual(await rows(owner, `${ROUTES[0]}?organisationId=${org}`), [{ role: 'owner', userCount: 1 }]);
    } finally {
      await sql`update membership_counts set members = members - 1000 where organisation_id = ${org}`.execute(db);
      await sql`delete from role_holders where user_id = ${ghost}`.execute(db);
    }
  });

  it('keeps the counts through set-based statements of many memberships each', async () => {
    const { app, db } = h();
    const platform = await makeAdmin();
    const owner = await registerUser(app);
    const [a, b] = [await createOrganisation(app, owner.accessToken, 'Bulk A'), await createOrganisation(app, owner.accessToken, 'Bulk B')];
    const tag = `bulk.${randomUUID()}`;
    await sql`insert into users (email, password_hash) select ${tag} || '.' || g || '@example.com', 'x' from generate_series(1, 300) g`.execute(db);
    const bulk = sql`(select id from users where email like ${`${tag}.%`})`;
    // Every bulk user joins A, every other one B too; a third as admins, a seventh suspended.
    await sql`
      insert into members (organisation_id, user_id, role_id, status)
      select o.id, u.id, r.id, case when u.n % 7 = 0 then 'suspended' else 'active' end
      from (select id, row_number() over (order by id) as n from users where email like ${`${tag}.%`}) u
      cross join (select id from organisations where id in (${a}, ${b})) o
      join roles r on r.organisation_id = o.id and r.name = case when u.n % 3 = 0 then 'admin' else 'member' end
      where o.id = ${a} or u.n % 2 = 0`.execute(db);
    await assertCountsKept(db, 'after one insert of 450 memberships');
    const total = async (org: string) => (await rows(platform, `${ROUTES[1]}?organisationId=${org}`))[0]?.userCount;
    assert.deepEqual([await total(a), await total(b)], [301, 151]);

    await sql`update members set status = case status when 'active' then 'suspended' else 'active' end where user_id in ${bulk} and organisation_id = ${a}`.execute(db);
    await sql`update members m set role_id = r.id from roles r where r.organisation_id = m.organisation_id and r.name = 'admin' and m.user_id in ${bulk} and m.status = 'active'`.execute(db);
    await assertCountsKept(db, 'after updating hundreds of memberships in two statements');
    await assertAnswersAsCounted(platform, ['', 'status=active', 'status=suspended', `organisationId=${b}`], 'after the bulk updates');

    await sql`delete from members where user_id in ${bulk} and organisation_id = ${b} and status = 'suspended'`.execute(db);
    await sql`delete from users where id in (select id from users where email like ${`${tag}.%`} order by id limit 100)`.execute(db);
    await assertCountsKept(db, 'after deleting memberships and 100 users in two statements');
    await sql`delete from organisations where id in (${a}, ${b})`.execute(db);
    await assertCountsKept(db, 'after deleting two organisations in one statement');
    await assertAnswersAsCounted(platform, ['', 'status=active', 'status=suspended'], 'after the bulk deletions');
  });

  it('counts every member of concurrent additions, role changes and removals in one organisation', async () => {
    const { app } = h();
    const owner = await registerUser(app);
    const org = await createOrganisation(app, owner.accessToken, 'Busy');
    const users: TestUser[] = [];
    for (let i = 0; i < 4; i++) users.push(...(await Promise.all(Array.from({ length: 6 }, () => registerUser(app)))));
    const [first, later] = [users.slice(0, 12), users.slice(12)];
    await Promise.all(first.map((user, i) => addMember(app, owner.accessToken, org, user.userId, i % 2 ? 'admin' : 'member')));
    await assertCountsKept(h().db, 'after 12 additions at once');
    assert.deepEqual(await countsOf(org), [
      { name: 'admin', status: 'active', members: 6 },
      { name: 'member', status: 'active', members: 6 },
      { name: 'owner', status: 'active', members: 1 },
    ]);
    // Each of these takes the same count rows as the others: none may wait for another in a cycle.
    await Promise.all([
      ...first.slice(0, 8).map((user, i) => changeRole(owner, org, user, i % 2 ? 'member' : 'admin')),
      ...first.slice(8).map((user) => remove(owner, org, user)),
      ...later.map((user) => addMember(app, owner.accessToken, org, user.userId)),
    ]);
    await assertCountsKept(h().db, 'after concurrent role changes, removals and additions');
    assert.deepEqual(await countsOf(org), [
      { name: 'admin', status: 'active', members: 4 },
      { name: 'member', status: 'active', members: 16 },
      { name: 'owner', status: 'active', members: 1 },
    ]);
  });
});

// Migration 0004 on a database that already holds memberships: it counts them.
for (const target of targets()) {
  describe(`membership counts migration [${target}]`, () => {
    let testDb: TestDatabase;
    let database: DatabaseHandle;
    let db: Db;
    const countsMigration = MIGRATIONS.findIndex((m) => m.name === '0004-membership-counts');

    before(async () => {
      testDb = await createTestDatabase(target);
      database = openDatabase(testDb.config);
      db = database.db;
    });
    after(async () => {
      await database?.close();
      await testDb?.drop();
    });

    it('counts the memberships already there', async () => {
      await migrateBefore(db, '0004-membership-counts');
      // Two organisations; user g joins both, every third one as admin, every fifth one suspended.
      await sql`insert into users (email, password_hash) select 'm' || g || '@example.com', 'x' from generate_series(1, 40) g`.execute(db);
      await sql`insert into organisations (name) values ('One'), ('Two')`.execute(db);
      await sql`insert into roles (organisation_id, name, built_in) select o.id, n, true from organisations o cross join unnest(array['owner', 'admin', 'member']) n`.execute(db);
      await sql`
        insert into members (organisation_id, user_id, role_id, status)
        select o.id, u.id, r.id, case when u.n % 5 = 0 then 'suspended' else 'active' end
        from organisations o
        cross join (select id, row_number() over (order by email) as n from users) u
        join roles r on r.organisation_id = o.id and r.name = case when u.n = 1 then 'owner' when u.n % 3 = 0 then 'admin' else 'member' end`.execute(db);

      assert.deepEqual(await migrateToLatest(db), MIGRATIONS.slice(countsMigration).map((m) => m.name));
      await assertCountsKept(db, 'after migrating');
      const { rows } = await sql<{ role_name: string; users: number; active: number; suspended: number }>`
        select role_name, count(*)::int as users, sum(active)::int as active, sum(suspended)::int as suspended from role_holders group by role_name order by role_name`.execute(db);
      // 13 admins (3, 6, … 39), 26 members, 1 owner; each in both organisations; 8 of the 40 (5, 10, … 40) suspended.
      assert.deepEqual(rows, [
        { role_name: 'admin', users: 13, active: 22, suspended: 4 },
        { role_name: 'member', users: 26, active: 40, suspended: 12 },
        { role_name: 'owner', users: 1, active: 2, suspended: 0 },
      ]);
    });
  });
}
