// RFC 8707 resource indicators and RFC 9068 access tokens from the OpenID Provider: a relying party
// (openid-client) that names Gatehouse's API (GATEHOUSE_AUDIENCE) as the `resource` gets a JWT for it,
// which a resource server verifies on its own with jose against the published key set (typ at+jwt,
// issuer, audience), with the organisation chosen in the sign-in. Without `resource` the access token
// stays opaque, and it is the one userinfo takes. Gatehouse's own API refuses the provider's JWTs
// (401): they name no Gatehouse session to check on every request.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createLocalJWKSet, createRemoteJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import * as oidc from 'openid-client';
import { assertErrorEnvelope, call, createOrganisation, PASSWORD, registerUser, type TestUser } from './helpers/api.ts';
import { forEachDatabase } from './helpers/harness.ts';
import { authorizationRequest, firstPartyRelyingParty, freePort, Navigator } from './helpers/relying-party.ts';

const PORT = await freePort();
const BASE = `http://127.0.0.1:${PORT}`;
const AUDIENCE = 'https://api.gatehouse.test';
const RP = 'http://rp.test';
const CALLBACK = `${RP}/callback`;
const SCOPE = 'openid email organization offline_access';

const isJwt = (token: string) => token.split('.').length === 3;

forEachDatabase(
  'the OpenID Provider’s access tokens for Gatehouse’s API (resource indicators, RFC 9068)',
  (h) => {
    const relyingParty = firstPartyRelyingParty(h, PORT, CALLBACK);

    /** A resource server's check, as README shows it: keys from the published set, typ, issuer and audience. */
    const keys = createRemoteJWKSet(new URL(`${BASE}/.well-known/jwks.json`));
    const verifyAsResourceServer = (token: string) => jwtVerify(token, keys, { issuer: BASE, audience: AUDIENCE, typ: 'at+jwt', requiredClaims: ['sub', 'client_id', 'jti', 'iat', 'exp'] });

    /** Signs in through the hosted pages, choosing `orgId` when the page asks; answers the callback. */
    async function signIn(user: TestUser, { scope = SCOPE, resource = AUDIENCE as string | null, orgId }: { scope?: string; resource?: string | null; orgId?: string } = {}) {
      const config = await relyingParty();
      const request = await authorizationRequest(config, CALLBACK, scope, resource ? { resource } : {});
      const navigator = new Navigator(RP);
      let answer = await navigator.submit(await navigator.go(request.url.href), '/login', { email: user.email, password: PASSWORD });
      if (!answer.callback && orgId) answer = await navigator.submit(answer, '/organization', { orgId });
      assert.ok(answer.callback, answer.html);
      return { config, request, callback: answer.callback };
    }

    const exchange = (config: oidc.Configuration, callback: URL, request: { verifier: string; state: string; nonce: string }, parameters: Record<string, string> = {}) =>
      oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce, idTokenExpected: true }, parameters);

    it('gives a relying party that names Gatehouse’s API an RFC 9068 JWT that jose verifies against the published keys, with the chosen organisation', async () => {
      const user = await registerUser(h().app);
      const acme = await createOrganisation(h().app, user.accessToken, 'Acme');
      const { config, request, callback } = await signIn(user, { orgId: acme });
      const tokens = await exchange(config, callback, request, { resource: AUDIENCE });
      assert.equal(tokens.token_type.toLowerCase(), 'bearer');
      assert.ok(isJwt(tokens.access_token), tokens.access_token);
      assert.equal(tokens.claims()?.org_id, acme, 'the ID token is as before');

      const { payload, protectedHeader } = await verifyAsResourceServer(tokens.access_token);
      assert.equal(protectedHeader.typ, 'at+jwt');
      assert.equal(protectedHeader.alg, 'RS256');
      const published = (await (await fetch(`${BASE}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
      assert.ok(published.keys.some((key) => key.kid === protectedHeader.kid), 'signed with a key of the one key set');
      await jwtVerify(tokens.access_token, createLocalJWKSet(published), { issuer: BASE, audience: AUDIENCE, typ: 'at+jwt' });
      assert.equal(payload.iss, BASE);
      assert.equal(payload.aud, AUDIENCE);
      assert.equal(payload.sub, user.userId);
      assert.equal(payload.client_id, config.clientMetadata().client_id);
      assert.deepEqual(String(payload.scope).split(' ').sort(), ['email', 'openid', 'organization']);
      assert.equal(typeof payload.jti, 'string');
      assert.equal(payload.exp! - payload.iat!, 900, 'the access-token lifetime');
      assert.equal(payload.org_id, acme);
      assert.equal(payload.org_role, 'owner');
      assert.ok(Array.isArray(payload.org_permissions) && (payload.org_permissions as string[]).includes('members:remove'), JSON.stringify(payload));

      // A resource server of another audience, or one that wants an ID token, refuses it.
      await assert.rejects(jwtVerify(tokens.access_token, keys, { issuer: BASE, audience: BASE, typ: 'at+jwt' }), /aud/);
      await assert.rejects(jwtVerify(tokens.id_token!, keys, { issuer: BASE, audience: AUDIENCE, typ: 'at+jwt' }));

      // A token for an API is not userinfo's (oidc-provider keeps audience-bound tokens away from it): a clean 401.
      await assert.rejects(oidc.fetchUserInfo(config, tokens.access_token, user.userId), (error: oidc.WWWAuthenticateChallengeError) => error.status === 401);
    });

    it('keeps the access token opaque without resource, for userinfo; a refresh naming the API gives the JWT, one without it an opaque token again', async () => {
      const user = await registerUser(h().app);
      const { config, request, callback } = await signIn(user);
      const tokens = await exchange(config, callback, request);
      assert.ok(!isJwt(tokens.access_token), 'opaque');
      const info = await oidc.fetchUserInfo(config, tokens.access_token, user.userId);
      assert.equal(info.org_id, user.personalOrgId);
      assert.equal(info.email, user.email);

      const forApi = await oidc.refreshTokenGrant(config, tokens.refresh_token!, { resource: AUDIENCE });
      const { payload } = await verifyAsResourceServer(forApi.access_token);
      assert.equal(payload.sub, user.userId);
      assert.equal(payload.org_id, user.personalOrgId);

      const again = await oidc.refreshTokenGrant(config, forApi.refresh_token!);
      assert.ok(!isJwt(again.access_token));
      assert.equal((await oidc.fetchUserInfo(config, again.access_token, user.userId)).org_id, user.personalOrgId);
    });

    it('names no organisation without the organization scope', async () => {
      const user = await registerUser(h().app);
      const { config, request, callback } = await signIn(user, { scope: 'openid email' });
      const { payload } = await verifyAsResourceServer((await exchange(config, callback, request, { resource: AUDIENCE })).access_token);
      assert.deepEqual(String(payload.scope).split(' ').sort(), ['email', 'openid']);
      for (const claim of ['org_id', 'org_role', 'org_permissions']) assert.equal(payload[claim], undefined, claim);
    });

    it('refuses a resource that is not Gatehouse’s API, and one the authorization did not ask for, with invalid_target', async () => {
      const user = await registerUser(h().app);
      const config = await relyingParty();
      const request = await authorizationRequest(config, CALLBACK, 'openid', { resource: 'https://elsewhere.test' });
      const answer = await new Navigator(RP).go(request.url.href);
      assert.ok(answer.callback, answer.html);
      assert.equal(answer.callback.searchParams.get('error'), 'invalid_target');

      const plain = await signIn(user, { scope: 'openid', resource: null });
      await assert.rejects(exchange(config, plain.callback, plain.request, { resource: AUDIENCE }), (error: oidc.ResponseBodyError) => error.error === 'invalid_target');
    });

    it('is refused by Gatehouse’s own API with 401, never 500: the token names no Gatehouse session', async () => {
      const user = await registerUser(h().app);
      const { config, request, callback } = await signIn(user);
      const { access_token: token } = await exchange(config, callback, request, { resource: AUDIENCE });
      assert.equal(decodeProtectedHeader(token).typ, 'at+jwt');
      assertErrorEnvelope(await call(h().app, 'GET', '/api/users/me', { token }), 401, 'INVALID_TOKEN');
      assertErrorEnvelope(await call(h().app, 'GET', `/api/organisations/${user.personalOrgId}`, { token }), 401, 'INVALID_TOKEN');
    });

    it('publishes no more than is true: the discovery document is unchanged by resource indicators', async () => {
      await relyingParty();
      const discovery = (await (await fetch(`${BASE}/.well-known/openid-configuration`)).json()) as Record<string, unknown>;
      assert.equal(discovery.jwks_uri, `${BASE}/.well-known/jwks.json`);
      assert.ok(!Object.keys(discovery).some((key) => key.includes('resource')), JSON.stringify(Object.keys(discovery)));
    });
  },
  { PUBLIC_URL: BASE, GATEHOUSE_AUDIENCE: AUDIENCE },
);
