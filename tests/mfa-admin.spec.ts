// A platform admin resets the second factors of a user who lost them all: audited, mailed, and the
// password alone signs in again. And a PostgreSQL server without GATEHOUSE_SECRET_KEY: no
// authenticator apps, saying why, while passkeys still work.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { assertErrorEnvelope, call, registerUser } from './helpers/api.ts';
import { forEachDatabase, PUBLIC_URL, settled, startHarness, type Harness } from './helpers/harness.ts';
import { SoftwareAuthenticator } from './helpers/webauthn.ts';
import { enableTotp, SECRET_KEY } from './helpers/mfa.ts';

forEachDatabase(
  'second factors: an admin’s reset',
  (h) => {
    it('removes every factor of a user, audited and mailed; refuses anyone but an admin, another admin and a user without one', async () => {
      const app = h().app;
      const admin = await registerUser(app);
      await h().db.updateTable('users').set({ platform_role: 'admin' }).where('id', '=', admin.userId).execute();
      const user = await enableTotp(app, h().clock, await registerUser(app));
      const url = `/api/admin/users/${user.userId}/mfa/reset`;

      assertErrorEnvelope(await call(app, 'POST', url, { token: user.accessToken }), 403, 'FORBIDDEN');
      const reset = await call(app, 'POST', url, { token: admin.accessToken });
      assert.equal(reset.status, 200, JSON.stringify(reset.body));
      const left = await h().db.selectFrom('mfa_recovery_codes').select('id').where('user_id', '=', user.userId).execute();
      assert.equal(left.length, 0);
      assert.equal((await h().db.selectFrom('mfa_totp').select('user_id').where('user_id', '=', user.userId).execute()).length, 0);
      const login = await call(app, 'POST', '/auth/login', { body: { email: user.email, password: user.password } });
      assert.equal(login.body.message, 'Login successful');

      const audit = await h().db.selectFrom('audit_events').select(['data', 'actor_user_id']).where('target_id', '=', user.userId).where('action', '=', 'mfa.disabled').execute();
      assert.deepEqual(audit, [{ data: { method: 'all', via: 'admin' }, actor_user_id: admin.userId }]);
      await settled(h().db);
      const mail = await h().db.selectFrom('outbox').select('subject').where('recipient', '=', user.email).where('kind', '=', 'second_factor_changed').orderBy('id', 'desc').executeTakeFirstOrThrow();
      assert.equal(mail.subject, 'Your second factors were reset');

      assertErrorEnvelope(await call(app, 'POST', url, { token: admin.accessToken }), 409, 'NO_SECOND_FACTOR');
      assertErrorEnvelope(await call(app, 'POST', `/api/admin/users/${randomUUID()}/mfa/reset`, { token: admin.accessToken }), 404, 'USER_NOT_FOUND');
      const otherAdmin = await enableTotp(app, h().clock, await registerUser(app));
      await h().db.updateTable('users').set({ platform_role: 'admin' }).where('id', '=', otherAdmin.userId).execute();
      assertErrorEnvelope(await call(app, 'POST', `/api/admin/users/${otherAdmin.userId}/mfa/reset`, { token: admin.accessToken }), 403, 'ADMIN_PROTECTED');
    });
  },
  SECRET_KEY,
);

describe('second factors on PostgreSQL without GATEHOUSE_SECRET_KEY', { skip: process.env.TEST_DATABASE_URL ? false : 'needs TEST_DATABASE_URL' }, () => {
  let harness: Harness | undefined;
  before(async () => {
    harness = await startHarness('postgres');
  });
  after(async () => {
    await harness?.close();
  });

  it('turns authenticator apps off with a 403 saying why, and keeps passkeys working', async () => {
    const app = harness!.app;
    const user = await registerUser(app);
    assertErrorEnvelope(await call(app, 'POST', '/api/users/me/mfa/totp', { token: user.accessToken }), 403, 'SECOND_FACTORS_UNAVAILABLE');
    const options = await call(app, 'POST', '/api/users/me/passkeys/options', { token: user.accessToken });
    const added = await call(app, 'POST', '/api/users/me/passkeys', { token: user.accessToken, body: { response: new SoftwareAuthenticator(PUBLIC_URL).register(options.body.data) } });
    assert.equal(added.status, 201, JSON.stringify(added.body));
  });
});
