// Query parameters, on every database target: one a route does not declare is refused with 422 naming
// it, on every documented operation (so a misspelt filter never returns every row as if unfiltered),
// while the pages behind mailed links (which also let a mail client's own parameters through), the API
// document and /docs still work. The admin user filter
// is `search`, as SPEC.md names it, and `q` stays as its deprecated alias.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { before, it } from 'node:test';
import fc from 'fast-check';
import { call, registerUser, type TestUser } from './helpers/api.ts';
import { operationsOf, type Operation } from './helpers/fuzz/openapi.ts';
import { validValue } from './helpers/fuzz/schema-values.ts';
import { forEachDatabase } from './helpers/harness.ts';

const PROBE = 'gatehouseProbe';
const PROBE_MESSAGE = 'Gatehouse probe is not allowed here';

forEachDatabase('query parameters', (h) => {
  let admin: TestUser;
  let operations: Operation[] = [];

  before(async () => {
    const user = await registerUser(h().app);
    await h().db.updateTable('users').set({ platform_role: 'admin', username: `probe${randomBytes(4).toString('hex')}` }).where('id', '=', user.userId).execute();
    const login = await call(h().app, 'POST', '/auth/login', { body: { email: user.email, password: user.password } });
    admin = { ...user, accessToken: login.body.data.accessToken, refreshToken: login.body.data.refreshToken };
    operations = operationsOf((await call(h().app, 'GET', '/openapi.json')).body);
  });

  it('finds users by `search`, keeps `q` as its deprecated alias, and lets `search` win when both are given', async () => {
    const marker = `zq${randomBytes(5).toString('hex')}`;
    const ada = await registerUser(h().app, { firstName: `Ada${marker}` });
    const bob = await registerUser(h().app, { firstName: `Bob${marker}` });
    const found = async (query: string) => {
      const answer = await call(h().app, 'GET', `/api/admin/users?${query}`, { token: admin.accessToken });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      return answer.body.data.users.map((u: { userId: string }) => u.userId).sort();
    };
    assert.deepEqual(await found(`search=ada${marker}`), [ada.userId]);
    assert.deepEqual(await found(`search=${marker}`), [ada.userId, bob.userId].sort());
    assert.deepEqual(await found(`q=bob${marker}`), [bob.userId]);
    assert.deepEqual(await found(`search=ada${marker}&q=bob${marker}`), [ada.userId]);
    const documented = operations.find((op) => op.operationId === 'adminListUsers')!.parameters.map((p) => p.name);
    assert.ok(documented.includes('search') && documented.includes('q'), documented.join());
  });

  it('refuses a misspelt filter with 422 naming it, instead of answering every user', async () => {
    const answer = await call(h().app, 'GET', '/api/admin/users?serch=ada&limit=5', { token: admin.accessToken });
    assert.equal(answer.status, 422, JSON.stringify(answer.body));
    assert.deepEqual(answer.body, { errors: [{ field: 'serch', message: 'Serch is not allowed here' }] });
    const nameless = await call(h().app, 'GET', '/api/admin/users?=ada', { token: admin.accessToken });
    assert.deepEqual(nameless.body, { errors: [{ field: 'query', message: 'A field with no name is not allowed here' }] });
  });

  it('refuses an undeclared query parameter on every documented operation, naming it, in the shape of the API it belongs to', async () => {
    const ids: Record<string, string> = { orgId: admin.personalOrgId, userId: admin.userId, id: admin.userId, sessionId: randomUUID(), username: 'someone' };
    let seed = 1;
    const checked: string[] = [];
    // The pages behind mailed links are opened by people whose mail client may add parameters of its own.
    const MAILED_PAGES = new Set(['resetPasswordPage', 'verifyEmailPage', 'acceptInvitePage']);
    for (const op of operations) {
      const path = op.path.replace(/\{(\w+)\}/g, (_, name: string) => ids[name] ?? randomUUID());
      // A body the route accepts, so that the query is what it refuses (params and body are checked first).
      const body = op.body ? fc.sample(validValue(op.body).filter((v) => !JSON.stringify(v).includes('\\u0000')), { seed: seed++, numRuns: 1 })[0] : undefined;
      const answer = await call(h().app, op.method, `${path}?${PROBE}=1`, { token: admin.accessToken, ...(body !== undefined ? { body } : {}) });
      const where = `${op.method} ${op.path} → ${answer.status} ${JSON.stringify(answer.body)}`;
      if (MAILED_PAGES.has(op.operationId)) {
        assert.equal(answer.status, 200, where);
        assert.match(String(answer.headers['content-type']), /text\/html/, where);
      } else if (op.oauth) {
        // RFC 6749 §3.1: an OAuth endpoint ignores parameters it does not know, and answers about its own.
        assert.ok(answer.status === 400 || answer.status === 401, where);
        assert.ok(['invalid_request', 'invalid_client'].includes(answer.body.error), where);
        assert.ok(!JSON.stringify(answer.body).includes(PROBE), where);
      } else if (op.compat) {
        assert.ok(answer.status === 422 || answer.status === 400, where);
        assert.deepEqual(Object.values(answer.body), [PROBE_MESSAGE], where);
      } else {
        assert.equal(answer.status, 422, where);
        assert.deepEqual(answer.body.errors, [{ field: PROBE, message: PROBE_MESSAGE }], where);
      }
      checked.push(op.operationId);
    }
    assert.ok(checked.length > 40, `only ${checked.length} operations`);
  });

  it('still serves the pages with their token, the API document and /docs', async () => {
    const page = await call(h().app, 'GET', '/accept-invite?token=not-a-real-token');
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /text\/html/);
    assert.equal((await call(h().app, 'GET', '/reset-password?token=abc')).status, 200);
    assert.equal((await call(h().app, 'GET', '/openapi.json')).status, 200);
    const docs = await call(h().app, 'GET', '/docs/');
    assert.equal(docs.status, 200);
    assert.match(String(docs.headers['content-type']), /text\/html/);
    assert.equal((await call(h().app, 'GET', '/healthz')).status, 200);
  });
});
