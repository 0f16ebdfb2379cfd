// One matrix of every way into an account: with a second factor on, none of them gives tokens for the
// password alone. The core API answers an mfaToken, the seed-compatible sets their own 401, the
// invitation acceptance of the `saas` set a 401, and a session that predates the factor is over.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { it } from 'node:test';
import { call, registerUser, type Answer } from './helpers/api.ts';
import { forEachDatabase } from './helpers/harness.ts';
import { enableTotp, mailedToken } from './helpers/mfa.ts';

/** No access token anywhere in an answer: its body or its headers. */
function noTokens(answer: Answer, label: string) {
  const text = `${JSON.stringify(answer.body)} ${JSON.stringify(answer.headers)}`;
  assert.doesNotMatch(text, /eyJ[\w-]+\.eyJ[\w-]+\.[\w-]+/, `${label}: a JWT in the answer`);
  assert.doesNotMatch(text, /"(access_token|accessToken|refreshToken|refresh_token)"/, `${label}: a token field in the answer`);
}

forEachDatabase(
  'second factors: every way in without one fails',
  (h) => {
    const app = () => h().app;

    it('gives no tokens for the password alone through any route set, the invitation acceptance or an older session', async () => {
      const username = `mfa_${randomBytes(4).toString('hex')}`;
      const before = await registerUser(app(), { username });
      // A second session opened with the password alone, before the factor.
      const older = await call(app(), 'POST', '/auth/login', { body: { email: before.email, password: before.password } });
      assert.equal(older.status, 200);
      const user = await enableTotp(app(), h().clock, before);

      const owner = await registerUser(app());
      const invited = await call(app(), 'POST', `/api/organisations/${owner.personalOrgId}/invitations`, { token: owner.accessToken, body: { email: user.email, role: 'member' } });
      assert.equal(invited.status, 201, JSON.stringify(invited.body));
      const inviteToken = await mailedToken(h().db, user.email, 'invitation', '/accept-invite');

      const ways: Array<{ label: string; answer: () => Promise<Answer>; expect: (a: Answer) => void }> = [
        {
          label: 'core POST /auth/login (also the invitation page’s sign-in)',
          answer: () => call(app(), 'POST', '/auth/login', { body: { email: user.email, password: user.password } }),
          expect: (a) => {
            assert.equal(a.status, 200);
            assert.equal(a.body.data.mfaRequired, true);
          },
        },
        {
          label: 'core POST /auth/login by username',
          answer: () => call(app(), 'POST', '/auth/login', { body: { username, password: user.password } }),
          expect: (a) => assert.equal(a.body.data.mfaRequired, true),
        },
        {
          label: 'saas POST /signin',
          answer: () => call(app(), 'POST', '/signin', { body: { email: user.email, password: user.password } }),
          expect: (a) => {
            assert.equal(a.status, 401);
            assert.deepEqual(Object.keys(a.body), ['message']);
            assert.match(a.body.message, /second factor/i);
          },
        },
        {
          label: 'user-api POST /api/user/login',
          answer: () => call(app(), 'POST', '/api/user/login', { body: { username, password: user.password } }),
          expect: (a) => {
            assert.equal(a.status, 401);
            assert.deepEqual(Object.keys(a.body), ['msg']);
            assert.match(a.body.msg, /second factor/i);
          },
        },
        {
          label: 'basic POST /login',
          answer: () => call(app(), 'POST', '/login', { body: { username, password: user.password } }),
          expect: (a) => {
            assert.equal(a.status, 401);
            assert.deepEqual(Object.keys(a.body), ['message']);
            assert.match(a.body.message, /second factor/i);
          },
        },
        {
          label: 'saas POST /accept-invite with the password',
          answer: () => call(app(), 'POST', '/accept-invite', { body: { token: inviteToken, password: user.password } }),
          expect: (a) => {
            assert.equal(a.status, 401);
            assert.match(a.body.message, /second factor/i);
          },
        },
        {
          label: 'refresh of an older password-only session',
          answer: () => call(app(), 'POST', '/auth/refresh', { body: { refreshToken: older.body.data.refreshToken } }),
          expect: (a) => assert.equal(a.status, 401),
        },
        {
          label: 'the access token of an older password-only session',
          answer: () => call(app(), 'GET', '/api/users/me', { token: older.body.data.accessToken }),
          expect: (a) => assert.equal(a.status, 401),
        },
        {
          label: 'an mfaToken as a Bearer token',
          answer: async () => {
            const first = await call(app(), 'POST', '/auth/login', { body: { email: user.email, password: user.password } });
            return call(app(), 'GET', '/api/users/me', { token: first.body.data.mfaToken });
          },
          expect: (a) => assert.equal(a.status, 401),
        },
        {
          label: 'POST /auth/mfa/verify without a factor',
          answer: async () => {
            const first = await call(app(), 'POST', '/auth/login', { body: { email: user.email, password: user.password } });
            return call(app(), 'POST', '/auth/mfa/verify', { body: { mfaToken: first.body.data.mfaToken, method: 'recovery_code', code: 'aaaaa-aaaaa' } });
          },
          expect: (a) => assert.equal(a.status, 401),
        },
        {
          label: 'a password reset, then the new password',
          answer: async () => {
            assert.equal((await call(app(), 'POST', '/auth/password/forgot', { body: { email: user.email } })).status, 202);
            const token = await mailedToken(h().db, user.email, 'password_reset', '/reset-password');
            assert.equal((await call(app(), 'POST', '/auth/password/reset', { body: { token, password: 'a whole new password' } })).status, 200);
            return call(app(), 'POST', '/auth/login', { body: { email: user.email, password: 'a whole new password' } });
          },
          expect: (a) => assert.equal(a.body.data.mfaRequired, true),
        },
      ];
      for (const way of ways) {
        const answer = await way.answer();
        way.expect(answer);
        noTokens(answer, way.label);
      }
      // Nobody joined the organisation through the refused acceptance.
      const joined = await h().db.selectFrom('members').select('id').where('organisation_id', '=', owner.personalOrgId).where('user_id', '=', user.userId).execute();
      assert.equal(joined.length, 0);
      // The older session is over, not merely refused once.
      const session = await h().db.selectFrom('sessions').select(['revoked_at']).where('user_id', '=', user.userId).where('revoked_at', 'is', null).execute();
      assert.equal(session.length, 0, 'the password reset ended every session');
    });

    it('refuses to refresh a password-only session of an account with a factor, even one that was never ended, and ends it', async () => {
      const before = await registerUser(app());
      const older = await call(app(), 'POST', '/auth/login', { body: { email: before.email, password: before.password } });
      await enableTotp(app(), h().clock, before);
      const { sid } = JSON.parse(Buffer.from(older.body.data.accessToken.split('.')[1], 'base64url').toString()) as { sid: string };
      // As if the node that added the factor had not ended it.
      await h().db.updateTable('sessions').set({ revoked_at: null, revoked_reason: null }).where('id', '=', sid).execute();
      const refreshed = await call(app(), 'POST', '/auth/refresh', { body: { refreshToken: older.body.data.refreshToken } });
      assert.equal(refreshed.status, 401);
      noTokens(refreshed, 'refresh');
      const row = await h().db.selectFrom('sessions').select(['revoked_reason']).where('id', '=', sid).executeTakeFirstOrThrow();
      assert.equal(row.revoked_reason, 'second_factor_required');
    });
  },
  { GATEHOUSE_SECRET_KEY: randomBytes(32).toString('base64') },
);
