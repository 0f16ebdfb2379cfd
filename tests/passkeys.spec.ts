// Passkeys with a software authenticator (tests/helpers/webauthn.ts): registration, the list, as a
// second factor, passwordless, step-up, and the refusals: another account's passkey, a counter that
// goes back, a replayed response, a passwordless answer without user verification.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { decodeJwt } from 'jose';
import type { App } from '../src/app.ts';
import { assertErrorEnvelope, call, registerUser, type TestUser } from './helpers/api.ts';
import { forEachDatabase, PUBLIC_URL, settled } from './helpers/harness.ts';
import { firstStep, SECRET_KEY } from './helpers/mfa.ts';
import { SoftwareAuthenticator } from './helpers/webauthn.ts';

async function addPasskey(app: App, user: TestUser, name?: string) {
  const authenticator = new SoftwareAuthenticator(PUBLIC_URL);
  const options = await call(app, 'POST', '/api/users/me/passkeys/options', { token: user.accessToken });
  assert.equal(options.status, 200, JSON.stringify(options.body));
  const added = await call(app, 'POST', '/api/users/me/passkeys', { token: user.accessToken, body: { response: authenticator.register(options.body.data), ...(name ? { name } : {}) } });
  assert.equal(added.status, 201, JSON.stringify(added.body));
  return { authenticator, passkeyId: added.body.data.passkeyId as string, body: added.body.data };
}

