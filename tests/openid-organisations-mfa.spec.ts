// The `organization` scope and second factors: an organisation whose rule asks for a second factor
// (its `requireMfa`, or GATEHOUSE_REQUIRE_MFA=all) is never handed to a relying party by a sign-in
// that did not use one. The choice page shows it as unavailable, with why; forced into the form it
// is refused; with nothing left to choose the application gets access_denied; and claims read later
// (userinfo, a refresh) drop the organisation once its rule asks for more than the sign-in had.
// Driven by openid-client through a browser without script (Navigator).
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { sql } from 'kysely';
import * as oidc from 'openid-client';
import { addMember, call, createOrganisation, PASSWORD, registerUser, type TestUser } from './helpers/api.ts';
import { forEachDatabase, type Harness } from './helpers/harness.ts';
import { enableTotp, nextStep, SECRET_KEY, totpCode, type TotpUser } from './helpers/mfa.ts';
import { authorizationRequest, discover, freePort, makeAdmin, Navigator, registerClient } from './helpers/relying-party.ts';

const RP = 'http://rp.test';
const CALLBACK = `${RP}/callback`;
const SCOPE = 'openid email organization offline_access';
const WHY = 'requires a second factor: add one in your account security settings';

/** The relying party of one suite: a first-party confidential client, registered once Gatehouse listens. */
function relyingPartyOf(h: () => Harness, port: number) {
  let config: oidc.Configuration | undefined;
  return async (): Promise<oidc.Configuration> => {
    if (config) return config;
    await h().app.listen({ port, host: '127.0.0.1' });
    // With a second factor, which GATEHOUSE_REQUIRE_MFA asks of platform admins.
    const admin = await enableTotp(h().app, h().clock, await makeAdmin(h().app, h().db));
    config = await discover(`http://127.0.0.1:${port}`, await registerClient(h().app, admin.accessToken, { name: 'Notes', redirectUris: [CALLBACK], type: 'confidential', firstParty: true }));
    return config;
  };
}

/** Signs in with the password (and the authenticator app's code, for an account with one). */
async function signIn(config: oidc.Configuration, user: TestUser | TotpUser, h: () => Harness) {
  const request = await authorizationRequest(config, CALLBACK, SCOPE);
  const navigator = new Navigator(RP);
  let answer = await navigator.submit(await navigator.go(request.url.href), '/login', { email: user.email, password: PASSWORD });
  if ('secret' in user) {
    nextStep(h().clock);
    answer = await navigator.submit(answer, '/mfa', { code: totpCode(user.secret, h().clock) });
  }
  return { request, navigator, answer };
}

const exchange = (config: oidc.Configuration, callback: URL, request: { verifier: string; state: string; nonce: string }) =>
  oidc.authorizationCodeGrant(config, callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce, idTokenExpected: true });

