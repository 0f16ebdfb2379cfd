// The `basic` route set (seed 003) end to end, on every database target: username-only accounts
// registering, signing in (the token also in the Authorization header) and reaching /protected,
// errors as {"message"}; the same accounts on the core API, where email flows say they have no email;
// and the seed route sets' mounting by GATEHOUSE_COMPAT and their tags in the OpenAPI document.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { it } from 'node:test';
import { assertErrorEnvelope, call, PASSWORD, uniqueEmail, type Answer } from './helpers/api.ts';
import { fingerprint, forEachDatabase, startHarness } from './helpers/harness.ts';
import { algNone, tamper, type RouteCall } from './helpers/matrix.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const uniqueUsername = (prefix = 'basic') => `${prefix}${randomBytes(5).toString('hex')}`;

const USER_API_TAG = 'user-api (seed 002)';
const BASIC_TAG = 'basic (seed 003)';

interface BasicUser {
  userId: string;
  username: string;
  token: string;
}

forEachDatabase('basic route set', (h) => {
  const app = () => h().app;
  const db = () => h().db;
  const send = (route: RouteCall, token?: string) => call(app(), route.method, route.url, { body: route.body, token });
  const login = (body: unknown) => send({ method: 'POST', url: '/login', body });

  /** Exactly `{"message": message}` with the status. */
  function expectMessage(answer: Answer, status: number, message: string | RegExp) {
    assert.equal(answer.status, status, JSON.stringify(answer.body));
    assert.deepEqual(Object.keys(answer.body), ['message']);
    if (typeof message === 'string') assert.equal(answer.body.message, message);
    else assert.match(answer.body.message, message);
  }

  /** Refused with `{"message"}` and `status`, the database untouched. */
  async function expectRefused(route: RouteCall, status: number, message: string | RegExp, token?: string) {
    const before = await fingerprint(db());
    const answer = await send(route, token);
    expectMessage(answer, status, message);
    assert.equal(await fingerprint(db()), before, `a refused ${route.method} ${route.url} changed the database`);
    return answer;
  }

  async function register(username = uniqueUsername()): Promise<BasicUser> {
    const answer = await send({ method: 'POST', url: '/register', body: { username, password: PASSWORD } });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    const signin = await login({ username, password: PASSWORD });
    assert.equal(signin.status, 200, JSON.stringify(signin.body));
    return { userId: answer.body.user_id, username, token: signin.body.access_token };
  }

  it('registers a username-only account that owns "<username>\'s Organisation"', async () => {
    const username = uniqueUsername('Bob.');
    const answer = await send({ method: 'POST', url: '/register', body: { username, password: PASSWORD } });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    assert.deepEqual(Object.keys(answer.body).sort(), ['message', 'user_id']);
    assert.equal(answer.body.message, 'User registered successfully');
    const row = await db().selectFrom('users').selectAll().where('id', '=', answer.body.user_id).executeTakeFirstOrThrow();
    assert.deepEqual([row.username, row.email, row.platform_role, row.status, row.email_verified_at], [username, null, 'user', 'active', null]);
    const owned = await db()
      .selectFrom('members')
      .innerJoin('roles', 'roles.id', 'members.role_id')
      .innerJoin('organisations', 'organisations.id', 'members.organisation_id')
      .select(['organisations.name', 'organisations.personal', 'roles.name as role'])
      .where('members.user_id', '=', row.id)
      .execute();
    assert.deepEqual(owned, [{ name: `${username}'s Organisation`, personal: true, role: 'owner' }]);
    assert.deepEqual(await db().selectFrom('outbox').select('id').where('recipient', 'like', `%${username}%`).execute(), []);
  });

  it('refuses missing parameters and a taken username in any letter case with 400 {"message"}, changing nothing', async () => {
    const user = await register(uniqueUsername('Taken'));
    const post = (body: unknown): RouteCall => ({ method: 'POST', url: '/register', body });
    for (const body of [{}, { username: uniqueUsername() }, { password: PASSWORD }]) await expectRefused(post(body), 400, 'Missing parameters');
    for (const username of [user.username, user.username.toUpperCase(), user.username.toLowerCase()]) {
      await expectRefused(post({ username, password: 'another passphrase' }), 400, 'Username already exists');
    }
    await expectRefused(post({ username: 'a b', password: PASSWORD }), 400, /^Username must be/);
    await expectRefused(post({ username: uniqueUsername(), password: 'short' }), 400, /^Password must be at least/);
    assert.equal((await login({ username: user.username, password: PASSWORD })).status, 200, 'the first account is untouched');
  });

  it('takes an empty or null username or password for a missing one, on /register as on /login', async () => {
    for (const url of ['/login', '/register']) {
      for (const body of [{ username: '', password: PASSWORD }, { username: uniqueUsername(), password: '' }, { username: null, password: PASSWORD }, { username: uniqueUsername(), password: null }]) {
        await expectRefused({ method: 'POST', url, body }, 400, 'Missing parameters');
      }
    }
  });

  it('signs in with the token in the body and the Authorization header; a bad credential is the same 401', async () => {
    const user = await register();
    const answer = await login({ username: user.username.toUpperCase(), password: PASSWORD });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.deepEqual(Object.keys(answer.body).sort(), ['access_token', 'user_id']);
    assert.equal(answer.body.user_id, user.userId);
    assert.match(answer.body.access_token, /^[\w-]+\.[\w-]+\.[\w-]+$/);
    assert.equal(answer.headers.authorization, `Bearer ${answer.body.access_token}`);

    const wrong = await expectRefused({ method: 'POST', url: '/login', body: { username: user.username, password: 'wrong password' } }, 401, 'Invalid credentials');
    const unknown = await expectRefused({ method: 'POST', url: '/login', body: { username: uniqueUsername('ghost'), password: PASSWORD } }, 401, 'Invalid credentials');
    assert.deepEqual(unknown.body, wrong.body);
    assert.equal(wrong.headers.authorization, undefined);
    for (const body of [{}, { username: user.username }, { password: PASSWORD }]) await expectRefused({ method: 'POST', url: '/login', body }, 400, 'Missing parameters');
  });

  it('grants /protected to a valid token and answers 401 {"message"} to anything else', async () => {
    const user = await register();
    const answer = await send({ method: 'GET', url: '/protected' }, user.token);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.deepEqual(answer.body, { message: `Access granted to user ${user.userId}` });
    const before = await fingerprint(db());
    for (const authorization of [undefined, 'Bearer garbage', `Bearer ${tamper(user.token)}`, `Bearer ${algNone(user.token)}`, 'Basic YTpi']) {
      expectMessage(await call(app(), 'GET', '/protected', { headers: authorization ? { authorization } : {} }), 401, /\S/);
    }
    assert.equal(await fingerprint(db()), before);
    const logout = await call(app(), 'POST', '/auth/logout', { token: user.token });
    assert.equal(logout.status, 200, JSON.stringify(logout.body));
    expectMessage(await send({ method: 'GET', url: '/protected' }, user.token), 401, /\S/);
  });

  it('serves the same account on the core API, where email flows say plainly it has no email', async () => {
    const user = await register();
    const core = await call(app(), 'POST', '/auth/login', { body: { username: user.username, password: PASSWORD } });
    assert.equal(core.status, 200, JSON.stringify(core.body));
    assert.equal(core.body.data.user.userId, user.userId);
    const me = await call(app(), 'GET', '/api/users/me', { token: core.body.data.accessToken });
    assert.equal(me.status, 200);
    assert.deepEqual([me.body.data.userId, me.body.data.username, me.body.data.email, me.body.data.emailVerified], [user.userId, user.username, null, false]);

    const before = await fingerprint(db());
    const resend = await call(app(), 'POST', '/auth/email/resend', { token: user.token });
    assertErrorEnvelope(resend, 409, 'NO_EMAIL');
    assert.match(resend.body.message, /no email address/i);
    assert.equal(await fingerprint(db()), before);

    for (const email of [`${user.username}@example.com`, uniqueEmail(user.username)]) {
      assert.equal((await call(app(), 'POST', '/auth/password/forgot', { body: { email } })).status, 202);
    }
    assert.equal((await call(app(), 'POST', '/auth/password/forgot', { body: { email: user.username } })).status, 422);
    const userApi = await call(app(), 'POST', '/api/user/forget_password', { body: { username: user.username, email: `${user.username}@example.com` } });
    assert.equal(userApi.status, 200);
    // These requests leave no trace to wait for (that is the point); give them time to run.
    await sleep(300);
    assert.equal(await fingerprint(db()), before, 'a reset request for a username-only account changed the database');
    const tokens = await db().selectFrom('one_time_tokens').select('id').where('user_id', '=', user.userId).execute();
    assert.deepEqual(tokens, []);
  });

  it('refuses to drop the only identifier of a username-only account, saying why', async () => {
    const user = await register();
    const before = await fingerprint(db());
    const answer = await call(app(), 'PATCH', '/api/users/me', { token: user.token, body: { username: null } });
    assert.equal(answer.status, 422, JSON.stringify(answer.body));
    assert.deepEqual(answer.body.errors, [{ field: 'username', message: 'An account needs an email or a username: this one would have neither' }]);
    assert.equal(await fingerprint(db()), before);
  });

  it('documents the user-api and basic operations under their own OpenAPI tags', async () => {
    const answer = await call(app(), 'GET', '/openapi.json');
    assert.equal(answer.status, 200);
    const tagged: Record<string, string[]> = { [USER_API_TAG]: [], [BASIC_TAG]: [] };
    for (const [path, operations] of Object.entries(answer.body.paths as Record<string, Record<string, { tags?: string[] }>>)) {
      for (const [method, operation] of Object.entries(operations)) {
        for (const tag of operation.tags ?? []) tagged[tag]?.push(`${method.toUpperCase()} ${path}`);
      }
    }
    assert.deepEqual(tagged[USER_API_TAG]!.sort(), [
      'DELETE /api/user/{username}', 'GET /api/user/{username}', 'POST /api/user/forget_password', 'POST /api/user/login', 'POST /api/user/register', 'POST /api/user/reset_password', 'PUT /api/user/{username}',
    ]);
    assert.deepEqual(tagged[BASIC_TAG]!.sort(), ['GET /protected', 'POST /login', 'POST /register']);
    assert.deepEqual(answer.body.paths['/register'].post.tags, [BASIC_TAG]);
    assert.deepEqual(answer.body.paths['/api/user/login'].post.tags, [USER_API_TAG]);
  });

  it('mounts neither set with GATEHOUSE_COMPAT=saas, while /signup works', async () => {
    const user = await register();
    const saasOnly = await startHarness(h().target, { GATEHOUSE_COMPAT: 'saas' });
    try {
      const username = uniqueUsername();
      const routes: RouteCall[] = [
        { method: 'POST', url: '/register', body: { username, password: PASSWORD } },
        { method: 'POST', url: '/login', body: { username, password: PASSWORD } },
        { method: 'GET', url: '/protected' },
        { method: 'POST', url: '/api/user/register', body: { username, first_name: 'A', last_name: 'B', email: uniqueEmail(), password: PASSWORD } },
        { method: 'POST', url: '/api/user/login', body: { username, password: PASSWORD } },
        { method: 'POST', url: '/api/user/forget_password', body: { username, email: uniqueEmail() } },
        { method: 'POST', url: '/api/user/reset_password', body: { token: 'x', new_password: PASSWORD } },
        { method: 'GET', url: `/api/user/${username}` },
        { method: 'PUT', url: `/api/user/${username}`, body: { first_name: 'X' } },
        { method: 'DELETE', url: `/api/user/${username}` },
      ];
      for (const route of routes) {
        const answer = await call(saasOnly.app, route.method, route.url, { body: route.body });
        assertErrorEnvelope(answer, 404, 'ROUTE_NOT_FOUND');
      }
      assert.deepEqual(await saasOnly.db.selectFrom('users').select('id').execute(), []);
      const signup = await call(saasOnly.app, 'POST', '/signup', { body: { email: uniqueEmail('saasonly'), password: PASSWORD, organization_name: 'Only Saas' } });
      assert.equal(signup.status, 201, JSON.stringify(signup.body));
      const document = (await call(saasOnly.app, 'GET', '/openapi.json')).body;
      for (const path of ['/register', '/login', '/protected', '/api/user/register', '/api/user/{username}']) assert.equal(document.paths[path], undefined, path);
      assert.ok(document.paths['/signup']);
    } finally {
      await saasOnly.close();
    }
    assert.equal((await send({ method: 'GET', url: '/protected' }, user.token)).status, 200, 'the default harness still mounts both');
  });
});
