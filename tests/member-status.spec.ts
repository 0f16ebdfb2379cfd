// Suspending a member and reinstating them: the suspended member keeps their place and role but
// loses access to the organisation at once; only someone who may remove them may do it, never above
// their own role, never to themselves; each change is one audit event.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { addMember, assertErrorEnvelope, call, createOrganisation, registerUser, type TestUser } from './helpers/api.ts';
import { fingerprint, forEachDatabase, settled } from './helpers/harness.ts';

const statusUrl = (orgId: string, userId: string) => `/api/organisations/${orgId}/members/${userId}/status`;

forEachDatabase('member status', (h) => {
  async function team() {
    const { app } = h();
    const [owner, admin, member] = await Promise.all([registerUser(app), registerUser(app), registerUser(app)]);
    const orgId = await createOrganisation(app, owner.accessToken, 'Suspenders');
    await addMember(app, owner.accessToken, orgId, admin.userId, 'admin');
    await addMember(app, owner.accessToken, orgId, member.userId, 'member');
    return { owner, admin, member, orgId };
  }

  const setStatus = (actor: TestUser, orgId: string, userId: string, status: string) => call(h().app, 'PATCH', statusUrl(orgId, userId), { token: actor.accessToken, body: { status } });
  const statusIn = async (orgId: string, userId: string) =>
    (await h().db.selectFrom('members').select('status').where('organisation_id', '=', orgId).where('user_id', '=', userId).executeTakeFirst())?.status;

  async function expectUnchanged(answer: Promise<Awaited<ReturnType<typeof call>>>, status: number, code: string) {
    await settled(h().db, { failOnTimeout: true });
    const before = await fingerprint(h().db);
    assertErrorEnvelope(await answer, status, code);
    assert.equal(await fingerprint(h().db), before);
  }

  it('suspends a member, who loses access at once and keeps their role; reinstating gives it back', async () => {
    const { app } = h();
    const { admin, member, orgId } = await team();
    assert.equal((await call(app, 'GET', `/api/organisations/${orgId}`, { token: member.accessToken })).status, 200);

    const suspended = await setStatus(admin, orgId, member.userId, 'suspended');
    assert.equal(suspended.status, 200, JSON.stringify(suspended.body));
    assert.deepEqual(suspended.body.data, { userId: member.userId, role: 'member', status: 'suspended' });
    assert.equal(await statusIn(orgId, member.userId), 'suspended');
    assertErrorEnvelope(await call(app, 'GET', `/api/organisations/${orgId}`, { token: member.accessToken }), 404, 'ORGANISATION_NOT_FOUND');
    const mine = await call(app, 'GET', '/api/organisations', { token: member.accessToken });
    assert.ok(!mine.body.data.organisations.some((o: { orgId: string }) => o.orgId === orgId));
    const members = await call(app, 'GET', `/api/organisations/${orgId}/members`, { token: admin.accessToken });
    assert.equal(members.body.data.members.find((m: { userId: string }) => m.userId === member.userId)?.status, 'suspended');

    const reinstated = await setStatus(admin, orgId, member.userId, 'active');
    assert.equal(reinstated.status, 200, JSON.stringify(reinstated.body));
    assert.equal(await statusIn(orgId, member.userId), 'active');
    assert.equal((await call(app, 'GET', `/api/organisations/${orgId}`, { token: member.accessToken })).status, 200);

    const log = await call(app, 'GET', `/api/organisations/${orgId}/audit-log`, { token: admin.accessToken });
    const actions = log.body.data.events.map((e: { action: string }) => e.action);
    assert.deepEqual(actions.slice(0, 2), ['member.reinstated', 'member.suspended']);
  });

  it('refuses a member without members:remove, anyone above their own role, and suspending oneself, changing nothing', async () => {
    const { owner, admin, member, orgId } = await team();
    await expectUnchanged(setStatus(member, orgId, admin.userId, 'suspended'), 403, 'FORBIDDEN');
    await expectUnchanged(setStatus(admin, orgId, owner.userId, 'suspended'), 403, 'ROLE_ABOVE_OWN');
    await expectUnchanged(setStatus(admin, orgId, admin.userId, 'suspended'), 403, 'CANNOT_SUSPEND_SELF');
  });

  it('answers 404 for a non-member, an unknown member and a malformed id, and 422 for an unknown status', async () => {
    const { app } = h();
    const { owner, orgId } = await team();
    const stranger = await registerUser(app);
    await expectUnchanged(setStatus(stranger, orgId, owner.userId, 'suspended'), 404, 'ORGANISATION_NOT_FOUND');
    await expectUnchanged(setStatus(owner, orgId, stranger.userId, 'suspended'), 404, 'MEMBER_NOT_FOUND');
    await expectUnchanged(setStatus(owner, orgId, 'not-an-id', 'suspended'), 404, 'MEMBER_NOT_FOUND');
    const invalid = await setStatus(owner, orgId, stranger.userId, 'banished');
    assert.equal(invalid.status, 422);
    assert.equal(invalid.body.errors[0].field, 'status');
  });

  it('lets a suspended owner do nothing, and the last active owner cannot suspend themselves', async () => {
    const { app } = h();
    const [a, b] = await Promise.all([registerUser(app), registerUser(app)]);
    const orgId = await createOrganisation(app, a.accessToken, 'Duo');
    await addMember(app, a.accessToken, orgId, b.userId, 'owner');
    assert.equal((await setStatus(a, orgId, b.userId, 'suspended')).status, 200);
    // b is suspended and cannot act; a is the last active owner and cannot suspend themselves.
    await expectUnchanged(setStatus(b, orgId, a.userId, 'suspended'), 404, 'ORGANISATION_NOT_FOUND');
    await expectUnchanged(setStatus(a, orgId, a.userId, 'suspended'), 403, 'CANNOT_SUSPEND_SELF');
  });
});
