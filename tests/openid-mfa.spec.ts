// The OpenID Provider's hosted sign-in and second factors, driven by openid-client through a browser
// without script (Navigator): an account with a second factor is asked for it after its password, as
// the API's sign-in does (the same attempt, `mfaToken`, in the form), and nothing — no session, code or
// token — comes of the password alone, a wrong code or a spent attempt. The ID token says how the
// person signed in (`amr`) and when (`auth_time`, the Gatehouse session's).
import assert from 'node:assert/strict';
import { it } from 'node:test';
import * as oidc from 'openid-client';
import { PASSWORD, registerUser } from './helpers/api.ts';
import { forEachDatabase, type Harness } from './helpers/harness.ts';
import { enableTotp, nextStep, SECRET_KEY, totpCode } from './helpers/mfa.ts';
import { authorizationRequest, firstPartyRelyingParty, freePort, Navigator } from './helpers/relying-party.ts';

const PORT = await freePort();
const BASE = `http://127.0.0.1:${PORT}`;
const RP = 'http://rp.test';
const CALLBACK = `${RP}/callback`;

forEachDatabase(
  'the OpenID Provider and second factors',
  (h) => {
    const relyingParty = firstPartyRelyingParty(h, PORT, CALLBACK);

    const sessionsOf = (harness: Harness, userId: string) => harness.db.selectFrom('sessions').select(['id', 'amr', 'auth_time', 'created_at']).where('user_id', '=', userId).orderBy('created_at').execute();
    const issued = (harness: Harness) => harness.db.selectFrom('oidc_payloads').select('model').where('model', 'in', ['AuthorizationCode', 'AccessToken', 'RefreshToken']).execute();

    it('asks for the authenticator app’s code after the password; a wrong code is refused; the right one gives an ID token with amr and auth_time', async () => {
      const config = await relyingParty();
      const user = await enableTotp(h().app, h().clock, await registerUser(h().app));
      nextStep(h().clock);
      const sessionsBefore = await sessionsOf(h(), user.userId);
      const issuedBefore = await issued(h());

      const request = await authorizationRequest(config, CALLBACK);
      const navigator = new Navigator(RP);
      const signInPage = await navigator.go(request.url.href);
      const second = await navigator.submit(signInPage, '/login', { email: user.email, password: PASSWORD });
      assert.equal(second.callback, null, 'sent back to the application without the second factor');
      assert.equal(second.status, 200);
      assert.match(second.html, /<h1>Second step<\/h1>/);
      assert.match(second.html, /<label for="code">/);
      // The password alone: no session, no code, no token.
      assert.deepEqual(await sessionsOf(h(), user.userId), sessionsBefore);
      assert.deepEqual(await issued(h()), issuedBefore);

      const wrong = await navigator.submit(second, '/mfa', { code: totpCode(user.secret, h().clock) === '000000' ? '111111' : '000000' });
      assert.equal(wrong.callback, null);
      assert.match(wrong.html, /That code is not right/);
      assert.deepEqual(await sessionsOf(h(), user.userId), sessionsBefore);
      assert.deepEqual(await issued(h()), issuedBefore);
      const failures = await h().db.selectFrom('mfa_challenges').select('failures').where('user_id', '=', user.userId).orderBy('created_at', 'desc').executeTakeFirstOrThrow();
      assert.equal(failures.failures, 1, 'a wrong code counts against the attempt');

      const done = await navigator.submit(wrong, '/mfa', { code: totpCode(user.secret, h().clock) });
      assert.ok(done.callback, done.html);
      const tokens = await oidc.authorizationCodeGrant(config, done.callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce, idTokenExpected: true });
      const claims = tokens.claims()!;
      assert.equal(claims.sub, user.userId);
      assert.deepEqual([...(claims.amr as string[])].sort(), ['mfa', 'otp', 'pwd']);
      const opened = (await sessionsOf(h(), user.userId)).filter((s) => !sessionsBefore.some((b) => b.id === s.id));
      assert.equal(opened.length, 1, 'one Gatehouse session for the sign-in');
      assert.deepEqual([...opened[0]!.amr].sort(), ['mfa', 'otp', 'pwd']);
      assert.equal(claims.auth_time, Math.floor(opened[0]!.auth_time.getTime() / 1000), 'auth_time is the sign-in’s');
      const events = await h().db.selectFrom('audit_events').select('action').where('actor_user_id', '=', user.userId).where('action', '=', 'user.signed_in').execute();
      assert.ok(events.length >= 1, 'the sign-in is recorded');

      // The attempt is spent: its form, posted again in a new sign-in, leads back to the password.
      const again = await authorizationRequest(config, CALLBACK);
      const againPage = await navigator.go(again.url.href);
      assert.ok(againPage.callback, 'signed in already: straight back to the application');
      const fresh = new Navigator(RP);
      const freshPage = await fresh.go((await authorizationRequest(config, CALLBACK)).url.href);
      const csrf = /name="csrf" value="([^"]+)"/.exec(freshPage.html)![1]!;
      const mfaToken = /name="mfaToken" value="([^"]+)"/.exec(second.html)![1]!;
      const uid = /action="\/interaction\/([^/]+)\/login"/.exec(freshPage.html)![1]!;
      nextStep(h().clock);
      const replay = await fresh.go(`${BASE}/interaction/${uid}/mfa`, { method: 'POST', form: { csrf, mfaToken, code: totpCode(user.secret, h().clock) } });
      assert.equal(replay.callback, null);
      assert.match(replay.html, /already used\. Sign in again/);
      assert.match(replay.html, /name="password"/);
    });

    it('takes a recovery code as the second step, once', async () => {
      const config = await relyingParty();
      const user = await enableTotp(h().app, h().clock, await registerUser(h().app));
      const request = await authorizationRequest(config, CALLBACK, 'openid');
      const navigator = new Navigator(RP);
      const second = await navigator.submit(await navigator.go(request.url.href), '/login', { email: user.email, password: PASSWORD });
      const done = await navigator.submit(second, '/mfa', { code: user.recoveryCodes[0]! });
      assert.ok(done.callback, done.html);
      const tokens = await oidc.authorizationCodeGrant(config, done.callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce, idTokenExpected: true });
      assert.deepEqual([...(tokens.claims()!.amr as string[])].sort(), ['mfa', 'otp', 'pwd']);

      const other = new Navigator(RP);
      const second2 = await other.submit(await other.go((await authorizationRequest(config, CALLBACK, 'openid')).url.href), '/login', { email: user.email, password: PASSWORD });
      const refused = await other.submit(second2, '/mfa', { code: user.recoveryCodes[0]! });
      assert.equal(refused.callback, null, 'a recovery code is good once');
      assert.match(refused.html, /That code is not right/);
    });

    it('refuses a second-step form from another site or without its anti-forgery token, and a malformed one with a 422', async () => {
      const config = await relyingParty();
      const user = await enableTotp(h().app, h().clock, await registerUser(h().app));
      const navigator = new Navigator(RP);
      const second = await navigator.submit(await navigator.go((await authorizationRequest(config, CALLBACK)).url.href), '/login', { email: user.email, password: PASSWORD });
      const action = /action="(\/interaction\/[^"]+\/mfa)"/.exec(second.html)![1]!;
      const mfaToken = /name="mfaToken" value="([^"]+)"/.exec(second.html)![1]!;
      const cookie = [...navigator.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
      const post = (form: Record<string, string>, headers: Record<string, string> = {}) =>
        fetch(`${BASE}${action}`, { method: 'POST', redirect: 'manual', headers: { cookie, 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(form).toString() });
      assert.equal((await post({ csrf: 'forged', mfaToken, code: '123456' })).status, 403);
      const csrf = /name="csrf" value="([^"]+)"/.exec(second.html)![1]!;
      assert.equal((await post({ csrf, mfaToken, code: '123456' }, { 'sec-fetch-site': 'cross-site' })).status, 403);
      const malformed = await post({ csrf, mfaToken, method: 'sms' });
      assert.equal(malformed.status, 422);
      assert.match(await malformed.text(), /method/);
    });
  },
  { ...SECRET_KEY, PUBLIC_URL: BASE },
);
