// The service's outer shell: security headers, no TRACE, CORS closed unless configured, generic 5xx
// bodies, and logs that never hold a password, a token, a hash or a private key, read line by line
// after a full tour of the API with logging at its most talkative.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { buildApp, type App } from '../src/app.ts';
import { openDatabase, type DatabaseHandle } from '../src/db/database.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { call, uniqueEmail } from './helpers/api.ts';
import { createTestDatabase, targets, type TestDatabase } from './helpers/databases.ts';
import { forEachDatabase, PUBLIC_URL, ROOMY_THROTTLES, testConfig } from './helpers/harness.ts';
import { linkIn, startMailbox } from './helpers/mailbox.ts';

forEachDatabase('security headers and methods', (h) => {
  it('sends helmet’s headers and a deny-all content policy with API answers', async () => {
    const answer = await h().app.inject({ method: 'GET', url: '/healthz' });
    assert.equal(answer.headers['content-security-policy'], "default-src 'none';frame-ancestors 'none';base-uri 'none';form-action 'none'");
    assert.equal(answer.headers['x-content-type-options'], 'nosniff');
    assert.match(String(answer.headers['strict-transport-security']), /^max-age=\d+/);
    assert.equal(answer.headers['x-frame-options'], 'SAMEORIGIN');
    assert.equal(answer.headers['x-powered-by'], undefined);
  });

  it('gives the pages and the docs their own content policies', async () => {
    const page = await h().app.inject({ method: 'GET', url: '/reset-password?token=abc' });
    assert.match(String(page.headers['content-security-policy']), /^default-src 'none'; script-src 'self'/);
    const docs = await h().app.inject({ method: 'GET', url: '/docs' });
    assert.equal(docs.statusCode, 200);
    assert.match(String(docs.headers['content-security-policy']), /^default-src 'self'; .*frame-ancestors 'none'/);
  });

  it('answers TRACE with 404 and echoes nothing of the request', async () => {
    for (const url of ['/', '/api/users/me', '/auth/login']) {
      const answer = await h().app.inject({ method: 'TRACE', url, headers: { authorization: 'Bearer secret-bearer-value', cookie: 'sid=secret-cookie' } });
      assert.equal(answer.statusCode, 404, url);
      assert.equal(JSON.parse(answer.body).code, 'ROUTE_NOT_FOUND');
      assert.doesNotMatch(answer.body, /secret-bearer-value|secret-cookie/);
    }
  });

  it('sends no CORS headers when CORS_ORIGINS is not set', async () => {
    const preflight = await h().app.inject({ method: 'OPTIONS', url: '/auth/login', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } });
    assert.equal(preflight.headers['access-control-allow-origin'], undefined);
    const simple = await call(h().app, 'GET', '/healthz', { headers: { origin: 'https://app.example' } });
    assert.equal(simple.headers['access-control-allow-origin'], undefined);
  });
});

/** Collects every log line the app writes. */
class LogSink extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _encoding: string, done: () => void) {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  }
}

