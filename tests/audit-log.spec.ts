// An organisation's audit log through the HTTP API, on every database target: every change to the
// organisation, its members and roles is an event, newest first, in pages; only that organisation's
// events; never a secret; and written in the transaction of the change, so a refused change leaves none.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import { addMember, assertErrorEnvelope, call, createOrganisation, registerUser, type TestUser } from './helpers/api.ts';
import { fingerprint, forEachDatabase, settled } from './helpers/harness.ts';
import { expectAuthenticationRequired, expectRefused, type RouteCall } from './helpers/matrix.ts';

interface Event {
  eventId: number;
  organisationId: string | null;
  action: string;
  actorUserId: string | null;
  targetType: string | null;
  targetId: string | null;
  ip: string | null;
  data: Record<string, unknown>;
  createdAt: string;
}

const logUrl = (orgId: string, query = '') => `/api/organisations/${orgId}/audit-log${query}`;
const b64 = (value: string) => Buffer.from(value).toString('base64url');

forEachDatabase('audit log', (h) => {
  const send = (method: RouteCall['method'], url: string, user: TestUser, body?: unknown) => call(h().app, method, url, { token: user.accessToken, body });

  async function ok(method: RouteCall['method'], url: string, user: TestUser, body?: unknown) {
    const answer = await send(method, url, user, body);
    assert.ok(answer.status === 200 || answer.status === 201, `${method} ${url} → ${answer.status} ${JSON.stringify(answer.body)}`);
    return answer.body.data;
  }

  async function readLog(user: TestUser, orgId: string, query = '') {
    const answer = await send('GET', logUrl(orgId, query), user);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.status, 'success');
    assert.equal(answer.body.message, 'Audit log retrieved successfully');
    return answer.body.data as { events: Event[]; nextCursor: string | null };
  }

  const auditRows = (orgId: string) => h().db.selectFrom('audit_events').select(['id', 'action', 'actor_user_id', 'target_id']).where('organisation_id', '=', orgId).orderBy('id', 'desc').execute();

  /** An organisation whose owner makes one change of every kind, in a known order. */
  async function history() {
    const { app } = h();
    const [owner, admin, member] = await Promise.all([registerUser(app), registerUser(app), registerUser(app)]);
    const orgId = await createOrganisation(app, owner.accessToken, 'Logged');
    await addMember(app, owner.accessToken, orgId, member.userId);
    await addMember(app, owner.accessToken, orgId, admin.userId, 'admin');
    await ok('PATCH', `/api/organisations/${orgId}/members/${member.userId}`, owner, { role: 'admin' });
    const { roleId } = await ok('POST', `/api/organisations/${orgId}/roles`, owner, { name: 'Auditor', permissions: ['audit:read'] });
    await ok('PATCH', `/api/organisations/${orgId}/roles/${roleId}`, owner, { name: 'Reader' });
    await ok('DELETE', `/api/organisations/${orgId}/roles/${roleId}`, owner);
    await ok('DELETE', `/api/organisations/${orgId}/members/${member.userId}`, owner);
    await ok('PATCH', `/api/organisations/${orgId}`, owner, { name: 'Logged Ltd' });
    const expected: Array<[string, string, string]> = [
      ['organisation.updated', 'organisation', orgId],
      ['member.removed', 'user', member.userId],
      ['role.deleted', 'role', roleId],
      ['role.updated', 'role', roleId],
      ['role.created', 'role', roleId],
      ['member.role_changed', 'user', member.userId],
      ['member.added', 'user', admin.userId],
      ['member.added', 'user', member.userId],
      ['organisation.created', 'organisation', orgId],
    ];
    return { owner, admin, member, orgId, roleId, expected };
  }

  it('lists every change to the organisation, its members and roles, newest first, with actor and target', async () => {
    const { owner, member, orgId, expected } = await history();
    const { events, nextCursor } = await readLog(owner, orgId);
    assert.equal(nextCursor, null);
    assert.deepEqual(
      events.map((e) => [e.action, e.targetType, e.targetId]),
      expected,
    );
    for (const e of events) {
      assert.deepEqual(Object.keys(e).sort(), ['action', 'actor', 'actorUserId', 'createdAt', 'data', 'eventId', 'ip', 'organisationId', 'targetId', 'targetType']);
      assert.equal(e.organisationId, orgId, e.action);
      assert.equal(e.actorUserId, owner.userId, e.action);
      assert.ok(Number.isInteger(e.eventId));
      assert.match(e.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    const ids = events.map((e) => e.eventId);
    assert.deepEqual(ids, [...ids].sort((a, b) => b - a), 'newest first');
    const times = events.map((e) => Date.parse(e.createdAt));
    assert.deepEqual(times, [...times].sort((a, b) => b - a));
    // The listed events are exactly the organisation's rows.
    assert.deepEqual(ids, (await auditRows(orgId)).map((r) => Number(r.id)));
    const find = (action: string) => events.find((e) => e.action === action)!;
    assert.deepEqual(find('member.role_changed').data, { from: 'member', to: 'admin' });
    assert.deepEqual(find('member.removed').data, { role: 'admin' });
    assert.deepEqual(find('role.created').data, { name: 'Auditor', permissions: ['audit:read'] });
    assert.deepEqual(find('organisation.updated').data, { fields: ['name'] });
    assert.ok(!events.some((e) => e.actorUserId === member.userId));
  });

  it('lets the owner and an admin read the log; a member gets 403 and an outsider 404', async () => {
    const { owner, admin, orgId } = await history();
    const { app } = h();
    const [member, outsider] = await Promise.all([registerUser(app), registerUser(app)]);
    await addMember(app, owner.accessToken, orgId, member.userId);
    assert.deepEqual((await readLog(admin, orgId)).events, (await readLog(owner, orgId)).events);
    await expectRefused(h(), { method: 'GET', url: logUrl(orgId) }, member.accessToken, 403, 'member');
    for (const path of [orgId, randomUUID(), 'abc']) await expectRefused(h(), { method: 'GET', url: logUrl(path) }, outsider.accessToken, 404, 'outsider');
    await expectAuthenticationRequired(h(), { method: 'GET', url: logUrl(orgId) }, owner.accessToken);
  });

  it('pages with limit and cursor, without overlap, ending with a null cursor', async () => {
    const { owner, orgId, expected } = await history();
    const all = (await readLog(owner, orgId)).events.map((e) => e.eventId);
    assert.equal(all.length, expected.length);
    for (const limit of [1, 2, 4, expected.length]) {
      const seen: number[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const query: string = `?limit=${limit}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
        const page = await readLog(owner, orgId, query);
        assert.ok(page.events.length > 0 && page.events.length <= limit, `limit ${limit}, page ${pages}: ${page.events.length} events`);
        for (const e of page.events) assert.ok(!seen.includes(e.eventId), `event ${e.eventId} on two pages`);
        seen.push(...page.events.map((e) => e.eventId));
        cursor = page.nextCursor;
        if (cursor !== null) assert.equal(page.events.length, limit);
        pages += 1;
        assert.ok(pages <= expected.length, 'pagination does not end');
      } while (cursor !== null);
      assert.deepEqual(seen, all, `limit ${limit}`);
      assert.equal(pages, Math.ceil(expected.length / limit));
    }
  });

  it('refuses a garbage cursor or an out-of-range limit with a 422 naming it', async () => {
    const { owner, orgId } = await history();
    for (const cursor of ['garbage', b64('-1'), b64('0'), b64('1.5'), b64('99999999999999999999'), b64('[1]'), 'c'.repeat(201)]) {
      await settled(h().db, { failOnTimeout: true });
      const before = await fingerprint(h().db);
      const answer = await send('GET', logUrl(orgId, `?cursor=${cursor}`), owner);
      assert.equal(answer.status, 422, `${cursor}: ${JSON.stringify(answer.body)}`);
      assert.deepEqual(answer.body.errors.map((e: { field: string }) => e.field), ['cursor']);
      assert.equal(await fingerprint(h().db), before);
    }
    for (const limit of ['0', '101', 'ten']) {
      const answer = await send('GET', logUrl(orgId, `?limit=${limit}`), owner);
      assert.equal(answer.status, 422, `${limit}: ${JSON.stringify(answer.body)}`);
      assert.deepEqual(answer.body.errors.map((e: { field: string }) => e.field), ['limit']);
    }
  });

  it('never shows another organisation’s events, even with a cursor taken from that organisation', async () => {
    const { app } = h();
    const a = await history();
    const b = await history();
    await ok('PATCH', `/api/organisations/${a.orgId}`, a.owner, { description: 'A again' });
    const mine = (await readLog(a.owner, a.orgId)).events;
    const theirs = (await readLog(b.owner, b.orgId)).events;
    const theirIds = new Set(theirs.map((e) => e.eventId));
    assert.ok(!mine.some((e) => theirIds.has(e.eventId)));
    const foreignTargets = [b.orgId, b.roleId, b.member.userId, b.admin.userId, b.owner.userId];
    assert.ok(!mine.some((e) => foreignTargets.includes(e.targetId ?? '') || e.actorUserId === b.owner.userId));
    assert.deepEqual(mine.map((e) => e.eventId), (await auditRows(a.orgId)).map((r) => Number(r.id)));
    // A cursor from B's log only positions A's own events.
    const page = await readLog(a.owner, a.orgId, `?cursor=${b64(String(Math.max(...theirIds) + 1))}`);
    assert.ok(page.events.every((e) => mine.some((m) => m.eventId === e.eventId)));
    // And B's owner, not a member of A, cannot read A's log at all.
    assertErrorEnvelope(await call(app, 'GET', logUrl(a.orgId), { token: b.owner.accessToken }), 404, 'ORGANISATION_NOT_FOUND');
  });

  it('never records a password, token or hash', async () => {
    const { app, db } = h();
    const password = `Secret-${randomUUID()}`;
    const [owner, member] = await Promise.all([registerUser(app, { password }), registerUser(app, { password })]);
    const login = await call(app, 'POST', '/auth/login', { body: { email: owner.email, password } });
    assert.equal(login.status, 200, JSON.stringify(login.body));
    await ok('POST', `/api/users/me/password`, owner, { currentPassword: password, newPassword: `${password}-2` });
    const orgId = await createOrganisation(app, owner.accessToken, 'Secretive');
    await addMember(app, owner.accessToken, orgId, member.userId);
    await ok('PATCH', `/api/organisations/${orgId}/members/${member.userId}`, owner, { role: 'admin' });
    await ok('POST', `/api/organisations/${orgId}/roles`, owner, { name: 'Quiet', permissions: ['members:read'] });
    await ok('DELETE', `/api/organisations/${orgId}/members/${member.userId}`, member);
    const listed = JSON.stringify((await readLog(owner, orgId)).events);
    assert.ok(listed.includes('member.left'), 'the log has the events this test made');
    const stored = JSON.stringify(await db.selectFrom('audit_events').selectAll().execute());
    const secrets = [password, 'argon2', owner.accessToken, owner.refreshToken, member.accessToken, member.refreshToken, login.body.data.accessToken, login.body.data.refreshToken];
    for (const [where, text] of [['listed', listed], ['stored', stored]] as const) {
      for (const secret of secrets) assert.ok(!text.includes(secret), `${where} audit events contain a secret (${secret.slice(0, 12)}…)`);
      assert.doesNotMatch(text, /password_hash|token_hash|\$argon2/i, where);
    }
  });

  it('writes the event with the change: a refused change leaves none, a successful one exactly one', async () => {
    const { owner, admin, orgId } = await history();
    const count = async () => (await auditRows(orgId)).length;
    const start = await count();
    const refusals: Array<[RouteCall['method'], string, TestUser, unknown, number, string]> = [
      ['PATCH', `/api/organisations/${orgId}/members/${owner.userId}`, owner, { role: 'admin' }, 409, 'LAST_OWNER'],
      ['DELETE', `/api/organisations/${orgId}/members/${owner.userId}`, owner, undefined, 409, 'LAST_OWNER'],
      ['PATCH', `/api/organisations/${orgId}/members/${owner.userId}`, admin, { role: 'member' }, 403, 'ROLE_ABOVE_OWN'],
      ['POST', `/api/organisations/${orgId}/roles`, admin, { name: 'Wrecker', permissions: ['org:delete'] }, 403, 'ROLE_ABOVE_OWN'],
    ];
    for (const [method, url, user, body, status, code] of refusals) {
      await settled(h().db, { failOnTimeout: true });
      const before = await fingerprint(h().db);
      assertErrorEnvelope(await send(method, url, user, body), status, code);
      assert.equal(await fingerprint(h().db), before, `${method} ${url}`);
    }
    const { roleId } = await ok('POST', `/api/organisations/${orgId}/roles`, owner, { name: 'Kept', permissions: [] });
    await ok('PATCH', `/api/organisations/${orgId}/members/${admin.userId}`, owner, { role: 'Kept' });
    await settled(h().db, { failOnTimeout: true });
    const before = await fingerprint(h().db);
    assertErrorEnvelope(await send('DELETE', `/api/organisations/${orgId}/roles/${roleId}`, owner), 409, 'ROLE_IN_USE');
    assert.equal(await fingerprint(h().db), before);
    assert.equal(await count(), start + 2);
    const [latest] = (await readLog(owner, orgId, '?limit=1')).events;
    assert.deepEqual([latest?.action, latest?.targetId, latest?.data], ['member.role_changed', admin.userId, { from: 'admin', to: 'Kept' }]);
    // Giving a member the role they already hold changes nothing and records nothing.
    await ok('PATCH', `/api/organisations/${orgId}/members/${admin.userId}`, owner, { role: 'kept' });
    assert.equal(await count(), start + 2);
  });
});
