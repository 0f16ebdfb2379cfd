// Registration, sign-in, refresh and sign-out through the HTTP API, on every database target.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { sql } from 'kysely';
import { PERMISSIONS } from '../src/domain/policy/permissions.ts';
import { assertErrorEnvelope, call, PASSWORD, registerUser, uniqueEmail } from './helpers/api.ts';
import { fingerprint, forEachDatabase } from './helpers/harness.ts';
import { expectAuthenticationRequired } from './helpers/matrix.ts';

forEachDatabase('auth', (h) => {
  it('registers a user with a personal organisation they own, in one go', async () => {
    const email = uniqueEmail();
    const answer = await call(h().app, 'POST', '/auth/register', {
      body: { firstName: 'Ada', lastName: 'Lovelace', email, password: PASSWORD, phone: '+44 20 7946 0000' },
    });
    assert.equal(answer.status, 201);
    assert.equal(answer.body.status, 'success');
    assert.equal(answer.body.message, 'Registration successful');
    const { accessToken, refreshToken, user } = answer.body.data;
    assert.match(accessToken, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    assert.ok(refreshToken.length >= 22);
    assert.deepEqual(Object.keys(user).sort(), ['email', 'firstName', 'lastName', 'phone', 'userId']);
    assert.equal(user.email, email);
    assert.equal(user.phone, '+44 20 7946 0000');
    assert.equal(answer.headers['cache-control'], 'no-store');

    const stored = await h().db.selectFrom('users').selectAll().where('id', '=', user.userId).executeTakeFirstOrThrow();
    assert.match(stored.password_hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    assert.equal(stored.platform_role, 'user');

    const orgs = await h()
      .db.selectFrom('members')
      .innerJoin('organisations', 'organisations.id', 'members.organisation_id')
      .innerJoin('roles', 'roles.id', 'members.role_id')
      .select(['organisations.name', 'organisations.personal', 'roles.name as role'])
      .where('members.user_id', '=', user.userId)
      .execute();
    assert.deepEqual(orgs, [{ name: "Ada's Organisation", personal: true, role: 'owner' }]);

    const listed = await call(h().app, 'GET', '/api/organisations', { token: accessToken });
    assert.equal(listed.status, 200);
    assert.equal(listed.body.data.organisations.length, 1);
    assert.equal(listed.body.data.organisations[0].name, "Ada's Organisation");
    assert.equal(listed.body.data.organisations[0].role, 'owner');
  });

  it('creates the three built-in roles with the catalogue permissions in every new organisation', async () => {
    const user = await registerUser(h().app);
    const roles = await h().db.selectFrom('roles').select(['name', 'permissions', 'built_in']).where('organisation_id', '=', user.personalOrgId).orderBy('name').execute();
    assert.deepEqual(
      roles.map((r) => [r.name, r.built_in, r.permissions.length]),
      [
        ['admin', true, PERMISSIONS.length - 1],
        ['member', true, 2],
        ['owner', true, PERMISSIONS.length],
      ],
    );
    assert.ok(!roles.find((r) => r.name === 'admin')!.permissions.includes('org:delete'));
    assert.deepEqual(roles.find((r) => r.name === 'member')!.permissions.sort(), ['members:read', 'org:read']);
  });

  it('names each missing field with its own message, in the order of the route', async () => {
    const before = await fingerprint(h().db);
    const answer = await call(h().app, 'POST', '/auth/register', { body: {} });
    assert.equal(answer.status, 422);
    assert.deepEqual(answer.body, {
      errors: [
        { field: 'firstName', message: 'First name is required' },
        { field: 'lastName', message: 'Last name is required' },
        { field: 'email', message: 'Email is required' },
        { field: 'password', message: 'Password is required' },
      ],
    });
    for (const missing of ['firstName', 'lastName', 'email', 'password']) {
      const body: Record<string, string> = { firstName: 'A', lastName: 'B', email: uniqueEmail(), password: PASSWORD };
      delete body[missing];
      const one = await call(h().app, 'POST', '/auth/register', { body });
      assert.equal(one.status, 422);
      assert.equal(one.body.errors.length, 1, JSON.stringify(one.body));
      assert.equal(one.body.errors[0].field, missing);
      assert.match(one.body.errors[0].message, / is required$/);
    }
    const noBody = await call(h().app, 'POST', '/auth/register');
    assert.equal(noBody.status, 422);
    assert.equal(noBody.body.errors.length, 4);
    assert.equal(await fingerprint(h().db), before);
  });

  it('refuses blank, mistyped and malformed fields with a 422 naming them, never coercing', async () => {
    const answer = await call(h().app, 'POST', '/auth/register', { body: { firstName: '   ', lastName: 42, email: 'not-an-email', password: 'short', phone: ['1'] } });
    assert.equal(answer.status, 422);
    assert.deepEqual(answer.body.errors, [
      { field: 'firstName', message: 'First name is required' },
      { field: 'lastName', message: 'Last name must be text' },
      { field: 'email', message: 'Email must be a valid email address' },
      { field: 'password', message: 'Password must be at least 8 characters' },
      { field: 'phone', message: 'Phone must be text' },
    ]);
  });

  it('refuses a password over 256 characters before hashing, and accepts exactly 256', async () => {
    const tooLong = await call(h().app, 'POST', '/auth/register', { body: { firstName: 'A', lastName: 'B', email: uniqueEmail(), password: 'p'.repeat(257) } });
    assert.equal(tooLong.status, 422);
    assert.deepEqual(tooLong.body.errors, [{ field: 'password', message: 'Password must be at most 256 characters' }]);
    const longest = 'é'.repeat(256);
    const user = await registerUser(h().app, { password: longest });
    const login = await call(h().app, 'POST', '/auth/login', { body: { email: user.email, password: longest } });
    assert.equal(login.status, 200);
    // Never truncated: the same password minus its last character does not sign in.
    const shorter = await call(h().app, 'POST', '/auth/login', { body: { email: user.email, password: longest.slice(0, -1) } });
    assert.equal(shorter.status, 401);
  });

  it('answers a duplicate email, in any letter case, with the documented 422', async () => {
    const user = await registerUser(h().app);
    const before = await fingerprint(h().db);
    const answer = await call(h().app, 'POST', '/auth/register', { body: { firstName: 'B', lastName: 'C', email: user.email.toUpperCase(), password: PASSWORD } });
    assert.equal(answer.status, 422);
    assert.deepEqual(answer.body, { errors: [{ field: 'email', message: 'Email already exists' }] });
    assert.equal(await fingerprint(h().db), before);
  });

  it('lets exactly one of two racing registrations of one email succeed', async () => {
    const email = uniqueEmail('race');
    const answers = await Promise.all(
      [email, email.toUpperCase()].map((address) => call(h().app, 'POST', '/auth/register', { body: { firstName: 'R', lastName: 'R', email: address, password: PASSWORD } })),
    );
    assert.deepEqual(answers.map((a) => a.status).sort(), [201, 422]);
    const loser = answers.find((a) => a.status === 422)!;
    assert.deepEqual(loser.body, { errors: [{ field: 'email', message: 'Email already exists' }] });
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from users where lower(email) = ${email.toLowerCase()}`.execute(h().db);
    assert.equal(rows[0]!.n, 1);
    const orgs = await sql<{ n: number }>`select count(*)::int as n from organisations o join users u on u.id = o.created_by where lower(u.email) = ${email.toLowerCase()}`.execute(h().db);
    assert.equal(orgs.rows[0]!.n, 1);
  });

  it('refuses an invitation token that names no pending invitation, creating nothing', async () => {
    const before = await fingerprint(h().db);
    const answer = await call(h().app, 'POST', '/auth/register', { body: { firstName: 'A', lastName: 'B', email: uniqueEmail(), password: PASSWORD, inviteToken: 'no-such-token' } });
    assertErrorEnvelope(answer, 400, 'REGISTRATION_FAILED');
    assert.match(answer.body.message, /^Registration unsuccessful/);
    assert.equal(await fingerprint(h().db), before);
  });

  it('signs in with the email in any letter case and returns tokens and the user', async () => {
    const user = await registerUser(h().app);
    const answer = await call(h().app, 'POST', '/auth/login', { body: { email: user.email.toUpperCase(), password: user.password } });
    assert.equal(answer.status, 200);
    assert.equal(answer.body.message, 'Login successful');
    assert.equal(answer.body.data.user.userId, user.userId);
    assert.ok(answer.body.data.accessToken);
    assert.ok(answer.body.data.refreshToken);
    assert.equal(answer.headers['cache-control'], 'no-store');
    const me = await call(h().app, 'GET', '/api/users/me', { token: answer.body.data.accessToken });
    assert.equal(me.status, 200);
    const sessions = await h().db.selectFrom('sessions').select('id').where('user_id', '=', user.userId).execute();
    assert.equal(sessions.length, 2);
  });

  it('gives an unknown email and a wrong password the same 401 body', async () => {
    const user = await registerUser(h().app);
    const wrong = await call(h().app, 'POST', '/auth/login', { body: { email: user.email, password: 'wrong password' } });
    const unknown = await call(h().app, 'POST', '/auth/login', { body: { email: uniqueEmail('ghost'), password: 'wrong password' } });
    for (const answer of [wrong, unknown]) {
      assert.equal(answer.status, 401);
      const { requestId, ...rest } = answer.body;
      assert.equal(typeof requestId, 'string');
      assert.deepEqual(rest, { status: 'Bad request', message: 'Authentication failed', statusCode: 401, code: 'AUTHENTICATION_FAILED' });
    }
  });

  it('names each missing login field', async () => {
    const answer = await call(h().app, 'POST', '/auth/login', { body: {} });
    assert.equal(answer.status, 422);
    assert.deepEqual(answer.body.errors, [
      { field: 'email', message: 'Email is required' },
      { field: 'password', message: 'Password is required' },
    ]);
    const noPassword = await call(h().app, 'POST', '/auth/login', { body: { email: uniqueEmail() } });
    assert.deepEqual(noPassword.body.errors, [{ field: 'password', message: 'Password is required' }]);
  });

  it('rotates refresh tokens, and a spent one presented again ends the whole session', async () => {
    const user = await registerUser(h().app);
    const first = await call(h().app, 'POST', '/auth/refresh', { body: { refreshToken: user.refreshToken } });
    assert.equal(first.status, 200);
    assert.equal(first.headers['cache-control'], 'no-store');
    const { accessToken, refreshToken } = first.body.data;
    assert.notEqual(refreshToken, user.refreshToken);
    assert.equal((await call(h().app, 'GET', '/api/users/me', { token: accessToken })).status, 200);

    const replay = await call(h().app, 'POST', '/auth/refresh', { body: { refreshToken: user.refreshToken } });
    assertErrorEnvelope(replay, 401, 'INVALID_REFRESH_TOKEN');
    // The replay revoked the session: its newest refresh token and its access tokens are dead too.
    assert.equal((await call(h().app, 'POST', '/auth/refresh', { body: { refreshToken } })).status, 401);
    assert.equal((await call(h().app, 'GET', '/api/users/me', { token: accessToken })).status, 401);
    const session = await h().db.selectFrom('sessions').select(['revoked_at', 'revoked_reason']).where('user_id', '=', user.userId).executeTakeFirstOrThrow();
    assert.ok(session.revoked_at);
    assert.equal(session.revoked_reason, 'refresh_token_reuse');
  });

  it('never leaves two live successors when one refresh token is spent in parallel', async () => {
    const user = await registerUser(h().app);
    const answers = await Promise.all(Array.from({ length: 10 }, () => call(h().app, 'POST', '/auth/refresh', { body: { refreshToken: user.refreshToken } })));
    const winners = answers.filter((a) => a.status === 200);
    assert.ok(winners.length <= 1, `${winners.length} refreshes succeeded`);
    assert.ok(answers.every((a) => a.status === 200 || a.status === 401));
    const { rows } = await sql<{ n: number }>`
      select count(*)::int as n from refresh_tokens r join sessions s on s.id = r.session_id
      where s.user_id = ${user.userId} and r.parent_id is not null`.execute(h().db);
    assert.ok(rows[0]!.n <= 1);
  });

  it('refuses an unknown or expired refresh token', async () => {
    assertErrorEnvelope(await call(h().app, 'POST', '/auth/refresh', { body: { refreshToken: 'unknown' } }), 401, 'INVALID_REFRESH_TOKEN');
    const user = await registerUser(h().app);
    h().clock.advance(h().config.refreshTokenTtlSeconds + 1);
    try {
      assertErrorEnvelope(await call(h().app, 'POST', '/auth/refresh', { body: { refreshToken: user.refreshToken } }), 401, 'INVALID_REFRESH_TOKEN');
    } finally {
      h().clock.reset();
    }
    const missing = await call(h().app, 'POST', '/auth/refresh', { body: {} });
    assert.deepEqual(missing.body, { errors: [{ field: 'refreshToken', message: 'Refresh token is required' }] });
  });

  it('logs out by refresh token: the refresh token and the access tokens stop working at once', async () => {
    const user = await registerUser(h().app);
    const answer = await call(h().app, 'POST', '/auth/logout', { body: { refreshToken: user.refreshToken } });
    assert.equal(answer.status, 200);
    assert.equal(answer.body.status, 'success');
    assert.equal((await call(h().app, 'GET', '/api/users/me', { token: user.accessToken })).status, 401);
    assert.equal((await call(h().app, 'POST', '/auth/refresh', { body: { refreshToken: user.refreshToken } })).status, 401);
  });

  it('logs out with just the Bearer token, and refuses a logout with neither', async () => {
    const user = await registerUser(h().app);
    const answer = await call(h().app, 'POST', '/auth/logout', { token: user.accessToken });
    assert.equal(answer.status, 200);
    assert.equal((await call(h().app, 'GET', '/api/organisations', { token: user.accessToken })).status, 401);
    assertErrorEnvelope(await call(h().app, 'POST', '/auth/logout', {}), 401, 'AUTHENTICATION_REQUIRED');
  });

  it('does not let one user end another user’s session with their own Bearer', async () => {
    const alice = await registerUser(h().app);
    const bob = await registerUser(h().app);
    const answer = await call(h().app, 'POST', '/auth/logout', { token: alice.accessToken, body: { refreshToken: bob.refreshToken } });
    assertErrorEnvelope(answer, 401, 'INVALID_REFRESH_TOKEN');
    assert.equal((await call(h().app, 'GET', '/api/users/me', { token: bob.accessToken })).status, 200);
  });

  it('refuses a logout Bearer that is garbage, tampered or unsigned, changing nothing', async () => {
    const user = await registerUser(h().app);
    const { app, db } = h();
    const before = await fingerprint(db);
    for (const token of ['garbage', `${user.accessToken.slice(0, -4)}AAAA`]) {
      assert.equal((await call(app, 'POST', '/auth/logout', { token })).status, 401);
    }
    assert.equal(await fingerprint(db), before);
    await expectAuthenticationRequired(h(), { method: 'GET', url: '/api/users/me' }, user.accessToken);
  });

  it('answers malformed JSON with 400, a wrong content type with 415 and an oversized body with 413', async () => {
    const { app } = h();
    const malformed = await app.inject({ method: 'POST', url: '/auth/login', headers: { 'content-type': 'application/json' }, payload: '{"email":' });
    assert.equal(malformed.statusCode, 400);
    assert.equal(JSON.parse(malformed.body).code, 'MALFORMED_JSON');
    const text = await app.inject({ method: 'POST', url: '/auth/login', headers: { 'content-type': 'text/plain' }, payload: 'hello' });
    assert.equal(text.statusCode, 415);
    const huge = await app.inject({ method: 'POST', url: '/auth/login', headers: { 'content-type': 'application/json' }, payload: JSON.stringify({ email: 'a@b.c', password: 'x'.repeat(1024 * 1024) }) });
    assert.equal(huge.statusCode, 413);
    assert.equal(JSON.parse(huge.body).code, 'BODY_TOO_LARGE');
  });

  it('answers an unknown route with the error envelope', async () => {
    assertErrorEnvelope(await call(h().app, 'GET', '/no/such/route'), 404, 'ROUTE_NOT_FOUND');
  });
}, {}, { realPasswordCosts: true });
