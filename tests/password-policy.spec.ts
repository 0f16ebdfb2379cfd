// The password policy: GATEHOUSE_PASSWORD_MIN, and GATEHOUSE_PASSWORD_BLOCKLIST=common refusing the
// shipped list of common passwords and the person's own email and name, wherever a password is chosen.
import assert from 'node:assert/strict';
import { after, it } from 'node:test';
import { call, PASSWORD, registerUser, uniqueEmail } from './helpers/api.ts';
import { fingerprint, forEachDatabase, PUBLIC_URL } from './helpers/harness.ts';
import { linkIn, startMailbox } from './helpers/mailbox.ts';

const mailbox = await startMailbox();
after(() => mailbox.stop());

const TOO_COMMON = 'Password is too common: choose one that is harder to guess';
const OWN_DETAILS = 'Password must not be your email address or name';

forEachDatabase(
  'password policy with the common-password blocklist',
  (h) => {
    const app = () => h().app;
    const register = (body: Record<string, unknown>) => call(app(), 'POST', '/auth/register', { body: { firstName: 'Grace', lastName: 'Hopper', email: uniqueEmail('grace'), password: PASSWORD, ...body } });

    it('refuses a common password at registration, in any letter case, and writes nothing', async () => {
      const before = await fingerprint(h().db);
      for (const password of ['password123', 'QwertyUiop', '1234567890', 'iloveyou123']) {
        const answer = await register({ password });
        assert.equal(answer.status, 422, password);
        assert.deepEqual(answer.body, { errors: [{ field: 'password', message: TOO_COMMON }] });
      }
      assert.equal(await fingerprint(h().db), before);
    });

    it('refuses the person’s own email, its local part, username and name', async () => {
      const email = uniqueEmail('ada.lovelace');
      const cases: Array<Record<string, unknown>> = [
        { email, password: email.toUpperCase() },
        { email, password: email.split('@')[0] },
        { username: 'countess_ada', password: 'Countess_Ada' },
        { firstName: 'Augusta', lastName: 'Kingsbury', password: 'augusta kingsbury' },
        { firstName: 'Alexandrina', password: 'ALEXANDRINA' },
      ];
      for (const body of cases) {
        const answer = await register({ email: uniqueEmail('ada'), ...body });
        assert.equal(answer.status, 422, JSON.stringify(body));
        assert.deepEqual(answer.body.errors, [{ field: 'password', message: OWN_DETAILS }]);
      }
    });

    it('accepts an uncommon passphrase', async () => {
      assert.equal((await register({ password: 'correct horse battery staple' })).status, 201);
    });

    it('applies the policy to a password reset, leaving the link usable', async () => {
      const user = await registerUser(app());
      assert.equal((await call(app(), 'POST', '/auth/password/forgot', { body: { email: user.email } })).status, 202);
      const mail = await mailbox.waitFor((m) => m.to.toLowerCase() === user.email.toLowerCase() && m.subject === 'Reset your password');
      const { token } = linkIn(mail, `${PUBLIC_URL}/reset-password?token=`);

      const refused = await call(app(), 'POST', '/auth/password/reset', { body: { token, password: 'football1' } });
      assert.deepEqual(refused.body, { errors: [{ field: 'password', message: TOO_COMMON }] });
      const ownEmail = await call(app(), 'POST', '/auth/password/reset', { body: { token, password: user.email } });
      assert.deepEqual(ownEmail.body, { errors: [{ field: 'password', message: OWN_DETAILS }] });

      assert.equal((await call(app(), 'POST', '/auth/password/reset', { body: { token, password: 'a quiet orchard at dusk' } })).status, 200);
    });

    it('applies the policy to a password change, naming newPassword', async () => {
      const user = await registerUser(app());
      const answer = await call(app(), 'POST', '/api/users/me/password', { token: user.accessToken, body: { currentPassword: PASSWORD, newPassword: 'letmein123' } });
      assert.deepEqual(answer.body, { errors: [{ field: 'newPassword', message: TOO_COMMON }] });
      assert.equal((await call(app(), 'POST', '/auth/login', { body: { email: user.email, password: PASSWORD } })).status, 200);
    });

    it('applies the policy on the compatibility sign-up routes', async () => {
      const saas = await call(app(), 'POST', '/signup', { body: { email: uniqueEmail('saas'), password: 'sunshine1', organization_name: 'Acme' } });
      assert.ok(saas.status === 400 || saas.status === 422, JSON.stringify(saas.body));
      assert.equal(saas.body.message, TOO_COMMON);
    });
  },
  { GATEHOUSE_PASSWORD_BLOCKLIST: 'common', SMTP_URL: mailbox.url },
);

forEachDatabase(
  'password policy without the blocklist, with a longer minimum',
  (h) => {
    const register = (password: string) => call(h().app, 'POST', '/auth/register', { body: { firstName: 'Ann', lastName: 'Lee', email: uniqueEmail('min'), password } });

    it('counts the minimum in characters and names the field', async () => {
      const short = await register('ééééééééééé');
      assert.deepEqual(short.body.errors?.map((e: { field: string }) => e.field), ['password']);
      assert.equal(short.status, 422);
      assert.equal((await register('éééééééééééé')).status, 201);
    });

    it('accepts a common password when the blocklist is off (the default)', async () => {
      assert.equal((await register('password123456')).status, 201);
    });
  },
  { GATEHOUSE_PASSWORD_MIN: '12' },
);
