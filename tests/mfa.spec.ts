// Authenticator apps (TOTP) and recovery codes: enrolment, the two-step sign-in, step-up, with real
// codes computed by `otpauth`, on every database target.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { secretBox } from '../src/domain/mfa/secret-box.ts';
import { system } from '../src/domain/principal.ts';
import { sessionsRepo } from '../src/domain/sessions/sessions.repo.ts';
import { assertErrorEnvelope, call, registerUser } from './helpers/api.ts';
import { forEachDatabase, settled } from './helpers/harness.ts';
import { enableTotp, firstStep, nextStep, SECRET_KEY, totpCode } from './helpers/mfa.ts';

forEachDatabase(
  'second factors: authenticator app and recovery codes',
  (h) => {
    const app = () => h().app;
    const verify = (mfaToken: string, body: Record<string, unknown>) => call(app(), 'POST', '/auth/mfa/verify', { body: { mfaToken, ...body } });

    it('enrols an app: a pending secret with its otpauth URI and QR code, confirmed by a code, answering ten recovery codes once', async () => {
      const user = await registerUser(app());
      const none = await call(app(), 'GET', '/api/users/me/mfa', { token: user.accessToken });
      assert.deepEqual(none.body.data, { totp: false, passkeys: 0, recoveryCodesLeft: 0 });

      const started = await call(app(), 'POST', '/api/users/me/mfa/totp', { token: user.accessToken });
      assert.equal(started.status, 201);
      const { secret, otpauthUrl, qrSvg } = started.body.data;
      assert.match(secret, /^[A-Z2-7]{32}$/);
      const url = new URL(otpauthUrl);
      assert.equal(url.protocol, 'otpauth:');
      assert.equal(url.searchParams.get('secret'), secret);
      assert.equal(url.searchParams.get('algorithm'), 'SHA1');
      assert.equal(url.searchParams.get('digits'), '6');
      assert.equal(url.searchParams.get('period'), '30');
      assert.match(qrSvg, /^<svg[\s\S]*<\/svg>\s*$/);
      // Pending: not a factor yet, and sign-in still needs only the password.
      assert.equal((await call(app(), 'GET', '/api/users/me/mfa', { token: user.accessToken })).body.data.totp, false);

      const row = await h().db.selectFrom('mfa_totp').selectAll().where('user_id', '=', user.userId).executeTakeFirstOrThrow();
      assert.ok(!row.secret_ciphertext.includes(secret), 'the secret is stored encrypted');
      assert.equal(row.confirmed_at, null);

      const wrong = await call(app(), 'POST', '/api/users/me/mfa/totp/confirm', { token: user.accessToken, body: { code: '000000' === totpCode(secret, h().clock) ? '111111' : '000000' } });
      assert.equal(wrong.status, 422);
      assert.equal(wrong.body.errors[0].field, 'code');
      const missing = await call(app(), 'POST', '/api/users/me/mfa/totp/confirm', { token: user.accessToken, body: {} });
      assert.equal(missing.status, 422);
      assert.equal(missing.body.errors[0].field, 'code');

      const confirmed = await call(app(), 'POST', '/api/users/me/mfa/totp/confirm', { token: user.accessToken, body: { code: totpCode(secret, h().clock) } });
      assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body));
      const codes: string[] = confirmed.body.data.recoveryCodes;
      assert.equal(codes.length, 10);
      assert.equal(new Set(codes).size, 10);
      for (const code of codes) assert.match(code, /^[a-z0-9]{5}-[a-z0-9]{5}$/);
      const stored = await h().db.selectFrom('mfa_recovery_codes').select('code_hash').where('user_id', '=', user.userId).execute();
      assert.equal(stored.length, 10);
      assert.ok(stored.every((r) => !codes.some((c) => r.code_hash.includes(c.replace('-', '')))), 'codes are stored as digests');

      assert.deepEqual((await call(app(), 'GET', '/api/users/me/mfa', { token: user.accessToken })).body.data, { totp: true, passkeys: 0, recoveryCodesLeft: 10 });
      assertErrorEnvelope(await call(app(), 'POST', '/api/users/me/mfa/totp', { token: user.accessToken }), 409, 'TOTP_ALREADY_ENABLED');

      // One event, audited, mailed, and sent to the platform's webhooks.
      const audit = await h().db.selectFrom('audit_events').select(['action', 'data']).where('target_id', '=', user.userId).where('action', '=', 'mfa.enabled').execute();
      assert.deepEqual(audit.map((a) => a.data), [{ method: 'totp' }]);
      await settled(h().db);
      const mail = await h().db.selectFrom('outbox').select(['subject']).where('recipient', '=', user.email).where('kind', '=', 'second_factor_changed').execute();
      assert.deepEqual(mail.map((m) => m.subject), ['An authenticator app was added to your account']);
    });

    it('signs in in two steps: the password answers an mfaToken and no tokens; a code answers the tokens, with amr and auth_time', async () => {
      const user = await enableTotp(app(), h().clock, await registerUser(app()));
      const login = await call(app(), 'POST', '/auth/login', { body: { email: user.email, password: user.password } });
      assert.equal(login.status, 200);
      assert.equal(login.body.message, 'Second factor required');
      assert.deepEqual(Object.keys(login.body.data).sort(), ['methods', 'mfaRequired', 'mfaToken']);
      assert.deepEqual(login.body.data.methods, ['totp', 'recovery_code']);
      const stored = await h().db.selectFrom('mfa_challenges').select('token_hash').where('user_id', '=', user.userId).execute();
      assert.ok(stored.every((r) => r.token_hash !== login.body.data.mfaToken), 'only its digest is stored');

      nextStep(h().clock);
      const done = await verify(login.body.data.mfaToken, { method: 'totp', code: totpCode(user.secret, h().clock) });
      assert.equal(done.status, 200, JSON.stringify(done.body));
      assert.equal(done.body.message, 'Login successful');
      const claims = decodeJwt(done.body.data.accessToken);
      assert.deepEqual([...(claims.amr as string[])].sort(), ['mfa', 'otp', 'pwd']);
      assert.ok(Math.abs((claims.auth_time as number) - h().clock.now().getTime() / 1000) < 5, 'auth_time is the second step');
      assert.equal((await call(app(), 'GET', '/api/users/me', { token: done.body.data.accessToken })).status, 200);
      // Its refresh keeps the claims.
      const refreshed = await call(app(), 'POST', '/auth/refresh', { body: { refreshToken: done.body.data.refreshToken } });
      assert.equal(refreshed.status, 200);
      assert.deepEqual(decodeJwt(refreshed.body.data.accessToken).amr, claims.amr);
      assert.equal(decodeJwt(refreshed.body.data.accessToken).auth_time, claims.auth_time);

      // The spent mfaToken does nothing more, even with a good code.
      nextStep(h().clock);
      assertErrorEnvelope(await verify(login.body.data.mfaToken, { method: 'totp', code: totpCode(user.secret, h().clock) }), 401, 'INVALID_MFA_TOKEN');
    });

    it('accepts a TOTP code once: replayed in another sign-in it is refused', async () => {
      const user = await enableTotp(app(), h().clock, await registerUser(app()));
      nextStep(h().clock);
      const code = totpCode(user.secret, h().clock);
      assert.equal((await verify(await firstStep(app(), user), { method: 'totp', code })).status, 200);
      assertErrorEnvelope(await verify(await firstStep(app(), user), { method: 'totp', code }), 401, 'INVALID_SECOND_FACTOR');
      // An older code (the step before) is refused too once a later one was used.
      assertErrorEnvelope(await verify(await firstStep(app(), user), { method: 'totp', code: totpCode(user.secret, h().clock, -1) }), 401, 'INVALID_SECOND_FACTOR');
    });

    it('accepts each recovery code once, in any case and spacing', async () => {
      const user = await enableTotp(app(), h().clock, await registerUser(app()));
      const [code] = user.recoveryCodes as [string];
      const done = await verify(await firstStep(app(), user), { method: 'recovery_code', code: ` ${code.toUpperCase().replace('-', ' ')} ` });
      assert.equal(done.status, 200, JSON.stringify(done.body));
      assert.deepEqual([...(decodeJwt(done.body.data.accessToken).amr as string[])].sort(), ['mfa', 'otp', 'pwd']);
      assertErrorEnvelope(await verify(await firstStep(app(), user), { method: 'recovery_code', code }), 401, 'INVALID_SECOND_FACTOR');
      assert.equal((await call(app(), 'GET', '/api/users/me/mfa', { token: done.body.data.accessToken })).body.data.recoveryCodesLeft, 9);
    });

    it('ends an attempt after five wrong codes, and after five minutes', async () => {
      const user = await enableTotp(app(), h().clock, await registerUser(app()));
      const mfaToken = await firstStep(app(), user);
      for (let i = 0; i < 5; i++) assertErrorEnvelope(await verify(mfaToken, { method: 'recovery_code', code: 'wrong-guess' }), 401, 'INVALID_SECOND_FACTOR');
      nextStep(h().clock);
      assertErrorEnvelope(await verify(mfaToken, { method: 'totp', code: totpCode(user.secret, h().clock) }), 401, 'INVALID_MFA_TOKEN');

      const late = await firstStep(app(), user);
      h().clock.advance(5 * 60 + 1);
      assertErrorEnvelope(await verify(late, { method: 'totp', code: totpCode(user.secret, h().clock) }), 401, 'INVALID_MFA_TOKEN');
    });

    it('keeps the organisation the sign-in asked for, and refuses bad input naming the field', async () => {
      const user = await enableTotp(app(), h().clock, await registerUser(app()));
      const mfaToken = await firstStep(app(), user, { orgId: user.personalOrgId });
      const bad = await verify(mfaToken, { method: 'sms', code: '123456' });
      assert.equal(bad.status, 422);
      assert.equal(bad.body.errors[0].field, 'method');
      const noCode = await verify(mfaToken, { method: 'totp' });
      assert.equal(noCode.status, 422);
      assert.equal(noCode.body.errors[0].field, 'code');
      const noToken = await call(app(), 'POST', '/auth/mfa/verify', { body: { method: 'totp', code: '123456' } });
      assert.equal(noToken.status, 422);
      assert.equal(noToken.body.errors[0].field, 'mfaToken');
      nextStep(h().clock);
      const done = await verify(mfaToken, { method: 'totp', code: totpCode(user.secret, h().clock) });
      assert.equal(done.status, 200, JSON.stringify(done.body));
      assert.equal(decodeJwt(done.body.data.accessToken).org_id, user.personalOrgId);
    });

    it('asks for a recent second factor on the step-up routes; POST /auth/step-up refreshes auth_time', async () => {
      const user = await enableTotp(app(), h().clock, await registerUser(app()));
      nextStep(h().clock);
      const signedIn = await verify(await firstStep(app(), user), { method: 'totp', code: totpCode(user.secret, h().clock) });
      const token = signedIn.body.data.accessToken;
      h().clock.advance(11 * 60);
      const stepUpRoutes: Array<[('POST' | 'DELETE'), string, unknown]> = [
        ['DELETE', '/api/users/me/mfa/totp', undefined],
        ['POST', '/api/users/me/mfa/recovery-codes', undefined],
        ['POST', '/api/users/me/password', { currentPassword: user.password, newPassword: 'another long password' }],
        ['POST', '/api/users/me/api-keys', { name: 'ci', permissions: ['org:read'] }],
        ['POST', `/api/organisations/${user.personalOrgId}/api-keys`, { name: 'ci', permissions: ['org:read'] }],
        ['POST', `/api/organisations/${user.personalOrgId}/applications`, { name: 'worker', permissions: ['org:read'] }],
      ];
      for (const [method, url, body] of stepUpRoutes) assertErrorEnvelope(await call(app(), method, url, { token, body }), 403, 'STEP_UP_REQUIRED');

      assertErrorEnvelope(await call(app(), 'POST', '/auth/step-up', { token, body: { method: 'totp', code: '000000' === totpCode(user.secret, h().clock) ? '111111' : '000000' } }), 401, 'INVALID_SECOND_FACTOR');
      const stepped = await call(app(), 'POST', '/auth/step-up', { token, body: { method: 'totp', code: totpCode(user.secret, h().clock) } });
      assert.equal(stepped.status, 200, JSON.stringify(stepped.body));
      const steppedAt = decodeJwt(stepped.body.data.accessToken).auth_time as number;
      assert.ok(steppedAt - (decodeJwt(token).auth_time as number) >= 11 * 60, 'auth_time moved to the step-up');
      assert.equal(decodeJwt(stepped.body.data.accessToken).sid, decodeJwt(token).sid);

      const renewed = await call(app(), 'POST', '/api/users/me/mfa/recovery-codes', { token: stepped.body.data.accessToken });
      assert.equal(renewed.status, 200, JSON.stringify(renewed.body));
      assert.equal(renewed.body.data.recoveryCodes.length, 10);
      // The old set died with the new one.
      assertErrorEnvelope(await verify(await firstStep(app(), user), { method: 'recovery_code', code: user.recoveryCodes[1] }), 401, 'INVALID_SECOND_FACTOR');
      assert.equal((await verify(await firstStep(app(), user), { method: 'recovery_code', code: renewed.body.data.recoveryCodes[0] })).status, 200);

      // Turning the app off (still within ten minutes of the step-up): the password alone signs in again.
      assert.equal((await call(app(), 'DELETE', '/api/users/me/mfa/totp', { token: stepped.body.data.accessToken })).status, 200);
      assert.deepEqual((await call(app(), 'GET', '/api/users/me/mfa', { token: stepped.body.data.accessToken })).body.data, { totp: false, passkeys: 0, recoveryCodesLeft: 0 });
      const plain = await call(app(), 'POST', '/auth/login', { body: { email: user.email, password: user.password } });
      assert.equal(plain.body.message, 'Login successful');
      assert.deepEqual(decodeJwt(plain.body.data.accessToken).amr, ['pwd']);
      const disabled = await h().db.selectFrom('audit_events').select('data').where('target_id', '=', user.userId).where('action', '=', 'mfa.disabled').execute();
      assert.deepEqual(disabled.map((a) => a.data), [{ method: 'totp' }]);
      // Without a factor there is nothing to step up with, and nothing asks for it.
      assertErrorEnvelope(await call(app(), 'POST', '/auth/step-up', { token: plain.body.data.accessToken, body: { method: 'totp', code: '123456' } }), 409, 'NO_SECOND_FACTOR');
      assert.equal((await call(app(), 'POST', '/api/users/me/api-keys', { token: plain.body.data.accessToken, body: { name: 'ci', permissions: ['org:read'] } })).status, 201);
    });

    it('re-encrypts every secret under a new key (rotate-secret-key), refusing anyone but the system', async () => {
      const user = await enableTotp(app(), h().clock, await registerUser(app()));
      const next = secretBox(randomBytes(32));
      await assert.rejects(app().services.mfa.reseal({ kind: 'anonymous', client: { ip: null, userAgent: null } }, next));
      const count = await app().services.mfa.reseal(system('test'), next);
      assert.ok(count >= 1);
      const row = await h().db.selectFrom('mfa_totp').select('secret_ciphertext').where('user_id', '=', user.userId).executeTakeFirstOrThrow();
      assert.equal(next.open(row.secret_ciphertext, user.userId), user.secret);
      assert.equal(await app().services.mfa.reseal(system('test'), next), 0, 'nothing left to do');
    });

    it('opens a password-only session in the statement that checks for a factor: a factor confirmed meanwhile stops it, writing nothing', async () => {
      // What a sign-in does after the password matched, for an account that had no factor when it was
      // looked up and has one when the session is written.
      const user = await enableTotp(app(), h().clock, await registerUser(app()));
      const { sessions, events } = app().services;
      const signIn = (userId: string) => {
        const event = events.rows({ type: 'user.signed_in', actor: { type: 'user', id: userId }, client: { ip: '203.0.113.9', userAgent: 'race' }, subject: { type: 'user', id: userId }, data: {} });
        return sessionsRepo.openForSignIn(h().db, sessions.opening(userId, { ip: '203.0.113.9', userAgent: 'race' }), event, { withoutSecondFactor: true });
      };
      const counts = async (userId: string) => ({
        sessions: Number((await h().db.selectFrom('sessions').select((eb) => eb.fn.countAll().as('n')).where('user_id', '=', userId).executeTakeFirstOrThrow()).n),
        signIns: Number((await h().db.selectFrom('audit_events').select((eb) => eb.fn.countAll().as('n')).where('action', '=', 'user.signed_in').where('target_id', '=', userId).executeTakeFirstOrThrow()).n),
      });
      const before = await counts(user.userId);
      assert.deepEqual(await signIn(user.userId), { opened: false, mailed: false });
      assert.deepEqual(await counts(user.userId), before, 'no session, refresh token or audit row');

      const plain = await registerUser(app());
      const plainBefore = await counts(plain.userId);
      assert.equal((await signIn(plain.userId)).opened, true);
      assert.deepEqual(await counts(plain.userId), { sessions: plainBefore.sessions + 1, signIns: plainBefore.signIns + 1 });
    });
  },
  SECRET_KEY,
);