forEachDatabase(
  'passkeys',
  (h) => {
    const app = () => h().app;
    const secondStep = async (user: TestUser, authenticator: SoftwareAuthenticator, options: { counter?: number } = {}) => {
      const mfaToken = await firstStep(app(), user);
      const challenge = await call(app(), 'POST', '/auth/mfa/webauthn/options', { body: { mfaToken } });
      assert.equal(challenge.status, 200, JSON.stringify(challenge.body));
      return call(app(), 'POST', '/auth/mfa/verify', { body: { mfaToken, method: 'webauthn', response: authenticator.authenticate(challenge.body.data, options) } });
    };

    it('registers a passkey from the options (relying party from PUBLIC_URL), lists, renames it, and records, audits and mails the change', async () => {
      const user = await registerUser(app());
      const options = await call(app(), 'POST', '/api/users/me/passkeys/options', { token: user.accessToken });
      assert.equal(options.body.data.rp.id, 'gatehouse.test');
      assert.equal(options.body.data.attestation, 'none');
      const authenticator = new SoftwareAuthenticator(PUBLIC_URL);
      // An answer made for another origin is refused, naming the field.
      const foreign = await call(app(), 'POST', '/api/users/me/passkeys', { token: user.accessToken, body: { response: authenticator.register(options.body.data, { origin: 'https://evil.test' }) } });
      assert.equal(foreign.status, 422);
      assert.equal(foreign.body.errors[0].field, 'response');

      const { passkeyId, body } = await addPasskey(app(), user, 'Laptop');
      assert.deepEqual(Object.keys(body).sort(), ['createdAt', 'name', 'passkeyId']);
      assert.equal(body.name, 'Laptop');
      assert.deepEqual((await call(app(), 'GET', '/api/users/me/mfa', { token: user.accessToken })).body.data, { totp: false, passkeys: 1, recoveryCodesLeft: 0 });
      const renamed = await call(app(), 'PATCH', `/api/users/me/passkeys/${passkeyId}`, { token: user.accessToken, body: { name: 'Work laptop' } });
      assert.equal(renamed.status, 200, JSON.stringify(renamed.body));
      const list = await call(app(), 'GET', '/api/users/me/passkeys', { token: user.accessToken });
      assert.deepEqual(list.body.data.passkeys.map((p: { name: string; deviceType: string }) => [p.name, p.deviceType]), [['Work laptop', 'singleDevice']]);
      const emptyName = await call(app(), 'PATCH', `/api/users/me/passkeys/${passkeyId}`, { token: user.accessToken, body: { name: '' } });
      assert.equal(emptyName.status, 422);
      assert.equal(emptyName.body.errors[0].field, 'name');

      const other = await registerUser(app());
      assertErrorEnvelope(await call(app(), 'PATCH', `/api/users/me/passkeys/${passkeyId}`, { token: other.accessToken, body: { name: 'mine now' } }), 404, 'PASSKEY_NOT_FOUND');
      assertErrorEnvelope(await call(app(), 'DELETE', `/api/users/me/passkeys/${passkeyId}`, { token: other.accessToken }), 404, 'PASSKEY_NOT_FOUND');

      const audit = await h().db.selectFrom('audit_events').select('data').where('target_id', '=', user.userId).where('action', '=', 'mfa.enabled').execute();
      assert.deepEqual(audit.map((a) => a.data), [{ method: 'passkey', passkeyId }]);
      await settled(h().db);
      const mail = await h().db.selectFrom('outbox').select('subject').where('recipient', '=', user.email).where('kind', '=', 'second_factor_changed').execute();
      assert.deepEqual(mail.map((m) => m.subject), ['A passkey was added to your account']);
    });

    it('signs in with a passkey as the second factor; another account’s passkey, a replayed answer and a counter that goes back are refused', async () => {
      const user = await registerUser(app());
      const { authenticator } = await addPasskey(app(), user);
      const login = await call(app(), 'POST', '/auth/login', { body: { email: user.email, password: user.password } });
      assert.deepEqual(login.body.data.methods, ['webauthn']);
      const done = await secondStep(user, authenticator);
      assert.equal(done.status, 200, JSON.stringify(done.body));
      assert.deepEqual([...(decodeJwt(done.body.data.accessToken).amr as string[])].sort(), ['hwk', 'mfa', 'pwd']);

      // Another account's passkey, against this account's attempt.
      const stranger = await registerUser(app());
      const strangers = await addPasskey(app(), stranger);
      assertErrorEnvelope(await secondStep(user, strangers.authenticator), 401, 'INVALID_SECOND_FACTOR');

      // The same answer twice: its challenge is spent.
      const mfaToken = await firstStep(app(), user);
      const options = await call(app(), 'POST', '/auth/mfa/webauthn/options', { body: { mfaToken } });
      const answer = authenticator.authenticate(options.body.data);
      assert.equal((await call(app(), 'POST', '/auth/mfa/verify', { body: { mfaToken, method: 'webauthn', response: answer } })).status, 200);
      assertErrorEnvelope(await call(app(), 'POST', '/auth/mfa/verify', { body: { mfaToken: await firstStep(app(), user), method: 'webauthn', response: answer } }), 401, 'INVALID_SECOND_FACTOR');

      // A counter that goes back (a cloned authenticator).
      assertErrorEnvelope(await secondStep(user, authenticator, { counter: 1 }), 401, 'INVALID_SECOND_FACTOR');
      assert.equal((await secondStep(user, authenticator, { counter: 1000 })).status, 200);
    });

    it('signs in without a password with a discoverable passkey that verified its user', async () => {
      const user = await registerUser(app());
      const { authenticator } = await addPasskey(app(), user);
      const options = await call(app(), 'POST', '/auth/passkey/options');
      assert.equal(options.status, 200);
      assert.equal(options.body.data.userVerification, 'required');
      assert.deepEqual(options.body.data.allowCredentials ?? [], []);
      const done = await call(app(), 'POST', '/auth/passkey/verify', { body: { response: authenticator.authenticate(options.body.data) } });
      assert.equal(done.status, 200, JSON.stringify(done.body));
      assert.equal(done.body.data.user.userId, user.userId);
      assert.deepEqual([...(decodeJwt(done.body.data.accessToken).amr as string[])].sort(), ['hwk', 'mfa']);

      const unverified = await call(app(), 'POST', '/auth/passkey/options');
      assertErrorEnvelope(await call(app(), 'POST', '/auth/passkey/verify', { body: { response: authenticator.authenticate(unverified.body.data, { userVerified: false }) } }), 401, 'AUTHENTICATION_FAILED');
      const unknown = new SoftwareAuthenticator(PUBLIC_URL);
      const again = await call(app(), 'POST', '/auth/passkey/options');
      assertErrorEnvelope(await call(app(), 'POST', '/auth/passkey/verify', { body: { response: unknown.authenticate(again.body.data) } }), 401, 'AUTHENTICATION_FAILED');
      const bad = await call(app(), 'POST', '/auth/passkey/verify', { body: {} });
      assert.equal(bad.status, 422);
      assert.equal(bad.body.errors[0].field, 'response');
    });

    it('steps up with a passkey, and removing the last one (step-up) lets the password alone sign in again', async () => {
      const user = await registerUser(app());
      const { authenticator, passkeyId } = await addPasskey(app(), user);
      h().clock.advance(11 * 60);
      assertErrorEnvelope(await call(app(), 'DELETE', `/api/users/me/passkeys/${passkeyId}`, { token: user.accessToken }), 403, 'STEP_UP_REQUIRED');
      const options = await call(app(), 'POST', '/auth/step-up/webauthn/options', { token: user.accessToken });
      assert.equal(options.status, 200, JSON.stringify(options.body));
      const stepped = await call(app(), 'POST', '/auth/step-up', { token: user.accessToken, body: { method: 'webauthn', response: authenticator.authenticate(options.body.data) } });
      assert.equal(stepped.status, 200, JSON.stringify(stepped.body));
      assert.equal((await call(app(), 'DELETE', `/api/users/me/passkeys/${passkeyId}`, { token: stepped.body.data.accessToken })).status, 200);
      const plain = await call(app(), 'POST', '/auth/login', { body: { email: user.email, password: user.password } });
      assert.equal(plain.body.message, 'Login successful');
    });

    it('sweeps sign-in attempts and WebAuthn challenges past their expiry in the periodic housekeeping, keeping live ones', async () => {
      const user = await registerUser(app());
      const { authenticator } = await addPasskey(app(), user);
      const attempts = async () => (await h().db.selectFrom('mfa_challenges').select('id').where('user_id', '=', user.userId).orderBy('created_at').execute()).map((r) => r.id);
      const challenges = async (values: string[]) =>
        (await h().db.selectFrom('webauthn_challenges').select('challenge').where('challenge', 'in', values).orderBy('challenge').execute()).map((r) => r.challenge);

      const oldToken = await firstStep(app(), user);
      const oldOptions = (await call(app(), 'POST', '/auth/mfa/webauthn/options', { body: { mfaToken: oldToken } })).body.data;
      const oldSecondFactor = oldOptions.challenge as string;
      const oldPasswordless = (await call(app(), 'POST', '/auth/passkey/options')).body.data.challenge as string;
      const [oldAttempt] = await attempts();
      h().clock.advance(5 * 60 + 1);
      const liveToken = await firstStep(app(), user);
      const liveOptions = (await call(app(), 'POST', '/auth/mfa/webauthn/options', { body: { mfaToken: liveToken } })).body.data;
      const liveSecondFactor = liveOptions.challenge as string;
      const livePasswordless = (await call(app(), 'POST', '/auth/passkey/options')).body.data.challenge as string;
      const all = [oldSecondFactor, oldPasswordless, liveSecondFactor, livePasswordless];
      assert.equal((await attempts()).length, 2);
      assert.equal((await challenges(all)).length, 4);

      await app().housekeeping();
      const left = await attempts();
      assert.equal(left.length, 1);
      assert.notEqual(left[0], oldAttempt);
      assert.deepEqual(await challenges(all), [liveSecondFactor, livePasswordless].sort());
      // What was swept was already refused; what is left still works.
      assertErrorEnvelope(await call(app(), 'POST', '/auth/mfa/verify', { body: { mfaToken: oldToken, method: 'webauthn', response: authenticator.authenticate(oldOptions) } }), 401);
      const done = await call(app(), 'POST', '/auth/mfa/verify', { body: { mfaToken: liveToken, method: 'webauthn', response: authenticator.authenticate(liveOptions) } });
      assert.equal(done.status, 200, JSON.stringify(done.body));
      // Gatehouse alone sweeps.
      await assert.rejects(app().services.mfa.sweepExpired({ kind: 'anonymous', client: { ip: null, userAgent: null } }), { code: 'FORBIDDEN' });
    });
  },
  SECRET_KEY,
);
