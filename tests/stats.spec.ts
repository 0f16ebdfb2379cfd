// Membership statistics through the HTTP API, on every database target: the three /api/stats routes on
// a population each test builds (memberships with fixed creation times, a suspended one, a custom
// role), their filters, their validation, and who sees which organisations.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import { sql } from 'kysely';
import { addMember, call, createOrganisation, registerUser, type TestUser } from './helpers/api.ts';
import { forEachDatabase, settled } from './helpers/harness.ts';
import { expectAuthenticationRequired } from './helpers/matrix.ts';

const ROUTES = ['/api/stats/users-by-role', '/api/stats/members-by-organisation', '/api/stats/users-by-organisation-role'] as const;
const at = (iso: string) => new Date(iso);
const seconds = (iso: string) => String(Date.parse(iso) / 1000);

forEachDatabase('statistics', (h) => {
  const setJoined = (orgId: string, user: TestUser, iso: string) =>
    sql`update members set created_at = ${at(iso)} where organisation_id = ${orgId} and user_id = ${user.userId}`.execute(h().db);

  /**
   * Two organisations of one owner:
   *   A "Stats A": owner 2024-01-01, admin 2024-02-01, m1 member 2024-03-01T12:00, m2 member 2024-04-01 (suspended), analyst (custom, stats:read) 2024-05-01
   *   B "Stats B": owner 2024-01-15, m1 member 2024-03-01T12:00, admin admin 2024-06-01
   */
  async function population() {
    const { app, db } = h();
    const [owner, admin, m1, m2, analyst, outsider] = await Promise.all(['Olga', 'Adam', 'Mia', 'Max', 'Ana', 'Otto'].map((firstName) => registerUser(app, { firstName })));
    const a = await createOrganisation(app, owner!.accessToken, 'Stats A');
    const b = await createOrganisation(app, owner!.accessToken, 'Stats B');
    const role = await call(app, 'POST', `/api/organisations/${a}/roles`, { token: owner!.accessToken, body: { name: 'analyst', permissions: ['org:read', 'stats:read'] } });
    assert.equal(role.status, 201, JSON.stringify(role.body));
    for (const [user, name] of [[admin, 'admin'], [m1, 'member'], [m2, 'member'], [analyst, 'analyst']] as const) await addMember(app, owner!.accessToken, a, user!.userId, name);
    for (const [user, name] of [[m1, 'member'], [admin, 'admin']] as const) await addMember(app, owner!.accessToken, b, user!.userId, name);
    const dates: Array<[string, TestUser, string]> = [
      [a, owner!, '2024-01-01T00:00:00Z'],
      [a, admin!, '2024-02-01T00:00:00Z'],
      [a, m1!, '2024-03-01T12:00:00Z'],
      [a, m2!, '2024-04-01T00:00:00Z'],
      [a, analyst!, '2024-05-01T00:00:00Z'],
      [b, owner!, '2024-01-15T00:00:00Z'],
      [b, m1!, '2024-03-01T12:00:00Z'],
      [b, admin!, '2024-06-01T00:00:00Z'],
    ];
    for (const [orgId, user, iso] of dates) await setJoined(orgId, user, iso);
    await db.updateTable('members').set({ status: 'suspended' }).where('organisation_id', '=', a).where('user_id', '=', m2!.userId).execute();
    const otherOrg = await createOrganisation(app, outsider!.accessToken, 'Stats Elsewhere');
    return { owner: owner!, admin: admin!, m1: m1!, m2: m2!, analyst: analyst!, outsider: outsider!, a, b, otherOrg };
  }

  const stats = async (user: TestUser, route: (typeof ROUTES)[number], query = '') => {
    const answer = await call(h().app, 'GET', `${route}${query}`, { token: user.accessToken });
    assert.equal(answer.status, 200, `${route}${query}: ${JSON.stringify(answer.body)}`);
    assert.equal(answer.body.status, 'success');
    assert.deepEqual(Object.keys(answer.body.data), ['rows']);
    return answer.body.data.rows as Array<Record<string, unknown>>;
  };
  const byRole = (user: TestUser, query = '') => stats(user, ROUTES[0], query);
  const byOrg = (user: TestUser, query = '') => stats(user, ROUTES[1], query);
  const byOrgRole = (user: TestUser, query = '') => stats(user, ROUTES[2], query);
  const roleRows = (pairs: Array<[string, number]>) => pairs.map(([role, userCount]) => ({ role, userCount }));

  it('counts users by role, by organisation and by organisation and role, exactly', async () => {
    const { owner, a, b } = await population();
    assert.deepEqual(await byRole(owner, `?organisationId=${a}`), roleRows([['admin', 1], ['analyst', 1], ['member', 2], ['owner', 1]]));
    assert.deepEqual(await byRole(owner, `?organisationId=${b}`), roleRows([['admin', 1], ['member', 1], ['owner', 1]]));
    assert.deepEqual(await byOrg(owner, `?organisationId=${a}`), [{ organisationId: a, organisation: 'Stats A', userCount: 5 }]);
    // The owner sees their personal organisation and the two teams; a user in two organisations counts once per role.
    assert.deepEqual(await byRole(owner), roleRows([['admin', 1], ['analyst', 1], ['member', 2], ['owner', 1]]));
    assert.deepEqual(await byOrg(owner), [
      { organisationId: owner.personalOrgId, organisation: "Olga's Organisation", userCount: 1 },
      { organisationId: a, organisation: 'Stats A', userCount: 5 },
      { organisationId: b, organisation: 'Stats B', userCount: 3 },
    ]);
    const row = (organisationId: string, organisation: string) => (role: string, userCount: number) => ({ organisationId, organisation, role, userCount });
    const [inA, inB] = [row(a, 'Stats A'), row(b, 'Stats B')];
    assert.deepEqual(await byOrgRole(owner), [
      row(owner.personalOrgId, "Olga's Organisation")('owner', 1),
      inA('admin', 1), inA('analyst', 1), inA('member', 2), inA('owner', 1),
      inB('admin', 1), inB('member', 1), inB('owner', 1),
    ]);
    assert.deepEqual(await byOrgRole(owner, `?organisationId=${b}`), [inB('admin', 1), inB('member', 1), inB('owner', 1)]);
  });

  it('filters by membership status', async () => {
    const { owner, a, b } = await population();
    assert.deepEqual(await byRole(owner, `?organisationId=${a}&status=active`), roleRows([['admin', 1], ['analyst', 1], ['member', 1], ['owner', 1]]));
    assert.deepEqual(await byRole(owner, `?organisationId=${a}&status=suspended`), roleRows([['member', 1]]));
    assert.deepEqual(await byOrg(owner, '?status=suspended'), [{ organisationId: a, organisation: 'Stats A', userCount: 1 }]);
    assert.deepEqual(await byOrgRole(owner, `?organisationId=${b}&status=suspended`), []);
    assert.deepEqual(await byOrg(owner, `?organisationId=${a}&status=active`), [{ organisationId: a, organisation: 'Stats A', userCount: 4 }]);
  });

  it('filters by creation time, ISO 8601 or Unix seconds, both bounds inclusive', async () => {
    const { owner, a, b } = await population();
    const febToApril = roleRows([['admin', 1], ['member', 2]]);
    const iso = `?organisationId=${a}&from=2024-02-01T00:00:00Z&to=2024-04-01T00:00:00Z`;
    assert.deepEqual(await byRole(owner, iso), febToApril);
    const unix = `?organisationId=${a}&from=${seconds('2024-02-01T00:00:00Z')}&to=${seconds('2024-04-01T00:00:00Z')}`;
    assert.deepEqual(await byRole(owner, unix), febToApril);
    // One second inside either bound drops the membership on it.
    const inside = `?organisationId=${a}&from=${seconds('2024-02-01T00:00:01Z')}&to=2024-03-31T23:59:59Z`;
    assert.deepEqual(await byRole(owner, inside), roleRows([['member', 1]]));
    assert.deepEqual(await byRole(owner, `?organisationId=${a}&from=2024-05-01`), roleRows([['analyst', 1]]));
    assert.deepEqual(await byRole(owner, `?organisationId=${a}&to=2024-01-01T00:00:00Z`), roleRows([['owner', 1]]));
    assert.deepEqual(await byOrg(owner, `?organisationId=${b}&from=2024-03-01T12:00:00Z&to=2024-03-01T12:00:00Z`), [{ organisationId: b, organisation: 'Stats B', userCount: 1 }]);
    const both = await byOrg(owner, '?from=2024-01-01T00:00:00Z&to=2024-03-01T12:00:00Z&status=active');
    assert.deepEqual(both, [
      { organisationId: a, organisation: 'Stats A', userCount: 3 },
      { organisationId: b, organisation: 'Stats B', userCount: 2 },
    ]);
    assert.deepEqual(await byOrgRole(owner, `?organisationId=${b}&from=2024-07-01`), []);
    // An offset is honoured: 01:00+01:00 is midnight UTC, the admin's join time in A.
    const offset = `?organisationId=${a}&from=${encodeURIComponent('2024-02-01T01:00:00+01:00')}&to=${encodeURIComponent('2024-02-01T01:00:00+01:00')}`;
    assert.deepEqual(await byRole(owner, offset), roleRows([['admin', 1]]));
  });

  it('refuses a bad from, to or status with a 422 naming the field', async () => {
    const user = await registerUser(h().app);
    const cases: Array<[string, string]> = [
      ['from=yesterday', 'from'],
      ['from=2024-13-45', 'from'],
      ['to=12abc', 'to'],
      ['from=-5', 'from'],
      ['status=deleted', 'status'],
      ['status=ACTIVE', 'status'],
    ];
    for (const route of ROUTES) {
      for (const [query, field] of cases) {
        const answer = await call(h().app, 'GET', `${route}?${query}`, { token: user.accessToken });
        assert.equal(answer.status, 422, `${route}?${query} → ${answer.status} ${JSON.stringify(answer.body)}`);
        assert.deepEqual(Object.keys(answer.body), ['errors']);
        assert.deepEqual(answer.body.errors.map((e: { field: string }) => e.field), [field], `${route}?${query}`);
      }
      const from = await call(h().app, 'GET', `${route}?from=soon`, { token: user.accessToken });
      assert.deepEqual(from.body.errors, [{ field: 'from', message: 'From must be an ISO 8601 date or Unix seconds' }]);
    }
  });

  it('refuses a date that is not in the calendar rather than rolling it over to the next month', async () => {
    const user = await registerUser(h().app);
    for (const [field, value] of [['from', '2024-02-30'], ['to', '2023-02-29'], ['from', '2024-04-31T00:00:00Z']]) {
      const answer = await call(h().app, 'GET', `${ROUTES[0]}?${field}=${value}`, { token: user.accessToken });
      assert.equal(answer.status, 422, `${field}=${value} → ${answer.status} ${JSON.stringify(answer.body)}`);
      assert.deepEqual(answer.body.errors.map((e: { field: string }) => e.field), [field]);
    }
  });

  it('tells a caller with a bad status which values it takes', async () => {
    const user = await registerUser(h().app);
    const answer = await call(h().app, 'GET', `${ROUTES[0]}?status=deleted`, { token: user.accessToken });
    assert.equal(answer.status, 422);
    assert.equal(answer.body.errors[0].field, 'status');
    assert.match(answer.body.errors[0].message, /active/);
    assert.match(answer.body.errors[0].message, /suspended/, `the message names only some of the allowed values: ${answer.body.errors[0].message}`);
  });

  it('shows a platform admin every organisation', async () => {
    const { app, db } = h();
    const { owner, a, b, otherOrg, outsider } = await population();
    const admin = await registerUser(app);
    await db.updateTable('users').set({ platform_role: 'admin' }).where('id', '=', admin.userId).execute();
    const login = await call(app, 'POST', '/auth/login', { body: { email: admin.email, password: admin.password } });
    assert.equal(login.status, 200, JSON.stringify(login.body));
    const platform = { ...admin, accessToken: login.body.data.accessToken as string };
    const mine = new Set([a, b, otherOrg, owner.personalOrgId, outsider.personalOrgId]);
    const rows = (await byOrg(platform)).filter((r) => mine.has(r.organisationId as string));
    assert.deepEqual(rows.map((r) => [r.organisation, r.userCount]).sort(), [
      ["Olga's Organisation", 1],
      ["Otto's Organisation", 1],
      ['Stats A', 5],
      ['Stats B', 3],
      ['Stats Elsewhere', 1],
    ]);
    assert.deepEqual(await byRole(platform, `?organisationId=${a}`), roleRows([['admin', 1], ['analyst', 1], ['member', 2], ['owner', 1]]));
    assert.deepEqual(await byOrgRole(platform, `?organisationId=${otherOrg}`), [{ organisationId: otherOrg, organisation: 'Stats Elsewhere', role: 'owner', userCount: 1 }]);
    // The admin is in no organisation but their own: without the platform role, they would see only that.
    assert.ok((await byOrg(platform)).length >= 5);
  });

  it('answers a platform admin 404 for an organisation that does not exist, as it does everyone else', async () => {
    const admin = await registerUser(h().app);
    await h().db.updateTable('users').set({ platform_role: 'admin' }).where('id', '=', admin.userId).execute();
    const login = await call(h().app, 'POST', '/auth/login', { body: { email: admin.email, password: admin.password } });
    for (const route of ROUTES) {
      assert.equal((await call(h().app, 'GET', `${route}?organisationId=${admin.personalOrgId}`, { token: login.body.data.accessToken })).status, 200);
      const answer = await call(h().app, 'GET', `${route}?organisationId=${randomUUID()}`, { token: login.body.data.accessToken });
      assert.equal(answer.status, 404, `${route}: ${answer.status} ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.code, 'ORGANISATION_NOT_FOUND');
    }
  });

  it('shows anyone else only the organisations where they hold stats:read', async () => {
    const { owner, admin, m1, analyst, outsider, a, b, otherOrg } = await population();
    const visible = async (user: TestUser) => (await byOrg(user)).map((r) => r.organisationId).sort();
    assert.deepEqual(await visible(owner), [owner.personalOrgId, a, b].sort());
    assert.deepEqual(await visible(admin), [admin.personalOrgId, a, b].sort());
    assert.deepEqual(await visible(analyst), [analyst.personalOrgId, a].sort());
    assert.deepEqual(await visible(m1), [m1.personalOrgId]);
    assert.deepEqual(await visible(outsider), [outsider.personalOrgId, otherOrg].sort());
    assert.deepEqual(await byRole(m1), roleRows([['owner', 1]]));
    assert.deepEqual(await byOrgRole(analyst, `?organisationId=${a}`), [
      ...['admin', 'analyst', 'member', 'owner'].map((role) => ({ organisationId: a, organisation: 'Stats A', role, userCount: role === 'member' ? 2 : 1 })),
    ]);
  });

  it('answers 404 for an organisation the caller may not see, does not hold stats:read in, or that does not exist', async () => {
    const { owner, m1, m2, analyst, outsider, a, b, otherOrg } = await population();
    const cases: Array<[TestUser, string]> = [
      [m1, a],
      [m1, b],
      [analyst, b],
      [outsider, a],
      [owner, otherOrg],
      [owner, randomUUID()],
      [owner, 'not-an-id'],
      [m2, a],
    ];
    for (const route of ROUTES) {
      for (const [user, orgId] of cases) {
        const answer = await call(h().app, 'GET', `${route}?organisationId=${orgId}`, { token: user.accessToken });
        assert.equal(answer.status, 404, `${route} ${orgId}: ${JSON.stringify(answer.body)}`);
        assert.equal(answer.body.code, 'ORGANISATION_NOT_FOUND');
        assert.equal(answer.body.status, 'Not found');
      }
    }
  });

  it('stops counting for a member whose membership holding stats:read is suspended', async () => {
    const { analyst, a } = await population();
    assert.equal((await byOrg(analyst, `?organisationId=${a}`)).length, 1);
    await h().db.updateTable('members').set({ status: 'suspended' }).where('organisation_id', '=', a).where('user_id', '=', analyst.userId).execute();
    const answer = await call(h().app, 'GET', `${ROUTES[1]}?organisationId=${a}`, { token: analyst.accessToken });
    assert.equal(answer.status, 404, JSON.stringify(answer.body));
    assert.deepEqual((await byOrg(analyst)).map((r) => r.organisationId), [analyst.personalOrgId]);
  });

  /** Every page of a per-organisation report, following `nextCursor` from the first. */
  async function pages(user: TestUser, route: (typeof ROUTES)[1 | 2], query: string) {
    const seen: Array<Array<Record<string, unknown>>> = [];
    let cursor: string | null = null;
    do {
      const url: string = `${route}?${query}${cursor === null ? '' : `&cursor=${cursor}`}`;
      const answer = await call(h().app, 'GET', url, { token: user.accessToken });
      assert.equal(answer.status, 200, `${url}: ${JSON.stringify(answer.body)}`);
      assert.deepEqual(Object.keys(answer.body.data).sort(), ['nextCursor', 'rows']);
      seen.push(answer.body.data.rows);
      cursor = answer.body.data.nextCursor;
      assert.ok(seen.length <= 20, 'the pages never end');
    } while (cursor !== null);
    return seen;
  }

  it('pages the per-organisation reports in their order, each row once, with and without filters', async () => {
    const { owner, analyst } = await population();
    // Three organisations, eight (organisation, role) rows: pages of 3 end in the middle of an organisation.
    const byOrgPages = await pages(owner, ROUTES[1], 'limit=1');
    assert.deepEqual(byOrgPages.map((p) => p.length), [1, 1, 1]);
    assert.deepEqual(byOrgPages.flat(), await byOrg(owner));
    const byOrgRolePages = await pages(owner, ROUTES[2], 'limit=3');
    assert.deepEqual(byOrgRolePages.map((p) => p.length), [3, 3, 2]);
    assert.deepEqual(byOrgRolePages.flat(), await byOrgRole(owner));
    assert.deepEqual((await pages(owner, ROUTES[2], 'limit=1000')).flat(), await byOrgRole(owner));
    // Dated and by status, the memberships themselves are counted: organisations with none left are skipped.
    for (const filter of [`from=${seconds('2024-02-15T00:00:00Z')}&status=active`, 'to=2024-03-01T12:00:00Z', 'status=suspended']) {
      assert.deepEqual((await pages(owner, ROUTES[1], `limit=1&${filter}`)).flat(), await byOrg(owner, `?${filter}`), filter);
      assert.deepEqual((await pages(owner, ROUTES[2], `limit=2&${filter}`)).flat(), await byOrgRole(owner, `?${filter}`), filter);
    }
    // Someone who reads fewer organisations pages through only those.
    assert.deepEqual((await pages(analyst, ROUTES[2], 'limit=2')).flat(), await byOrgRole(analyst));
  });

  it('starts a page after the cursor when only the cursor is given, and refuses a bad limit or cursor naming the field', async () => {
    const { owner } = await population();
    const first = await call(h().app, 'GET', `${ROUTES[2]}?limit=2`, { token: owner.accessToken });
    const rest = await call(h().app, 'GET', `${ROUTES[2]}?cursor=${first.body.data.nextCursor}`, { token: owner.accessToken });
    assert.equal(rest.status, 200, JSON.stringify(rest.body));
    assert.deepEqual([...first.body.data.rows, ...rest.body.data.rows], await byOrgRole(owner));
    assert.equal(rest.body.data.nextCursor, null);
    const orgCursor = (await call(h().app, 'GET', `${ROUTES[1]}?limit=1`, { token: owner.accessToken })).body.data.nextCursor as string;
    const refused: Array<[string, string]> = [
      [`${ROUTES[1]}?limit=0`, 'limit'],
      [`${ROUTES[2]}?limit=1001`, 'limit'],
      [`${ROUTES[2]}?limit=ten`, 'limit'],
      [`${ROUTES[1]}?cursor=not-a-cursor`, 'cursor'],
      [`${ROUTES[1]}?cursor=${Buffer.from(JSON.stringify(['Stats A', 'not-an-id'])).toString('base64url')}`, 'cursor'],
      // Each report's cursor belongs to it: the other report's is refused rather than read half right.
      [`${ROUTES[1]}?cursor=${first.body.data.nextCursor}`, 'cursor'],
      [`${ROUTES[2]}?cursor=${orgCursor}`, 'cursor'],
    ];
    for (const [url, field] of refused) {
      const answer = await call(h().app, 'GET', url, { token: owner.accessToken });
      assert.equal(answer.status, 422, `${url}: ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.errors[0].field, field, url);
    }
  });

  it('requires a valid access token on every statistics route, changing nothing', async () => {
    const user = await registerUser(h().app);
    await settled(h().db, { failOnTimeout: true });
    for (const url of ROUTES) await expectAuthenticationRequired(h(), { method: 'GET', url }, user.accessToken);
    for (const url of ROUTES) await expectAuthenticationRequired(h(), { method: 'GET', url: `${url}?organisationId=${user.personalOrgId}` }, user.accessToken);
  });
});
