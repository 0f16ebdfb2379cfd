// Rotating the RS256 key that signs ID tokens: `gatehouse rotate-keys` as an operator runs it, and a
// rotation made by another node reaching a running one without a restart. After it, new ID tokens
// carry the new kid; an ID token signed before it still verifies against /.well-known/jwks.json until
// the overlap ends, and then its key leaves the key set.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import * as oidc from 'openid-client';
import { PASSWORD, registerUser, uniqueEmail } from './helpers/api.ts';
import { createTestDatabase, targets } from './helpers/databases.ts';
import { startGatehouse } from './helpers/gatehouse-process.ts';
import { forEachDatabase } from './helpers/harness.ts';
import { authorizationRequest, discover, freePort, makeAdmin, Navigator, registerClient, type RegisteredClient } from './helpers/relying-party.ts';
import { createServices } from '../src/domain/services.ts';
import { anonymous, system } from '../src/domain/principal.ts';

const RP = 'http://rp.test';
const CALLBACK = `${RP}/callback`;

/** An ID token for `email` through the hosted sign-in (a first-party client: no consent), as openid-client validates it. */
async function idToken(base: string, client: RegisteredClient, email: string): Promise<string> {
  const config = await discover(base, client);
  const request = await authorizationRequest(config, CALLBACK, 'openid email');
  const navigator = new Navigator(RP);
  const page = await navigator.go(request.url.href);
  assert.equal(page.status, 200, page.html);
  const back = await navigator.submit(page, '/login', { email, password: PASSWORD });
  assert.ok(back.callback, `not sent back: ${back.status} ${back.html}`);
  const tokens = await oidc.authorizationCodeGrant(config, back.callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce, idTokenExpected: true });
  return tokens.id_token!;
}

const kidOf = (token: string) => decodeProtectedHeader(token).kid;
const keySet = async (base: string) => (await (await fetch(`${base}/.well-known/jwks.json`)).json()) as JSONWebKeySet;
const rs256Kids = (keys: JSONWebKeySet) => keys.keys.filter((key) => key.alg === 'RS256').map((key) => key.kid);

/** Verifies an ID token against the key set Gatehouse publishes now. */
async function verifies(base: string, client: RegisteredClient, token: string) {
  const { payload } = await jwtVerify(token, createLocalJWKSet(await keySet(base)), { issuer: base, audience: client.clientId, algorithms: ['RS256'] });
  return payload;
}

const PORT = await freePort();
const BASE = `http://127.0.0.1:${PORT}`;

