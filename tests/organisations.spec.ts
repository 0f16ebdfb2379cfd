// Organisations and their members through the HTTP API, on every database target: listing, creating,
// reading, updating, deleting, adding users, listing members, and who may do each of them.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import { addMember, assertErrorEnvelope, call, createOrganisation, registerUser, type Answer, type TestUser, team as sharedTeam, roleIn as sharedRoleIn } from './helpers/api.ts';
import { fingerprint, forEachDatabase } from './helpers/harness.ts';
import { expectAuthenticationRequired, expectRefused, type RouteCall } from './helpers/matrix.ts';

/** Every route scoped to one organisation, with a body that would succeed for the owner. */
const orgRoutes = (orgId: string, userId: string): RouteCall[] => [
  { method: 'GET', url: `/api/organisations/${orgId}` },
  { method: 'PATCH', url: `/api/organisations/${orgId}`, body: { name: 'Renamed' } },
  { method: 'DELETE', url: `/api/organisations/${orgId}` },
  { method: 'POST', url: `/api/organisations/${orgId}/users`, body: { userId } },
  { method: 'GET', url: `/api/organisations/${orgId}/members` },
];

/** The routes a plain member may not use: they need more than org:read or members:read. */
const writeRoutes = (orgId: string, userId: string) => orgRoutes(orgId, userId).filter((route) => route.method !== 'GET');

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

/** An error body without its request id, to compare two refusals. */
const shape = (answer: Answer) => {
  const { requestId, ...rest } = answer.body;
  assert.equal(typeof requestId, 'string');
  return { status: answer.status, ...rest };
};