for (const target of targets()) {
  describe(`logs hold no secrets [${target}]`, () => {
    const sink = new LogSink();
    const secrets = new Map<string, string>();
    let testDb: TestDatabase;
    let database: DatabaseHandle;
    let app: App;
    const mailbox = startMailbox();

    before(async () => {
      testDb = await createTestDatabase(target);
      const config = { ...testConfig({ LOG_LEVEL: 'trace', SMTP_URL: (await mailbox).url }), database: testDb.config };
      database = openDatabase(config.database);
      await migrateToLatest(database.db);
      app = await buildApp({ config, database, logStream: sink, throttlePolicy: ROOMY_THROTTLES });
      await app.ready();
    });
    after(async () => {
      await app?.close();
      await database?.close();
      await testDb?.drop();
      await (await mailbox).stop();
    });

    const keep = (label: string, value: unknown) => {
      assert.equal(typeof value, 'string', label);
      secrets.set(label, value as string);
      return value as string;
    };
    const password = (label: string) => keep(label, `pw-${label}-${Math.random().toString(36).slice(2)}-Zq9`);
    const mailLink = async (email: string, subject: RegExp, path: string) => {
      const mail = await (await mailbox).waitFor((m) => m.to.toLowerCase() === email.toLowerCase() && subject.test(m.subject));
      return keep(`${path} token`, linkIn(mail, `${PUBLIC_URL}${path}?token=`).token);
    };

    it('after a tour of every account flow, no log line holds a password, token, hash or key', async () => {
      const email = uniqueEmail('tour');
      const first = password('registration');
      const registered = await call(app, 'POST', '/auth/register', { body: { firstName: 'Tess', lastName: 'Tour', email, password: first } });
      assert.equal(registered.status, 201);
      keep('registration access', registered.body.data.accessToken);
      keep('registration refresh', registered.body.data.refreshToken);

      const verifyToken = await mailLink(email, /^Confirm your email/, '/verify-email');
      assert.equal((await app.inject({ method: 'GET', url: `/verify-email?token=${encodeURIComponent(verifyToken)}` })).statusCode, 200);
      assert.equal((await call(app, 'POST', '/auth/email/verify', { body: { token: verifyToken } })).status, 200);

      assert.equal((await call(app, 'POST', '/auth/login', { body: { email, password: password('wrong guess') } })).status, 401);
      const login = await call(app, 'POST', '/auth/login', { body: { email, password: first } });
      const access = keep('login access', login.body.data.accessToken);
      const refreshed = await call(app, 'POST', '/auth/refresh', { body: { refreshToken: keep('login refresh', login.body.data.refreshToken) } });
      keep('refreshed access', refreshed.body.data.accessToken);
      keep('refreshed refresh', refreshed.body.data.refreshToken);
      assert.equal((await call(app, 'GET', '/api/users/me', { token: access })).status, 200);
      assert.equal((await call(app, 'GET', '/api/users/me', { token: `${access}x` })).status, 401);

      const orgId = (await call(app, 'POST', '/api/organisations', { token: access, body: { name: 'Tour Co' } })).body.data.orgId;
      const guest = uniqueEmail('guest');
      assert.equal((await call(app, 'POST', `/api/organisations/${orgId}/invitations`, { token: access, body: { email: guest, role: 'member' } })).status, 201);
      const inviteToken = await mailLink(guest, /invites you to/, '/accept-invite');
      assert.equal((await app.inject({ method: 'GET', url: `/accept-invite?token=${encodeURIComponent(inviteToken)}` })).statusCode, 200);
      const joined = await call(app, 'POST', '/auth/register', { body: { firstName: 'Gus', lastName: 'Guest', email: guest, password: password('guest'), inviteToken } });
      assert.equal(joined.status, 201, JSON.stringify(joined.body));
      keep('guest access', joined.body.data.accessToken);

      assert.equal((await call(app, 'POST', '/auth/password/forgot', { body: { email } })).status, 202);
      const resetToken = await mailLink(email, /^Reset your password/, '/reset-password');
      const second = password('reset');
      assert.equal((await call(app, 'POST', '/auth/password/reset', { body: { token: resetToken, password: second } })).status, 200);
      assert.equal((await call(app, 'POST', '/auth/password/reset', { body: { token: resetToken, password: second } })).status, 400);

      const relogin = await call(app, 'POST', '/auth/login', { body: { email, password: second } });
      const token = keep('relogin access', relogin.body.data.accessToken);
      const change = await call(app, 'POST', '/api/users/me/password', { token, body: { currentPassword: second, newPassword: password('changed') } });
      assert.equal(change.status, 200);
      assert.equal((await call(app, 'POST', '/auth/register', { body: { firstName: 'X', lastName: 'Y', email: 'not-an-email', password: password('invalid registration') } })).status, 422);
      assert.equal((await call(app, 'POST', '/auth/logout', { token, body: { refreshToken: keep('relogin refresh', relogin.body.data.refreshToken) } })).status, 200);

      const users = await database.db.selectFrom('users').select('password_hash').execute();
      users.forEach((user, i) => keep(`password hash ${i}`, user.password_hash));
      const keys = await database.db.selectFrom('signing_keys').select('private_jwk').execute();
      keys.forEach((key, i) => keep(`private key ${i}`, (key.private_jwk as { d: string }).d));

      await (await mailbox).waitFor((m) => m.to.toLowerCase() === email.toLowerCase() && m.subject.startsWith('Your password was changed'));
      // The log did record the tour, with the link paths and their tokens masked.
      assert.ok(sink.lines.length > 30, `only ${sink.lines.length} log lines`);
      assert.ok(sink.lines.some((line) => line.includes('/verify-email?token=[redacted]')));
      assert.ok(sink.lines.some((line) => line.includes('"statusCode":401')));
      for (const line of sink.lines) {
        for (const [label, secret] of secrets) assert.ok(!line.includes(secret), `the log holds the ${label}: ${line.slice(0, 300)}`);
        assert.doesNotMatch(line, /\$argon2id\$|Bearer ey/, line.slice(0, 300));
      }
    });
  });
}
