// The `organization` scope: after sign-in the person chooses one of the organisations they are an
// active member of on a hosted page (skipped when there is one), and the ID token, userinfo and the
// provider's access token carry `org_id` with the role and permissions, named as in Gatehouse's own
// access tokens. Driven by openid-client through a browser without script (Navigator).
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { sql } from 'kysely';
import * as oidc from 'openid-client';
import { addMember, call, createOrganisation, PASSWORD, registerUser, type TestUser } from './helpers/api.ts';
import { forEachDatabase } from './helpers/harness.ts';
import { authorizationRequest, discover, firstPartyRelyingParty, freePort, makeAdmin, Navigator, registerClient } from './helpers/relying-party.ts';

const PORT = await freePort();
const BASE = `http://127.0.0.1:${PORT}`;
const RP = 'http://rp.test';
const CALLBACK = `${RP}/callback`;
const SCOPE = 'openid email organization offline_access';

forEachDatabase(
  'the OpenID Provider’s organization scope',
  (h) => {
    const relyingParty = firstPartyRelyingParty(h, PORT, CALLBACK);

    /** Signs in with the password: the page that follows (the choice), or the callback. */
    async function signIn(user: TestUser, scope = SCOPE) {
      const config = await relyingParty();
      const request = await authorizationRequest(config, CALLBACK, scope);
      const navigator = new Navigator(RP);
      const answer = await navigator.submit(await navigator.go(request.url.href), '/login', { email: user.email, password: PASSWORD });
      return { config, request, navigator, answer };
    }

    const exchange = (config: oidc.Configuration, callback: URL, request: { verifier: string; state: string; nonce: string }) =>
      oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce, idTokenExpected: true });

    const orgIdsOnPage = (html: string) => [...html.matchAll(/name="orgId" value="([^"]+)"/g)].map((m) => m[1]!);

    it('publishes the organization scope and its claims', async () => {
      await relyingParty();
      const discovery = (await (await fetch(`${BASE}/.well-known/openid-configuration`)).json()) as { scopes_supported: string[]; claims_supported: string[] };
      assert.ok(discovery.scopes_supported.includes('organization'));
      for (const claim of ['org_id', 'org_role', 'org_permissions', 'amr']) assert.ok(discovery.claims_supported.includes(claim), claim);
    });

    it('lets a person choose one of two organisations: org_id, role and permissions in the ID token, userinfo, the access token and after a refresh', async () => {
      const user = await registerUser(h().app);
      const acme = await createOrganisation(h().app, user.accessToken, 'Acme <Labs>');
      const { config, request, navigator, answer } = await signIn(user);
      assert.equal(answer.callback, null);
      assert.equal(answer.status, 200);
      assert.match(answer.html, /<h1>Choose an organisation<\/h1>/);
      assert.match(answer.html, /Acme &lt;Labs&gt;/, 'names escaped');
      assert.deepEqual(orgIdsOnPage(answer.html).sort(), [user.personalOrgId, acme].sort());
      assert.match(answer.html, /<legend>/);

      const chosen = await navigator.submit(answer, '/organization', { orgId: acme });
      assert.ok(chosen.callback, chosen.html);
      const tokens = await exchange(config, chosen.callback, request);
      const claims = tokens.claims()!;
      assert.equal(claims.org_id, acme);
      assert.equal(claims.org_role, 'owner');
      assert.ok(Array.isArray(claims.org_permissions) && (claims.org_permissions as string[]).includes('members:remove'), JSON.stringify(claims));

      const info = await oidc.fetchUserInfo(config, tokens.access_token, user.userId);
      assert.equal(info.org_id, acme);
      assert.equal(info.org_role, 'owner');

      const stored = await h().db.selectFrom('oidc_payloads').select('payload').where('model', '=', 'AccessToken').where('id', '=', tokens.access_token).executeTakeFirstOrThrow();
      const extra = (stored.payload as { extra?: Record<string, unknown> }).extra;
      assert.equal(extra?.org_id, acme, 'the provider’s access token names the organisation');
      assert.equal(extra?.org_role, 'owner');

      const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
      assert.equal(refreshed.claims()?.org_id, acme, 'a refresh keeps the organisation');
    });

    it('skips the page for a person with one organisation, and names no organisation without the scope', async () => {
      const user = await registerUser(h().app);
      const { config, request, navigator, answer } = await signIn(user);
      assert.ok(answer.callback, 'no page to choose from one');
      const tokens = await exchange(config, answer.callback, request);
      assert.equal(tokens.claims()?.org_id, user.personalOrgId);

      // The same browser, signed in already: the application asks again without the scope.
      const without = await authorizationRequest(config, CALLBACK, 'openid email');
      const back = await navigator.go(without.url.href);
      assert.ok(back.callback, back.html);
      const plain = await exchange(config, back.callback, without);
      assert.equal(plain.claims()?.org_id, undefined);
      assert.equal((await oidc.fetchUserInfo(config, plain.access_token, user.userId)).org_id, undefined);
    });

    it('refuses an organisation the person is not in, or is suspended from, forced into the form; the page lists neither', async () => {
      const owner = await registerUser(h().app);
      const team = await createOrganisation(h().app, owner.accessToken, 'Team');
      const user = await registerUser(h().app);
      await addMember(h().app, owner.accessToken, team, user.userId);
      const mine = await createOrganisation(h().app, user.accessToken, 'Mine');
      const suspended = await call(h().app, 'PATCH', `/api/organisations/${team}/members/${user.userId}/status`, { token: owner.accessToken, body: { status: 'suspended' } });
      assert.equal(suspended.status, 200, JSON.stringify(suspended.body));

      const { config, request, navigator, answer } = await signIn(user);
      assert.deepEqual(orgIdsOnPage(answer.html).sort(), [user.personalOrgId, mine].sort(), 'a suspended membership is not offered');
      for (const forced of [team, owner.personalOrgId, 'not-a-uuid']) {
        const refused = await navigator.submit(answer, '/organization', { orgId: forced });
        assert.equal(refused.callback, null, forced);
        assert.equal(refused.status, 404);
        assert.match(refused.html, /not one of your organisations/);
      }
      assert.equal(await h().db.selectFrom('oidc_payloads').select('id').where('model', '=', 'AuthorizationCode').where(sql<boolean>`payload->>'accountId' = ${user.userId}`).executeTakeFirst(), undefined, 'no code');

      const chosen = await navigator.submit(answer, '/organization', { orgId: mine });
      assert.ok(chosen.callback, chosen.html);
      assert.equal((await exchange(config, chosen.callback, request)).claims()?.org_id, mine);
    });

    it('asks a third-party application’s consent first, naming the organisation among what it asks for, then the organisation', async () => {
      await relyingParty();
      const admin = await makeAdmin(h().app, h().db);
      const thirdParty = await discover(BASE, await registerClient(h().app, admin.accessToken, { name: 'Elsewhere', redirectUris: [CALLBACK], type: 'public' }));
      const user = await registerUser(h().app);
      const acme = await createOrganisation(h().app, user.accessToken, 'Acme');
      const request = await authorizationRequest(thirdParty, CALLBACK, 'openid organization');
      const navigator = new Navigator(RP);
      const consent = await navigator.submit(await navigator.go(request.url.href), '/login', { email: user.email, password: PASSWORD });
      assert.match(consent.html, /<h1>Allow access<\/h1>/);
      assert.match(consent.html, /which of your organisations/);
      const choose = await navigator.submit(consent, '/consent');
      assert.deepEqual(orgIdsOnPage(choose.html).sort(), [user.personalOrgId, acme].sort());
      const chosen = await navigator.submit(choose, '/organization', { orgId: user.personalOrgId });
      assert.ok(chosen.callback, chosen.html);
      const tokens = await exchange(thirdParty, chosen.callback, request);
      assert.equal(tokens.claims()?.org_id, user.personalOrgId);
      assert.equal(tokens.scope, 'openid organization');

      // The next sign-in of the same browser asks again.
      const next = await authorizationRequest(thirdParty, CALLBACK, 'openid organization');
      const again = await navigator.go(next.url.href);
      assert.match(again.html, /<h1>Choose an organisation<\/h1>/, 'consent is remembered, the organisation is asked for again');
      const other = await navigator.submit(again, '/organization', { orgId: acme });
      assert.ok(other.callback, other.html);
      assert.equal((await exchange(thirdParty, other.callback, next)).claims()?.org_id, acme);
      // Without offline_access the earlier tokens lived with the browser's sign-in for that choice: the new choice ends them.
      await assert.rejects(oidc.fetchUserInfo(thirdParty, tokens.access_token, user.userId), (error: oidc.WWWAuthenticateChallengeError) => error.status === 401);
    });

    it('sends a person who is in no organisation back to the application with access_denied, and no code', async () => {
      const [user, heir] = await Promise.all([registerUser(h().app), registerUser(h().app)]);
      // Every account starts with a personal organisation, but may hand it on and leave it.
      await addMember(h().app, user.accessToken, user.personalOrgId, heir.userId, 'owner');
      const left = await call(h().app, 'DELETE', `/api/organisations/${user.personalOrgId}/members/${user.userId}`, { token: user.accessToken });
      assert.equal(left.status, 200, JSON.stringify(left.body));
      const { request, answer } = await signIn(user);
      assert.ok(answer.callback, answer.html);
      assert.equal(answer.callback.searchParams.get('error'), 'access_denied');
      assert.equal(answer.callback.searchParams.get('state'), request.state);
      assert.equal(answer.callback.searchParams.get('code'), null);
    });

    it('names the organisation no more once the member is suspended: userinfo and a refresh carry no org_id', async () => {
      const owner = await registerUser(h().app);
      const team = await createOrganisation(h().app, owner.accessToken, 'Team');
      const user = await registerUser(h().app);
      await addMember(h().app, owner.accessToken, team, user.userId);
      const { config, request, navigator, answer } = await signIn(user);
      const chosen = await navigator.submit(answer, '/organization', { orgId: team });
      assert.ok(chosen.callback, chosen.html);
      const tokens = await exchange(config, chosen.callback, request);
      assert.equal(tokens.claims()?.org_id, team);
      assert.equal(tokens.claims()?.org_role, 'member');

      const suspended = await call(h().app, 'PATCH', `/api/organisations/${team}/members/${user.userId}/status`, { token: owner.accessToken, body: { status: 'suspended' } });
      assert.equal(suspended.status, 200, JSON.stringify(suspended.body));
      assert.equal((await oidc.fetchUserInfo(config, tokens.access_token, user.userId)).org_id, undefined);
      const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
      assert.equal(refreshed.claims()?.org_id, undefined);
    });
  },
  { PUBLIC_URL: BASE },
);
