// Two Gatehouse processes on one PostgreSQL database and one Redis, as a cluster runs: they share the
// throttling counters, a refresh token spent on one is spent for both, each mail leaves once, and an
// API key or machine token revoked on one is refused on the other within 5 seconds (Redis pub/sub).
// Needs the real servers, so it runs when TEST_DATABASE_URL and TEST_REDIS_URL are set (CI sets both).
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { openDatabase, type DatabaseHandle } from '../src/db/database.ts';
import { DEFAULT_THROTTLE_POLICY } from '../src/domain/throttle/throttles.ts';
import { PASSWORD, uniqueEmail } from './helpers/api.ts';
import { createTestDatabase, type TestDatabase } from './helpers/databases.ts';
import { startGatehouse, type GatehouseProcess } from './helpers/gatehouse-process.ts';
import { startMailbox, type Mailbox } from './helpers/mailbox.ts';

const databaseUrl = process.env.TEST_DATABASE_URL;
const redisUrl = process.env.TEST_REDIS_URL;
const skip = !databaseUrl || !redisUrl ? 'needs TEST_DATABASE_URL and TEST_REDIS_URL (a PostgreSQL and a Redis server)' : false;

describe('two nodes on one PostgreSQL and one Redis', { skip }, () => {
  let testDb: TestDatabase;
  let database: DatabaseHandle;
  let mailbox: Mailbox;
  const nodes: GatehouseProcess[] = [];
  let address = 0;

  /** A request through the load balancer: the client's address arrives in X-Forwarded-For. */
  async function send(node: GatehouseProcess, method: string, path: string, body?: unknown, options: { token?: string; from?: string } = {}) {
    const headers: Record<string, string> = { 'x-forwarded-for': options.from ?? `198.18.${Math.floor(++address / 250)}.${(address % 250) + 1}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    const answer = await fetch(`${node.url}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await answer.text();
    return { status: answer.status, body: text ? JSON.parse(text) : undefined, headers: answer.headers };
  }

  async function register(node: GatehouseProcess, email = uniqueEmail('node')) {
    const answer = await send(node, 'POST', '/auth/register', { firstName: 'Nia', lastName: 'Node', email, password: PASSWORD });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    return { email, ...answer.body.data };
  }

  before(async () => {
    testDb = await createTestDatabase('postgres');
    if (testDb.config.kind !== 'postgres') throw new Error('expected a PostgreSQL database');
    database = openDatabase(testDb.config);
    mailbox = await startMailbox();
    const env = {
      DATABASE_URL: testDb.config.url,
      REDIS_URL: redisUrl ?? '',
      REDIS_KEY_PREFIX: `gatehouse-two-nodes:${randomUUID()}`,
      SMTP_URL: mailbox.url,
      TRUST_PROXY: 'true',
      PUBLIC_URL: 'https://gatehouse.test',
    };
    // One after the other: both run migrations at start, under the migration lock.
    nodes.push(await startGatehouse(env));
    nodes.push(await startGatehouse(env));
  });

  after(async () => {
    const codes = await Promise.all(nodes.map((node) => node.stop()));
    await mailbox?.stop();
    await database?.close();
    await testDb?.drop();
    assert.deepEqual(codes, nodes.map(() => 0), 'both nodes exit 0 on SIGTERM');
  });

  it('shares an account’s sign-in counter: guesses spread over both nodes are throttled together', async () => {
    const [a, b] = nodes as [GatehouseProcess, GatehouseProcess];
    const user = await register(a);
    const points = DEFAULT_THROTTLE_POLICY.signInAccount.points;
    for (let i = 0; i < points; i++) {
      const answer = await send(i % 2 ? b : a, 'POST', '/auth/login', { email: user.email, password: 'wrong password here' });
      assert.equal(answer.status, 401);
    }
    for (const node of [a, b]) {
      const refused = await send(node, 'POST', '/auth/login', { email: user.email, password: PASSWORD });
      assert.equal(refused.status, 429);
      assert.ok(Number(refused.headers.get('retry-after')) >= 1);
    }
  });

  it('shares an address’s counter between the nodes', async () => {
    const [a, b] = nodes as [GatehouseProcess, GatehouseProcess];
    const from = '198.19.0.77';
    const { points } = DEFAULT_THROTTLE_POLICY.registerAddress;
    for (let i = 0; i < points; i++) {
      const answer = await send(i % 2 ? b : a, 'POST', '/auth/register', { firstName: 'R', lastName: 'Ace', email: uniqueEmail('race'), password: PASSWORD }, { from });
      assert.equal(answer.status, 201, JSON.stringify(answer.body));
    }
    for (const node of [a, b]) assert.equal((await send(node, 'POST', '/auth/register', { firstName: 'R', lastName: 'Ace', email: uniqueEmail('race'), password: PASSWORD }, { from })).status, 429);
  });

  it('refuses on one node a refresh token spent on the other, and ends that session everywhere', async () => {
    const [a, b] = nodes as [GatehouseProcess, GatehouseProcess];
    const user = await register(a);
    const rotated = await send(a, 'POST', '/auth/refresh', { refreshToken: user.refreshToken });
    assert.equal(rotated.status, 200);
    const replay = await send(b, 'POST', '/auth/refresh', { refreshToken: user.refreshToken });
    assert.equal(replay.status, 401);
    // Reuse revoked the session: the successor and its access token stop working on both nodes.
    assert.equal((await send(a, 'POST', '/auth/refresh', { refreshToken: rotated.body.data.refreshToken })).status, 401);
    for (const node of [a, b]) assert.equal((await send(node, 'GET', '/api/users/me', undefined, { token: rotated.body.data.accessToken })).status, 401);
  });

  /** Polls until `refused` holds, for at most the 5 seconds a revocation may take to reach every node (SPEC §6.2). */
  async function refusedWithin5s(what: string, refused: () => Promise<boolean>) {
    const deadline = Date.now() + 5000;
    for (;;) {
      if (await refused()) return;
      if (Date.now() > deadline) assert.fail(`${what} was still accepted 5 s after its revocation`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  it('refuses on one node an API key revoked on the other, within 5 seconds', async () => {
    const [a, b] = nodes as [GatehouseProcess, GatehouseProcess];
    const user = await register(a);
    const orgs = await send(a, 'GET', '/api/organisations', undefined, { token: user.accessToken });
    const orgId = orgs.body.data.organisations[0].orgId as string;
    const created = await send(a, 'POST', `/api/organisations/${orgId}/api-keys`, { name: 'Both nodes', permissions: ['members:read'] }, { token: user.accessToken });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const { key, apiKeyId } = created.body.data as { key: string; apiKeyId: string };
    // Both nodes have the key in their caches now.
    for (const node of [a, b]) assert.equal((await send(node, 'GET', `/api/organisations/${orgId}/members`, undefined, { token: key })).status, 200);
    assert.equal((await send(a, 'DELETE', `/api/organisations/${orgId}/api-keys/${apiKeyId}`, undefined, { token: user.accessToken })).status, 200);
    assert.equal((await send(a, 'GET', `/api/organisations/${orgId}/members`, undefined, { token: key })).status, 401, 'refused at once where it was revoked');
    await refusedWithin5s('the revoked key', async () => (await send(b, 'GET', `/api/organisations/${orgId}/members`, undefined, { token: key })).status === 401);
    const row = await database.db.selectFrom('api_keys').select('revoked_at').where('id', '=', apiKeyId).executeTakeFirstOrThrow();
    assert.ok(row.revoked_at);
  });

  it('refuses on one node a machine token revoked (RFC 7009) on the other, within 5 seconds', async () => {
    const [a, b] = nodes as [GatehouseProcess, GatehouseProcess];
    const user = await register(a);
    const orgId = (await send(a, 'GET', '/api/organisations', undefined, { token: user.accessToken })).body.data.organisations[0].orgId as string;
    const client = await send(a, 'POST', `/api/organisations/${orgId}/applications`, { name: 'Both nodes', permissions: ['members:read'] }, { token: user.accessToken });
    assert.equal(client.status, 201, JSON.stringify(client.body));
    const credentials = new URLSearchParams({ client_id: client.body.data.clientId, client_secret: client.body.data.clientSecret });
    const form = (node: GatehouseProcess, path: string, params: Record<string, string>) =>
      fetch(`${node.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams([...credentials, ...Object.entries(params)]) });
    const granted = (await (await form(b, '/oauth/token', { grant_type: 'client_credentials' })).json()) as { access_token: string };
    const token = granted.access_token;
    for (const node of [a, b]) assert.equal((await send(node, 'GET', `/api/organisations/${orgId}/members`, undefined, { token })).status, 200);
    assert.equal((await form(a, '/oauth/revoke', { token })).status, 200);
    await refusedWithin5s('the revoked machine token', async () => (await send(b, 'GET', `/api/organisations/${orgId}/members`, undefined, { token })).status === 401);
  });

  it('sends each mail once although both nodes run an outbox worker', async () => {
    const emails = Array.from({ length: 30 }, () => uniqueEmail('once'));
    await Promise.all(emails.map((email, i) => register(nodes[i % 2]!, email)));
    await mailbox.waitFor(() => emails.every((email) => mailbox.to(email).length > 0), 30_000);
    // A batch is marked sent after its last mail went: wait for that, then no delivery is still under way.
    const unsent = async () => (await sql<{ n: number }>`select count(*)::int as n from outbox where recipient = any(${emails}) and status <> 'sent'`.execute(database.db)).rows[0]?.n;
    for (const until = Date.now() + 10_000; (await unsent()) !== 0 && Date.now() < until; ) await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(await unsent(), 0);
    for (const email of emails) assert.equal(mailbox.to(email).length, 1, `${email} got ${mailbox.to(email).length} mails`);
    const attempts = await sql<{ max: number }>`select max(attempts)::int as max from outbox where recipient = any(${emails})`.execute(database.db);
    assert.equal(attempts.rows[0]?.max, 1);
  });
});
