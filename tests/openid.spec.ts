// Gatehouse as an OpenID Provider, seen by a relying party built on openid-client over real HTTP:
// the discovery document and key set, the authorization code flow with PKCE through the hosted pages
// (driven without script here; tests/openid-browser.spec.ts drives them in Chromium), userinfo,
// refresh, logout, and the ways a flow must fail.
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { it } from 'node:test';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { call, PASSWORD, registerUser, type Answer, type TestUser } from './helpers/api.ts';
import { forEachDatabase } from './helpers/harness.ts';
import { hashOpaqueToken } from '../src/domain/sessions/opaque-tokens.ts';
import { authorizationRequest, discover, freePort, makeAdmin, Navigator, registerClient, type RegisteredClient } from './helpers/relying-party.ts';

const PORT = await freePort();
const BASE = `http://127.0.0.1:${PORT}`;
const RP = 'http://rp.test';

/** openid-client's refusal, whose cause names the parameter that did not match. */
const mentions = (parameter: string) => (error: Error & { cause?: { message?: string } }) => error.message.includes(parameter) || (error.cause?.message ?? '').includes(parameter);
const CALLBACK = `${RP}/callback`;

forEachDatabase(
  'the OpenID Provider',
  (h) => {
    const app = () => h().app;
    let listening = false;
    let admin: TestUser | undefined;

    async function base(): Promise<string> {
      if (!listening) {
        await app().listen({ port: PORT, host: '127.0.0.1' });
        listening = true;
      }
      return BASE;
    }

    async function adminToken() {
      admin ??= await makeAdmin(app(), h().db);
      return admin.accessToken;
    }

    async function client(overrides: Record<string, unknown> = {}): Promise<RegisteredClient> {
      return registerClient(app(), await adminToken(), { name: 'Notes', redirectUris: [CALLBACK], postLogoutRedirectUris: [`${RP}/goodbye`], type: 'confidential', ...overrides });
    }

    /** Signs `user` in through the hosted pages and allows the client; returns the callback URL. */
    async function signIn(navigator: Navigator, url: URL, user: TestUser, { consent = true } = {}) {
      const signInPage = await navigator.go(url.href);
      assert.equal(signInPage.status, 200, signInPage.html);
      assert.match(signInPage.html, /<h1>Sign in<\/h1>/);
      let page = await navigator.submit(signInPage, '/login', { email: user.email, password: PASSWORD });
      if (consent) {
        assert.equal(page.status, 200, page.html);
        assert.match(page.html, /<h1>Allow access<\/h1>/);
        page = await navigator.submit(page, '/consent');
      }
      assert.ok(page.callback, `not sent back to the application: ${page.status} ${page.html}`);
      return page.callback;
    }

    it('publishes a complete, true discovery document that openid-client accepts, and one key set with RS256 and EdDSA keys', async () => {
      const discovery = (await (await fetch(`${await base()}/.well-known/openid-configuration`)).json()) as Answer['body'];
      assert.equal(discovery.issuer, BASE);
      for (const [field, path] of Object.entries({ authorization_endpoint: '/oidc/auth', token_endpoint: '/oidc/token', userinfo_endpoint: '/oidc/me', end_session_endpoint: '/oidc/session/end', jwks_uri: '/.well-known/jwks.json', revocation_endpoint: '/oidc/token/revocation' })) {
        assert.equal(discovery[field], `${BASE}${path}`, field);
      }
      assert.deepEqual(discovery.response_types_supported, ['code']);
      assert.deepEqual(discovery.subject_types_supported, ['public']);
      assert.deepEqual(discovery.id_token_signing_alg_values_supported, ['RS256']);
      assert.deepEqual(discovery.code_challenge_methods_supported, ['S256']);
      assert.deepEqual([...discovery.grant_types_supported].sort(), ['authorization_code', 'refresh_token']);
      for (const scope of ['openid', 'profile', 'email', 'offline_access']) assert.ok(discovery.scopes_supported.includes(scope), scope);
      for (const claim of ['sub', 'email', 'email_verified', 'name']) assert.ok(discovery.claims_supported.includes(claim), claim);
      assert.equal(discovery.registration_endpoint, undefined, 'dynamic registration is off');
      assert.equal(discovery.introspection_endpoint, undefined);

      const jwks = (await (await fetch(discovery.jwks_uri)).json()) as Answer['body'];
      const algs = new Set(jwks.keys.map((key: { alg: string }) => key.alg));
      assert.ok(algs.has('RS256') && algs.has('EdDSA'), JSON.stringify(jwks));
      for (const key of jwks.keys) for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) assert.ok(!(secret in key), `a published key has "${secret}"`);
      const config = await discover(BASE, await client());
      assert.equal(config.serverMetadata().issuer, BASE);
    });

    it('signs a person in with the code flow and PKCE through the hosted pages: ID token (RS256), userinfo, refresh, logout', async () => {
      const registered = await client();
      const config = await discover(await base(), registered);
      const user = await registerUser(app());
      const request = await authorizationRequest(config, CALLBACK);
      const navigator = new Navigator(RP);
      const callback = await signIn(navigator, request.url, user);
      assert.equal(callback.searchParams.get('state'), request.state);
      assert.equal(callback.searchParams.get('iss'), BASE);

      const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce, idTokenExpected: true });
      assert.equal(decodeProtectedHeader(tokens.id_token!).alg, 'RS256');
      const { payload } = await jwtVerify(tokens.id_token!, createRemoteJWKSet(new URL(`${BASE}/.well-known/jwks.json`)), { issuer: BASE, audience: registered.clientId, algorithms: ['RS256'] });
      assert.equal(payload.sub, user.userId);
      assert.equal(payload.nonce, request.nonce);
      assert.ok(tokens.refresh_token, 'offline_access gives a refresh token');
      assert.equal(tokens.scope, 'openid email profile offline_access');

      const info = await oidc.fetchUserInfo(config, tokens.access_token, user.userId);
      assert.equal(info.sub, user.userId);
      assert.equal(info.email, user.email);
      assert.equal(info.email_verified, false);

      const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
      assert.notEqual(refreshed.access_token, tokens.access_token);
      assert.equal(refreshed.claims()?.sub, user.userId);
      // Refresh tokens rotate: the spent one is refused.
      await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token!), (error: oidc.ResponseBodyError) => error.error === 'invalid_grant');

      // The provider's session is bound to a Gatehouse session, listed like any other.
      const sessions = await h().db.selectFrom('sessions').select(['id', 'revoked_at']).where('user_id', '=', user.userId).execute();
      assert.equal(sessions.filter((s) => s.revoked_at === null).length, 2, 'the registration’s session and the sign-in’s');

      // RP-initiated logout: a confirmation page (a form, no script), then back to the application.
      const logout = await navigator.go(oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: `${RP}/goodbye`, state: 'bye' }).href);
      assert.equal(logout.status, 200, logout.html);
      assert.match(logout.html, /<h1>Sign out<\/h1>/);
      assert.match(String((await fetch(`${BASE}/oidc/session/end`)).headers.get('content-security-policy')), /form-action/);
      const [, action = ''] = /<form[^>]*action="([^"]+)"/.exec(logout.html) ?? [];
      const [, xsrf = ''] = /name="xsrf" value="([^"]+)"/.exec(logout.html) ?? [];
      const done = await navigator.go(new URL(action, BASE).href, { method: 'POST', form: { xsrf, logout: 'yes' } });
      assert.equal(done.callback?.href, `${RP}/goodbye?state=bye`);
      // Signing out ended the Gatehouse session too, and the next sign-in asks for the password again.
      const after = await h().db.selectFrom('sessions').select(['id', 'revoked_at']).where('user_id', '=', user.userId).execute();
      assert.equal(after.filter((s) => s.revoked_at === null).length, 1);
      const again = await navigator.go((await authorizationRequest(config, CALLBACK)).url.href);
      assert.match(again.html, /<h1>Sign in<\/h1>/);
    });

    it('skips the consent page for a first-party client, and asks for a sign-in again once the Gatehouse session is revoked', async () => {
      const registered = await client({ firstParty: true, type: 'public' });
      const config = await discover(await base(), registered);
      const user = await registerUser(app());
      const navigator = new Navigator(RP);
      const first = await authorizationRequest(config, CALLBACK, 'openid email');
      const callback = await signIn(navigator, first.url, user, { consent: false });
      const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: first.verifier, expectedState: first.state, expectedNonce: first.nonce });
      assert.equal(tokens.claims()?.email, undefined, 'claims of scopes are at userinfo, not in the ID token of a code flow');
      assert.equal(tokens.refresh_token, undefined, 'no offline_access, no refresh token');

      // Still signed in: straight back to the application.
      const silent = await navigator.go((await authorizationRequest(config, CALLBACK, 'openid email')).url.href);
      assert.ok(silent.callback?.searchParams.get('code'));

      // Signed out everywhere through Gatehouse's own API: the provider's session is over too.
      const login = await call(app(), 'POST', '/auth/login', { body: { email: user.email, password: PASSWORD } });
      assert.equal((await call(app(), 'DELETE', '/api/users/me/sessions', { token: login.body.data.accessToken })).status < 300, true);
      const next = await navigator.go((await authorizationRequest(config, CALLBACK, 'openid email')).url.href);
      assert.match(next.html, /<h1>Sign in<\/h1>/);
      // prompt=none says so rather than showing a page.
      const none = await navigator.go((await authorizationRequest(config, CALLBACK, 'openid', { prompt: 'none' })).url.href);
      assert.equal(none.callback?.searchParams.get('error'), 'login_required');
    });

    it('posts a signed logout token to a client registered for back-channel logout when the person signs out', async () => {
      const received: string[] = [];
      const receiver = createServer((req, res) => {
        let body = '';
        req.on('data', (chunk: Buffer) => (body += chunk.toString()));
        req.on('end', () => {
          received.push(new URLSearchParams(body).get('logout_token') ?? '');
          res.writeHead(200).end();
        });
      });
      await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
      try {
        const failures: string[] = [];
        (await app().services.openid.provider()).on('backchannel.error', (_ctx: unknown, error: Error) => failures.push(String(error)));
        const backchannel = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/backchannel`;
        const registered = await client({ backchannelLogoutUri: backchannel });
        const config = await discover(await base(), registered);
        const user = await registerUser(app());
        const navigator = new Navigator(RP);
        const request = await authorizationRequest(config, CALLBACK, 'openid');
        const tokens = await oidc.authorizationCodeGrant(config, await signIn(navigator, request.url, user), { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce });
        const sid = tokens.claims()?.sid;
        assert.equal(typeof sid, 'string', 'the ID token names the session for back-channel logout');
        const logout = await navigator.go(oidc.buildEndSessionUrl(config, { id_token_hint: tokens.id_token!, post_logout_redirect_uri: `${RP}/goodbye` }).href);
        const [, action = ''] = /<form[^>]*action="([^"]+)"/.exec(logout.html) ?? [];
        const [, xsrf = ''] = /name="xsrf" value="([^"]+)"/.exec(logout.html) ?? [];
        await navigator.go(new URL(action, BASE).href, { method: 'POST', form: { xsrf, logout: 'yes' } });
        assert.deepEqual(failures, []);
        assert.equal(received.length, 1);
        const { payload, protectedHeader } = await jwtVerify(received[0]!, createRemoteJWKSet(new URL(`${BASE}/.well-known/jwks.json`)), { issuer: BASE, audience: registered.clientId, algorithms: ['RS256'] });
        assert.equal(protectedHeader.typ, 'logout+jwt');
        assert.equal(payload.sub, user.userId);
        assert.equal(payload.sid, sid);
        assert.ok((payload.events as Record<string, unknown>)['http://schemas.openid.net/event/backchannel-logout']);
      } finally {
        await new Promise((resolve) => receiver.close(resolve));
      }
    });

    it('refuses an unregistered redirect_uri with a page, never a redirect', async () => {
      const config = await discover(await base(), await client());
      const request = await authorizationRequest(config, 'http://evil.test/callback');
      const page = await new Navigator(RP).go(request.url.href);
      assert.equal(page.status, 400);
      assert.equal(page.callback, null);
      assert.match(page.html, /Sign-in problem/);
      assert.doesNotMatch(page.html, /evil\.test/);
    });

    it('requires PKCE: no code_challenge, a missing verifier and a wrong one are all refused', async () => {
      const config = await discover(await base(), await client());
      const user = await registerUser(app());
      const navigator = new Navigator(RP);
      const withoutChallenge = oidc.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'openid', state: oidc.randomState() });
      const refused = await navigator.go(withoutChallenge.href);
      assert.equal(refused.callback?.searchParams.get('error'), 'invalid_request');

      const request = await authorizationRequest(config, CALLBACK, 'openid');
      const callback = await signIn(navigator, request.url, user);
      await assert.rejects(oidc.authorizationCodeGrant(config, callback, { expectedState: request.state, expectedNonce: request.nonce }), (error: oidc.ResponseBodyError) => error.error === 'invalid_grant');
      const second = await authorizationRequest(config, CALLBACK, 'openid');
      const again = await navigator.go(second.url.href);
      assert.ok(again.callback);
      await assert.rejects(
        oidc.authorizationCodeGrant(config, again.callback, { pkceCodeVerifier: oidc.randomPKCECodeVerifier(), expectedState: second.state, expectedNonce: second.nonce }),
        (error: oidc.ResponseBodyError) => error.error === 'invalid_grant',
      );
    });

    it('refuses a code used twice and revokes the tokens it gave', async () => {
      const config = await discover(await base(), await client());
      const user = await registerUser(app());
      const request = await authorizationRequest(config, CALLBACK);
      const callback = await signIn(new Navigator(RP), request.url, user);
      const tokens = await oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce });
      await assert.rejects(oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce }), (error: oidc.ResponseBodyError) => error.error === 'invalid_grant');
      await assert.rejects(oidc.fetchUserInfo(config, tokens.access_token, user.userId), (error: oidc.WWWAuthenticateChallengeError) => error.status === 401);
      await assert.rejects(oidc.refreshTokenGrant(config, tokens.refresh_token!), (error: oidc.ResponseBodyError) => error.error === 'invalid_grant');
    });

    it('returns state and nonce unchanged, so that a relying party refuses a wrong state or a replayed nonce', async () => {
      const config = await discover(await base(), await client());
      const user = await registerUser(app());
      const request = await authorizationRequest(config, CALLBACK);
      const callback = await signIn(new Navigator(RP), request.url, user);
      await assert.rejects(oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: request.verifier, expectedState: oidc.randomState(), expectedNonce: request.nonce }), mentions('state'));
      // The code was not spent by the refusal above (openid-client checks state before the exchange);
      // the ID token names the request's nonce, not one replayed from another sign-in.
      await assert.rejects(oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: oidc.randomNonce() }), mentions('nonce'));
    });

    it('refuses an expired code', async () => {
      const config = await discover(await base(), await client());
      const user = await registerUser(app());
      const request = await authorizationRequest(config, CALLBACK);
      const callback = await signIn(new Navigator(RP), request.url, user);
      h().clock.advance(61);
      try {
        await assert.rejects(oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce }), (error: oidc.ResponseBodyError) => error.error === 'invalid_grant');
      } finally {
        h().clock.reset();
      }
    });

    it('refuses a wrong password on the sign-in page without saying which part was wrong, and a form posted from elsewhere', async () => {
      const config = await discover(await base(), await client());
      const user = await registerUser(app());
      const navigator = new Navigator(RP);
      const page = await navigator.go((await authorizationRequest(config, CALLBACK)).url.href);
      const wrong = await navigator.submit(page, '/login', { email: user.email, password: 'not the password' });
      assert.equal(wrong.status, 200);
      assert.match(wrong.html, /The email or password is not right/);
      const forged = await navigator.submit(wrong, '/login', { email: user.email, password: PASSWORD, csrf: 'forged' });
      assert.equal(forged.status, 403);
      const csp = String(wrong.headers?.get('content-security-policy'));
      assert.match(csp, /default-src 'none'/);
      assert.match(csp, /form-action 'self' http:\/\/rp\.test/);
      assert.doesNotMatch(csp, /unsafe-inline/);
    });

    it('refuses a confidential client’s code exchange with a wrong secret (401), and keeps only the secret’s digest', async () => {
      const registered = await client();
      const config = await discover(await base(), registered);
      const wrongSecret = await discover(BASE, { clientId: registered.clientId, clientSecret: 'ghos_wrong' });
      const user = await registerUser(app());
      const request = await authorizationRequest(config, CALLBACK);
      const callback = await signIn(new Navigator(RP), request.url, user);
      await assert.rejects(oidc.authorizationCodeGrant(wrongSecret, callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce }), (error: oidc.WWWAuthenticateChallengeError) => error.status === 401);
      const stored = await h().db.selectFrom('oidc_clients').select('secret_hash').where('client_id', '=', registered.clientId).executeTakeFirstOrThrow();
      assert.equal(stored.secret_hash, hashOpaqueToken(registered.clientSecret!));
    });

    it('treats an expired row as gone and sweeps it away, keeping live ones', async () => {
      const row = (id: string, expiresAt: Date | null) => ({ model: 'Session', id, payload: JSON.stringify({ jti: id }), grant_id: null, uid: null, user_code: null, expires_at: expiresAt, consumed_at: null });
      const past = new Date(h().clock.now().getTime() - 1000);
      const future = new Date(h().clock.now().getTime() + 60_000);
      await h().db.insertInto('oidc_payloads').values([row('sweep-old', past), row('sweep-live', future), row('sweep-forever', null)]).execute();
      assert.ok((await app().services.openid.sweepExpired()) >= 1);
      const left = await h().db.selectFrom('oidc_payloads').select('id').where('id', 'like', 'sweep-%').orderBy('id').execute();
      assert.deepEqual(left.map((r) => r.id), ['sweep-forever', 'sweep-live']);
    });

    it('keeps every flow in the database: nothing of a sign-in lives only in this process', async () => {
      const before = await h().db.selectFrom('oidc_payloads').select(({ fn }) => fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      const config = await discover(await base(), await client());
      const user = await registerUser(app());
      const request = await authorizationRequest(config, CALLBACK);
      await signIn(new Navigator(RP), request.url, user);
      const models = await h().db.selectFrom('oidc_payloads').select('model').distinct().execute();
      const names = new Set(models.map((row) => row.model));
      for (const model of ['Session', 'Interaction', 'Grant', 'AuthorizationCode']) assert.ok(names.has(model), `${model} in ${[...names].join(', ')}`);
      const afterwards = await h().db.selectFrom('oidc_payloads').select(({ fn }) => fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
      assert.ok(Number(afterwards.n) > Number(before.n));
    });
  },
  // The back-channel logout receiver is on loopback, which Gatehouse refuses to reach otherwise.
  { PUBLIC_URL: BASE, GATEHOUSE_WEBHOOKS_ALLOW_PRIVATE: 'true' },
);
