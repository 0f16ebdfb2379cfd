// A person's active organisation in their access token, and API keys (an organisation's and a
// person's own): what each may reach, what it outlives (nothing it should not), each checked over
// HTTP and in the database.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { decodeJwt } from 'jose';
import { ENTRY_TTL_MS } from '../src/domain/credentials/credential-cache.ts';
import { hashOpaqueToken } from '../src/domain/sessions/opaque-tokens.ts';
import { addMember, assertErrorEnvelope, call, createOrganisation, registerUser, team, uniqueEmail, type TestUser } from './helpers/api.ts';
import { forEachDatabase, type Harness } from './helpers/harness.ts';

function organisationTokensSuite(h: () => Harness) {
  const app = () => h().app;
  const db = () => h().db;

  /** Moves the clock past the key cache's entry life: the next request refills from the database. */
  const pastCacheLife = () => h().clock.advance(ENTRY_TTL_MS / 1000 + 1);

  async function makeKey(token: string, orgId: string | null, body: Record<string, unknown>) {
    const path = orgId === null ? '/api/users/me/api-keys' : `/api/organisations/${orgId}/api-keys`;
    const answer = await call(app(), 'POST', path, { token, body: { name: 'Script', ...body } });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    return answer.body.data as { apiKeyId: string; key: string; prefix: string; permissions: string[]; expiresAt: string | null; name: string };
  }

  const login = async (user: TestUser, orgId?: string | null) => call(app(), 'POST', '/auth/login', { body: { email: user.email, password: user.password, ...(orgId !== undefined ? { orgId } : {}) } });

  it('names the active organisation chosen at sign-in in the token and the session, and keeps it through refreshes', async () => {
    const { owner, admin, orgId } = await team(app());
    const signedIn = await login(admin, orgId);
    assert.equal(signedIn.status, 200, JSON.stringify(signedIn.body));
    const claims = decodeJwt(signedIn.body.data.accessToken);
    assert.equal(claims.org_id, orgId);
    assert.equal(claims.org_role, 'admin');
    assert.ok((claims.org_permissions as string[]).includes('members:add') && !(claims.org_permissions as string[]).includes('org:delete'));
    const session = await db().selectFrom('sessions').select('organisation_id').where('id', '=', String(claims.sid)).executeTakeFirstOrThrow();
    assert.equal(session.organisation_id, orgId);

    const refreshed = await call(app(), 'POST', '/auth/refresh', { body: { refreshToken: signedIn.body.data.refreshToken } });
    assert.equal(decodeJwt(refreshed.body.data.accessToken).org_id, orgId);

    // Demoted: the next refresh carries the new role; Gatehouse itself sees it at once.
    assert.equal((await call(app(), 'PATCH', `/api/organisations/${orgId}/members/${admin.userId}`, { token: owner.accessToken, body: { role: 'member' } })).status, 200);
    assert.equal((await call(app(), 'POST', `/api/organisations/${orgId}/invitations`, { token: refreshed.body.data.accessToken, body: { email: uniqueEmail() } })).status, 403);
    const demoted = await call(app(), 'POST', '/auth/refresh', { body: { refreshToken: refreshed.body.data.refreshToken } });
    assert.deepEqual([decodeJwt(demoted.body.data.accessToken).org_role, decodeJwt(demoted.body.data.accessToken).org_permissions], ['member', ['org:read', 'members:read']]);

    // Removed: the next refresh works, without the organisation; the session forgets it.
    assert.equal((await call(app(), 'DELETE', `/api/organisations/${orgId}/members/${admin.userId}`, { token: owner.accessToken })).status, 200);
    assert.equal((await call(app(), 'GET', `/api/organisations/${orgId}`, { token: demoted.body.data.accessToken })).status, 404);
    const removed = await call(app(), 'POST', '/auth/refresh', { body: { refreshToken: demoted.body.data.refreshToken } });
    assert.equal(removed.status, 200);
    const after = decodeJwt(removed.body.data.accessToken);
    assert.ok(!('org_id' in after) && !('org_role' in after) && !('org_permissions' in after));
    assert.equal((await db().selectFrom('sessions').select('organisation_id').where('id', '=', String(claims.sid)).executeTakeFirstOrThrow()).organisation_id, null);
  });

  it('changes or clears the active organisation at a refresh; one the user is not a member of is 404 and spends nothing', async () => {
    const { owner, member, orgId, otherOrgId } = await team(app());
    const first = await call(app(), 'POST', '/auth/refresh', { body: { refreshToken: member.refreshToken, orgId } });
    assert.equal(first.status, 200, JSON.stringify(first.body));
    assert.equal(decodeJwt(first.body.data.accessToken).org_role, 'member');
    for (const orgIdAsked of [otherOrgId, '00000000-0000-4000-8000-000000000000']) {
      const refused = await call(app(), 'POST', '/auth/refresh', { body: { refreshToken: first.body.data.refreshToken, orgId: orgIdAsked } });
      assertErrorEnvelope(refused, 404, 'ORGANISATION_NOT_FOUND');
    }
    const invalid = await call(app(), 'POST', '/auth/refresh', { body: { refreshToken: first.body.data.refreshToken, orgId: 'not-a-uuid' } });
    assert.equal(invalid.status, 422);
    assert.equal(invalid.body.errors[0].field, 'orgId');
    // The refused refreshes spent nothing: the token still works, once.
    const cleared = await call(app(), 'POST', '/auth/refresh', { body: { refreshToken: first.body.data.refreshToken, orgId: null } });
    assert.equal(cleared.status, 200);
    assert.ok(!('org_id' in decodeJwt(cleared.body.data.accessToken)));
    const kept = await call(app(), 'POST', '/auth/refresh', { body: { refreshToken: cleared.body.data.refreshToken } });
    assert.ok(!('org_id' in decodeJwt(kept.body.data.accessToken)));
    // Sign-in: the same 404 for an organisation that is not the user's, after a good password only.
    assertErrorEnvelope(await login(member, otherOrgId), 404, 'ORGANISATION_NOT_FOUND');
    assertErrorEnvelope(await call(app(), 'POST', '/auth/login', { body: { email: member.email, password: 'wrong password!', orgId } }), 401);
    const suspended = await call(app(), 'PATCH', `/api/organisations/${orgId}/members/${member.userId}/status`, { token: owner.accessToken, body: { status: 'suspended' } });
    assert.equal(suspended.status, 200);
    assertErrorEnvelope(await login(member, orgId), 404, 'ORGANISATION_NOT_FOUND');
    assert.ok(!('org_id' in decodeJwt((await login(member, null)).body.data.accessToken)));
  });

  it('makes an organisation key shown once and stored as a digest; lists it without the key; records use at most once a minute', async () => {
    const { owner, orgId } = await team(app());
    const created = await makeKey(owner.accessToken, orgId, { permissions: ['members:read'] });
    assert.match(created.key, /^gh_[A-Za-z0-9_-]{43}$/);
    assert.ok(created.key.startsWith(created.prefix));
    const row = await db().selectFrom('api_keys').selectAll().where('id', '=', created.apiKeyId).executeTakeFirstOrThrow();
    assert.equal(row.key_hash, hashOpaqueToken(created.key));
    assert.ok(!JSON.stringify(row).includes(created.key.slice(created.prefix.length)));
    assert.deepEqual([row.organisation_id, row.user_id, row.last_used_at], [orgId, owner.userId, null]);

    assert.equal((await call(app(), 'GET', `/api/organisations/${orgId}/members`, { token: created.key })).status, 200);
    const firstUse = (await db().selectFrom('api_keys').select('last_used_at').where('id', '=', created.apiKeyId).executeTakeFirstOrThrow()).last_used_at;
    assert.ok(firstUse);
    h().clock.advance(10);
    try {
      assert.equal((await call(app(), 'GET', `/api/organisations/${orgId}/members`, { token: created.key })).status, 200);
      assert.equal((await db().selectFrom('api_keys').select('last_used_at').where('id', '=', created.apiKeyId).executeTakeFirstOrThrow()).last_used_at?.getTime(), firstUse.getTime());
      h().clock.advance(61);
      assert.equal((await call(app(), 'GET', `/api/organisations/${orgId}/members`, { token: created.key })).status, 200);
      assert.ok((await db().selectFrom('api_keys').select('last_used_at').where('id', '=', created.apiKeyId).executeTakeFirstOrThrow()).last_used_at! > firstUse);
    } finally {
      h().clock.reset();
    }

    const listed = await call(app(), 'GET', `/api/organisations/${orgId}/api-keys`, { token: owner.accessToken });
    assert.equal(listed.status, 200);
    const [entry] = listed.body.data.apiKeys;
    assert.deepEqual(Object.keys(entry).sort(), ['apiKeyId', 'createdAt', 'createdBy', 'expiresAt', 'lastUsedAt', 'name', 'permissions', 'prefix']);
    assert.equal(entry.createdBy, owner.userId);
    assert.ok(entry.lastUsedAt);
    assert.ok(!JSON.stringify(listed.body).includes(created.key));
  });

  it('acts with the key’s permissions only, as an actor of its own in the audit log', async () => {
    const { owner, member, orgId } = await team(app());
    const reader = await makeKey(owner.accessToken, orgId, { permissions: ['members:read'] });
    assert.equal((await call(app(), 'GET', `/api/organisations/${orgId}/members`, { token: reader.key })).status, 200);
    const refused: Array<[string, string, unknown]> = [
      ['POST', `/api/organisations/${orgId}/users`, { userId: (await registerUser(app())).userId }],
      ['DELETE', `/api/organisations/${orgId}/members/${member.userId}`, undefined],
      ['DELETE', `/api/organisations/${orgId}/members/${owner.userId}`, undefined],
      ['PATCH', `/api/organisations/${orgId}/members/${member.userId}`, { role: 'admin' }],
      ['POST', `/api/organisations/${orgId}/invitations`, { email: uniqueEmail() }],
      ['PATCH', `/api/organisations/${orgId}`, { name: 'Renamed' }],
      ['GET', `/api/organisations/${orgId}/audit-log`, undefined],
    ];
    for (const [method, path, body] of refused) {
      const answer = await call(app(), method as 'POST', path, { token: reader.key, body });
      assertErrorEnvelope(answer, 403);
    }
    assert.equal((await db().selectFrom('members').select('user_id').where('organisation_id', '=', orgId).execute()).length, 3);

    // Like a person, a key invites only to a role whose permissions it holds all of (member: org:read, members:read).
    const inviter = await makeKey(owner.accessToken, orgId, { permissions: ['org:read', 'members:read', 'invitations:create', 'members:remove'] });
    assert.equal((await call(app(), 'POST', `/api/organisations/${orgId}/invitations`, { token: inviter.key, body: { email: uniqueEmail('bykey') } })).status, 201);
    // A key never acts on an owner, whatever its creator may do.
    assertErrorEnvelope(await call(app(), 'DELETE', `/api/organisations/${orgId}/members/${owner.userId}`, { token: inviter.key }), 403);
    const audit = await call(app(), 'GET', `/api/organisations/${orgId}/audit-log`, { token: owner.accessToken });
    const byKey = (audit.body.data.events as Array<{ action: string; actor: { type: string; id: string }; actorUserId: string }>).find((e) => e.action === 'invitation.created');
    assert.deepEqual(byKey?.actor, { type: 'api_key', id: inviter.apiKeyId });
    assert.equal(byKey?.actorUserId, null);
    // The key names the person it acts for.
    assert.equal((await db().selectFrom('api_keys').select('user_id').where('id', '=', inviter.apiKeyId).executeTakeFirstOrThrow()).user_id, owner.userId);
    const rows = await db().selectFrom('audit_events').select(['action', 'actor_type', 'actor_id', 'actor_user_id']).where('organisation_id', '=', orgId).where('action', 'like', 'api_key.%').execute();
    assert.deepEqual(rows.map((r) => [r.action, r.actor_type, r.actor_user_id]), [
      ['api_key.created', 'user', owner.userId],
      ['api_key.created', 'user', owner.userId],
    ]);
  });

  it('answers a key 401 anywhere but its organisation’s routes, 404 on another organisation’s, and 403 on key and client management', async () => {
    const { owner, orgId, otherOrgId } = await team(app());
    const own = await createOrganisation(app(), owner.accessToken, 'Also mine');
    const { key } = await makeKey(owner.accessToken, orgId, { permissions: ['org:read', 'members:read', 'api-keys:manage', 'applications:manage'] });
    for (const path of ['/api/users/me', '/api/organisations', '/api/users/me/sessions', '/api/users/me/api-keys', `/api/users/${owner.userId}`, '/api/stats/users-by-role', '/api/admin/users', '/stats/role-wise-users']) {
      const answer = await call(app(), 'GET', path, { token: key });
      assert.equal(answer.status, 401, `${path}: ${JSON.stringify(answer.body)}`);
    }
    for (const [method, path, body] of [
      ['POST', '/api/users/me/password', { currentPassword: owner.password, newPassword: 'another long password' }],
      ['PATCH', '/api/users/me', { firstName: 'Key' }],
      ['POST', '/auth/logout', {}],
      ['POST', '/api/organisations', { name: 'By key' }],
      ['DELETE', '/delete_member', { org_id: orgId, user_id: owner.userId }],
    ] as const) {
      const answer = await call(app(), method, path, { token: key, body });
      assert.equal(answer.status, 401, `${method} ${path}: ${JSON.stringify(answer.body)}`);
    }
    for (const other of [otherOrgId, own]) assertErrorEnvelope(await call(app(), 'GET', `/api/organisations/${other}/members`, { token: key }), 404, 'ORGANISATION_NOT_FOUND');
    assertErrorEnvelope(await call(app(), 'POST', `/api/organisations/${orgId}/api-keys`, { token: key, body: { name: 'Child', permissions: ['org:read'] } }), 403, 'PERSON_REQUIRED');
    assertErrorEnvelope(await call(app(), 'GET', `/api/organisations/${orgId}/api-keys`, { token: key }), 403, 'PERSON_REQUIRED');
    assertErrorEnvelope(await call(app(), 'POST', `/api/organisations/${orgId}/applications`, { token: key, body: { name: 'Child', permissions: ['org:read'] } }), 403, 'PERSON_REQUIRED');
    assert.equal((await db().selectFrom('users').select('first_name').where('id', '=', owner.userId).executeTakeFirstOrThrow()).first_name, 'Test');
  });

  it('refuses a key beyond its creator’s permissions, and bad input naming the field', async () => {
    const { owner, admin, member, orgId } = await team(app());
    assertErrorEnvelope(await call(app(), 'POST', `/api/organisations/${orgId}/api-keys`, { token: admin.accessToken, body: { name: 'x', permissions: ['org:delete'] } }), 403, 'PERMISSIONS_ABOVE_OWN');
    assertErrorEnvelope(await call(app(), 'POST', `/api/organisations/${orgId}/api-keys`, { token: member.accessToken, body: { name: 'x', permissions: ['org:read'] } }), 403);
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ permissions: ['org:read'] }, 'name'],
      [{ name: '', permissions: ['org:read'] }, 'name'],
      [{ name: 'x'.repeat(101), permissions: ['org:read'] }, 'name'],
      [{ name: 'x' }, 'permissions'],
      [{ name: 'x', permissions: ['root'] }, 'permissions'],
      [{ name: 'x', permissions: 'org:read' }, 'permissions'],
      [{ name: 'x', permissions: ['org:read'], expiresAt: 'tomorrow' }, 'expiresAt'],
      [{ name: 'x', permissions: ['org:read'], expiresAt: '2001-01-01T00:00:00Z' }, 'expiresAt'],
      [{ name: 'x', permissions: ['org:read'], organisationId: orgId }, 'organisationId'],
    ];
    for (const [body, field] of cases) {
      const answer = await call(app(), 'POST', `/api/organisations/${orgId}/api-keys`, { token: owner.accessToken, body });
      assert.equal(answer.status, 422, `${JSON.stringify(body)} → ${answer.status} ${JSON.stringify(answer.body)}`);
      assert.equal(answer.body.errors[0].field, field, JSON.stringify(answer.body));
    }
    for (const id of ['nope', '00000000-0000-4000-8000-000000000000']) assertErrorEnvelope(await call(app(), 'DELETE', `/api/organisations/${orgId}/api-keys/${id}`, { token: owner.accessToken }), 404, 'API_KEY_NOT_FOUND');
  });

  it('outlives nothing: revoked, expired, creator removed or suspended, creator demoted, organisation deleted', async () => {
    const { owner, admin, orgId } = await team(app());
    const members = `/api/organisations/${orgId}/members`;
    const status = async (key: string, path = members) => (await call(app(), 'GET', path, { token: key })).status;

    // Revoked: refused at once on this node; the row says so.
    const revoked = await makeKey(owner.accessToken, orgId, { permissions: ['members:read'] });
    assert.equal(await status(revoked.key), 200);
    assert.equal((await call(app(), 'DELETE', `/api/organisations/${orgId}/api-keys/${revoked.apiKeyId}`, { token: owner.accessToken })).status, 200);
    assert.equal(await status(revoked.key), 401);
    assert.ok((await db().selectFrom('api_keys').select('revoked_at').where('id', '=', revoked.apiKeyId).executeTakeFirstOrThrow()).revoked_at);
    assert.ok(!(await call(app(), 'GET', `/api/organisations/${orgId}/api-keys`, { token: owner.accessToken })).body.data.apiKeys.some((k: { apiKeyId: string }) => k.apiKeyId === revoked.apiKeyId));

    // Expired: refused from its expiry on, cached or not.
    const expiring = await makeKey(owner.accessToken, orgId, { permissions: ['members:read'], expiresAt: new Date(h().clock.now().getTime() + 60_000).toISOString() });
    assert.equal(await status(expiring.key), 200);
    h().clock.advance(61);
    try {
      assert.equal(await status(expiring.key), 401);
    } finally {
      h().clock.reset();
    }

    // The creator demoted: the key keeps only what they still hold; removed: nothing.
    const admins = await makeKey(admin.accessToken, orgId, { permissions: ['members:read', 'invitations:create'] });
    assert.equal((await call(app(), 'GET', `/api/organisations/${orgId}/invitations`, { token: admins.key })).status, 200);
    assert.equal((await call(app(), 'PATCH', `/api/organisations/${orgId}/members/${admin.userId}`, { token: owner.accessToken, body: { role: 'member' } })).status, 200);
    pastCacheLife();
    try {
      assert.equal((await call(app(), 'GET', `/api/organisations/${orgId}/invitations`, { token: admins.key })).status, 403);
      assert.equal(await status(admins.key), 200);
      assert.equal((await call(app(), 'PATCH', `/api/organisations/${orgId}/members/${admin.userId}/status`, { token: owner.accessToken, body: { status: 'suspended' } })).status, 200);
      pastCacheLife();
      assert.equal(await status(admins.key), 401);
      assert.equal((await call(app(), 'PATCH', `/api/organisations/${orgId}/members/${admin.userId}/status`, { token: owner.accessToken, body: { status: 'active' } })).status, 200);
      pastCacheLife();
      assert.equal(await status(admins.key), 200);
      assert.equal((await call(app(), 'DELETE', `/api/organisations/${orgId}/members/${admin.userId}`, { token: owner.accessToken })).status, 200);
      pastCacheLife();
      assert.equal(await status(admins.key), 401);
      assert.ok(await db().selectFrom('api_keys').select('id').where('id', '=', admins.apiKeyId).executeTakeFirst(), 'the row stays, for the audit trail');

      // The organisation deleted: its keys go with it.
      const doomed = await makeKey(owner.accessToken, orgId, { permissions: ['org:read'] });
      assert.equal(await status(doomed.key, `/api/organisations/${orgId}`), 200);
      assert.equal((await call(app(), 'DELETE', `/api/organisations/${orgId}`, { token: owner.accessToken })).status, 200);
      pastCacheLife();
      assert.equal(await status(doomed.key, `/api/organisations/${orgId}`), 401);
      assert.equal(await db().selectFrom('api_keys').select('id').where('organisation_id', '=', orgId).executeTakeFirst(), undefined);
    } finally {
      h().clock.reset();
    }
  });

  it('makes personal keys that act as their owner in the owner’s organisations, narrowed to the role there, and nowhere else', async () => {
    const [owner, person] = await Promise.all([registerUser(app()), registerUser(app())]);
    const orgId = await createOrganisation(app(), owner.accessToken, 'Where Pat is a member');
    await addMember(app(), owner.accessToken, orgId, person.userId, 'member');
    const personal = await makeKey(person.accessToken, null, { permissions: ['org:read', 'members:read', 'members:add'] });
    const row = await db().selectFrom('api_keys').select(['organisation_id', 'user_id']).where('id', '=', personal.apiKeyId).executeTakeFirstOrThrow();
    assert.deepEqual(row, { organisation_id: null, user_id: person.userId });
    assert.equal((await call(app(), 'GET', `/api/organisations/${orgId}/members`, { token: personal.key })).status, 200);
    assert.equal((await call(app(), 'GET', `/api/organisations/${person.personalOrgId}/members`, { token: personal.key })).status, 200);
    // members:add is the key's, but not Pat's role's in that organisation.
    assertErrorEnvelope(await call(app(), 'POST', `/api/organisations/${orgId}/users`, { token: personal.key, body: { userId: owner.userId } }), 403);
    assertErrorEnvelope(await call(app(), 'GET', `/api/organisations/${owner.personalOrgId}/members`, { token: personal.key }), 404);
    for (const path of ['/api/users/me', '/api/organisations', '/api/users/me/api-keys']) assert.equal((await call(app(), 'GET', path, { token: personal.key })).status, 401, path);

    const listed = await call(app(), 'GET', '/api/users/me/api-keys', { token: person.accessToken });
    assert.deepEqual(listed.body.data.apiKeys.map((k: { apiKeyId: string }) => k.apiKeyId), [personal.apiKeyId]);
    assert.deepEqual((await call(app(), 'GET', '/api/users/me/api-keys', { token: owner.accessToken })).body.data.apiKeys, []);
    assertErrorEnvelope(await call(app(), 'DELETE', `/api/users/me/api-keys/${personal.apiKeyId}`, { token: owner.accessToken }), 404, 'API_KEY_NOT_FOUND');
    assertErrorEnvelope(await call(app(), 'DELETE', `/api/organisations/${orgId}/api-keys/${personal.apiKeyId}`, { token: owner.accessToken }), 404, 'API_KEY_NOT_FOUND');
    assert.equal((await call(app(), 'DELETE', `/api/users/me/api-keys/${personal.apiKeyId}`, { token: person.accessToken })).status, 200);
    assert.equal((await call(app(), 'GET', `/api/organisations/${orgId}/members`, { token: personal.key })).status, 401);
    const events = await db().selectFrom('audit_events').select(['action', 'organisation_id']).where('target_id', '=', personal.apiKeyId).orderBy('id').execute();
    assert.deepEqual(events, [
      { action: 'api_key.created', organisation_id: null },
      { action: 'api_key.revoked', organisation_id: null },
    ]);
  });

  it('refuses a made-up gh_ key, a malformed one and one of a deleted account', async () => {
    const { owner, orgId } = await team(app());
    for (const token of ['gh_', `gh_${'A'.repeat(43)}`, 'gh_short']) assert.equal((await call(app(), 'GET', `/api/organisations/${orgId}`, { token })).status, 401, token);
    const person = await registerUser(app());
    await addMember(app(), owner.accessToken, orgId, person.userId, 'admin');
    const key = await makeKey(person.accessToken, orgId, { permissions: ['org:read'] });
    assert.equal((await call(app(), 'GET', `/api/organisations/${orgId}`, { token: key.key })).status, 200);
    await db().updateTable('users').set({ status: 'disabled' }).where('id', '=', person.userId).execute();
    pastCacheLife();
    try {
      assert.equal((await call(app(), 'GET', `/api/organisations/${orgId}`, { token: key.key })).status, 401);
    } finally {
      h().clock.reset();
    }
  });
}

forEachDatabase('organisation tokens and API keys', (h) => organisationTokensSuite(h));
