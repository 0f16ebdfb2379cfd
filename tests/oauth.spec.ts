// Machine clients over real HTTP: openid-client (a certified OAuth client), told the token endpoint
// (/oauth/token: the discovery document is the OpenID Provider's, whose endpoints are for people
// signing in), performs the client-credentials grant; jose verifies the token
// with the published keys, the issuer and the audience, as a resource server would. Then the token as
// a Bearer, the RFC 6749 errors, secret rotation, introspection, revocation and deletion, each checked
// over HTTP and in the database.
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { it } from 'node:test';
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose';
import * as oidc from 'openid-client';
import { hashOpaqueToken } from '../src/domain/sessions/opaque-tokens.ts';
import { ENTRY_TTL_MS } from '../src/domain/credentials/credential-cache.ts';
import { addMember, call, createOrganisation, registerUser } from './helpers/api.ts';
import { forEachDatabase } from './helpers/harness.ts';

/** A port nobody listens on: the issuer (PUBLIC_URL) must be the address the client really reaches. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const PORT = await freePort();
const BASE = `http://127.0.0.1:${PORT}`;
const AUDIENCE = 'https://api.gatehouse.test';

const basic = (id: string, secret: string) => `Basic ${Buffer.from(`${encodeURIComponent(id)}:${encodeURIComponent(secret)}`).toString('base64')}`;

forEachDatabase(
  'machine clients and the OAuth 2.0 endpoints',
  (h) => {
    const app = () => h().app;
    let listening = false;

    async function base(): Promise<string> {
      if (!listening) {
        await app().listen({ port: PORT, host: '127.0.0.1' });
        listening = true;
      }
      return BASE;
    }

    /** A form POST to an OAuth endpoint, as a client sends it. */
    async function form(path: string, params: Record<string, string>, headers: Record<string, string> = {}) {
      const answer = await fetch(`${await base()}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers }, body: new URLSearchParams(params) });
      const text = await answer.text();
      return { status: answer.status, headers: answer.headers, body: text ? JSON.parse(text) : undefined };
    }

    async function organisationWithClient(permissions = ['org:read', 'members:read']) {
      const [owner, member] = await Promise.all([registerUser(app()), registerUser(app())]);
      const orgId = await createOrganisation(app(), owner.accessToken, 'Machines');
      await addMember(app(), owner.accessToken, orgId, member.userId);
      const created = await call(app(), 'POST', `/api/organisations/${orgId}/applications`, { token: owner.accessToken, body: { name: 'Billing sync', permissions } });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const { applicationId, clientId, clientSecret } = created.body.data;
      return { owner, member, orgId, applicationId: applicationId as string, clientId: clientId as string, clientSecret: clientSecret as string };
    }

    const grant = async (clientId: string, clientSecret: string, extra: Record<string, string> = {}) => form('/oauth/token', { grant_type: 'client_credentials', ...extra }, { authorization: basic(clientId, clientSecret) });

    /** The authorization server as a machine client knows it: the issuer and its client-credentials endpoints. */
    async function machineServer(): Promise<oidc.ServerMetadata> {
      const issuer = await base();
      return { issuer, token_endpoint: `${issuer}/oauth/token`, introspection_endpoint: `${issuer}/oauth/introspect`, revocation_endpoint: `${issuer}/oauth/revoke` };
    }

    it('lets openid-client use the token endpoint and get a token that jose verifies with issuer and audience', async () => {
      const { orgId, clientId, clientSecret } = await organisationWithClient();
      const config = new oidc.Configuration(await machineServer(), clientId, undefined, oidc.ClientSecretBasic(clientSecret));
      oidc.allowInsecureRequests(config);
      const tokens = await oidc.clientCredentialsGrant(config, { scope: 'members:read' });
      assert.equal(tokens.token_type.toLowerCase(), 'bearer');
      assert.equal(tokens.scope, 'members:read');
      assert.equal(tokens.expires_in, h().config.accessTokenTtlSeconds);

      const keys = createRemoteJWKSet(new URL(`${BASE}/.well-known/jwks.json`));
      const { payload, protectedHeader } = await jwtVerify(tokens.access_token, keys, { issuer: BASE, audience: AUDIENCE, algorithms: ['EdDSA'], typ: 'at+jwt' });
      assert.equal(protectedHeader.typ, 'at+jwt');
      assert.equal(payload.sub, clientId);
      assert.equal(payload.client_id, clientId);
      assert.equal(payload.org_id, orgId);
      assert.equal(payload.scope, 'members:read');
      assert.equal(typeof payload.jti, 'string');
      await assert.rejects(jwtVerify(tokens.access_token, keys, { issuer: BASE, audience: 'https://elsewhere.example', algorithms: ['EdDSA'] }));

      // client_secret_post works too, and without `scope` the token holds all the client's permissions.
      const postConfig = new oidc.Configuration(config.serverMetadata(), clientId, clientSecret, oidc.ClientSecretPost(clientSecret));
      oidc.allowInsecureRequests(postConfig);
      const posted = await oidc.clientCredentialsGrant(postConfig);
      assert.equal(posted.scope, 'org:read members:read');
    });

    it('makes the token a Bearer on its organisation’s routes with its scope, and nowhere else', async () => {
      const { orgId, clientId, clientSecret, owner } = await organisationWithClient();
      const otherOrg = await createOrganisation(app(), owner.accessToken, 'Not the client’s');
      const full = (await grant(clientId, clientSecret)).body.access_token as string;
      const narrow = (await grant(clientId, clientSecret, { scope: 'org:read' })).body.access_token as string;
      assert.equal((await call(app(), 'GET', `/api/organisations/${orgId}/members`, { token: full })).status, 200);
      assert.equal((await call(app(), 'GET', `/api/organisations/${orgId}`, { token: narrow })).status, 200);
      assert.equal((await call(app(), 'GET', `/api/organisations/${orgId}/members`, { token: narrow })).status, 403);
      assert.equal((await call(app(), 'POST', `/api/organisations/${orgId}/invitations`, { token: full, body: { email: 'x@example.com' } })).status, 403);
      assert.equal((await call(app(), 'GET', `/api/organisations/${otherOrg}/members`, { token: full })).status, 404);
      for (const path of ['/api/users/me', '/api/organisations', '/api/users/me/sessions', '/api/stats/users-by-role', '/api/admin/users', '/stats/role-wise-users']) {
        const answer = await call(app(), 'GET', path, { token: full });
        assert.equal(answer.status, 401, `${path}: ${JSON.stringify(answer.body)}`);
      }
    });

    it('answers RFC 6749 errors: invalid_client (401, WWW-Authenticate), unsupported_grant_type, invalid_scope, invalid_request; never 500', async () => {
      const { clientId, clientSecret } = await organisationWithClient();
      const wrong = await grant(clientId, `${clientSecret}x`);
      assert.equal(wrong.status, 401);
      assert.equal(wrong.body.error, 'invalid_client');
      assert.match(wrong.headers.get('www-authenticate') ?? '', /^Basic /);
      assert.equal((await form('/oauth/token', { grant_type: 'client_credentials' })).body.error, 'invalid_client');
      assert.equal((await form('/oauth/token', { grant_type: 'client_credentials', client_id: clientId, client_secret: 'nope' })).status, 401);
      assert.equal((await form('/oauth/token', { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret })).status, 200);
      const unsupported = await grant(clientId, clientSecret, { grant_type: 'password' });
      assert.deepEqual([unsupported.status, unsupported.body.error], [400, 'unsupported_grant_type']);
      const beyond = await grant(clientId, clientSecret, { scope: 'members:read org:delete' });
      assert.deepEqual([beyond.status, beyond.body.error], [400, 'invalid_scope']);
      assert.match(beyond.body.error_description, /org:delete/);
      const missing = await form('/oauth/token', {}, { authorization: basic(clientId, clientSecret) });
      assert.deepEqual([missing.status, missing.body.error], [400, 'invalid_request']);
      const twice = await fetch(`${BASE}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(clientId, clientSecret) }, body: 'grant_type=client_credentials&grant_type=client_credentials' });
      assert.deepEqual([twice.status, ((await twice.json()) as { error: string }).error], [400, 'invalid_request']);
      const both = await form('/oauth/token', { grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }, { authorization: basic(clientId, clientSecret) });
      assert.deepEqual([both.status, both.body.error], [400, 'invalid_request']);
      const json = await fetch(`${BASE}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: basic(clientId, clientSecret) }, body: JSON.stringify({ grant_type: 'client_credentials' }) });
      assert.deepEqual([json.status, ((await json.json()) as { error: string }).error], [415, 'invalid_request']);
      for (const header of ['Bearer abc', 'Basic !!!', `Basic ${Buffer.from('no-colon').toString('base64')}`, `Basic ${Buffer.from('%zz:%zz').toString('base64')}`]) {
        const answer = await form('/oauth/token', { grant_type: 'client_credentials' }, { authorization: header });
        assert.equal(answer.status, 401, `${header}: ${JSON.stringify(answer.body)}`);
      }
      const long = await grant('x'.repeat(5000), clientSecret);
      assert.ok(long.status === 400 || long.status === 401, String(long.status));
    });

    it('stores the secret as a digest only, rotates it with an overlap, and audits every change', async () => {
      const { orgId, owner, applicationId, clientId, clientSecret } = await organisationWithClient();
      const rows = await h().db.selectFrom('application_secrets').select(['secret_hash', 'expires_at']).where('application_id', '=', applicationId).execute();
      assert.deepEqual(rows, [{ secret_hash: hashOpaqueToken(clientSecret), expires_at: null }]);
      const listed = await call(app(), 'GET', `/api/organisations/${orgId}/applications`, { token: owner.accessToken });
      assert.equal(listed.status, 200);
      assert.deepEqual(Object.keys(listed.body.data.applications[0]).sort(), ['applicationId', 'clientId', 'createdAt', 'createdBy', 'name', 'permissions']);
      assert.ok(!JSON.stringify(listed.body).includes(clientSecret));

      const rotated = await call(app(), 'POST', `/api/organisations/${orgId}/applications/${applicationId}/secret`, { token: owner.accessToken });
      assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
      const fresh = rotated.body.data.clientSecret as string;
      assert.notEqual(fresh, clientSecret);
      assert.equal((await grant(clientId, fresh)).status, 200);
      assert.equal((await grant(clientId, clientSecret)).status, 200, 'the old secret works during the overlap');
      h().clock.advance(h().config.secretOverlapSeconds + 1);
      try {
        assert.equal((await grant(clientId, clientSecret)).status, 401, 'the old secret stops after the overlap');
        assert.equal((await grant(clientId, fresh)).status, 200);
      } finally {
        h().clock.reset();
      }
      const audit = await call(app(), 'GET', `/api/organisations/${orgId}/audit-log`, { token: owner.accessToken });
      const mine = (audit.body.data.events as Array<{ action: string; targetId: string; actor: { type: string; id: string } }>).filter((e) => e.targetId === applicationId);
      assert.deepEqual(mine.map((e) => e.action), ['application.secret_rotated', 'application.created']);
      assert.deepEqual(mine[0]!.actor, { type: 'user', id: owner.userId });
      assert.ok(!JSON.stringify(audit.body).includes(fresh) && !JSON.stringify(audit.body).includes(clientSecret));
    });

    it('introspects: active for a live token of the caller’s organisation, inactive for anything else', async () => {
      const a = await organisationWithClient();
      const b = await organisationWithClient();
      const tokenA = (await grant(a.clientId, a.clientSecret)).body.access_token as string;
      const tokenB = (await grant(b.clientId, b.clientSecret)).body.access_token as string;
      const active = await form('/oauth/introspect', { token: tokenA }, { authorization: basic(a.clientId, a.clientSecret) });
      assert.equal(active.status, 200);
      assert.equal(active.body.active, true);
      assert.deepEqual([active.body.client_id, active.body.org_id, active.body.scope, active.body.sub], [a.clientId, a.orgId, 'org:read members:read', a.clientId]);
      for (const token of [tokenB, a.owner.accessToken, 'garbage', '']) {
        const answer = await form('/oauth/introspect', { token }, { authorization: basic(a.clientId, a.clientSecret) });
        assert.deepEqual([answer.status, answer.body], [200, { active: false }]);
      }
      assert.equal((await form('/oauth/introspect', { token: tokenA })).status, 401);
    });

    it('revokes a token on the spot and answers 200 for tokens it does not know; the revocation is stored until the token would expire', async () => {
      const a = await organisationWithClient();
      const b = await organisationWithClient();
      const token = (await grant(a.clientId, a.clientSecret)).body.access_token as string;
      const other = (await grant(b.clientId, b.clientSecret)).body.access_token as string;
      assert.equal((await call(app(), 'GET', `/api/organisations/${a.orgId}/members`, { token })).status, 200);
      for (const unknown of ['garbage', other, a.owner.accessToken]) {
        assert.equal((await form('/oauth/revoke', { token: unknown }, { authorization: basic(a.clientId, a.clientSecret) })).status, 200);
      }
      assert.equal((await call(app(), 'GET', `/api/organisations/${b.orgId}/members`, { token: other })).status, 200, 'another client’s token is not revoked by a');
      assert.equal((await form('/oauth/revoke', { token }, { authorization: basic(a.clientId, a.clientSecret) })).status, 200);
      assert.equal((await call(app(), 'GET', `/api/organisations/${a.orgId}/members`, { token })).status, 401);
      assert.deepEqual((await form('/oauth/introspect', { token }, { authorization: basic(a.clientId, a.clientSecret) })).body, { active: false });
      const row = await h().db.selectFrom('revoked_tokens').select(['jti', 'expires_at']).where('jti', '=', String(decodeJwt(token).jti)).executeTakeFirstOrThrow();
      assert.equal(row.expires_at.getTime(), Number(decodeJwt(token).exp) * 1000);
      assert.equal((await form('/oauth/revoke', { token })).status, 401, 'revocation needs the client’s credentials');
    });

    it('kills a deleted client’s secret at once and its tokens; its rows are gone', async () => {
      const { orgId, owner, applicationId, clientId, clientSecret } = await organisationWithClient();
      const token = (await grant(clientId, clientSecret)).body.access_token as string;
      assert.equal((await call(app(), 'GET', `/api/organisations/${orgId}/members`, { token })).status, 200);
      assert.equal((await call(app(), 'DELETE', `/api/organisations/${orgId}/applications/${applicationId}`, { token: owner.accessToken })).status, 200);
      assert.equal((await call(app(), 'GET', `/api/organisations/${orgId}/members`, { token })).status, 401);
      assert.equal((await grant(clientId, clientSecret)).status, 401);
      assert.equal(await h().db.selectFrom('applications').select('id').where('id', '=', applicationId).executeTakeFirst(), undefined);
      assert.equal(await h().db.selectFrom('application_secrets').select('id').where('application_id', '=', applicationId).executeTakeFirst(), undefined);
      assert.equal((await call(app(), 'DELETE', `/api/organisations/${orgId}/applications/${applicationId}`, { token: owner.accessToken })).status, 404);
    });

    it('refuses a machine client’s token once its organisation is deleted (at the next cache refill)', async () => {
      const { orgId, owner, clientId, clientSecret } = await organisationWithClient();
      const token = (await grant(clientId, clientSecret)).body.access_token as string;
      assert.equal((await call(app(), 'GET', `/api/organisations/${orgId}`, { token })).status, 200);
      assert.equal((await call(app(), 'DELETE', `/api/organisations/${orgId}`, { token: owner.accessToken })).status, 200);
      h().clock.advance(ENTRY_TTL_MS / 1000 + 1);
      try {
        assert.equal((await call(app(), 'GET', `/api/organisations/${orgId}`, { token })).status, 401);
      } finally {
        h().clock.reset();
      }
    });

    it('makes clients only for people with applications:manage, with permissions they hold; a client or key cannot make one', async () => {
      const { orgId, owner, member, clientId, clientSecret } = await organisationWithClient(['org:read', 'members:read', 'applications:manage', 'invitations:create']);
      const asMember = await call(app(), 'POST', `/api/organisations/${orgId}/applications`, { token: member.accessToken, body: { name: 'Mine', permissions: ['org:read'] } });
      assert.equal(asMember.status, 403);
      const admin = await registerUser(app());
      await addMember(app(), owner.accessToken, orgId, admin.userId, 'admin');
      const above = await call(app(), 'POST', `/api/organisations/${orgId}/applications`, { token: admin.accessToken, body: { name: 'Too much', permissions: ['org:delete'] } });
      assert.deepEqual([above.status, above.body.code], [403, 'PERMISSIONS_ABOVE_OWN']);
      const machine = (await grant(clientId, clientSecret)).body.access_token as string;
      const byMachine = await call(app(), 'POST', `/api/organisations/${orgId}/applications`, { token: machine, body: { name: 'Child', permissions: ['org:read'] } });
      assert.deepEqual([byMachine.status, byMachine.body.code], [403, 'PERSON_REQUIRED']);
      // An invitation names a person whose right to grant its role is checked again at acceptance: a client has none.
      const invited = await call(app(), 'POST', `/api/organisations/${orgId}/invitations`, { token: machine, body: { email: 'machine-invite@example.com' } });
      assert.deepEqual([invited.status, invited.body.code], [403, 'PERSON_REQUIRED']);
      for (const [body, field] of [
        [{ permissions: ['org:read'] }, 'name'],
        [{ name: ' ', permissions: ['org:read'] }, 'name'],
        [{ name: 'x', permissions: ['org:superpowers'] }, 'permissions'],
        [{ name: 'x', permissions: [] }, 'permissions'],
      ] as const) {
        const answer = await call(app(), 'POST', `/api/organisations/${orgId}/applications`, { token: owner.accessToken, body });
        assert.equal(answer.status, 422, JSON.stringify(answer.body));
        assert.equal(answer.body.errors[0].field, field);
      }
    });

    it('serves the machine-client endpoints, and keeps them out of the OpenID Provider’s discovery document, which describes only its own', async () => {
      const server = await machineServer();
      for (const endpoint of ['token_endpoint', 'introspection_endpoint', 'revocation_endpoint'] as const) {
        const url = new URL(server[endpoint]!);
        assert.equal((await form(url.pathname, {})).status < 404, true, endpoint);
      }
      const discovery = await call(app(), 'GET', '/.well-known/openid-configuration');
      assert.equal(discovery.body.issuer, BASE);
      assert.ok(!discovery.body.grant_types_supported.includes('client_credentials'), 'the provider’s token endpoint does not take client credentials');
      assert.equal(discovery.body.introspection_endpoint, undefined);
      assert.equal(decodeProtectedHeader((await registerUser(app())).accessToken).typ, 'at+jwt');
    });
  },
  { PUBLIC_URL: BASE, GATEHOUSE_AUDIENCE: AUDIENCE },
);