forEachDatabase(
  'RS256 rotation reaching a running node',
  (h) => {
    it('another node rotates: within a minute new ID tokens carry the new kid, the old one verifies during the overlap, then leaves the key set', async () => {
      await h().app.listen({ port: PORT, host: '127.0.0.1' });
      const admin = await makeAdmin(h().app, h().db);
      const client = await registerClient(h().app, admin.accessToken, { name: 'Notes', type: 'public', firstParty: true, redirectUris: [CALLBACK] });
      const user = await registerUser(h().app);
      const before = await idToken(BASE, client, user.email);
      const oldKid = kidOf(before);
      const edDsaBefore = (await keySet(BASE)).keys.filter((key) => key.alg === 'EdDSA');

      // A sign-in under way when the key changes: its page, cookies and anti-forgery token were signed under the old key.
      const config = await discover(BASE, client);
      const pending = await authorizationRequest(config, CALLBACK, 'openid');
      const navigator = new Navigator(RP);
      const signInPage = await navigator.go(pending.url.href);

      // The command line, or another node: services of their own on the same database.
      const elsewhere = createServices({ db: h().db, clock: h().clock, config: h().config });
      const { kid: newKid, previousValidUntil } = await elsewhere.signingKeys.rotate(system('test'), 'RS256');
      assert.notEqual(newKid, oldKid);
      await assert.rejects(elsewhere.signingKeys.rotate(anonymous(system('test').client), 'RS256'), { code: 'FORBIDDEN' }, 'only Gatehouse itself rotates keys');
      const audit = await h().db.selectFrom('audit_events').select(['action', 'actor_type', 'data']).where('action', '=', 'signing_key.rotated').execute();
      assert.deepEqual(audit, [{ action: 'signing_key.rotated', actor_type: 'system', data: { algorithm: 'RS256', previousValidUntil: previousValidUntil.toISOString() } }]);

      h().clock.advance(61);
      const after = await idToken(BASE, client, user.email);
      assert.equal(kidOf(after), newKid, 'the running node signs with the new key, no restart');
      assert.deepEqual(rs256Kids(await keySet(BASE)), [newKid, oldKid]);
      assert.equal((await verifies(BASE, client, after)).sub, user.userId);
      assert.equal((await verifies(BASE, client, before)).sub, user.userId, 'an ID token from before the rotation verifies during the overlap');
      assert.deepEqual((await keySet(BASE)).keys.filter((key) => key.alg === 'EdDSA'), edDsaBefore, 'the EdDSA key was not rotated');
      const finished = await navigator.submit(signInPage, '/login', { email: user.email, password: PASSWORD });
      assert.ok(finished.callback, `a sign-in begun before the rotation finishes after it: ${finished.status} ${finished.html}`);
      const late = await oidc.authorizationCodeGrant(config, finished.callback, { pkceCodeVerifier: pending.verifier, expectedState: pending.state, expectedNonce: pending.nonce, idTokenExpected: true });
      assert.equal(kidOf(late.id_token!), newKid);
      const hint = (token: string) => fetch(`${BASE}/oidc/session/end?${new URLSearchParams({ id_token_hint: token, client_id: client.clientId })}`);
      assert.equal((await hint(before)).status, 200, 'an old ID token is still a valid id_token_hint during the overlap');

      h().clock.advance((previousValidUntil.getTime() - h().clock.now().getTime()) / 1000 + 61);
      assert.deepEqual(rs256Kids(await keySet(BASE)), [newKid], 'the old key leaves the key set after the overlap');
      await assert.rejects(verifies(BASE, client, before));
      assert.equal((await hint(before)).status, 400, 'and no longer after it');
      assert.equal(kidOf(await idToken(BASE, client, user.email)), newKid);
    });
  },
  { PUBLIC_URL: BASE },
);

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** Runs `gatehouse <args>` to completion on the database `env` names. */
function gatehouse(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const base: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: 'warn', ...env };
  for (const name of ['NODE_TEST_CONTEXT', 'NODE_OPTIONS', 'REDIS_URL', 'SMTP_URL', ...(env.DATABASE_URL ? [] : ['DATABASE_URL'])]) delete base[name];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join('src', 'cli', 'main.ts'), ...args], { cwd: ROOT, env: base, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

for (const target of targets()) {
  describe(`gatehouse rotate-keys [${target}]`, () => {
    it('--algorithm RS256: after a restart new ID tokens carry the printed kid, and one from before still verifies; without it, both keys rotate', async () => {
      const database = await createTestDatabase(target, { migrated: true });
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      const env = {
        PUBLIC_URL: base,
        PORT: String(port),
        GATEHOUSE_SHUTDOWN_DELAY: '0',
        ...(database.config.kind === 'postgres' ? { DATABASE_URL: database.config.url } : { GATEHOUSE_DATA_DIR: database.config.dataDir ?? '' }),
      };
      try {
        const created = await gatehouse(['create-client', '--name', 'Notes', '--redirect-uri', CALLBACK, '--type', 'public', '--first-party'], env);
        assert.equal(created.code, 0, created.stderr);
        const client = { clientId: /client_id: (\S+)/.exec(created.stdout)![1]! };
        const email = uniqueEmail();

        let server = await startGatehouse(env);
        let before: string;
        try {
          const registered = await fetch(`${base}/auth/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ firstName: 'Test', lastName: 'User', email, password: PASSWORD }) });
          assert.equal(registered.status, 201, await registered.text());
          before = await idToken(base, client, email);
        } finally {
          assert.equal(await server.stop(), 0, server.output());
        }

        const wrong = await gatehouse(['rotate-keys', '--algorithm', 'HS256'], env);
        assert.notEqual(wrong.code, 0);
        assert.match(wrong.stderr, /--algorithm is EdDSA, RS256 or all/);

        const run = await gatehouse(['rotate-keys', '--algorithm', 'RS256'], env);
        assert.equal(run.code, 0, run.stderr);
        const printed = /^Now signing ID tokens \(RS256\) with key ([0-9a-f-]{36}); the previous key stays published until (\S+)\n$/.exec(run.stdout);
        assert.ok(printed, run.stdout);

        server = await startGatehouse(env);
        try {
          const after = await idToken(base, client, email);
          assert.equal(kidOf(after), printed[1]);
          assert.notEqual(kidOf(before), kidOf(after));
          assert.deepEqual(rs256Kids(await keySet(base)), [kidOf(after), kidOf(before)]);
          await verifies(base, client, after);
          await verifies(base, client, before);
        } finally {
          assert.equal(await server.stop(), 0, server.output());
        }

        // Without --algorithm, both keys.
        const both = await gatehouse(['rotate-keys'], env);
        assert.equal(both.code, 0, both.stderr);
        assert.match(both.stdout, /^Now signing access tokens \(EdDSA\) with key [0-9a-f-]{36}; .*\nNow signing ID tokens \(RS256\) with key [0-9a-f-]{36}; .*\n$/);
      } finally {
        await database.drop();
      }
    });
  });
}
