// Changing a member's role, removing a member and leaving, on every database target: who may do
// each, the rule that nobody acts above their own role, and the owner an organisation always keeps,
// also when two owners act against each other at the same moment.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import { addMember, assertErrorEnvelope, call, createOrganisation, registerUser, type Answer, type TestUser, roleIn as sharedRoleIn } from './helpers/api.ts';
import { fingerprint, forEachDatabase, settled } from './helpers/harness.ts';
import { expectAuthenticationRequired, expectRefused, type RouteCall } from './helpers/matrix.ts';

const memberUrl = (orgId: string, userId: string) => `/api/organisations/${orgId}/members/${userId}`;
const patchRoute = (orgId: string, userId: string, role = 'admin'): RouteCall => ({ method: 'PATCH', url: memberUrl(orgId, userId), body: { role } });
const deleteRoute = (orgId: string, userId: string): RouteCall => ({ method: 'DELETE', url: memberUrl(orgId, userId) });

forEachDatabase('members', (h) => {
  /** An organisation with an owner, an admin and two members, and an outsider who owns another one. */
  async function team() {
    const { app } = h();
    const [owner, admin, member, other, outsider] = await Promise.all([registerUser(app), registerUser(app), registerUser(app), registerUser(app), registerUser(app)]);
    const orgId = await createOrganisation(app, owner.accessToken, 'Team');
    await addMember(app, owner.accessToken, orgId, admin.userId, 'admin');
    await addMember(app, owner.accessToken, orgId, member.userId, 'member');
    await addMember(app, owner.accessToken, orgId, other.userId, 'member');
    const otherOrgId = await createOrganisation(app, outsider.accessToken, 'Elsewhere');
    return { owner, admin, member, other, outsider, orgId, otherOrgId };
  }

  /** An organisation held by two owners, and nobody else. */
  async function twoOwners() {
    const { app } = h();
    const [a, b] = await Promise.all([registerUser(app), registerUser(app)]);
    const orgId = await createOrganisation(app, a.accessToken, 'Duo');
    await addMember(app, a.accessToken, orgId, b.userId, 'owner');
    return { a, b, orgId };
  }

  const roleIn = (orgId: string, userId: string) => sharedRoleIn(h().db, orgId, userId);

  const ownersOf = async (orgId: string) => {
    const rows = await h()
      .db.selectFrom('members')
      .innerJoin('roles', 'roles.id', 'members.role_id')
      .select('members.user_id')
      .where('members.organisation_id', '=', orgId)
      .where('roles.name', '=', 'owner')
      .where('roles.built_in', '=', true)
      .execute();
    return rows.map((r) => r.user_id);
  };

  const send = (route: RouteCall, user: TestUser) => call(h().app, route.method, route.url, { body: route.body, token: user.accessToken });

  /** The request is refused with `status` and `code`, and the database is untouched. */
  async function expectError(route: RouteCall, user: TestUser, status: number, code: string) {
    await settled(h().db, { failOnTimeout: true });
    const before = await fingerprint(h().db);
    const answer = await send(route, user);
    assertErrorEnvelope(answer, status, code);
    assert.equal(await fingerprint(h().db), before, `a refused ${route.method} ${route.url} changed the database`);
    return answer;
  }

  const expectChanged = (answer: Answer, userId: string, role: string) => {
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.deepEqual(answer.body, { status: 'success', message: 'Member role updated successfully', data: { userId, role } });
  };

  const expectRemoved = (answer: Answer) => {
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.deepEqual(answer.body, { status: 'success', message: 'Member removed successfully', data: {} });
  };

  it('lets the owner promote a member to admin, who can then do what an admin does', async () => {
    const { owner, member, orgId } = await team();
    const rename: RouteCall = { method: 'PATCH', url: `/api/organisations/${orgId}`, body: { name: 'By the new admin' } };
    assert.equal((await send(rename, member)).status, 403);
    expectChanged(await send(patchRoute(orgId, member.userId, 'admin'), owner), member.userId, 'admin');
    assert.equal(await roleIn(orgId, member.userId), 'admin');
    assert.equal((await send(rename, member)).status, 200);
  });

  it('lets an admin move members between member and admin, the role named in any letter case', async () => {
    const { admin, member, other, orgId } = await team();
    expectChanged(await send(patchRoute(orgId, member.userId, 'ADMIN'), admin), member.userId, 'admin');
    assert.equal(await roleIn(orgId, member.userId), 'admin');
    expectChanged(await send(patchRoute(orgId, member.userId, 'member'), admin), member.userId, 'member');
    assert.equal(await roleIn(orgId, member.userId), 'member');
    expectChanged(await send(patchRoute(orgId, admin.userId, 'member'), admin), admin.userId, 'member');
    assert.deepEqual([await roleIn(orgId, admin.userId), await roleIn(orgId, other.userId)], ['member', 'member']);
  });

  it('lets no admin make anyone owner nor touch an owner, and no member change roles', async () => {
    const { owner, admin, member, other, orgId } = await team();
    for (const [target, role] of [[member, 'owner'], [admin, 'owner'], [member, 'Owner'], [owner, 'admin'], [owner, 'member']] as const) {
      await expectError(patchRoute(orgId, target.userId, role), admin, 403, 'ROLE_ABOVE_OWN');
    }
    for (const target of [other, admin, owner, member]) await expectRefused(h(), patchRoute(orgId, target.userId, 'member'), member.accessToken, 403, 'member');
    assert.deepEqual(await Promise.all([owner, admin, member, other].map((u) => roleIn(orgId, u.userId))), ['owner', 'admin', 'member', 'member']);
  });

  it('answers an unknown role with a 422 naming role, and a missing member with 404, changing nothing', async () => {
    const { owner, outsider, orgId } = await team();
    const stranger = await registerUser(h().app);
    for (const role of ['overlord', '', '  ', 7, undefined]) {
      await settled(h().db, { failOnTimeout: true });
      const before = await fingerprint(h().db);
      const answer = await call(h().app, 'PATCH', memberUrl(orgId, owner.userId), { token: owner.accessToken, body: { role } });
      assert.equal(answer.status, 422, JSON.stringify(answer.body));
      assert.deepEqual(answer.body.errors.map((e: { field: string }) => e.field), ['role']);
      assert.equal(await fingerprint(h().db), before);
    }
    for (const userId of [outsider.userId, stranger.userId, randomUUID(), 'abc', owner.userId.toUpperCase().replace(/-/g, '')]) {
      await expectError(patchRoute(orgId, userId), owner, 404, 'MEMBER_NOT_FOUND');
    }
    assert.equal(await roleIn(orgId, owner.userId), 'owner');
  });

  it('refuses the last owner’s own demotion with 409 LAST_OWNER; with two owners one may demote the other', async () => {
    const { owner, orgId } = await team();
    for (const role of ['admin', 'member']) {
      const answer = await expectError(patchRoute(orgId, owner.userId, role), owner, 409, 'LAST_OWNER');
      assert.equal(answer.body.status, 'Conflict');
    }
    await expectError(patchRoute(owner.personalOrgId, owner.userId, 'member'), owner, 409, 'LAST_OWNER');
    assert.deepEqual(await ownersOf(orgId), [owner.userId]);

    const { a, b, orgId: duo } = await twoOwners();
    expectChanged(await send(patchRoute(duo, a.userId, 'admin'), b), a.userId, 'admin');
    assert.deepEqual(await ownersOf(duo), [b.userId]);
    await expectError(patchRoute(duo, b.userId, 'admin'), b, 409, 'LAST_OWNER');
    // The demoted owner is an admin now, and may not touch the remaining owner.
    await expectError(patchRoute(duo, b.userId, 'admin'), a, 403, 'ROLE_ABOVE_OWN');
  });

  it('keeps exactly one owner when two owners demote each other at the same moment', async () => {
    for (let round = 0; round < 8; round++) {
      const { a, b, orgId } = await twoOwners();
      const [byA, byB] = await Promise.all([send(patchRoute(orgId, b.userId, 'admin'), a), send(patchRoute(orgId, a.userId, 'member'), b)]);
      assert.equal([byA, byB].filter((answer) => answer.status === 200).length, 1, `round ${round}: ${JSON.stringify([byA.body, byB.body])}`);
      const [winner, loser] = byA.status === 200 ? [a, byB] : [b, byA];
      // Refused at commit (the owner trigger), or, when the winner committed before the loser's
      // request began, because the loser is no longer an owner: an admin may not touch an owner,
      // a member may not change roles at all.
      assert.ok(['409 LAST_OWNER', '403 ROLE_ABOVE_OWN', '403 FORBIDDEN'].includes(`${loser.status} ${loser.body.code}`), JSON.stringify(loser.body));
      assert.deepEqual(await ownersOf(orgId), [winner.userId], `round ${round}`);
      const audited = await h().db.selectFrom('audit_events').select('action').where('organisation_id', '=', orgId).where('action', '=', 'member.role_changed').execute();
      assert.equal(audited.length, 1, `round ${round}: only the change that stood is in the log`);
    }
  });

  it('lets the owner remove a member, whose access to the organisation ends with their next request', async () => {
    const { owner, member, orgId } = await team();
    const read = { method: 'GET', url: `/api/organisations/${orgId}` } as const;
    assert.equal((await send(read, member)).status, 200);
    expectRemoved(await send(deleteRoute(orgId, member.userId), owner));
    assert.equal(await roleIn(orgId, member.userId), undefined);
    assertErrorEnvelope(await send(read, member), 404, 'ORGANISATION_NOT_FOUND');
    assertErrorEnvelope(await send({ method: 'GET', url: `/api/organisations/${orgId}/members` }, member), 404, 'ORGANISATION_NOT_FOUND');
    assertErrorEnvelope(await send(deleteRoute(orgId, member.userId), member), 404, 'ORGANISATION_NOT_FOUND');
    const listed = await call(h().app, 'GET', '/api/organisations', { token: member.accessToken });
    assert.ok(!listed.body.data.organisations.some((o: { orgId: string }) => o.orgId === orgId));
    // Removing them again finds nobody.
    await expectError(deleteRoute(orgId, member.userId), owner, 404, 'MEMBER_NOT_FOUND');
  });

  it('lets an admin remove members and admins but not an owner, and no member remove anyone', async () => {
    const { app } = h();
    const { owner, admin, member, other, orgId } = await team();
    const second = await registerUser(app);
    await addMember(app, owner.accessToken, orgId, second.userId, 'admin');
    await expectError(deleteRoute(orgId, owner.userId), admin, 403, 'ROLE_ABOVE_OWN');
    for (const target of [owner, admin, other]) await expectRefused(h(), deleteRoute(orgId, target.userId), member.accessToken, 403, 'member');
    expectRemoved(await send(deleteRoute(orgId, other.userId), admin));
    expectRemoved(await send(deleteRoute(orgId, second.userId), admin));
    assert.deepEqual(await Promise.all([owner, admin, member, other, second].map((u) => roleIn(orgId, u.userId))), ['owner', 'admin', 'member', undefined, undefined]);
  });

  it('lets any member leave by removing themself, without members:remove', async () => {
    const { member, admin, orgId } = await team();
    for (const leaver of [member, admin]) {
      expectRemoved(await send(deleteRoute(orgId, leaver.userId), leaver));
      assert.equal(await roleIn(orgId, leaver.userId), undefined);
      assertErrorEnvelope(await send({ method: 'GET', url: `/api/organisations/${orgId}` }, leaver), 404, 'ORGANISATION_NOT_FOUND');
    }
    const left = await h().db.selectFrom('audit_events').select(['action', 'actor_user_id', 'target_id']).where('organisation_id', '=', orgId).where('action', '=', 'member.left').orderBy('id').execute();
    assert.deepEqual(left, [member, admin].map((u) => ({ action: 'member.left', actor_user_id: u.userId, target_id: u.userId })));
  });

  it('refuses to let the last owner leave (409 LAST_OWNER); an owner leaves when another remains', async () => {
    const { owner, orgId } = await team();
    await expectError(deleteRoute(orgId, owner.userId), owner, 409, 'LAST_OWNER');
    await expectError(deleteRoute(owner.personalOrgId, owner.userId), owner, 409, 'LAST_OWNER');
    assert.equal(await roleIn(orgId, owner.userId), 'owner');

    const { a, b, orgId: duo } = await twoOwners();
    expectRemoved(await send(deleteRoute(duo, a.userId), a));
    assert.deepEqual(await ownersOf(duo), [b.userId]);
    assert.equal(await roleIn(duo, a.userId), undefined);
    await expectError(deleteRoute(duo, b.userId), b, 409, 'LAST_OWNER');
  });

  it('lets exactly one of the last two owners leave when both try at the same moment', async () => {
    for (let round = 0; round < 8; round++) {
      const { a, b, orgId } = await twoOwners();
      const [byA, byB] = await Promise.all([send(deleteRoute(orgId, a.userId), a), send(deleteRoute(orgId, b.userId), b)]);
      assert.deepEqual([byA.status, byB.status].sort(), [200, 409], `round ${round}: ${JSON.stringify([byA.body, byB.body])}`);
      const [stayed, refusal] = byA.status === 200 ? [b, byB] : [a, byA];
      assertErrorEnvelope(refusal, 409, 'LAST_OWNER');
      assert.deepEqual(await ownersOf(orgId), [stayed.userId], `round ${round}`);
      const members = await h().db.selectFrom('members').select('user_id').where('organisation_id', '=', orgId).execute();
      assert.deepEqual(members, [{ user_id: stayed.userId }]);
    }
  });

  it('also lets exactly one owner remove the other when both try at the same moment', async () => {
    for (let round = 0; round < 4; round++) {
      const { a, b, orgId } = await twoOwners();
      const [byA, byB] = await Promise.all([send(deleteRoute(orgId, b.userId), a), send(deleteRoute(orgId, a.userId), b)]);
      const [winner, loser] = byA.status === 200 ? [a, byB] : [b, byA];
      assert.equal([byA, byB].filter((answer) => answer.status === 200).length, 1, `round ${round}: ${JSON.stringify([byA.body, byB.body])}`);
      // Refused at commit, or, when the winner committed first, no longer a member at all.
      assert.ok(['409 LAST_OWNER', '404 ORGANISATION_NOT_FOUND'].includes(`${loser.status} ${loser.body.code}`), JSON.stringify(loser.body));
      assert.deepEqual(await ownersOf(orgId), [winner.userId]);
    }
  });

  it('requires a valid access token on both member routes, changing nothing', async () => {
    const { owner, member, orgId } = await team();
    for (const route of [patchRoute(orgId, member.userId), deleteRoute(orgId, member.userId), deleteRoute(orgId, owner.userId)]) {
      await expectAuthenticationRequired(h(), route, owner.accessToken);
    }
    assert.equal(await roleIn(orgId, member.userId), 'member');
  });

  it('answers 404 to outsiders and to mixed ids, on both routes', async () => {
    const { app } = h();
    const { owner, member, outsider, orgId, otherOrgId } = await team();
    const bystander = await registerUser(app);
    await addMember(app, outsider.accessToken, otherOrgId, bystander.userId, 'member');
    // A user of organisation B on A's routes, with A's member, B's member and their own id.
    for (const userId of [member.userId, bystander.userId, outsider.userId]) {
      for (const route of [patchRoute(orgId, userId, 'member'), deleteRoute(orgId, userId)]) {
        await expectRefused(h(), route, outsider.accessToken, 404, 'owner of B');
        assertErrorEnvelope(await send(route, outsider), 404, 'ORGANISATION_NOT_FOUND');
      }
    }
    await expectRefused(h(), deleteRoute(orgId, bystander.userId), bystander.accessToken, 404, 'leaving an organisation one is not in');
    // A's owner with A's path and B's member: no such member of A; B's member stays where they are.
    for (const route of [patchRoute(orgId, bystander.userId, 'member'), deleteRoute(orgId, bystander.userId), patchRoute(orgId, outsider.userId, 'admin')]) {
      await expectError(route, owner, 404, 'MEMBER_NOT_FOUND');
    }
    // A's owner on B's path, and on organisations that do not exist or are not ids.
    for (const path of [otherOrgId, randomUUID(), 'abc']) {
      for (const route of [patchRoute(path, bystander.userId, 'admin'), deleteRoute(path, bystander.userId), deleteRoute(path, owner.userId)]) {
        await expectRefused(h(), route, owner.accessToken, 404, 'owner of A');
      }
    }
    assert.deepEqual([await roleIn(otherOrgId, bystander.userId), await roleIn(otherOrgId, outsider.userId), await roleIn(orgId, member.userId)], ['member', 'owner', 'member']);
  });
});
