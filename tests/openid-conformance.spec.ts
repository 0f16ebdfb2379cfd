// The requirements of the OpenID Foundation's Basic OP and Config OP certification profiles that a
// relying party built on openid-client can check, one test each, named after the conformance suite's
// test module (SECURITY.md §5 lists them, with those that stay unchecked). The flows that
// tests/openid.spec.ts covers already (oidcc-server, oidcc-codereuse, oidcc-ensure-registered-redirect-uri,
// oidcc-refresh-token, oidcc-prompt-none-not-logged-in, oidcc-prompt-none-logged-in, the ID token
// signature) are not repeated here.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { decodeJwt } from 'jose';
import * as oidc from 'openid-client';
import { PASSWORD, registerUser, type Answer } from './helpers/api.ts';
import { forEachDatabase } from './helpers/harness.ts';
import { authorizationRequest, discover, freePort, makeAdmin, Navigator, registerClient } from './helpers/relying-party.ts';

const PORT = await freePort();
const BASE = `http://127.0.0.1:${PORT}`;
const RP = 'http://rp.test';
const CALLBACK = `${RP}/callback`;

forEachDatabase(
  'Basic OP and Config OP requirements',
  (h) => {
    let setup: Promise<{ config: oidc.Configuration; clientId: string }> | undefined;

    /** One listening Gatehouse and one first-party confidential client for the file. */
    function provider() {
      setup ??= (async () => {
        await h().app.listen({ port: PORT, host: '127.0.0.1' });
        const admin = await makeAdmin(h().app, h().db);
        const client = await registerClient(h().app, admin.accessToken, { name: 'Conformance', redirectUris: [CALLBACK], type: 'confidential', firstParty: true });
        return { config: await discover(BASE, client), clientId: client.clientId };
      })();
      return setup;
    }

    /** A signed-in browser and the callback of its first sign-in. */
    async function signedIn(extra: Record<string, string> = {}, scope = 'openid') {
      const { config } = await provider();
      const user = await registerUser(h().app);
      const navigator = new Navigator(RP);
      const request = await authorizationRequest(config, CALLBACK, scope, extra);
      const page = await navigator.go(request.url.href);
      const back = await navigator.submit(page, '/login', { email: user.email, password: PASSWORD });
      assert.ok(back.callback, back.html);
      return { config, user, navigator, request, callback: back.callback };
    }

    const exchange = (config: oidc.Configuration, callback: URL, request: { verifier: string; state: string; nonce?: string }) =>
      oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, ...(request.nonce ? { expectedNonce: request.nonce } : {}) });

    it('oidcc-discovery-endpoint-verification: the required metadata, the issuer exactly as configured', async () => {
      const { config } = await provider();
      const metadata = config.serverMetadata();
      assert.equal(metadata.issuer, BASE);
      for (const field of ['authorization_endpoint', 'token_endpoint', 'userinfo_endpoint', 'jwks_uri', 'response_types_supported', 'subject_types_supported', 'id_token_signing_alg_values_supported'] as const) {
        assert.ok(metadata[field], field);
      }
      assert.ok(metadata.scopes_supported?.includes('openid'));
      assert.ok(metadata.token_endpoint_auth_methods_supported?.includes('client_secret_basic'));
    });

    it('oidcc-ensure-request-without-nonce-succeeds-for-code-flow', async () => {
      const { config } = await provider();
      const user = await registerUser(h().app);
      const navigator = new Navigator(RP);
      const verifier = oidc.randomPKCECodeVerifier();
      const state = oidc.randomState();
      const url = oidc.buildAuthorizationUrl(config, { redirect_uri: CALLBACK, scope: 'openid', state, code_challenge: await oidc.calculatePKCECodeChallenge(verifier), code_challenge_method: 'S256' });
      const back = await navigator.submit(await navigator.go(url.href), '/login', { email: user.email, password: PASSWORD });
      const tokens = await exchange(config, back.callback!, { verifier, state });
      assert.equal(tokens.claims()?.nonce, undefined);
    });

    it('oidcc-ensure-other-scope-order-succeeds, oidcc-scope-email, oidcc-scope-profile', async () => {
      const { config, user, request, callback } = await signedIn({}, 'email profile openid');
      const tokens = await exchange(config, callback, request);
      const info = await oidc.fetchUserInfo(config, tokens.access_token, user.userId);
      assert.equal(info.email, user.email);
      assert.equal(typeof info.email_verified, 'boolean');
      assert.equal(typeof info.name, 'string');
    });

    it('oidcc-response-type-missing: an error sent back to the client', async () => {
      const { clientId } = await provider();
      const url = new URL(`${BASE}/oidc/auth`);
      url.search = new URLSearchParams({ client_id: clientId, redirect_uri: CALLBACK, scope: 'openid', state: 'xyz' }).toString();
      const answer = await new Navigator(RP).go(url.href);
      assert.ok(answer.callback, answer.html);
      assert.equal(answer.callback.searchParams.get('error'), 'invalid_request');
      assert.equal(answer.callback.searchParams.get('state'), 'xyz');
    });

    it('oidcc-ensure-redirect-uri-in-authorization-request: no redirect_uri, no redirect', async () => {
      const { clientId } = await provider();
      const url = new URL(`${BASE}/oidc/auth`);
      url.search = new URLSearchParams({ client_id: clientId, response_type: 'code', scope: 'openid', state: 'xyz' }).toString();
      const answer = await new Navigator(RP).go(url.href);
      assert.equal(answer.callback, null);
      assert.equal(answer.status, 400);
    });

    it('oidcc-userinfo-get, oidcc-userinfo-post-header, oidcc-userinfo-post-body', async () => {
      const { config, user, request, callback } = await signedIn({}, 'openid email');
      const tokens = await exchange(config, callback, request);
      const endpoint = config.serverMetadata().userinfo_endpoint!;
      const get = await fetch(endpoint, { headers: { authorization: `Bearer ${tokens.access_token}` } });
      assert.equal(((await get.json()) as Answer['body']).sub, user.userId);
      const postHeader = await fetch(endpoint, { method: 'POST', headers: { authorization: `Bearer ${tokens.access_token}` } });
      assert.equal(((await postHeader.json()) as Answer['body']).sub, user.userId);
      const postBody = await fetch(endpoint, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ access_token: tokens.access_token }) });
      assert.equal(((await postBody.json()) as Answer['body']).sub, user.userId);
    });

    it('oidcc-prompt-login: a signed-in person is asked to sign in again', async () => {
      const { config, navigator } = await signedIn();
      const again = await navigator.go((await authorizationRequest(config, CALLBACK, 'openid', { prompt: 'login' })).url.href);
      assert.match(again.html, /<h1>Sign in<\/h1>/);
    });

    it('oidcc-max-age-1 (as max_age=0): sign in again, and auth_time in the ID token', async () => {
      const { config, user, navigator } = await signedIn();
      const request = await authorizationRequest(config, CALLBACK, 'openid', { max_age: '0' });
      const page = await navigator.go(request.url.href);
      assert.match(page.html, /<h1>Sign in<\/h1>/);
      const back = await navigator.submit(page, '/login', { email: user.email, password: PASSWORD });
      const tokens = await oidc.authorizationCodeGrant(config, back.callback!, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce, maxAge: 0 });
      assert.equal(typeof tokens.claims()?.auth_time, 'number');
    });

    it('oidcc-max-age-10000: no new sign-in within the age, auth_time present', async () => {
      const { config, navigator } = await signedIn();
      const request = await authorizationRequest(config, CALLBACK, 'openid', { max_age: '10000' });
      const back = await navigator.go(request.url.href);
      assert.ok(back.callback, back.html);
      const tokens = await oidc.authorizationCodeGrant(config, back.callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce, maxAge: 10000 });
      assert.equal(typeof tokens.claims()?.auth_time, 'number');
    });

    it('oidcc-id-token-hint: prompt=none with the previous ID token as a hint', async () => {
      const { config, user, navigator, request, callback } = await signedIn();
      const tokens = await exchange(config, callback, request);
      const next = await authorizationRequest(config, CALLBACK, 'openid', { prompt: 'none', id_token_hint: tokens.id_token! });
      const back = await navigator.go(next.url.href);
      assert.ok(back.callback?.searchParams.get('code'), back.html);
      const again = await exchange(config, back.callback!, next);
      assert.equal(decodeJwt(again.id_token!).sub, user.userId);
    });

    it('response_mode=form_post (advertised in response_modes_supported): a form to the redirect URI that posts itself, allowed by its policy', async () => {
      const { config, navigator } = await signedIn();
      assert.ok(config.serverMetadata().response_modes_supported?.includes('form_post'));
      const request = await authorizationRequest(config, CALLBACK, 'openid', { response_mode: 'form_post' });
      const page = await navigator.go(request.url.href);
      assert.equal(page.status, 200, page.html);
      assert.match(page.html, new RegExp(`<form method="post" action="${CALLBACK}">`));
      assert.match(page.html, /name="code" value="[^"]+"/);
      const csp = String(page.headers?.get('content-security-policy'));
      assert.match(csp, /script-src 'self' 'sha256-/);
      assert.match(csp, /form-action [^;]*http:/);
    });

    it('oidcc-login-hint: the sign-in page is filled in with the hinted email', async () => {
      const { config } = await provider();
      const page = await new Navigator(RP).go((await authorizationRequest(config, CALLBACK, 'openid', { login_hint: 'ada@example.com' })).url.href);
      assert.match(page.html, /value="ada@example\.com"/);
    });

    it('oidcc-display-page, oidcc-display-popup, oidcc-ui-locales, oidcc-claims-locales, oidcc-ensure-request-with-acr-values-succeeds: accepted parameters', async () => {
      const { config } = await provider();
      for (const extra of [{ display: 'page' }, { display: 'popup' }, { ui_locales: 'se' }, { claims_locales: 'se' }, { acr_values: '1 2' }] as Array<Record<string, string>>) {
        const page = await new Navigator(RP).go((await authorizationRequest(config, CALLBACK, 'openid', extra)).url.href);
        assert.equal(page.status, 200, `${JSON.stringify(extra)}: ${page.html}`);
        assert.match(page.html, /<h1>Sign in<\/h1>/);
      }
    });
  },
  { PUBLIC_URL: BASE },
);
