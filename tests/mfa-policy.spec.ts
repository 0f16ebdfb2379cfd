// Requiring second factors: an organisation's `requireMfa` (owners set it, with a recent factor of
// their own; members without one are refused on its routes and see why), the platform's
// GATEHOUSE_REQUIRE_MFA, and member lists that show who has a factor.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { addMember, assertErrorEnvelope, call, createOrganisation, registerUser } from './helpers/api.ts';
import { forEachDatabase } from './helpers/harness.ts';
import { enableTotp, SECRET_KEY, totpCode } from './helpers/mfa.ts';

forEachDatabase(
  'second factors: an organisation that requires them',
  (h) => {
    const app = () => h().app;

    it('lets only an owner with a recent second factor turn requireMfa on; members without one are refused and see why', async () => {
      const owner = await enableTotp(app(), h().clock, await registerUser(app()));
      const [admin, member, secured] = await Promise.all([registerUser(app()), registerUser(app()), registerUser(app())]);
      const orgId = await createOrganisation(app(), owner.accessToken, 'Careful');
      await addMember(app(), owner.accessToken, orgId, admin.userId, 'admin');
      await addMember(app(), owner.accessToken, orgId, member.userId, 'member');
      await addMember(app(), owner.accessToken, orgId, secured.userId, 'member');
      const securedWithTotp = await enableTotp(app(), h().clock, secured);

      // An admin may rename but not set the rule; an owner without a factor could not either.
      assertErrorEnvelope(await call(app(), 'PATCH', `/api/organisations/${orgId}`, { token: admin.accessToken, body: { requireMfa: true } }), 403, 'FORBIDDEN');
      const plainOwner = await registerUser(app());
      assertErrorEnvelope(await call(app(), 'PATCH', `/api/organisations/${plainOwner.personalOrgId}`, { token: plainOwner.accessToken, body: { requireMfa: true } }), 409, 'NO_SECOND_FACTOR');
      const bad = await call(app(), 'PATCH', `/api/organisations/${orgId}`, { token: owner.accessToken, body: { requireMfa: 'yes' } });
      assert.equal(bad.status, 422);
      assert.equal(bad.body.errors[0].field, 'requireMfa');

      // Step-up: the owner's last check is too old.
      h().clock.advance(11 * 60);
      assertErrorEnvelope(await call(app(), 'PATCH', `/api/organisations/${orgId}`, { token: owner.accessToken, body: { requireMfa: true } }), 403, 'STEP_UP_REQUIRED');
      const stepped = await call(app(), 'POST', '/auth/step-up', { token: owner.accessToken, body: { method: 'totp', code: totpCode(owner.secret, h().clock) } });
      assert.equal(stepped.status, 200, JSON.stringify(stepped.body));
      const set = await call(app(), 'PATCH', `/api/organisations/${orgId}`, { token: owner.accessToken, body: { requireMfa: true } });
      assert.equal(set.status, 200, JSON.stringify(set.body));
      assert.deepEqual(set.body.data, { orgId, name: 'Careful', description: '', requireMfa: true });
      const audit = await h().db.selectFrom('audit_events').select(['data', 'before', 'after']).where('organisation_id', '=', orgId).where('action', '=', 'organisation.updated').execute();
      assert.deepEqual(audit.map((a) => a.data), [{ fields: ['requireMfa'] }]);
      assert.equal((audit[0]?.after as { requireMfa?: boolean }).requireMfa, true);

      // Members without a factor: refused on the organisation's routes, told why, and the list says it.
      for (const url of [`/api/organisations/${orgId}`, `/api/organisations/${orgId}/members`]) {
        assertErrorEnvelope(await call(app(), 'GET', url, { token: member.accessToken }), 403, 'ORG_REQUIRES_MFA');
        assertErrorEnvelope(await call(app(), 'GET', url, { token: admin.accessToken }), 403, 'ORG_REQUIRES_MFA');
      }
      const mine = await call(app(), 'GET', '/api/organisations', { token: member.accessToken });
      assert.equal(mine.body.data.organisations.find((o: { orgId: string }) => o.orgId === orgId).requireMfa, true);
      // With a factor, they are in; the member list shows who has one.
      const list = await call(app(), 'GET', `/api/organisations/${orgId}/members`, { token: securedWithTotp.accessToken });
      assert.equal(list.status, 200, JSON.stringify(list.body));
      const mfa = Object.fromEntries(list.body.data.members.map((m: { userId: string; mfa: boolean }) => [m.userId, m.mfa]));
      assert.deepEqual(mfa, { [owner.userId]: true, [admin.userId]: false, [member.userId]: false, [secured.userId]: true });
      // Leaving stays open.
      assert.equal((await call(app(), 'DELETE', `/api/organisations/${orgId}/members/${member.userId}`, { token: member.accessToken })).status, 200);
      // Turned off again, the others are back in.
      assert.equal((await call(app(), 'PATCH', `/api/organisations/${orgId}`, { token: owner.accessToken, body: { requireMfa: false } })).status, 200);
      assert.equal((await call(app(), 'GET', `/api/organisations/${orgId}`, { token: admin.accessToken })).status, 200);
    });
  },
  SECRET_KEY,
);

forEachDatabase(
  'second factors: GATEHOUSE_REQUIRE_MFA=all',
  (h) => {
    it('refuses organisation routes to a person without a second factor, leaving their own account open to add one', async () => {
      const user = await registerUser(h().app);
      assertErrorEnvelope(await call(h().app, 'GET', `/api/organisations/${user.personalOrgId}`, { token: user.accessToken }), 403, 'PLATFORM_REQUIRES_MFA');
      assert.equal((await call(h().app, 'GET', '/api/users/me', { token: user.accessToken })).status, 200);
      const secured = await enableTotp(h().app, h().clock, user);
      assert.equal((await call(h().app, 'GET', `/api/organisations/${user.personalOrgId}`, { token: secured.accessToken })).status, 200);
    });
  },
  { ...SECRET_KEY, GATEHOUSE_REQUIRE_MFA: 'all' },
);

forEachDatabase(
  'second factors: GATEHOUSE_REQUIRE_MFA=admins',
  (h) => {
    it('refuses the platform administration to an admin without a second factor, and nothing else', async () => {
      const admin = await registerUser(h().app);
      await h().db.updateTable('users').set({ platform_role: 'admin' }).where('id', '=', admin.userId).execute();
      assertErrorEnvelope(await call(h().app, 'GET', '/api/admin/users', { token: admin.accessToken }), 403, 'PLATFORM_REQUIRES_MFA');
      assert.equal((await call(h().app, 'GET', `/api/organisations/${admin.personalOrgId}`, { token: admin.accessToken })).status, 200);
      const secured = await enableTotp(h().app, h().clock, admin);
      assert.equal((await call(h().app, 'GET', '/api/admin/users', { token: secured.accessToken })).status, 200);
    });
  },
  { ...SECRET_KEY, GATEHOUSE_REQUIRE_MFA: 'admins' },
);
