// The step-up routes of SPEC §6.1, one test each: for an account with a second factor whose session's
// last strong check is over ten minutes old, the route answers 403 STEP_UP_REQUIRED and changes
// nothing; after `POST /auth/step-up` the same request goes through.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import type { App } from '../src/app.ts';
import { assertErrorEnvelope, call, registerUser, type Answer, type TestUser } from './helpers/api.ts';
import { forEachDatabase, PUBLIC_URL } from './helpers/harness.ts';
import { enableTotp, SECRET_KEY, totpCode, type TotpUser } from './helpers/mfa.ts';
import { SoftwareAuthenticator } from './helpers/webauthn.ts';

forEachDatabase(
  'second factors: the step-up routes',
  (h) => {
    const app = (): App => h().app;

    /** A user with an authenticator app whose session last checked it eleven minutes ago. */
    const staleUser = async (): Promise<TotpUser> => {
      const user = await enableTotp(app(), h().clock, await registerUser(app()));
      h().clock.advance(11 * 60);
      return user;
    };

    /** A fresh strong check in the same session: the new access token. */
    const stepUp = async (user: TotpUser): Promise<string> => {
      const stepped = await call(app(), 'POST', '/auth/step-up', { token: user.accessToken, body: { method: 'totp', code: totpCode(user.secret, h().clock) } });
      assert.equal(stepped.status, 200, JSON.stringify(stepped.body));
      return stepped.body.data.accessToken;
    };

    const events = async (userId: string, action: string) =>
      (await h().db.selectFrom('audit_events').select('id').where('actor_user_id', '=', userId).where('action', '=', action).execute()).length;

    const refused = (answer: Answer) => assertErrorEnvelope(answer, 403, 'STEP_UP_REQUIRED');

    it('DELETE /api/users/me/mfa/totp: the app stays on until a step-up', async () => {
      const user = await staleUser();
      refused(await call(app(), 'DELETE', '/api/users/me/mfa/totp', { token: user.accessToken }));
      const row = await h().db.selectFrom('mfa_totp').select('confirmed_at').where('user_id', '=', user.userId).executeTakeFirstOrThrow();
      assert.notEqual(row.confirmed_at, null);
      assert.equal(await events(user.userId, 'mfa.disabled'), 0);
      const token = await stepUp(user);
      assert.equal((await call(app(), 'DELETE', '/api/users/me/mfa/totp', { token })).status, 200);
      assert.equal((await h().db.selectFrom('mfa_totp').select('user_id').where('user_id', '=', user.userId).execute()).length, 0);
    });

    it('DELETE /api/users/me/passkeys/:passkeyId: the passkey stays until a step-up', async () => {
      const user = await staleUser();
      const token = await stepUp(user);
      const authenticator = new SoftwareAuthenticator(PUBLIC_URL);
      const options = await call(app(), 'POST', '/api/users/me/passkeys/options', { token });
      const added = await call(app(), 'POST', '/api/users/me/passkeys', { token, body: { response: authenticator.register(options.body.data) } });
      assert.equal(added.status, 201, JSON.stringify(added.body));
      const url = `/api/users/me/passkeys/${added.body.data.passkeyId}`;
      h().clock.advance(11 * 60);
      refused(await call(app(), 'DELETE', url, { token }));
      assert.equal((await h().db.selectFrom('passkeys').select('id').where('user_id', '=', user.userId).execute()).length, 1);
      const again = await stepUp({ ...user, accessToken: token });
      assert.equal((await call(app(), 'DELETE', url, { token: again })).status, 200);
      assert.equal((await h().db.selectFrom('passkeys').select('id').where('user_id', '=', user.userId).execute()).length, 0);
    });

    it('POST /api/users/me/mfa/recovery-codes: the old set keeps working until a step-up', async () => {
      const user = await staleUser();
      const codes = async () => (await h().db.selectFrom('mfa_recovery_codes').select('code_hash').where('user_id', '=', user.userId).orderBy('code_hash').execute()).map((r) => r.code_hash);
      const before = await codes();
      refused(await call(app(), 'POST', '/api/users/me/mfa/recovery-codes', { token: user.accessToken }));
      assert.deepEqual(await codes(), before);
      assert.equal(await events(user.userId, 'mfa.recovery_codes_renewed'), 0);
      const renewed = await call(app(), 'POST', '/api/users/me/mfa/recovery-codes', { token: await stepUp(user) });
      assert.equal(renewed.status, 200, JSON.stringify(renewed.body));
      assert.notDeepEqual(await codes(), before);
    });

    it('POST /api/users/me/password: the password stays until a step-up', async () => {
      const user = await staleUser();
      const body = { currentPassword: user.password, newPassword: 'another long password' };
      const hash = async () => (await h().db.selectFrom('users').select('password_hash').where('id', '=', user.userId).executeTakeFirstOrThrow()).password_hash;
      const before = await hash();
      refused(await call(app(), 'POST', '/api/users/me/password', { token: user.accessToken, body }));
      assert.equal(await hash(), before);
      assert.equal(await events(user.userId, 'user.password_changed'), 0);
      assert.equal((await call(app(), 'POST', '/api/users/me/password', { token: await stepUp(user), body })).status, 200);
      assert.notEqual(await hash(), before);
    });

    it('POST /api/users/me/api-keys and /api/organisations/:orgId/api-keys: no key until a step-up', async () => {
      const user = await staleUser();
      const body = { name: 'ci', permissions: ['org:read'] };
      const keys = async () => (await h().db.selectFrom('api_keys').select('id').where('user_id', '=', user.userId).execute()).length;
      refused(await call(app(), 'POST', '/api/users/me/api-keys', { token: user.accessToken, body }));
      refused(await call(app(), 'POST', `/api/organisations/${user.personalOrgId}/api-keys`, { token: user.accessToken, body }));
      assert.equal(await keys(), 0);
      const token = await stepUp(user);
      assert.equal((await call(app(), 'POST', '/api/users/me/api-keys', { token, body })).status, 201);
      assert.equal((await call(app(), 'POST', `/api/organisations/${user.personalOrgId}/api-keys`, { token, body })).status, 201);
      assert.equal(await keys(), 2);
    });

    it('POST /api/organisations/:orgId/applications and …/:applicationId/secret: no client and no new secret until a step-up', async () => {
      const user = await staleUser();
      const url = `/api/organisations/${user.personalOrgId}/applications`;
      const body = { name: 'worker', permissions: ['org:read'] };
      refused(await call(app(), 'POST', url, { token: user.accessToken, body }));
      assert.equal((await h().db.selectFrom('applications').select('id').where('organisation_id', '=', user.personalOrgId).execute()).length, 0);
      const token = await stepUp(user);
      const created = await call(app(), 'POST', url, { token, body });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const { applicationId } = created.body.data;
      const secrets = async () => (await h().db.selectFrom('application_secrets').select(['secret_hash', 'expires_at']).where('application_id', '=', applicationId).execute());
      const before = await secrets();

      h().clock.advance(11 * 60);
      refused(await call(app(), 'POST', `${url}/${applicationId}/secret`, { token }));
      assert.deepEqual(await secrets(), before);
      assert.equal(await events(user.userId, 'application.secret_rotated'), 0);
      const rotated = await call(app(), 'POST', `${url}/${applicationId}/secret`, { token: await stepUp({ ...user, accessToken: token }) });
      assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
      assert.equal((await secrets()).length, 2);
    });

    it('PATCH /api/organisations/:orgId with requireMfa: the rule stays until a step-up', async () => {
      const owner = await staleUser();
      const url = `/api/organisations/${owner.personalOrgId}`;
      refused(await call(app(), 'PATCH', url, { token: owner.accessToken, body: { requireMfa: true } }));
      const rule = async () => (await h().db.selectFrom('organisations').select('require_mfa').where('id', '=', owner.personalOrgId).executeTakeFirstOrThrow()).require_mfa;
      assert.equal(await rule(), false);
      // Other changes of the organisation are not step-up routes.
      assert.equal((await call(app(), 'PATCH', url, { token: owner.accessToken, body: { description: 'still mine' } })).status, 200);
      const set = await call(app(), 'PATCH', url, { token: await stepUp(owner), body: { requireMfa: true } });
      assert.equal(set.status, 200, JSON.stringify(set.body));
      assert.equal(set.body.data.requireMfa, true);
      assert.equal(await rule(), true);
    });

    it('POST /api/admin/users/:id/mfa/reset: an admin with a second factor steps up before turning someone’s off', async () => {
      const admin = await enableTotp(app(), h().clock, await registerUser(app()));
      await h().db.updateTable('users').set({ platform_role: 'admin' }).where('id', '=', admin.userId).execute();
      const user: TestUser = await enableTotp(app(), h().clock, await registerUser(app()));
      h().clock.advance(11 * 60);
      const url = `/api/admin/users/${user.userId}/mfa/reset`;
      refused(await call(app(), 'POST', url, { token: admin.accessToken }));
      assert.equal((await h().db.selectFrom('mfa_totp').select('user_id').where('user_id', '=', user.userId).execute()).length, 1);
      assert.equal(await events(admin.userId, 'mfa.disabled'), 0);
      assert.equal((await call(app(), 'POST', url, { token: await stepUp(admin) })).status, 200);
      assert.equal((await h().db.selectFrom('mfa_totp').select('user_id').where('user_id', '=', user.userId).execute()).length, 0);
    });
  },
  SECRET_KEY,
);