forEachDatabase('organisations', (h) => {
  const team = () => sharedTeam(h().app);

  const roleIn = (orgId: string, userId: string) => sharedRoleIn(h().db, orgId, userId);

  const list = async (user: TestUser, query = '') => {
    const answer = await call(h().app, 'GET', `/api/organisations${query}`, { token: user.accessToken });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return answer.body.data as { organisations: Array<{ orgId: string; name: string; description: string; role: string }>; nextCursor: string | null };
  };

  /** A 422 naming exactly `fields`, with the database unchanged. */
  async function expectInvalid(route: RouteCall, token: string, fields: string[], message?: RegExp) {
    const before = await fingerprint(h().db);
    const answer = await call(h().app, route.method, route.url, { token, body: route.body });
    assert.equal(answer.status, 422, `${route.method} ${route.url} ${JSON.stringify(route.body)} → ${answer.status} ${JSON.stringify(answer.body)}`);
    assert.deepEqual(Object.keys(answer.body), ['errors']);
    assert.deepEqual(
      answer.body.errors.map((e: { field: string }) => e.field),
      fields,
    );
    if (message) assert.match(answer.body.errors[0].message, message);
    assert.equal(await fingerprint(h().db), before, `an invalid ${route.method} ${route.url} changed the database`);
    return answer;
  }

  /** Walks every page of a paginated list, checking the pages do not overlap and the last ends it. */
  async function walk<T>(user: TestUser, url: string, key: string, limit: number, id: (item: T) => string) {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = `?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
      const answer = await call(h().app, 'GET', `${url}${query}`, { token: user.accessToken });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      const items = answer.body.data[key] as T[];
      assert.ok(items.length <= limit && items.length > 0, `page ${pages} has ${items.length} items`);
      for (const item of items) {
        assert.ok(!seen.includes(id(item)), `${id(item)} appears on two pages`);
        seen.push(id(item));
      }
      cursor = answer.body.data.nextCursor;
      if (cursor === null) assert.ok(items.length <= limit);
      else assert.equal(items.length, limit);
      pages += 1;
      assert.ok(pages < 50, 'pagination does not end');
    } while (cursor !== null);
    return { seen, pages };
  }

  it('lists only the caller’s organisations, each with the caller’s role', async () => {
    const { app } = h();
    const [alice, bob] = await Promise.all([registerUser(app, { firstName: 'Alice' }), registerUser(app, { firstName: 'Bob' })]);
    const aliceOrg = await createOrganisation(app, alice.accessToken, 'Alice Works');
    const bobOrg = await createOrganisation(app, bob.accessToken, 'Bob Works');
    const bobOnly = await createOrganisation(app, bob.accessToken, 'Bob Private');
    await addMember(app, bob.accessToken, bobOrg, alice.userId, 'admin');

    const answer = await call(app, 'GET', '/api/organisations', { token: alice.accessToken });
    assert.equal(answer.body.status, 'success');
    assert.equal(answer.body.message, 'Organisations retrieved successfully');
    const { organisations, nextCursor } = answer.body.data;
    assert.equal(nextCursor, null);
    assert.deepEqual(
      organisations.map((o: Record<string, string>) => [o.orgId, o.name, o.role]),
      [
        [alice.personalOrgId, "Alice's Organisation", 'owner'],
        [aliceOrg, 'Alice Works', 'owner'],
        [bobOrg, 'Bob Works', 'admin'],
      ],
    );
    assert.deepEqual(Object.keys(organisations[0]).sort(), ['description', 'name', 'orgId', 'requireMfa', 'role']);
    const ids = organisations.map((o: { orgId: string }) => o.orgId);
    assert.ok(!ids.includes(bob.personalOrgId) && !ids.includes(bobOnly));
    assert.deepEqual((await list(bob)).organisations.map((o) => o.role), ['owner', 'owner', 'owner']);
  });

  // The listing checks the session in its own statement (sessionInQuery), not in the auth hook: the
  // same rules must hold there.
  it('refuses the listing to an ended, expired or reassigned session and a disabled user, and lists nothing for a member of nothing', async () => {
    const { app, db } = h();
    const [ended, expired, reassigned, disabled, other, alone] = await Promise.all(['Eve', 'Exp', 'Rea', 'Dis', 'Oth', 'Alo'].map((firstName) => registerUser(app, { firstName })));
    const sessionOf = async (user: TestUser) => (await db.selectFrom('sessions').select('id').where('user_id', '=', user.userId).executeTakeFirstOrThrow()).id;
    for (const user of [ended, expired, reassigned, disabled, alone]) assert.equal((await list(user!)).organisations.length, 1, 'the token works before the change');

    assert.equal((await call(app, 'POST', '/auth/logout', { token: ended!.accessToken })).status, 200);
    await db.updateTable('sessions').set({ expires_at: new Date(h().clock.now().getTime() - 1000) }).where('id', '=', await sessionOf(expired!)).execute();
    await db.updateTable('sessions').set({ user_id: other!.userId }).where('id', '=', await sessionOf(reassigned!)).execute();
    await db.updateTable('users').set({ status: 'disabled' }).where('id', '=', disabled!.userId).execute();
    for (const user of [ended, expired, reassigned, disabled]) {
      assertErrorEnvelope(await call(app, 'GET', '/api/organisations', { token: user!.accessToken }), 401, 'INVALID_TOKEN');
      assertErrorEnvelope(await call(app, 'GET', '/api/organisations?limit=1', { token: user!.accessToken }), 401, 'INVALID_TOKEN');
    }

    await db.deleteFrom('organisations').where('id', '=', alone!.personalOrgId).execute();
    assert.deepEqual(await list(alone!), { organisations: [], nextCursor: null });
  });

  it('pages the organisation list with limit and cursor, without overlap, ending with a null cursor', async () => {
    const user = await registerUser(h().app);
    for (const name of ['One', 'Two', 'Three', 'Four']) await createOrganisation(h().app, user.accessToken, name);
    const all = (await list(user)).organisations.map((o) => o.orgId);
    assert.equal(all.length, 5);
    const { seen, pages } = await walk<{ orgId: string }>(user, '/api/organisations', 'organisations', 2, (o) => o.orgId);
    assert.deepEqual(seen, all);
    assert.equal(pages, 3);
    const exact = await list(user, '?limit=5');
    assert.equal(exact.organisations.length, 5);
    assert.equal(exact.nextCursor, null);
  });

  it('refuses a limit outside 1..100 and a garbage cursor with a 422 naming them', async () => {
    const user = await registerUser(h().app);
    const orgId = user.personalOrgId;
    for (const url of ['/api/organisations', `/api/organisations/${orgId}/members`]) {
      for (const limit of ['0', '101', 'ten', '1.5']) await expectInvalid({ method: 'GET', url: `${url}?limit=${limit}` }, user.accessToken, ['limit']);
      const cursors = ['garbage', b64({ at: 1 }), b64(null), b64(['not a date', randomUUID()]), b64([new Date().toISOString(), 42]), 'c'.repeat(201)];
      for (const cursor of cursors) await expectInvalid({ method: 'GET', url: `${url}?cursor=${cursor}` }, user.accessToken, ['cursor']);
    }
    assert.equal((await list(user, '?limit=100')).organisations.length, 1);
    assert.equal((await list(user, '?limit=1')).organisations.length, 1);
  });

  it('refuses a well-formed cursor whose id is not a uuid or whose time is out of range with a 422, not a 500', async () => {
    const user = await registerUser(h().app);
    const now = new Date().toISOString();
    const cursors = [b64([now, '-'.repeat(36)]), b64([now, '0'.repeat(36)]), b64(['-271821-04-20T00:00:00.000Z', randomUUID()])];
    for (const url of ['/api/organisations', `/api/organisations/${user.personalOrgId}/members`]) {
      for (const cursor of cursors) {
        const answer = await expectInvalid({ method: 'GET', url: `${url}?cursor=${cursor}` }, user.accessToken, ['cursor']);
        assert.deepEqual(answer.body.errors, [{ field: 'cursor', message: 'Cursor is invalid' }]);
      }
    }
  });

  it('creates an organisation with the caller as its owner', async () => {
    const user = await registerUser(h().app);
    const answer = await call(h().app, 'POST', '/api/organisations', { token: user.accessToken, body: { name: 'Acme Ltd', description: 'Anvils' } });
    assert.equal(answer.status, 201);
    assert.equal(answer.body.status, 'success');
    assert.equal(answer.body.message, 'Organisation created successfully');
    const { orgId, ...rest } = answer.body.data;
    assert.deepEqual(rest, { name: 'Acme Ltd', description: 'Anvils' });
    const org = await h().db.selectFrom('organisations').selectAll().where('id', '=', orgId).executeTakeFirstOrThrow();
    assert.deepEqual([org.name, org.description, org.personal, org.created_by], ['Acme Ltd', 'Anvils', false, user.userId]);
    const members = await h().db.selectFrom('members').select(['user_id', 'status']).where('organisation_id', '=', orgId).execute();
    assert.deepEqual(members, [{ user_id: user.userId, status: 'active' }]);
    assert.equal(await roleIn(orgId, user.userId), 'owner');
    const roles = await h().db.selectFrom('roles').select('name').where('organisation_id', '=', orgId).orderBy('name').execute();
    assert.deepEqual(roles.map((r) => r.name), ['admin', 'member', 'owner']);

    const bare = await call(h().app, 'POST', '/api/organisations', { token: user.accessToken, body: { name: 'Plain' } });
    assert.equal(bare.status, 201);
    assert.equal(bare.body.data.description, '');
  });

  it('refuses a missing, blank or non-text name with a 422, never coercing', async () => {
    const user = await registerUser(h().app);
    const post = (body: unknown): RouteCall => ({ method: 'POST', url: '/api/organisations', body });
    for (const body of [{}, { name: '' }, { name: '   ' }, { description: 'no name' }]) {
      const answer = await expectInvalid(post(body), user.accessToken, ['name']);
      assert.deepEqual(answer.body.errors, [{ field: 'name', message: 'Name is required' }]);
    }
    for (const name of [42, true, ['A'], { a: 1 }, null]) await expectInvalid(post({ name }), user.accessToken, ['name'], /^Name must be text$/);
    await expectInvalid(post({ name: 'x'.repeat(201) }), user.accessToken, ['name']);
    await expectInvalid(post({ name: 'ok', description: 7 }), user.accessToken, ['description']);
  });

  it('shows an organisation to a member as the object in data, and the same 404 to everyone else', async () => {
    const { member, outsider, orgId } = await team();
    const answer = await call(h().app, 'GET', `/api/organisations/${orgId}`, { token: member.accessToken });
    assert.equal(answer.status, 200);
    assert.equal(answer.body.message, 'Organisation retrieved successfully');
    assert.deepEqual(answer.body.data, { orgId, name: 'Team', description: '', requireMfa: false });

    const refusals = [
      await call(h().app, 'GET', `/api/organisations/${orgId}`, { token: outsider.accessToken }),
      await call(h().app, 'GET', `/api/organisations/${randomUUID()}`, { token: outsider.accessToken }),
      await call(h().app, 'GET', '/api/organisations/abc', { token: outsider.accessToken }),
    ];
    for (const refusal of refusals) assertErrorEnvelope(refusal, 404, 'ORGANISATION_NOT_FOUND');
    assert.deepEqual(shape(refusals[1]!), shape(refusals[0]!));
    assert.deepEqual(shape(refusals[2]!), shape(refusals[0]!));
  });

  it('lets the owner and an admin update the organisation, and refuses anything else', async () => {
    const { owner, admin, member, outsider, orgId } = await team();
    const url = `/api/organisations/${orgId}`;
    const renamed = await call(h().app, 'PATCH', url, { token: owner.accessToken, body: { name: 'Renamed' } });
    assert.equal(renamed.status, 200);
    assert.deepEqual(renamed.body.data, { orgId, name: 'Renamed', description: '', requireMfa: false });
    const described = await call(h().app, 'PATCH', url, { token: admin.accessToken, body: { description: 'By the admin' } });
    assert.equal(described.status, 200);
    const row = await h().db.selectFrom('organisations').select(['name', 'description']).where('id', '=', orgId).executeTakeFirstOrThrow();
    assert.deepEqual(row, { name: 'Renamed', description: 'By the admin' });

    await expectRefused(h(), { method: 'PATCH', url, body: { name: 'By member' } }, member.accessToken, 403, 'member');
    await expectRefused(h(), { method: 'PATCH', url, body: { name: 'By outsider' } }, outsider.accessToken, 404, 'outsider');
    for (const field of ['personal', 'orgId', 'created_by', 'status']) {
      await expectInvalid({ method: 'PATCH', url, body: { name: 'X', [field]: 'y' } }, owner.accessToken, [field], /is not allowed here$/);
    }
    await expectInvalid({ method: 'PATCH', url, body: { name: '  ' } }, owner.accessToken, ['name'], /^Name is required$/);
    await expectInvalid({ method: 'PATCH', url, body: { name: 5 } }, owner.accessToken, ['name'], /^Name must be text$/);
  });

  it('lets only the owner delete an organisation, with its members and roles', async () => {
    const { owner, admin, member, outsider, orgId } = await team();
    const route: RouteCall = { method: 'DELETE', url: `/api/organisations/${orgId}` };
    await expectRefused(h(), route, admin.accessToken, 403, 'admin');
    await expectRefused(h(), route, member.accessToken, 403, 'member');
    await expectRefused(h(), route, outsider.accessToken, 404, 'outsider');

    const answer = await call(h().app, 'DELETE', route.url, { token: owner.accessToken });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.status, 'success');
    assert.equal(answer.body.message, 'Organisation deleted successfully');
    const { db } = h();
    assert.equal(await db.selectFrom('organisations').select('id').where('id', '=', orgId).executeTakeFirst(), undefined);
    assert.deepEqual(await db.selectFrom('members').select('id').where('organisation_id', '=', orgId).execute(), []);
    assert.deepEqual(await db.selectFrom('roles').select('id').where('organisation_id', '=', orgId).execute(), []);
    assertErrorEnvelope(await call(h().app, 'GET', route.url, { token: member.accessToken }), 404, 'ORGANISATION_NOT_FOUND');
    assert.ok(!(await list(admin)).organisations.some((o) => o.orgId === orgId));
    // The users themselves remain, with their personal organisations.
    assert.equal((await list(member)).organisations.length, 1);
  });

  it('refuses to delete a personal organisation with 409, changing nothing', async () => {
    const user = await registerUser(h().app);
    const before = await fingerprint(h().db);
    const answer = await call(h().app, 'DELETE', `/api/organisations/${user.personalOrgId}`, { token: user.accessToken });
    assertErrorEnvelope(answer, 409, 'PERSONAL_ORGANISATION');
    assert.equal(answer.body.status, 'Conflict');
    assert.equal(await fingerprint(h().db), before);
  });

  it('adds an existing user as a member by default, who then sees and reads the organisation', async () => {
    const { app } = h();
    const [owner, newcomer] = await Promise.all([registerUser(app), registerUser(app)]);
    const orgId = await createOrganisation(app, owner.accessToken, 'Club');
    const answer = await call(app, 'POST', `/api/organisations/${orgId}/users`, { token: owner.accessToken, body: { userId: newcomer.userId } });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.status, 'success');
    assert.equal(answer.body.message, 'User added to organisation successfully');
    assert.deepEqual(answer.body.data, { userId: newcomer.userId, orgId, role: 'member' });
    assert.equal(await roleIn(orgId, newcomer.userId), 'member');
    assert.deepEqual(
      (await list(newcomer)).organisations.map((o) => [o.orgId, o.role]),
      [
        [newcomer.personalOrgId, 'owner'],
        [orgId, 'member'],
      ],
    );
    const read = await call(app, 'GET', `/api/organisations/${orgId}`, { token: newcomer.accessToken });
    assert.equal(read.status, 200);
    assert.equal(read.body.data.name, 'Club');
  });

  it('lets nobody grant a role above their own', async () => {
    const { app } = h();
    const { owner, admin, member, orgId } = await team();
    const [a, b, c, d] = await Promise.all([registerUser(app), registerUser(app), registerUser(app), registerUser(app)]);
    await addMember(app, admin.accessToken, orgId, a.userId, 'admin');
    await addMember(app, admin.accessToken, orgId, b.userId, 'member');
    const url = `/api/organisations/${orgId}/users`;
    for (const role of ['owner', 'OWNER']) {
      const before = await fingerprint(h().db);
      assertErrorEnvelope(await call(app, 'POST', url, { token: admin.accessToken, body: { userId: c.userId, role } }), 403, 'ROLE_ABOVE_OWN');
      assert.equal(await fingerprint(h().db), before);
    }
    await addMember(app, owner.accessToken, orgId, c.userId, 'owner');
    await expectRefused(h(), { method: 'POST', url, body: { userId: d.userId, role: 'member' } }, member.accessToken, 403, 'member');
    assert.deepEqual(
      await Promise.all([a, b, c, d].map((u) => roleIn(orgId, u.userId))),
      ['admin', 'member', 'owner', undefined],
    );
  });

  it('refuses an unknown, malformed or already-member user and an unknown role, changing nothing', async () => {
    const { owner, admin, member, orgId } = await team();
    const stranger = await registerUser(h().app);
    const url = `/api/organisations/${orgId}/users`;
    const post = async (body: unknown) => {
      const before = await fingerprint(h().db);
      const answer = await call(h().app, 'POST', url, { token: owner.accessToken, body });
      assert.equal(await fingerprint(h().db), before, JSON.stringify(body));
      return answer;
    };
    assertErrorEnvelope(await post({ userId: randomUUID() }), 404, 'USER_NOT_FOUND');
    for (const userId of ['not-a-uuid', 42, '', undefined]) await expectInvalid({ method: 'POST', url, body: { userId } }, owner.accessToken, ['userId']);
    await expectInvalid({ method: 'POST', url, body: { userId: stranger.userId, role: 'overlord' } }, owner.accessToken, ['role']);
    await expectInvalid({ method: 'POST', url, body: { userId: stranger.userId, role: 7 } }, owner.accessToken, ['role']);
    for (const existing of [owner, admin, member]) {
      for (const role of [undefined, 'admin']) {
        const answer = await post({ userId: existing.userId, role });
        assertErrorEnvelope(answer, 409, 'ALREADY_MEMBER');
        assert.equal(answer.body.status, 'Conflict');
      }
    }
    assert.equal(await roleIn(orgId, stranger.userId), undefined);
  });

  it('lists members with their profile, role, status and join time, in pages', async () => {
    const { app } = h();
    const { owner, admin, member, outsider, orgId } = await team();
    const answer = await call(app, 'GET', `/api/organisations/${orgId}/members`, { token: member.accessToken });
    assert.equal(answer.status, 200);
    assert.equal(answer.body.message, 'Members retrieved successfully');
    const { members, nextCursor } = answer.body.data;
    assert.equal(nextCursor, null);
    assert.deepEqual(Object.keys(members[0]).sort(), ['email', 'firstName', 'joinedAt', 'lastName', 'mfa', 'role', 'status', 'userId']);
    assert.deepEqual(
      members.map((m: Record<string, string>) => [m.userId, m.role, m.status, m.email, m.firstName, m.lastName]),
      [owner, admin, member].map((u, i) => [u.userId, ['owner', 'admin', 'member'][i], 'active', u.email, 'Test', 'User']),
    );
    for (const m of members) assert.ok(!Number.isNaN(Date.parse(m.joinedAt)) && m.joinedAt.endsWith('Z'));
    assert.ok(!members.some((m: { userId: string }) => m.userId === outsider.userId));

    const extra = await Promise.all([registerUser(app), registerUser(app)]);
    for (const u of extra) await addMember(app, owner.accessToken, orgId, u.userId);
    const { seen, pages } = await walk<{ userId: string }>(member, `/api/organisations/${orgId}/members`, 'members', 2, (m) => m.userId);
    assert.deepEqual(seen, [owner, admin, member, ...extra].map((u) => u.userId));
    assert.equal(pages, 3);
  });

  it('requires a valid access token on every organisation route, changing nothing', async () => {
    const { owner, orgId, outsider } = await team();
    const routes: RouteCall[] = [
      { method: 'GET', url: '/api/organisations' },
      { method: 'POST', url: '/api/organisations', body: { name: 'Sneaky' } },
      ...orgRoutes(orgId, outsider.userId),
    ];
    for (const route of routes) await expectAuthenticationRequired(h(), route, owner.accessToken);
  });

  it('answers 404 to a user of another organisation on every route, including mixed ids', async () => {
    const { owner, member, outsider, orgId, otherOrgId } = await team();
    const bystander = await registerUser(h().app);
    await addMember(h().app, outsider.accessToken, otherOrgId, bystander.userId, 'admin');
    // A member of B only, on A: with ids of A's users, of B's users and of itself.
    for (const userId of [member.userId, bystander.userId, outsider.userId]) {
      for (const route of orgRoutes(orgId, userId)) {
        await expectRefused(h(), route, outsider.accessToken, 404, 'owner of B');
        await expectRefused(h(), route, bystander.accessToken, 404, 'admin of B');
      }
    }
    // And A's owner on B, and anyone on an organisation that does not exist or is not an id.
    for (const route of [...orgRoutes(otherOrgId, owner.userId), ...orgRoutes(randomUUID(), owner.userId), ...orgRoutes('abc', owner.userId)]) {
      await expectRefused(h(), route, owner.accessToken, 404, 'owner of A');
    }
    assert.equal(await roleIn(orgId, bystander.userId), undefined);
    assert.equal(await roleIn(otherOrgId, member.userId), undefined);
  });

  it('answers 403 to a plain member on every route that needs more than reading', async () => {
    const { member, orgId, outsider } = await team();
    for (const route of writeRoutes(orgId, outsider.userId)) await expectRefused(h(), route, member.accessToken, 403, 'member');
    for (const route of orgRoutes(orgId, outsider.userId).filter((r) => r.method === 'GET')) {
      assert.equal((await call(h().app, route.method, route.url, { token: member.accessToken })).status, 200);
    }
  });
  it('welcomes an added user by mail, the organisation name escaped and kept to one line', async () => {
    const { app, db } = h();
    const [owner, newcomer] = await Promise.all([registerUser(app), registerUser(app)]);
    const orgId = await createOrganisation(app, owner.accessToken, '<b>Acme</b>\r\nBcc: victim@example.com');
    await addMember(app, owner.accessToken, orgId, newcomer.userId, 'admin');
    const mail = await db.selectFrom('outbox').selectAll().where('recipient', '=', newcomer.email).where('kind', '=', 'welcome').executeTakeFirstOrThrow();
    // One line, and no address or link in it: the organisation's name is another user's text.
    assert.equal(mail.subject, 'Welcome to <b>Acme</b> Bcc:');
    assert.doesNotMatch(mail.subject, /[\r\n]/);
    assert.match(mail.html_body, /&lt;b&gt;Acme&lt;\/b&gt;/);
    assert.doesNotMatch(mail.html_body, /<b>Acme/);
    assert.match(mail.text_body, /with the role admin/);
  });
  it('answers an empty change to an organisation as a no-op, not a 500', async () => {
    const user = await registerUser(h().app);
    const answer = await call(h().app, 'PATCH', `/api/organisations/${user.personalOrgId}`, { token: user.accessToken, body: {} });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.data.orgId, user.personalOrgId);
  });
});

