// Registering the relying parties of Gatehouse's OpenID Provider: platform admins only, through the
// API and the command line; a secret shown once and stored as a digest; every change an event in the
// audit log; a deleted client's grants and tokens gone with it.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { hashOpaqueToken } from '../src/domain/sessions/opaque-tokens.ts';
import { system } from '../src/domain/principal.ts';
import { call, registerUser } from './helpers/api.ts';
import { fingerprint, forEachDatabase } from './helpers/harness.ts';
import { expectAuthenticationRequired, expectRefused } from './helpers/matrix.ts';
import { makeAdmin } from './helpers/relying-party.ts';

const BODY = { name: 'Notes', redirectUris: ['https://notes.example/callback'], postLogoutRedirectUris: ['https://notes.example/'], type: 'confidential' };

forEachDatabase('OpenID clients', (h) => {
  const app = () => h().app;

  it('registers a confidential client with a secret shown once and kept as a digest, and audits it', async () => {
    const admin = await makeAdmin(app(), h().db);
    const created = await call(app(), 'POST', '/api/admin/oidc-clients', { token: admin.accessToken, body: BODY });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const { clientId, clientSecret } = created.body.data;
    assert.match(clientId, /^gho_/);
    assert.match(clientSecret, /^ghos_[\w-]{43}$/);
    assert.deepEqual(created.body.data.redirectUris, BODY.redirectUris);
    assert.equal(created.body.data.firstParty, false);
    const row = await h().db.selectFrom('oidc_clients').select(['secret_hash']).where('client_id', '=', clientId).executeTakeFirstOrThrow();
    assert.equal(row.secret_hash, hashOpaqueToken(clientSecret));

    const listed = await call(app(), 'GET', '/api/admin/oidc-clients', { token: admin.accessToken });
    assert.equal(listed.status, 200);
    assert.ok(listed.body.data.clients.some((c: { clientId: string }) => c.clientId === clientId));
    assert.ok(!JSON.stringify(listed.body).includes(clientSecret));
    const one = await call(app(), 'GET', `/api/admin/oidc-clients/${clientId}`, { token: admin.accessToken });
    assert.equal(one.body.data.name, 'Notes');
    assert.equal(one.body.data.clientSecret, undefined);

    const audit = await call(app(), 'GET', '/api/admin/audit-log', { token: admin.accessToken });
    const event = audit.body.data.events.find((e: { action: string; targetId: string }) => e.action === 'oidc_client.created');
    assert.ok(event, JSON.stringify(audit.body.data.events.slice(0, 3)));
    assert.ok(!JSON.stringify(audit.body).includes(clientSecret));
  });

  it('registers a public client without a secret', async () => {
    const admin = await makeAdmin(app(), h().db);
    const created = await call(app(), 'POST', '/api/admin/oidc-clients', { token: admin.accessToken, body: { ...BODY, type: 'public', firstParty: true } });
    assert.equal(created.status, 201);
    assert.equal(created.body.data.clientSecret, undefined);
    assert.equal(created.body.data.type, 'public');
    assert.equal(created.body.data.firstParty, true);
  });

  it('updates and deletes a client, each change an event, and a deleted client is gone with its provider rows', async () => {
    const admin = await makeAdmin(app(), h().db);
    const { clientId } = (await call(app(), 'POST', '/api/admin/oidc-clients', { token: admin.accessToken, body: BODY })).body.data;
    const updated = await call(app(), 'PATCH', `/api/admin/oidc-clients/${clientId}`, { token: admin.accessToken, body: { name: 'Notes 2', firstParty: true } });
    assert.equal(updated.status, 200, JSON.stringify(updated.body));
    assert.equal(updated.body.data.name, 'Notes 2');
    assert.equal(updated.body.data.firstParty, true);
    await h().db.insertInto('oidc_payloads').values({ model: 'Grant', id: `g-${clientId}`, payload: JSON.stringify({ clientId, accountId: admin.userId }), grant_id: null, uid: null, user_code: null, expires_at: null, consumed_at: null }).execute();
    assert.equal((await call(app(), 'DELETE', `/api/admin/oidc-clients/${clientId}`, { token: admin.accessToken })).status, 200);
    assert.equal((await call(app(), 'GET', `/api/admin/oidc-clients/${clientId}`, { token: admin.accessToken })).status, 404);
    assert.equal((await call(app(), 'DELETE', `/api/admin/oidc-clients/${clientId}`, { token: admin.accessToken })).status, 404);
    assert.equal((await h().db.selectFrom('oidc_payloads').select('id').where('id', '=', `g-${clientId}`).execute()).length, 0);
    const audit = await call(app(), 'GET', '/api/admin/audit-log', { token: admin.accessToken });
    const actions = audit.body.data.events.filter((e: { data?: { clientId?: string }; action: string }) => JSON.stringify(e).includes(clientId)).map((e: { action: string }) => e.action);
    assert.deepEqual(actions, ['oidc_client.deleted', 'oidc_client.updated', 'oidc_client.created']);
  });

  it('refuses redirect URIs that are not absolute http(s) URLs without a fragment, and unknown fields', async () => {
    const admin = await makeAdmin(app(), h().db);
    for (const redirectUris of [['notes.example/callback'], ['https://notes.example/cb#x'], ['javascript:alert(1)'], []]) {
      const answer = await call(app(), 'POST', '/api/admin/oidc-clients', { token: admin.accessToken, body: { ...BODY, redirectUris } });
      assert.ok(answer.status === 400 || answer.status === 422, `${JSON.stringify(redirectUris)}: ${answer.status}`);
    }
    assert.equal((await call(app(), 'POST', '/api/admin/oidc-clients', { token: admin.accessToken, body: { ...BODY, grantTypes: ['implicit'] } })).status, 422);
  });

  it('is for platform admins only: no token is 401, an ordinary user 403, and neither changes anything', async () => {
    const user = await registerUser(app());
    for (const route of [
      { method: 'POST' as const, url: '/api/admin/oidc-clients', body: BODY },
      { method: 'GET' as const, url: '/api/admin/oidc-clients' },
      { method: 'PATCH' as const, url: '/api/admin/oidc-clients/gho_x', body: { name: 'x' } },
      { method: 'DELETE' as const, url: '/api/admin/oidc-clients/gho_x' },
    ]) {
      await expectAuthenticationRequired(h(), route, user.accessToken);
      await expectRefused(h(), route, user.accessToken, 403);
    }
  });

  it('registers from the command line as the system (the service the CLI calls)', async () => {
    const before = await fingerprint(h().db);
    const created = await app().services.oidcClients.create(system('command line'), { name: 'CLI app', redirectUris: ['http://localhost:3001/callback'], type: 'confidential' });
    assert.match(created.clientSecret ?? '', /^ghos_/);
    assert.notEqual(await fingerprint(h().db), before);
    const audit = await h().db.selectFrom('audit_events').select(['action', 'actor_type']).where('target_id', '=', created.id).execute();
    assert.deepEqual(audit, [{ action: 'oidc_client.created', actor_type: 'system' }]);
  });
});