/** The radio buttons of the choice page: each organisation's id and whether it may be chosen. */
const choices = (html: string) => Object.fromEntries([...html.matchAll(/<input type="radio" id="org-\d+" name="orgId" value="([^"]+)"([^>]*)>/g)].map((m) => [m[1]!, !m[2]!.includes('disabled')]));

const codesOf = (h: () => Harness, userId: string) =>
  h().db.selectFrom('oidc_payloads').select('id').where('model', '=', 'AuthorizationCode').where(sql<boolean>`payload->>'accountId' = ${userId}`).execute();

/** An owner with an authenticator app, and an organisation of theirs that requires a second factor. */
async function securedOrganisation(h: () => Harness): Promise<{ owner: TotpUser; orgId: string }> {
  const owner = await enableTotp(h().app, h().clock, await registerUser(h().app));
  const orgId = await createOrganisation(h().app, owner.accessToken, 'Vault');
  const set = await call(h().app, 'PATCH', `/api/organisations/${orgId}`, { token: owner.accessToken, body: { requireMfa: true } });
  assert.equal(set.status, 200, JSON.stringify(set.body));
  return { owner, orgId };
}

const ORG_PORT = await freePort();
forEachDatabase(
  'the OpenID Provider’s organization scope and organisations that require a second factor',
  (h) => {
    const relyingParty = relyingPartyOf(h, ORG_PORT);

    it('shows an organisation that requires a second factor as unavailable, with why, to a sign-in without one; forced into the form it is refused', async () => {
      const config = await relyingParty();
      const { owner, orgId } = await securedOrganisation(h);
      const user = await registerUser(h().app);
      await addMember(h().app, owner.accessToken, orgId, user.userId);

      const { request, navigator, answer } = await signIn(config, user, h);
      assert.equal(answer.callback, null, 'the page is shown, though only one organisation may be chosen');
      assert.match(answer.html, /<h1>Choose an organisation<\/h1>/);
      assert.deepEqual(choices(answer.html), { [user.personalOrgId]: true, [orgId]: false });
      assert.match(answer.html, new RegExp(`Vault <span class="hint">member</span><br><span class="hint" id="org-\\d+-why">${WHY}</span>`));
      assert.match(answer.html, /value="[^"]+" checked autofocus/);
      assert.ok(answer.html.includes(`value="${user.personalOrgId}" checked`), 'the organisation that may be chosen is selected');

      const refused = await navigator.submit(answer, '/organization', { orgId });
      assert.equal(refused.callback, null);
      assert.equal(refused.status, 403);
      assert.match(refused.html, /That organisation requires a second factor/);
      assert.deepEqual(choices(refused.html), { [user.personalOrgId]: true, [orgId]: false });
      assert.deepEqual(await codesOf(h, user.userId), [], 'no code');

      const chosen = await navigator.submit(refused, '/organization', { orgId: user.personalOrgId });
      assert.ok(chosen.callback, chosen.html);
      assert.equal((await exchange(config, chosen.callback, request)).claims()?.org_id, user.personalOrgId);
    });

    it('lets a sign-in with the second factor choose it: org_id in the ID token, userinfo and after a refresh', async () => {
      const config = await relyingParty();
      const { owner, orgId } = await securedOrganisation(h);
      const { request, navigator, answer } = await signIn(config, owner, h);
      assert.deepEqual(choices(answer.html), { [owner.personalOrgId]: true, [orgId]: true });
      assert.doesNotMatch(answer.html, new RegExp(WHY));
      const chosen = await navigator.submit(answer, '/organization', { orgId });
      assert.ok(chosen.callback, chosen.html);
      const tokens = await exchange(config, chosen.callback, request);
      assert.equal(tokens.claims()?.org_id, orgId);
      assert.equal((await oidc.fetchUserInfo(config, tokens.access_token, owner.userId)).org_id, orgId);
      assert.equal((await oidc.refreshTokenGrant(config, tokens.refresh_token!)).claims()?.org_id, orgId);
    });

    it('sends a person whose every organisation requires a second factor back to the application with access_denied saying why, and no code', async () => {
      await relyingParty();
      const { owner, orgId } = await securedOrganisation(h);
      const user = await registerUser(h().app);
      await addMember(h().app, owner.accessToken, orgId, user.userId);
      // Every account starts with a personal organisation, but may hand it on and leave it.
      await addMember(h().app, user.accessToken, user.personalOrgId, owner.userId, 'owner');
      assert.equal((await call(h().app, 'DELETE', `/api/organisations/${user.personalOrgId}/members/${user.userId}`, { token: user.accessToken })).status, 200);

      const { request, answer } = await signIn(await relyingParty(), user, h);
      assert.ok(answer.callback, answer.html);
      assert.equal(answer.callback.searchParams.get('error'), 'access_denied');
      assert.match(answer.callback.searchParams.get('error_description') ?? '', /requires a second factor, which this sign-in did not use/);
      assert.equal(answer.callback.searchParams.get('state'), request.state);
      assert.equal(answer.callback.searchParams.get('code'), null);
      assert.deepEqual(await codesOf(h, user.userId), []);
    });

    it('drops the organisation from userinfo and a refresh once it requires a second factor the sign-in did not use', async () => {
      const config = await relyingParty();
      const owner = await enableTotp(h().app, h().clock, await registerUser(h().app));
      const orgId = await createOrganisation(h().app, owner.accessToken, 'Later');
      const user = await registerUser(h().app);
      await addMember(h().app, owner.accessToken, orgId, user.userId);
      const { request, navigator, answer } = await signIn(config, user, h);
      const chosen = await navigator.submit(answer, '/organization', { orgId });
      assert.ok(chosen.callback, chosen.html);
      const tokens = await exchange(config, chosen.callback, request);
      assert.equal(tokens.claims()?.org_id, orgId);

      const set = await call(h().app, 'PATCH', `/api/organisations/${orgId}`, { token: owner.accessToken, body: { requireMfa: true } });
      assert.equal(set.status, 200, JSON.stringify(set.body));
      const info = await oidc.fetchUserInfo(config, tokens.access_token, user.userId);
      assert.equal(info.sub, user.userId);
      assert.equal(info.org_id, undefined);
      assert.equal(info.org_role, undefined);
      const refreshed = await oidc.refreshTokenGrant(config, tokens.refresh_token!);
      assert.equal(refreshed.claims()?.org_id, undefined);
      assert.equal(refreshed.claims()?.org_permissions, undefined);

      // Turned off again, the same grant names it again: the rule is read live, as Gatehouse's routes read it.
      assert.equal((await call(h().app, 'PATCH', `/api/organisations/${orgId}`, { token: owner.accessToken, body: { requireMfa: false } })).status, 200);
      assert.equal((await oidc.fetchUserInfo(config, refreshed.access_token, user.userId)).org_id, orgId);
    });
  },
  { ...SECRET_KEY, PUBLIC_URL: `http://127.0.0.1:${ORG_PORT}` },
);

const PLATFORM_PORT = await freePort();
forEachDatabase(
  'the OpenID Provider’s organization scope under GATEHOUSE_REQUIRE_MFA=all',
  (h) => {
    const relyingParty = relyingPartyOf(h, PLATFORM_PORT);

    it('hands no organisation to a sign-in without a second factor (access_denied), and any to one with it', async () => {
      const config = await relyingParty();
      const plain = await registerUser(h().app);
      const { answer } = await signIn(config, plain, h);
      assert.ok(answer.callback, answer.html);
      assert.equal(answer.callback.searchParams.get('error'), 'access_denied');
      assert.deepEqual(await codesOf(h, plain.userId), []);

      const secured = await enableTotp(h().app, h().clock, await registerUser(h().app));
      const signedIn = await signIn(config, secured, h);
      assert.ok(signedIn.answer.callback, signedIn.answer.html);
      assert.equal((await exchange(config, signedIn.answer.callback, signedIn.request)).claims()?.org_id, secured.personalOrgId);
    });
  },
  { ...SECRET_KEY, PUBLIC_URL: `http://127.0.0.1:${PLATFORM_PORT}`, GATEHOUSE_REQUIRE_MFA: 'all' },
);
