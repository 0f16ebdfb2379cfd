// Rotating an OpenID client's secret (`POST /api/admin/oidc-clients/:clientId/secret`): the new one is
// shown once and works at once; the previous one keeps working at the token endpoint for
// GATEHOUSE_SECRET_OVERLAP (as a machine client's does), then never again; each rotation is an event.
// The relying party is openid-client, configured once with each secret.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import * as oidc from 'openid-client';
import { hashOpaqueToken } from '../src/domain/sessions/opaque-tokens.ts';
import { assertErrorEnvelope, call, PASSWORD, registerUser, type TestUser } from './helpers/api.ts';
import { forEachDatabase } from './helpers/harness.ts';
import { expectAuthenticationRequired, expectRefused } from './helpers/matrix.ts';
import { authorizationRequest, discover, freePort, makeAdmin, Navigator, registerClient } from './helpers/relying-party.ts';

const PORT = await freePort();
const BASE = `http://127.0.0.1:${PORT}`;
const RP = 'http://rp.test';
const CALLBACK = `${RP}/callback`;
const OVERLAP_SECONDS = 3600;

forEachDatabase(
  'rotating an OpenID client’s secret',
  (h) => {
    let listening = false;
    /** A new platform admin for each test (a test may move the clock past an access token's life). */
    async function platformAdmin(): Promise<TestUser> {
      if (!listening) await h().app.listen({ port: PORT, host: '127.0.0.1' });
      listening = true;
      return makeAdmin(h().app, h().db);
    }

    /** The relying party's tokens through the hosted sign-in, with the configuration (secret) given. */
    async function signIn(config: oidc.Configuration, user: TestUser) {
      const request = await authorizationRequest(config, CALLBACK);
      const navigator = new Navigator(RP);
      const answer = await navigator.submit(await navigator.go(request.url.href), '/login', { email: user.email, password: PASSWORD });
      assert.ok(answer.callback, answer.html);
      return oidc.authorizationCodeGrant(config, answer.callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce, idTokenExpected: true });
    }

    /** The token endpoint's 401 invalid_client, as a body or (client_secret_basic) as a WWW-Authenticate challenge. */
    const refusedClient = (error: oidc.ResponseBodyError | oidc.WWWAuthenticateChallengeError) => {
      if (error.status !== 401) return false;
      if (error instanceof oidc.WWWAuthenticateChallengeError) return error.cause.some((challenge) => challenge.parameters.error === 'invalid_client');
      return error.error === 'invalid_client';
    };

    it('shows the new secret once; the old one keeps working for the overlap, then is refused; the rotation is audited', async () => {
      const admin = await platformAdmin();
      const token = admin.accessToken;
      const registered = await registerClient(h().app, token, { name: 'Notes', redirectUris: [CALLBACK], type: 'confidential', firstParty: true });
      const withOld = await discover(BASE, registered);
      const user = await registerUser(h().app);
      const first = await signIn(withOld, user);

      const rotated = await call(h().app, 'POST', `/api/admin/oidc-clients/${registered.clientId}/secret`, { token });
      assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
      const { clientSecret, previousSecretExpiresAt } = rotated.body.data;
      assert.match(clientSecret, /^ghos_[\w-]{43}$/);
      assert.notEqual(clientSecret, registered.clientSecret);
      assert.ok(Math.abs(new Date(previousSecretExpiresAt).getTime() - (h().clock.now().getTime() + OVERLAP_SECONDS * 1000)) < 5000, previousSecretExpiresAt);
      const row = await h().db.selectFrom('oidc_clients').select(['secret_hash', 'previous_secret_hash']).where('client_id', '=', registered.clientId).executeTakeFirstOrThrow();
      assert.deepEqual(row, { secret_hash: hashOpaqueToken(clientSecret), previous_secret_hash: hashOpaqueToken(registered.clientSecret!) }, 'digests only');
      const shown = await call(h().app, 'GET', `/api/admin/oidc-clients/${registered.clientId}`, { token });
      assert.ok(!JSON.stringify(shown.body).includes(clientSecret), 'never shown again');
      assert.equal(shown.body.data.previousSecretHash, undefined);

      // Within the overlap both secrets work: a code exchange with the old one, a refresh with the new one.
      const withNew = await discover(BASE, { clientId: registered.clientId, clientSecret });
      const duringOverlap = await signIn(withOld, user);
      assert.equal(duringOverlap.claims()?.sub, user.userId);
      const refreshed = await oidc.refreshTokenGrant(withNew, first.refresh_token!);
      assert.ok(refreshed.access_token);

      // Past the overlap the old secret is refused (invalid_client), the new one works.
      h().clock.advance(OVERLAP_SECONDS + 1);
      await assert.rejects(oidc.refreshTokenGrant(withOld, refreshed.refresh_token!), refusedClient);
      await assert.rejects(signIn(withOld, user), refusedClient);
      assert.ok((await oidc.refreshTokenGrant(withNew, refreshed.refresh_token!)).access_token);

      const audit = await h().db.selectFrom('audit_events').select(['action', 'actor_type', 'data']).where('action', '=', 'oidc_client.secret_rotated').where('actor_user_id', '=', admin.userId).execute();
      assert.deepEqual(audit, [{ action: 'oidc_client.secret_rotated', actor_type: 'user', data: { clientId: registered.clientId, previousSecretExpiresAt } }]);
      const log = await call(h().app, 'GET', '/api/admin/audit-log', { token: (await platformAdmin()).accessToken });
      assert.equal(log.status, 200);
      assert.ok(log.body.data.events.some((e: { action: string }) => e.action === 'oidc_client.secret_rotated'));
      assert.ok(!JSON.stringify(log.body).includes(clientSecret) && !JSON.stringify(log.body).includes(registered.clientSecret!), 'no secret in the audit log');
    });

    it('stops a secret rotated out twice at once: only the current one and the one just before it work', async () => {
      const token = (await platformAdmin()).accessToken;
      const registered = await registerClient(h().app, token, { name: 'Notes', redirectUris: [CALLBACK], type: 'confidential', firstParty: true });
      const second = (await call(h().app, 'POST', `/api/admin/oidc-clients/${registered.clientId}/secret`, { token })).body.data.clientSecret as string;
      const third = (await call(h().app, 'POST', `/api/admin/oidc-clients/${registered.clientId}/secret`, { token })).body.data.clientSecret as string;
      const user = await registerUser(h().app);
      await assert.rejects(signIn(await discover(BASE, registered), user), refusedClient);
      assert.ok((await signIn(await discover(BASE, { clientId: registered.clientId, clientSecret: second }), user)).access_token);
      assert.ok((await signIn(await discover(BASE, { clientId: registered.clientId, clientSecret: third }), user)).access_token);
    });

    it('answers 409 for a public client, 404 for an unknown one, and is for platform admins only', async () => {
      const token = (await platformAdmin()).accessToken;
      const publicClient = await registerClient(h().app, token, { name: 'SPA', redirectUris: [CALLBACK], type: 'public' });
      assertErrorEnvelope(await call(h().app, 'POST', `/api/admin/oidc-clients/${publicClient.clientId}/secret`, { token }), 409, 'OIDC_CLIENT_HAS_NO_SECRET');
      assertErrorEnvelope(await call(h().app, 'POST', '/api/admin/oidc-clients/gho_nobody/secret', { token }), 404, 'OIDC_CLIENT_NOT_FOUND');
      const confidential = await registerClient(h().app, token, { name: 'Notes', redirectUris: [CALLBACK], type: 'confidential' });
      const user = await registerUser(h().app);
      const route = { method: 'POST' as const, url: `/api/admin/oidc-clients/${confidential.clientId}/secret` };
      await expectAuthenticationRequired(h(), route, user.accessToken);
      await expectRefused(h(), route, user.accessToken, 403);
      const row = await h().db.selectFrom('oidc_clients').select(['secret_hash', 'previous_secret_hash']).where('client_id', '=', confidential.clientId).executeTakeFirstOrThrow();
      assert.deepEqual(row, { secret_hash: hashOpaqueToken(confidential.clientSecret!), previous_secret_hash: null });
    });
  },
  { PUBLIC_URL: BASE, GATEHOUSE_SECRET_OVERLAP: '1h' },
);
