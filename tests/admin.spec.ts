// Platform administration through the HTTP API, on every database target: finding users, reading,
// changing and deleting them, the organisations and the whole audit log; the rules about other
// admins and the last admin (also under a race); and who may use each admin route.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { it } from 'node:test';
import { addMember, assertErrorEnvelope, call, createOrganisation, registerUser, uniqueEmail, type TestUser } from './helpers/api.ts';
import { fingerprint, forEachDatabase } from './helpers/harness.ts';
import { expectAuthenticationRequired, type RouteCall } from './helpers/matrix.ts';

const ADMIN_USER_FIELDS = ['createdAt', 'email', 'emailVerified', 'firstName', 'lastName', 'phone', 'platformRole', 'status', 'userId', 'username'];
/** Letters and digits a search cannot stumble on by chance. */
const marker = () => `zq${randomBytes(5).toString('hex')}`;
const ids = (items: Array<{ userId?: string; orgId?: string }>) => items.map((i) => i.userId ?? i.orgId).sort();

forEachDatabase('platform administration', (h) => {
  const app = () => h().app;
  const db = () => h().db;

  /** An ordinary registration promoted in the database, signed in again. */
  async function makeAdmin(): Promise<TestUser> {
    const user = await registerUser(app());
    await db().updateTable('users').set({ platform_role: 'admin' }).where('id', '=', user.userId).execute();
    return { ...user, ...(await signIn(user)) };
  }

  async function signIn(user: TestUser) {
    const answer = await call(app(), 'POST', '/auth/login', { body: { email: user.email, password: user.password } });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return { accessToken: answer.body.data.accessToken as string, refreshToken: answer.body.data.refreshToken as string };
  }

  /** Every admin made by earlier tests becomes an ordinary user, so that a test counts its own admins. */
  const onlyNewAdmins = () => db().updateTable('users').set({ platform_role: 'user' }).where('platform_role', '=', 'admin').execute();
  const activeAdmins = async () => (await db().selectFrom('users').select('id').where('platform_role', '=', 'admin').where('status', '=', 'active').execute()).map((r) => r.id);
  const userRow = (id: string) => db().selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();

  const get = async (admin: TestUser, url: string) => {
    const answer = await call(app(), 'GET', url, { token: admin.accessToken });
    assert.equal(answer.status, 200, `${url} → ${JSON.stringify(answer.body)}`);
    return answer.body.data;
  };
  const patch = (admin: TestUser, id: string, body: unknown) => call(app(), 'PATCH', `/api/admin/users/${id}`, { token: admin.accessToken, body });

  /** Refused with the core envelope, `status` and `code`, the database untouched. */
  async function refused(route: RouteCall, token: string, status: number, code: string) {
    const before = await fingerprint(db());
    const answer = await call(app(), route.method, route.url, { token, body: route.body });
    assertErrorEnvelope(answer, status, code);
    assert.equal(await fingerprint(db()), before, `a refused ${route.method} ${route.url} changed the database`);
    return answer;
  }

  /** Walks every page of an admin list; pages never overlap and only the last is short. */
  async function walk(admin: TestUser, url: string, key: string, limit: number, id: (item: Record<string, unknown>) => string) {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const data = await get(admin, `${url}&limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
      for (const item of data[key]) {
        assert.ok(!seen.includes(id(item)), `${id(item)} appears on two pages`);
        seen.push(id(item));
      }
      cursor = data.nextCursor;
      if (cursor !== null) assert.equal(data[key].length, limit);
      assert.ok(++pages < 50, 'pagination does not end');
    } while (cursor !== null);
    return { seen, pages };
  }

  it('finds users by email, username and name, partly and in any case, taking % and _ literally', async () => {
    const admin = await makeAdmin();
    const m = marker();
    const byEmail = await registerUser(app(), { email: uniqueEmail(`${m}a`) });
    const byUsername = await registerUser(app(), { username: `${m}_Bee` });
    const byName = await registerUser(app(), { firstName: `Cee${m}`, lastName: 'Smith' });
    const percent = await registerUser(app(), { firstName: 'Dee', lastName: `${m}%off` });
    await registerUser(app(), { firstName: 'Nobody' });
    const search = async (q: string) => ids((await get(admin, `/api/admin/users?q=${encodeURIComponent(q)}`)).users);

    assert.deepEqual(await search(m.toUpperCase()), ids([byEmail, byUsername, byName, percent]));
    assert.deepEqual(await search(`${m}A.`), ids([byEmail]));
    assert.deepEqual(await search(`${m}_`), ids([byUsername]));
    assert.deepEqual(await search(`CEE${m} smi`), ids([byName]));
    assert.deepEqual(await search(`${m}%`), ids([percent]));
    assert.deepEqual(await search(`${m}%%`), []);
    assert.deepEqual(await search(`${m}_%`), []);
    const [found] = (await get(admin, `/api/admin/users?q=${m}_BEE`)).users;
    assert.deepEqual(Object.keys(found).sort(), ADMIN_USER_FIELDS);
    assert.deepEqual([found.userId, found.username, found.platformRole, found.status, found.emailVerified], [byUsername.userId, `${m}_Bee`, 'user', 'active', false]);
  });

  it('filters users by status and role and pages through them with a cursor', async () => {
    const admin = await makeAdmin();
    const m = marker();
    const users = [];
    for (let i = 0; i < 5; i++) users.push(await registerUser(app(), { email: uniqueEmail(m) }));
    const [disabled, promoted, ...plain] = users as [TestUser, TestUser, ...TestUser[]];
    assert.equal((await patch(admin, disabled.userId, { status: 'disabled' })).status, 200);
    assert.equal((await patch(admin, promoted.userId, { platformRole: 'admin' })).status, 200);
    const search = async (query: string) => ids((await get(admin, `/api/admin/users?q=${m}${query}`)).users);
    assert.deepEqual(await search('&status=disabled'), ids([disabled]));
    assert.deepEqual(await search('&role=admin'), ids([promoted]));
    assert.deepEqual(await search('&status=active&role=user'), ids(plain));
    assert.deepEqual(await search('&status=disabled&role=admin'), []);

    const { seen, pages } = await walk(admin, `/api/admin/users?q=${m}`, 'users', 2, (u) => u.userId as string);
    assert.deepEqual(seen, users.map((u) => u.userId));
    assert.equal(pages, 3);
    for (const query of ['status=gone', 'role=root', 'limit=0', 'limit=101', 'cursor=garbage']) {
      const before = await fingerprint(db());
      const answer = await call(app(), 'GET', `/api/admin/users?${query}`, { token: admin.accessToken });
      assert.equal(answer.status, 422, `${query} → ${answer.status}`);
      assert.equal(answer.body.errors[0].field, query.split('=')[0]);
      assert.equal(await fingerprint(db()), before);
    }
  });

  it('answers 401 without a valid token, 403 to an ordinary user and 2xx to an admin on every admin route', async () => {
    const [admin, user, target] = [await makeAdmin(), await registerUser(app()), await registerUser(app())];
    const routes: RouteCall[] = [
      { method: 'GET', url: '/api/admin/users' },
      { method: 'GET', url: `/api/admin/users/${target.userId}` },
      { method: 'PATCH', url: `/api/admin/users/${target.userId}`, body: { firstName: 'Changed' } },
      { method: 'GET', url: '/api/admin/organisations' },
      { method: 'GET', url: '/api/admin/audit-log' },
      { method: 'DELETE', url: `/api/admin/users/${target.userId}` },
    ];
    for (const route of routes) {
      await expectAuthenticationRequired(h(), route, admin.accessToken);
      await refused(route, user.accessToken, 403, 'FORBIDDEN');
    }
    for (const route of routes) {
      const answer = await call(app(), route.method, route.url, { token: admin.accessToken, body: route.body });
      assert.equal(answer.status, 200, `${route.method} ${route.url} → ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.status, 'success');
    }
    assert.equal(await userRow(target.userId), undefined);
  });

  it('reads one user; an unknown or malformed id is 404 on read, change and delete', async () => {
    const admin = await makeAdmin();
    const user = await registerUser(app(), { firstName: 'Ada', lastName: 'Lovelace', phone: '+44 1' });
    const answer = await call(app(), 'GET', `/api/admin/users/${user.userId}`, { token: admin.accessToken });
    assert.equal(answer.body.message, 'User retrieved successfully');
    const { createdAt, ...rest } = answer.body.data;
    assert.ok(!Number.isNaN(Date.parse(createdAt)));
    assert.deepEqual(rest, { userId: user.userId, email: user.email, username: null, firstName: 'Ada', lastName: 'Lovelace', phone: '+44 1', platformRole: 'user', status: 'active', emailVerified: false });
    for (const id of [randomUUID(), 'abc', '1']) {
      await refused({ method: 'GET', url: `/api/admin/users/${id}` }, admin.accessToken, 404, 'USER_NOT_FOUND');
      await refused({ method: 'PATCH', url: `/api/admin/users/${id}`, body: { status: 'disabled' } }, admin.accessToken, 404, 'USER_NOT_FOUND');
      await refused({ method: 'DELETE', url: `/api/admin/users/${id}` }, admin.accessToken, 404, 'USER_NOT_FOUND');
    }
  });

  it('disables a user: their access and refresh tokens stop at once; enabling lets them sign in again', async () => {
    const admin = await makeAdmin();
    const victim = await registerUser(app());
    const second = await signIn(victim);
    const me = (token: string) => call(app(), 'GET', '/api/users/me', { token });
    assert.equal((await me(victim.accessToken)).status, 200);

    const answer = await patch(admin, victim.userId, { status: 'disabled' });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.data.status, 'disabled');
    assert.equal((await userRow(victim.userId))?.status, 'disabled');
    for (const token of [victim.accessToken, second.accessToken]) assertErrorEnvelope(await me(token), 401);
    for (const refreshToken of [victim.refreshToken, second.refreshToken]) assertErrorEnvelope(await call(app(), 'POST', '/auth/refresh', { body: { refreshToken } }), 401);
    const sessions = await db().selectFrom('sessions').select(['revoked_at', 'revoked_reason']).where('user_id', '=', victim.userId).execute();
    assert.ok(sessions.length >= 2);
    for (const s of sessions) assert.ok(s.revoked_at !== null && s.revoked_reason !== null, JSON.stringify(s));
    assertErrorEnvelope(await call(app(), 'POST', '/auth/login', { body: { email: victim.email, password: victim.password } }), 401, 'AUTHENTICATION_FAILED');

    assert.equal((await patch(admin, victim.userId, { status: 'active' })).body.data.status, 'active');
    const again = await signIn(victim);
    assert.equal((await me(again.accessToken)).status, 200);
    assertErrorEnvelope(await me(victim.accessToken), 401);
  });

  it('promotes a user to admin and changes profile fields; refuses unknown fields and bad values with 422', async () => {
    const admin = await makeAdmin();
    const user = await registerUser(app());
    const other = await registerUser(app(), { username: `Taken${randomBytes(4).toString('hex')}` });
    const username = `renamed${randomBytes(4).toString('hex')}`;
    const changed = await patch(admin, user.userId, { firstName: 'Grace', lastName: 'Hopper', phone: '+1 555', username });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    assert.equal(changed.body.message, 'User updated successfully');
    const row = await userRow(user.userId);
    assert.deepEqual([row?.first_name, row?.last_name, row?.phone, row?.username, row?.platform_role], ['Grace', 'Hopper', '+1 555', username, 'user']);

    const otherUsername = (await userRow(other.userId))!.username!.toUpperCase();
    for (const [body, field] of [
      [{ email: 'x@example.com' }, 'email'], [{ password: 'something long' }, 'password'], [{ platform_role: 'admin' }, 'platform_role'],
      [{ status: 'banned' }, 'status'], [{ platformRole: 'root' }, 'platformRole'], [{ firstName: ' ' }, 'firstName'], [{ username: otherUsername }, 'username'],
    ] as const) {
      const before = await fingerprint(db());
      const answer = await patch(admin, user.userId, body);
      assert.equal(answer.status, 422, `${JSON.stringify(body)} → ${answer.status} ${JSON.stringify(answer.body)}`);
      assert.deepEqual(answer.body.errors.map((e: { field: string }) => e.field), [field]);
      assert.equal(await fingerprint(db()), before);
    }

    assert.equal((await patch(admin, user.userId, { platformRole: 'admin' })).body.data.platformRole, 'admin');
    assert.equal((await userRow(user.userId))?.platform_role, 'admin');
    const promoted = { ...user, ...(await signIn(user)) };
    assert.equal((await call(app(), 'GET', '/api/admin/users', { token: promoted.accessToken })).status, 200);
  });

  it('never lets an admin change another admin: 403 ADMIN_PROTECTED, nothing changed', async () => {
    const [admin, other] = [await makeAdmin(), await makeAdmin()];
    for (const body of [{ status: 'disabled' }, { platformRole: 'user' }, { firstName: 'Mallory' }, { status: 'disabled', platformRole: 'user' }]) {
      await refused({ method: 'PATCH', url: `/api/admin/users/${other.userId}`, body }, admin.accessToken, 403, 'ADMIN_PROTECTED');
    }
    assert.deepEqual(await db().selectFrom('users').select(['status', 'platform_role', 'first_name']).where('id', '=', other.userId).executeTakeFirst(), { status: 'active', platform_role: 'admin', first_name: 'Test' });
    assert.equal((await call(app(), 'GET', '/api/admin/users', { token: other.accessToken })).status, 200);
  });

  it('keeps the last active admin: they can neither demote nor disable themselves; with two, one may step down', async () => {
    await onlyNewAdmins();
    const admin = await makeAdmin();
    const disabledAdmin = await makeAdmin();
    await db().updateTable('users').set({ status: 'disabled' }).where('id', '=', disabledAdmin.userId).execute();
    for (const body of [{ platformRole: 'user' }, { status: 'disabled' }, { platformRole: 'user', status: 'disabled' }]) {
      const answer = await refused({ method: 'PATCH', url: `/api/admin/users/${admin.userId}`, body }, admin.accessToken, 409, 'LAST_ADMIN');
      assert.equal(answer.body.status, 'Conflict');
    }
    assert.deepEqual(await activeAdmins(), [admin.userId]);
    assert.equal((await patch(admin, admin.userId, { firstName: 'Still Me' })).status, 200, 'the last admin still changes their own profile');

    const second = await makeAdmin();
    const answer = await patch(admin, admin.userId, { platformRole: 'user' });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.data.platformRole, 'user');
    assert.deepEqual(await activeAdmins(), [second.userId]);
    assertErrorEnvelope(await call(app(), 'GET', '/api/admin/users', { token: admin.accessToken }), 403, 'FORBIDDEN');
    await refused({ method: 'PATCH', url: `/api/admin/users/${second.userId}`, body: { status: 'disabled' } }, second.accessToken, 409, 'LAST_ADMIN');
  });

  it('lets exactly one of two admins step down when both try at the same moment', async () => {
    for (const bodies of [[{ platformRole: 'user' }, { platformRole: 'user' }], [{ status: 'disabled' }, { platformRole: 'user' }], [{ status: 'disabled' }, { status: 'disabled' }]]) {
      await onlyNewAdmins();
      const [a, b] = [await makeAdmin(), await makeAdmin()];
      const answers = await Promise.all([patch(a, a.userId, bodies[0]), patch(b, b.userId, bodies[1])]);
      assert.deepEqual(answers.map((x) => x.status).sort(), [200, 409], JSON.stringify(answers.map((x) => x.body)));
      const loser = answers.find((x) => x.status === 409)!;
      assertErrorEnvelope(loser, 409, 'LAST_ADMIN');
      const remaining = await activeAdmins();
      assert.equal(remaining.length, 1);
      assert.equal(remaining[0], answers[0]!.status === 409 ? a.userId : b.userId);
    }
  });

  it('deletes an ordinary user with their sessions, personal organisation and the organisations only they were in', async () => {
    const admin = await makeAdmin();
    const [victim, friend] = [await registerUser(app()), await registerUser(app())];
    await signIn(victim);
    const solo = await createOrganisation(app(), victim.accessToken, 'Solo');
    const shared = await createOrganisation(app(), friend.accessToken, 'Shared');
    await addMember(app(), friend.accessToken, shared, victim.userId, 'admin');

    const answer = await call(app(), 'DELETE', `/api/admin/users/${victim.userId}`, { token: admin.accessToken });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.deepEqual([answer.body.status, answer.body.message, answer.body.data], ['success', 'User deleted successfully', {}]);
    assert.equal(await userRow(victim.userId), undefined);
    const orgs = await db().selectFrom('organisations').select('id').where('id', 'in', [victim.personalOrgId, solo, shared]).execute();
    assert.deepEqual(orgs.map((o) => o.id), [shared]);
    assert.deepEqual(await db().selectFrom('sessions').select('id').where('user_id', '=', victim.userId).execute(), []);
    assert.deepEqual(await db().selectFrom('members').select('user_id').where('organisation_id', '=', shared).execute(), [{ user_id: friend.userId }]);
    assertErrorEnvelope(await call(app(), 'GET', '/api/users/me', { token: victim.accessToken }), 401);
    assertErrorEnvelope(await call(app(), 'POST', '/auth/refresh', { body: { refreshToken: victim.refreshToken } }), 401);
    await refused({ method: 'GET', url: `/api/admin/users/${victim.userId}` }, admin.accessToken, 404, 'USER_NOT_FOUND');
  });

  it('never deletes an admin or yourself (403), changing nothing', async () => {
    const [admin, other] = [await makeAdmin(), await makeAdmin()];
    await refused({ method: 'DELETE', url: `/api/admin/users/${other.userId}` }, admin.accessToken, 403, 'ADMIN_PROTECTED');
    await refused({ method: 'DELETE', url: `/api/admin/users/${admin.userId}` }, admin.accessToken, 403, 'CANNOT_DELETE_SELF');
    assert.ok(await userRow(other.userId));
    assert.ok(await userRow(admin.userId));
  });

  it('refuses to delete the last owner of organisations with other members (409, naming them), then deletes once another owner exists', async () => {
    const admin = await makeAdmin();
    const [owner, member, coOwner] = [await registerUser(app()), await registerUser(app()), await registerUser(app())];
    const names = [`Guild ${marker()}`, `Club ${marker()}`];
    const orgIds = [await createOrganisation(app(), owner.accessToken, names[0]), await createOrganisation(app(), owner.accessToken, names[1])];
    for (const orgId of orgIds) await addMember(app(), owner.accessToken, orgId, member.userId);
    const route: RouteCall = { method: 'DELETE', url: `/api/admin/users/${owner.userId}` };
    const answer = await refused(route, admin.accessToken, 409, 'OWNS_ORGANISATIONS');
    for (const name of names) assert.ok(answer.body.message.includes(name), answer.body.message);

    await addMember(app(), owner.accessToken, orgIds[0]!, coOwner.userId, 'owner');
    const still = await refused(route, admin.accessToken, 409, 'OWNS_ORGANISATIONS');
    assert.ok(!still.body.message.includes(names[0]!) && still.body.message.includes(names[1]!), still.body.message);
    await addMember(app(), owner.accessToken, orgIds[1]!, coOwner.userId, 'owner');
    assert.equal((await call(app(), 'DELETE', route.url, { token: admin.accessToken })).status, 200);
    assert.equal(await userRow(owner.userId), undefined);
    const left = await db().selectFrom('organisations').select('id').where('id', 'in', [...orgIds, owner.personalOrgId]).orderBy('name').execute();
    assert.deepEqual(left.map((o) => o.id).sort(), [...orgIds].sort());
    for (const orgId of orgIds) {
      const members = await db().selectFrom('members').select('user_id').where('organisation_id', '=', orgId).execute();
      assert.deepEqual(ids(members.map((r) => ({ userId: r.user_id }))), ids([member, coOwner]));
    }
  });

  it('lists every organisation with its member count, by name and in pages', async () => {
    const admin = await makeAdmin();
    const [a, b] = [await registerUser(app()), await registerUser(app())];
    const m = marker();
    const big = await createOrganisation(app(), a.accessToken, `${m} Big`);
    await addMember(app(), a.accessToken, big, b.userId);
    const small = await createOrganisation(app(), b.accessToken, `${m.toUpperCase()} 50%_Small`);
    const list = async (q: string) => (await get(admin, `/api/admin/organisations?q=${encodeURIComponent(q)}`)).organisations;

    const found = await list(m);
    assert.deepEqual(ids(found), [big, small].sort());
    const bigRow = found.find((o: { orgId: string }) => o.orgId === big);
    assert.deepEqual({ ...bigRow, createdAt: undefined }, { orgId: big, name: `${m} Big`, description: '', personal: false, createdBy: a.userId, memberCount: 2, createdAt: undefined });
    assert.equal(found.find((o: { orgId: string }) => o.orgId === small).memberCount, 1);
    assert.deepEqual(ids(await list(`${m} 50%_s`)), [small]);
    assert.deepEqual(ids(await list(`${m}%`)), []);
    const all = (await get(admin, '/api/admin/organisations?limit=100')).organisations as Array<{ orgId: string; personal: boolean }>;
    assert.equal(all.find((o) => o.orgId === a.personalOrgId)?.personal, true);
    const { seen } = await walk(admin, `/api/admin/organisations?q=${m}`, 'organisations', 1, (o) => o.orgId as string);
    assert.deepEqual(seen, [big, small]);
  });

  it('keeps every admin action and sign-in in the audit log, filtered by action and in pages', async () => {
    const admin = await makeAdmin();
    const [victim, gone] = [await registerUser(app()), await registerUser(app())];
    await patch(admin, victim.userId, { status: 'disabled', firstName: 'Eve' });
    await call(app(), 'DELETE', `/api/admin/users/${gone.userId}`, { token: admin.accessToken });
    const events = (await get(admin, '/api/admin/audit-log?limit=100')).events as Array<Record<string, unknown>>;
    for (let i = 1; i < events.length; i++) assert.ok((events[i - 1]!.eventId as number) > (events[i]!.eventId as number), 'newest first');
    const find = (action: string, target: string) => events.find((e) => e.action === action && e.targetId === target);
    assert.deepEqual(find('admin.user_updated', victim.userId)?.actorUserId, admin.userId);
    assert.deepEqual(find('admin.user_updated', victim.userId)?.data, { fields: ['status', 'firstName'], status: 'disabled' });
    assert.equal(find('admin.user_deleted', gone.userId)?.actorUserId, admin.userId);
    assert.equal((find('admin.user_deleted', gone.userId)?.data as { email?: string }).email, gone.email);
    assert.equal(find('user.signed_in', admin.userId)?.actorUserId, admin.userId);

    const deleted = (await get(admin, '/api/admin/audit-log?action=admin.user_deleted&limit=100')).events as Array<{ action: string; eventId: number }>;
    assert.ok(deleted.length >= 1 && deleted.every((e) => e.action === 'admin.user_deleted'));
    const updated = (await get(admin, '/api/admin/audit-log?action=admin.user_updated&limit=100')).events as Array<{ eventId: number }>;
    const { seen } = await walk(admin, '/api/admin/audit-log?action=admin.user_updated', 'events', 1, (e) => String(e.eventId));
    assert.deepEqual(seen, updated.map((e) => String(e.eventId)));
    assert.deepEqual((await get(admin, `/api/admin/audit-log?action=${marker()}`)).events, []);
    const bad = await call(app(), 'GET', '/api/admin/audit-log?cursor=garbage', { token: admin.accessToken });
    assert.deepEqual([bad.status, bad.body.errors?.[0]?.field], [422, 'cursor']);
  });
});
