// The `user-api` route set (seed 002) end to end, on every database target: registering and signing
// in by username, the password reset whose token goes by mail only, reading, updating and deleting
// accounts under seed 002's rules (users only themselves; admins anyone but other admins), errors as
// {"msg"}, and a valid token required on every protected route.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { it } from 'node:test';
import { sql } from 'kysely';
import { addMember, call, createOrganisation, PASSWORD, uniqueEmail, type Answer } from './helpers/api.ts';
import { fingerprint, forEachDatabase, PUBLIC_URL } from './helpers/harness.ts';
import { algNone, tamper, type RouteCall } from './helpers/matrix.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const uniqueUsername = (prefix = 'user') => `${prefix}${randomBytes(5).toString('hex')}`;
const NEW_PASSWORD = 'a brand new passphrase';

interface ApiUser {
  id: string;
  username: string;
  email: string;
  token: string;
}

forEachDatabase('user-api route set', (h) => {
  const app = () => h().app;
  const db = () => h().db;
  const send = (route: RouteCall, token?: string) => call(app(), route.method, route.url, { body: route.body, token });
  const login = (username: string, password = PASSWORD) => send({ method: 'POST', url: '/api/user/login', body: { username, password } });
  const userRow = (id: string) => db().selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();

  /** Exactly `{"msg": message}` with the status. */
  function expectMsg(answer: Answer, status: number, message: string | RegExp) {
    assert.equal(answer.status, status, JSON.stringify(answer.body));
    assert.deepEqual(Object.keys(answer.body), ['msg']);
    if (typeof message === 'string') assert.equal(answer.body.msg, message);
    else assert.match(answer.body.msg, message);
  }

  /** Refused with `{"msg"}` and `status`, the database untouched. */
  async function expectRefused(route: RouteCall, token: string | undefined, status: number, message: string | RegExp = /\S/) {
    const before = await fingerprint(db());
    const answer = await send(route, token);
    expectMsg(answer, status, message);
    assert.equal(await fingerprint(db()), before, `a refused ${route.method} ${route.url} changed the database`);
    return answer;
  }

  async function register(extra: Record<string, unknown> = {}): Promise<ApiUser> {
    const body = { username: uniqueUsername(), first_name: 'User', last_name: 'One', email: uniqueEmail('userapi'), password: PASSWORD, ...extra };
    const answer = await send({ method: 'POST', url: '/api/user/register', body });
    expectMsg(answer, 201, 'User registered successfully.');
    const signin = await login(body.username as string);
    assert.equal(signin.status, 200, JSON.stringify(signin.body));
    const { id } = await db().selectFrom('users').select('id').where('username', '=', body.username as string).executeTakeFirstOrThrow();
    return { id, username: body.username as string, email: body.email as string, token: signin.body.access_token };
  }

  async function registerAdmin(): Promise<ApiUser> {
    const user = await register();
    await db().updateTable('users').set({ platform_role: 'admin' }).where('id', '=', user.id).execute();
    return { ...user, token: (await login(user.username)).body.access_token };
  }

  /** The reset link's token mailed to an address (the request queues it after answering). */
  async function mailedResetToken(email: string): Promise<string> {
    for (let i = 0; i < 400; i++) {
      const mail = await db().selectFrom('outbox').select('text_body').where('recipient', '=', email).where('kind', '=', 'password_reset').orderBy('id', 'desc').executeTakeFirst();
      const match = mail && new RegExp(`${PUBLIC_URL}/reset-password\\?token=[\\w%-]+`).exec(mail.text_body);
      if (match) return new URL(match[0]).searchParams.get('token') ?? '';
      await sleep(25);
    }
    return assert.fail(`no reset mail to ${email}`);
  }
  const resetMails = async (email: string) => (await db().selectFrom('outbox').select('id').where('recipient', '=', email).where('kind', '=', 'password_reset').execute()).length;

  it('registers an account with a username as an ordinary user, whatever role the body claims', async () => {
    const username = uniqueUsername('Reg');
    const email = uniqueEmail('reg');
    const body = { username, first_name: 'Ada', last_name: 'Lovelace', email, password: PASSWORD, role: 'ADMIN', platform_role: 'admin' };
    expectMsg(await send({ method: 'POST', url: '/api/user/register', body }), 201, 'User registered successfully.');
    const row = await db().selectFrom('users').selectAll().where('username', '=', username).executeTakeFirstOrThrow();
    assert.deepEqual([row.email, row.first_name, row.last_name, row.platform_role, row.status], [email, 'Ada', 'Lovelace', 'user', 'active']);
    assert.notEqual(row.password_hash, PASSWORD);
    const orgs = await db().selectFrom('organisations').select('name').where('created_by', '=', row.id).where('personal', '=', true).execute();
    assert.deepEqual(orgs, [{ name: "Ada's Organisation" }]);
  });

  it('refuses a taken username or email in another letter case and a missing field with 422 {"msg"}, changing nothing', async () => {
    const user = await register();
    const fresh = () => ({ username: uniqueUsername(), first_name: 'A', last_name: 'B', email: uniqueEmail('dup'), password: PASSWORD });
    const post = (body: Record<string, unknown>): RouteCall => ({ method: 'POST', url: '/api/user/register', body });
    await expectRefused(post({ ...fresh(), username: user.username.toUpperCase() }), undefined, 422, 'Username already exists');
    await expectRefused(post({ ...fresh(), email: user.email.toUpperCase() }), undefined, 422, 'Email already exists');
    const labels: Record<string, string> = { username: 'Username', first_name: 'First name', last_name: 'Last name', email: 'Email', password: 'Password' };
    for (const [field, label] of Object.entries(labels)) {
      const { [field]: _dropped, ...body } = fresh() as Record<string, unknown>;
      await expectRefused(post(body), undefined, 422, `${label} is required`);
    }
    await expectRefused(post({}), undefined, 422, / is required$/);
    await expectRefused(post({ ...fresh(), username: 'no spaces allowed' }), undefined, 422, /^Username must be/);
    await expectRefused(post({ ...fresh(), email: 'not-an-email' }), undefined, 422, /^Email /);
  });

  it('signs in by username (any letter case) with a token that works on the core API; a bad credential is 401 {"msg"}', async () => {
    const user = await register();
    const answer = await login(user.username.toUpperCase());
    assert.equal(answer.status, 200);
    assert.deepEqual(Object.keys(answer.body), ['access_token']);
    const me = await call(app(), 'GET', '/api/users/me', { token: answer.body.access_token });
    assert.equal(me.status, 200);
    assert.equal(me.body.data.userId, user.id);
    const wrong = await expectRefused({ method: 'POST', url: '/api/user/login', body: { username: user.username, password: 'wrong password' } }, undefined, 401);
    const unknown = await expectRefused({ method: 'POST', url: '/api/user/login', body: { username: uniqueUsername('ghost'), password: PASSWORD } }, undefined, 401);
    assert.deepEqual(unknown.body, wrong.body);
    await expectRefused({ method: 'POST', url: '/api/user/login', body: { username: user.username } }, undefined, 422, 'Password is required');
  });

  it('mails the reset token and never answers with it; the mailed token resets the password once', async () => {
    const user = await register();
    const raw = await app().inject({ method: 'POST', url: '/api/user/forget_password', payload: { username: user.username, email: user.email } });
    assert.equal(raw.statusCode, 200);
    assert.deepEqual(JSON.parse(raw.body), { msg: 'Token generated successfully.' });
    assert.doesNotMatch(raw.body, /token"/i);
    assert.doesNotMatch(raw.body, /[A-Za-z0-9_-]{20,}/);
    assert.equal(Object.keys(raw.headers).filter((name) => /token/i.test(name)).length, 0);
    const token = await mailedResetToken(user.email);
    assert.ok(token.length >= 20);
    assert.ok(!raw.body.includes(token) && !JSON.stringify(raw.headers).includes(token));

    expectMsg(await send({ method: 'POST', url: '/api/user/reset_password', body: { token, new_password: NEW_PASSWORD } }), 200, 'Password has been reset.');
    assert.equal((await login(user.username, NEW_PASSWORD)).status, 200);
    expectMsg(await login(user.username), 401, /\S/);
    await expectRefused({ method: 'POST', url: '/api/user/reset_password', body: { token, new_password: 'yet another passphrase' } }, undefined, 400);
    await expectRefused({ method: 'POST', url: '/api/user/reset_password', body: { token: 'made-up', new_password: 'yet another passphrase' } }, undefined, 400);
    await expectRefused({ method: 'POST', url: '/api/user/reset_password', body: { token: 'made-up' } }, undefined, 422, 'New password is required');
    assert.equal((await login(user.username, NEW_PASSWORD)).status, 200);
  });

  it('mails a reset link only when the username and email are one account’s, answering every pair the same', async () => {
    const [a, b] = [await register(), await register()];
    const pairs = [
      { username: a.username, email: b.email },
      { username: b.username, email: a.email },
      { username: uniqueUsername('ghost'), email: a.email },
      { username: a.username, email: uniqueEmail('ghost') },
    ];
    const answers = [];
    for (const body of pairs) answers.push(await send({ method: 'POST', url: '/api/user/forget_password', body }));
    const matching = await send({ method: 'POST', url: '/api/user/forget_password', body: { username: b.username.toUpperCase(), email: b.email } });
    for (const answer of [...answers, matching]) expectMsg(answer, 200, 'Token generated successfully.');
    await mailedResetToken(b.email);
    // The mismatched requests leave no trace to wait for (that is the point); give them time to run.
    await sleep(300);
    assert.equal(await resetMails(a.email), 0);
    assert.equal(await resetMails(b.email), 1);
    const { rows } = await sql<{ n: number }>`select count(*)::int as n from one_time_tokens where user_id = ${a.id} and purpose = 'password_reset'`.execute(db());
    assert.equal(rows[0]!.n, 0);
  });

  it('shows a user their own account; an admin reads anyone; anyone else is 404 {"msg"}', async () => {
    const [user, other, admin, otherAdmin] = [await register({ first_name: 'Grace', last_name: 'Hopper' }), await register(), await registerAdmin(), await registerAdmin()];
    const read = (username: string, token: string) => send({ method: 'GET', url: `/api/user/${username}` }, token);
    const own = await read(user.username, user.token);
    assert.equal(own.status, 200, JSON.stringify(own.body));
    assert.deepEqual(own.body, { id: user.id, username: user.username, first_name: 'Grace', last_name: 'Hopper', email: user.email, role: 'USER', active: true });
    assert.deepEqual((await read(user.username, admin.token)).body, own.body);
    assert.deepEqual((await read(otherAdmin.username.toUpperCase(), admin.token)).body.role, 'ADMIN');
    assert.equal((await read(admin.username, admin.token)).body.role, 'ADMIN');

    const hidden = await expectRefused({ method: 'GET', url: `/api/user/${other.username}` }, user.token, 404);
    const missing = await expectRefused({ method: 'GET', url: `/api/user/${uniqueUsername('ghost')}` }, user.token, 404);
    assert.deepEqual(hidden.body, missing.body);
    await expectRefused({ method: 'GET', url: `/api/user/${admin.username}` }, user.token, 404);
    await expectRefused({ method: 'GET', url: `/api/user/${uniqueUsername('ghost')}` }, admin.token, 404);

    await db().updateTable('users').set({ status: 'disabled' }).where('id', '=', other.id).execute();
    assert.equal((await read(other.username, admin.token)).body.active, false);
  });

  it('updates your own details; an admin updates ordinary users but not another admin; a user nobody else', async () => {
    const [user, other, admin, otherAdmin] = [await register(), await register(), await registerAdmin(), await registerAdmin()];
    const put = (username: string, body: unknown): RouteCall => ({ method: 'PUT', url: `/api/user/${username}`, body });
    const names = async (id: string) => {
      const row = await userRow(id);
      return [row?.first_name, row?.last_name];
    };
    expectMsg(await send(put(user.username, { first_name: 'UpdatedName' }), user.token), 200, 'User details updated.');
    assert.deepEqual(await names(user.id), ['UpdatedName', 'One']);
    expectMsg(await send(put(user.username, { first_name: 'By', last_name: 'Admin' }), admin.token), 200, 'User details updated.');
    assert.deepEqual(await names(user.id), ['By', 'Admin']);
    expectMsg(await send(put(admin.username, { last_name: 'Myself' }), admin.token), 200, 'User details updated.');
    assert.deepEqual(await names(admin.id), ['User', 'Myself']);

    await expectRefused(put(other.username, { first_name: 'Hijacked' }), user.token, 404);
    await expectRefused(put(admin.username, { first_name: 'Hijacked' }), user.token, 404);
    await expectRefused(put(otherAdmin.username, { first_name: 'Hijacked' }), admin.token, 403);
    for (const body of [{ role: 'ADMIN' }, { email: uniqueEmail() }, { active: false }, { password: NEW_PASSWORD }, { first_name: '  ' }]) {
      await expectRefused(put(user.username, body), user.token, 422);
    }
    assert.deepEqual([(await userRow(user.id))?.platform_role, (await names(other.id))[0], (await names(otherAdmin.id))[0]], ['user', 'User', 'User']);
  });

  it('lets an admin delete an ordinary user, never another admin or themselves; a user deletes nobody', async () => {
    const [user, other, admin, otherAdmin] = [await register(), await register(), await registerAdmin(), await registerAdmin()];
    const del = (username: string): RouteCall => ({ method: 'DELETE', url: `/api/user/${username}` });
    await expectRefused(del(user.username), user.token, 403);
    await expectRefused(del(other.username), user.token, 404);
    await expectRefused(del(admin.username), user.token, 404);
    await expectRefused(del(otherAdmin.username), admin.token, 403);
    await expectRefused(del(admin.username), admin.token, 403);
    await expectRefused(del(uniqueUsername('ghost')), admin.token, 404);
    const guild = await createOrganisation(app(), other.token, `Guild ${other.username}`);
    await addMember(app(), other.token, guild, admin.id);
    await expectRefused(del(other.username), admin.token, 409, new RegExp(`Guild ${other.username}`));

    expectMsg(await send(del(user.username.toUpperCase()), admin.token), 200, 'User deleted.');
    assert.equal(await userRow(user.id), undefined);
    assert.deepEqual(await db().selectFrom('organisations').select('id').where('created_by', '=', user.id).execute(), []);
    await expectRefused({ method: 'GET', url: `/api/user/${user.username}` }, admin.token, 404);
    expectMsg(await send({ method: 'GET', url: `/api/user/${user.username}` }, user.token), 401, /\S/);
    expectMsg(await login(user.username), 401, /\S/);
    for (const id of [other.id, admin.id, otherAdmin.id]) assert.ok(await userRow(id));
  });

  it('answers 401 {"msg"} on every protected route without a valid token, changing nothing', async () => {
    const user = await register();
    for (const route of [
      { method: 'GET', url: `/api/user/${user.username}` },
      { method: 'PUT', url: `/api/user/${user.username}`, body: { first_name: 'Sneaky' } },
      { method: 'DELETE', url: `/api/user/${user.username}` },
    ] as RouteCall[]) {
      const before = await fingerprint(db());
      for (const authorization of [undefined, 'Bearer garbage', `Bearer ${tamper(user.token)}`, `Bearer ${algNone(user.token)}`, 'Basic YTpi']) {
        const answer = await call(app(), route.method, route.url, { body: route.body, headers: authorization ? { authorization } : {} });
        expectMsg(answer, 401, /\S/);
      }
      assert.equal(await fingerprint(db()), before);
    }
    assert.equal((await userRow(user.id))?.first_name, 'User');
  });
});
