// The caller's own profile and other users' profiles through the HTTP API, on every database target:
// what each caller may read and change, and who sees whom.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { it } from 'node:test';
import { addMember, assertErrorEnvelope, call, createOrganisation, PASSWORD, registerUser, type Answer, type TestUser } from './helpers/api.ts';
import { fingerprint, forEachDatabase } from './helpers/harness.ts';
import { expectAuthenticationRequired, type RouteCall } from './helpers/matrix.ts';

const PROFILE_FIELDS = ['createdAt', 'email', 'emailVerified', 'firstName', 'lastName', 'phone', 'platformRole', 'userId', 'username'];
const PUBLIC_FIELDS = ['email', 'firstName', 'lastName', 'phone', 'userId'];

/** A username no other test uses: letters and digits only, so valid, and unique per run. */
const uniqueUsername = (prefix = 'user') => `${prefix}${randomBytes(5).toString('hex')}`;

/** An error body without its request id, to compare two refusals. */
const shape = (answer: Answer) => {
  const { requestId, ...rest } = answer.body;
  assert.equal(typeof requestId, 'string');
  return { status: answer.status, ...rest };
};

forEachDatabase('users', (h) => {
  const row = (userId: string) =>
    h().db.selectFrom('users').select(['first_name', 'last_name', 'phone', 'username', 'email', 'platform_role', 'status']).where('id', '=', userId).executeTakeFirstOrThrow();

  const patchMe = (user: TestUser, body: unknown) => call(h().app, 'PATCH', '/api/users/me', { token: user.accessToken, body });

  const getUser = (viewer: TestUser, id: string) => call(h().app, 'GET', `/api/users/${id}`, { token: viewer.accessToken });

  /** A 422 naming exactly `fields`, with the database unchanged. */
  async function expectInvalidPatch(user: TestUser, body: unknown, fields: string[], message?: string | RegExp) {
    const before = await fingerprint(h().db);
    const answer = await patchMe(user, body);
    assert.equal(answer.status, 422, `${JSON.stringify(body)} → ${answer.status} ${JSON.stringify(answer.body)}`);
    assert.deepEqual(Object.keys(answer.body), ['errors']);
    assert.deepEqual(
      answer.body.errors.map((e: { field: string }) => e.field),
      fields,
      JSON.stringify(body),
    );
    if (typeof message === 'string') assert.equal(answer.body.errors[0].message, message);
    else if (message) assert.match(answer.body.errors[0].message, message);
    assert.equal(await fingerprint(h().db), before, `an invalid PATCH ${JSON.stringify(body)} changed the database`);
    return answer;
  }

  /** The viewer sees `target`'s public profile, exactly. */
  async function expectVisible(viewer: TestUser, target: TestUser, names: { firstName: string; lastName: string; phone: string | null }) {
    const answer = await getUser(viewer, target.userId);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.status, 'success');
    assert.equal(answer.body.message, 'User retrieved successfully');
    assert.deepEqual(answer.body.data, { userId: target.userId, email: target.email, ...names });
    assert.deepEqual(Object.keys(answer.body.data).sort(), PUBLIC_FIELDS);
  }

  /** The viewer gets the same 404 as for a user that does not exist, and nothing changes. */
  async function expectHidden(viewer: TestUser, id: string) {
    const before = await fingerprint(h().db);
    const answer = await getUser(viewer, id);
    assertErrorEnvelope(answer, 404, 'USER_NOT_FOUND');
    assert.equal(answer.body.status, 'Not found');
    assert.deepEqual(shape(answer), shape(await getUser(viewer, randomUUID())));
    assert.equal(await fingerprint(h().db), before);
  }

  it('returns the caller’s full profile', async () => {
    const username = uniqueUsername('ada');
    const user = await registerUser(h().app, { firstName: 'Ada', lastName: 'Lovelace', phone: '+44 1234', username });
    const answer = await call(h().app, 'GET', '/api/users/me', { token: user.accessToken });
    assert.equal(answer.status, 200);
    assert.equal(answer.body.status, 'success');
    assert.equal(answer.body.message, 'Profile retrieved successfully');
    const { createdAt, ...rest } = answer.body.data;
    assert.deepEqual(Object.keys(answer.body.data).sort(), PROFILE_FIELDS);
    assert.deepEqual(rest, { userId: user.userId, firstName: 'Ada', lastName: 'Lovelace', email: user.email, phone: '+44 1234', username, emailVerified: false, platformRole: 'user' });
    assert.match(createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    const stored = await h().db.selectFrom('users').select('created_at').where('id', '=', user.userId).executeTakeFirstOrThrow();
    assert.equal(createdAt, stored.created_at.toISOString());

    const plain = await registerUser(h().app);
    const other = await call(h().app, 'GET', '/api/users/me', { token: plain.accessToken });
    assert.equal(other.body.data.userId, plain.userId);
    assert.equal(other.body.data.phone, null);
    assert.equal(other.body.data.username, null);
  });

  it('changes first name, last name, phone and username, and stores them', async () => {
    const user = await registerUser(h().app, { firstName: 'Old', lastName: 'Name', phone: '123' });
    const username = uniqueUsername('New.Name-');
    const answer = await patchMe(user, { firstName: 'New', lastName: 'Person', phone: '+1 (555) 010-0199', username });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.status, 'success');
    assert.equal(answer.body.message, 'Profile updated successfully');
    assert.deepEqual(Object.keys(answer.body.data).sort(), PROFILE_FIELDS);
    assert.deepEqual([answer.body.data.firstName, answer.body.data.lastName, answer.body.data.phone, answer.body.data.username], ['New', 'Person', '+1 (555) 010-0199', username]);
    const stored = await row(user.userId);
    assert.deepEqual(stored, { first_name: 'New', last_name: 'Person', phone: '+1 (555) 010-0199', username, email: user.email, platform_role: 'user', status: 'active' });

    // A partial change leaves the other fields alone; null clears the optional ones.
    assert.equal((await patchMe(user, { lastName: 'Only' })).status, 200);
    assert.deepEqual(await row(user.userId), { ...stored, last_name: 'Only' });
    assert.equal((await patchMe(user, { phone: null, username: null })).status, 200);
    assert.deepEqual(await row(user.userId), { ...stored, last_name: 'Only', phone: null, username: null });
    const me = await call(h().app, 'GET', '/api/users/me', { token: user.accessToken });
    assert.deepEqual([me.body.data.lastName, me.body.data.phone, me.body.data.username], ['Only', null, null]);
  });

  it('refuses any field that is not the caller’s to change, naming it and changing nothing', async () => {
    const user = await registerUser(h().app);
    const fields: Record<string, unknown> = {
      email: 'new@example.com',
      platformRole: 'admin',
      platform_role: 'admin',
      password_hash: 'x',
      password: 'a new password',
      userId: randomUUID(),
      id: randomUUID(),
      emailVerified: true,
      status: 'disabled',
      createdAt: '2000-01-01T00:00:00Z',
    };
    for (const [field, value] of Object.entries(fields)) {
      await expectInvalidPatch(user, { [field]: value }, [field], field === 'password_hash' ? 'Password hash is not allowed here' : /is not allowed here$/);
      // Alongside a valid change, the whole request is still refused.
      await expectInvalidPatch(user, { firstName: 'Sneaky', [field]: value }, [field]);
    }
    const stored = await row(user.userId);
    assert.deepEqual([stored.first_name, stored.email, stored.platform_role, stored.status], ['Test', user.email, 'user', 'active']);
  });

  it('refuses a username another user holds, in any letter case, but lets a user re-case their own', async () => {
    const { app } = h();
    const taken = uniqueUsername('Taken');
    const [holder, other] = await Promise.all([registerUser(app, { username: taken }), registerUser(app)]);
    for (const attempt of [taken, taken.toUpperCase(), taken.toLowerCase()]) {
      const answer = await expectInvalidPatch(other, { username: attempt }, ['username']);
      assert.deepEqual(answer.body.errors, [{ field: 'username', message: 'Username already exists' }]);
    }
    assert.equal((await row(other.userId)).username, null);
    const recased = await patchMe(holder, { username: taken.toUpperCase() });
    assert.equal(recased.status, 200, JSON.stringify(recased.body));
    assert.equal((await row(holder.userId)).username, taken.toUpperCase());
  });

  it('refuses an invalid username, name or phone with a 422 naming the field', async () => {
    const user = await registerUser(h().app);
    for (const username of ['ab', '_abc', '.abc', 'has space', 'bad!chars', 'émile', 'x'.repeat(51), '', 42, true]) {
      await expectInvalidPatch(user, { username }, ['username']);
    }
    await expectInvalidPatch(user, { username: 42 }, ['username'], 'Username must be text');
    await expectInvalidPatch(user, { firstName: '   ' }, ['firstName'], 'First name is required');
    await expectInvalidPatch(user, { lastName: 7 }, ['lastName'], 'Last name must be text');
    await expectInvalidPatch(user, { firstName: null }, ['firstName']);
    for (const phone of ['call me', 'x'.repeat(33), 5]) await expectInvalidPatch(user, { phone }, ['phone']);
    await expectInvalidPatch(user, { firstName: '', username: 'a' }, ['firstName', 'username']);
    // The boundaries are accepted.
    for (const username of ['abc', uniqueUsername().padEnd(50, 'z')]) assert.equal((await patchMe(user, { username })).status, 200, username);
  });

  it('says what is wrong with an invalid username or phone, in the words registration uses', async () => {
    const user = await registerUser(h().app);
    const cases: Array<[string, Record<string, unknown>, string | RegExp]> = [
      ['username', { username: 'ab' }, 'Username must be at least 3 characters'],
      ['username', { username: 'x'.repeat(51) }, 'Username must be at most 50 characters'],
      ['username', { username: 'bad!chars' }, /^Username must be 3 to 50 letters, digits/],
      ['phone', { phone: 'call me' }, /^Phone may hold only digits/],
      ['phone', { phone: '1'.repeat(33) }, 'Phone must be at most 32 characters'],
    ];
    for (const [field, body, message] of cases) {
      const registration = await call(h().app, 'POST', '/auth/register', { body: { firstName: 'A', lastName: 'B', email: `${uniqueUsername()}@example.com`, password: PASSWORD, ...body } });
      const patch = await expectInvalidPatch(user, body, [field], message);
      // A nullable field's message must not be about null (the other branch of its type).
      assert.deepEqual(patch.body.errors, registration.body.errors, JSON.stringify(body));
    }
  });

  it('shows a user their own public profile, exactly', async () => {
    const user = await registerUser(h().app, { firstName: 'Self', lastName: 'Seen', phone: '0800' });
    await expectVisible(user, user, { firstName: 'Self', lastName: 'Seen', phone: '0800' });
  });

  it('shows a user to someone sharing an organisation, and hides them from everyone else', async () => {
    const { app } = h();
    const [owner, colleague, stranger] = await Promise.all([
      registerUser(app, { firstName: 'Olive', lastName: 'Owner' }),
      registerUser(app, { firstName: 'Colin', lastName: 'League' }),
      registerUser(app, { firstName: 'Stan', lastName: 'Ranger' }),
    ]);
    const orgId = await createOrganisation(app, owner.accessToken, 'Shared');
    await addMember(app, owner.accessToken, orgId, colleague.userId);
    await expectVisible(owner, colleague, { firstName: 'Colin', lastName: 'League', phone: null });
    await expectVisible(colleague, owner, { firstName: 'Olive', lastName: 'Owner', phone: null });

    await expectHidden(stranger, owner.userId);
    await expectHidden(owner, stranger.userId);
    await expectHidden(colleague, stranger.userId);
    await expectHidden(stranger, randomUUID());
    for (const id of ['abc', '123', `${owner.userId}x`, owner.userId.replace(/-/g, '')]) {
      assertErrorEnvelope(await getUser(stranger, id), 404, 'USER_NOT_FOUND');
    }
  });

  it('shows a stranger once they are added to a shared organisation, even into a personal one', async () => {
    const { app } = h();
    const [host, guest] = await Promise.all([registerUser(app, { firstName: 'Host' }), registerUser(app, { firstName: 'Guest' })]);
    await expectHidden(host, guest.userId);
    await expectHidden(guest, host.userId);
    await addMember(app, host.accessToken, host.personalOrgId, guest.userId);
    await expectVisible(host, guest, { firstName: 'Guest', lastName: 'User', phone: null });
    await expectVisible(guest, host, { firstName: 'Host', lastName: 'User', phone: null });
  });

  it('shows any user to a platform admin, and only while they are one', async () => {
    const { app, db } = h();
    const [admin, stranger] = await Promise.all([registerUser(app), registerUser(app, { firstName: 'Far', lastName: 'Away', phone: '999' })]);
    await expectHidden(admin, stranger.userId);
    await db.updateTable('users').set({ platform_role: 'admin' }).where('id', '=', admin.userId).execute();
    const login = await call(app, 'POST', '/auth/login', { body: { email: admin.email, password: admin.password } });
    assert.equal(login.status, 200);
    const promoted: TestUser = { ...admin, accessToken: login.body.data.accessToken };
    assert.equal((await call(app, 'GET', '/api/users/me', { token: promoted.accessToken })).body.data.platformRole, 'admin');
    await expectVisible(promoted, stranger, { firstName: 'Far', lastName: 'Away', phone: '999' });
    // Still 404 for an id that names nobody, even for an admin.
    assertErrorEnvelope(await getUser(promoted, randomUUID()), 404, 'USER_NOT_FOUND');
    assertErrorEnvelope(await getUser(promoted, 'abc'), 404, 'USER_NOT_FOUND');
    // The stranger gains nothing from the admin's rank.
    await expectHidden(stranger, admin.userId);

    await db.updateTable('users').set({ platform_role: 'user' }).where('id', '=', admin.userId).execute();
    await expectHidden(promoted, stranger.userId);
  });

  it('requires a valid access token on every user route, changing nothing', async () => {
    const { app } = h();
    const [user, other] = await Promise.all([registerUser(app), registerUser(app)]);
    const routes: RouteCall[] = [
      { method: 'GET', url: '/api/users/me' },
      { method: 'PATCH', url: '/api/users/me', body: { firstName: 'Intruder' } },
      { method: 'GET', url: `/api/users/${user.userId}` },
      { method: 'GET', url: `/api/users/${other.userId}` },
      { method: 'GET', url: '/api/users/abc' },
    ];
    for (const route of routes) await expectAuthenticationRequired(h(), route, user.accessToken);
    assert.equal((await row(user.userId)).first_name, 'Test');
  });

  it('refuses a token whose session has ended on every user route', async () => {
    const user = await registerUser(h().app);
    assert.equal((await call(h().app, 'POST', '/auth/logout', { token: user.accessToken })).status, 200);
    const before = await fingerprint(h().db);
    for (const [method, url, body] of [
      ['GET', '/api/users/me', undefined],
      ['PATCH', '/api/users/me', { firstName: 'Ghost' }],
      ['GET', `/api/users/${user.userId}`, undefined],
    ] as const) {
      assertErrorEnvelope(await call(h().app, method, url, { token: user.accessToken, body }), 401);
    }
    assert.equal(await fingerprint(h().db), before);
  });
  it('answers an empty change to the profile as a no-op, not a 500', async () => {
    const user = await registerUser(h().app);
    const answer = await call(h().app, 'PATCH', '/api/users/me', { token: user.accessToken, body: {} });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.data.userId, user.userId);
  });
});
