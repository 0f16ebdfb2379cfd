// The `saas` route set (seeds 001 and 004) end to end, on every database target: signing up with a
// named organisation, signing in, resetting a password, inviting and accepting, changing roles and
// removing members, creating organisations, the statistics, who may do each (errors as {"message"}),
// and the set's mounting by GATEHOUSE_COMPAT and its place in the OpenAPI document.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import { sql } from 'kysely';
import { addMember, call, PASSWORD, registerUser, uniqueEmail, type Answer } from './helpers/api.ts';
import { fingerprint, forEachDatabase, PUBLIC_URL, settled, startHarness } from './helpers/harness.ts';
import { algNone, tamper, type RouteCall } from './helpers/matrix.ts';

const TAG = 'saas (seeds 001, 004)';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface SaasUser {
  userId: string;
  orgId: string;
  email: string;
  password: string;
  token: string;
}

forEachDatabase('saas route set', (h) => {
  const app = () => h().app;
  const db = () => h().db;
  const send = (route: RouteCall, token?: string) => call(app(), route.method, route.url, { body: route.body, token });

  /** The token of the newest link of a kind mailed to an address, waiting for a mail queued after the answer. */
  async function mailedToken(email: string, kind: string, path: string) {
    for (let i = 0; i < 400; i++) {
      const mail = await db().selectFrom('outbox').select('text_body').where(sql<string>`lower(recipient)`, '=', email.toLowerCase()).where('kind', '=', kind).orderBy('id', 'desc').executeTakeFirst();
      const match = mail && new RegExp(`${PUBLIC_URL}${path}\\?token=[\\w%-]+`).exec(mail.text_body);
      if (match) return new URL(match[0]).searchParams.get('token') ?? '';
      await sleep(25);
    }
    return assert.fail(`no ${kind} mail to ${email}`);
  }

  /** Exactly `{"message": message}` with the status. */
  function expectMessage(answer: Answer, status: number, message: string | RegExp) {
    assert.equal(answer.status, status, JSON.stringify(answer.body));
    assert.deepEqual(Object.keys(answer.body), ['message']);
    if (typeof message === 'string') assert.equal(answer.body.message, message);
    else assert.match(answer.body.message, message);
  }

  /** Refused with `{"message"}` and `status`, the database untouched. */
  async function expectRefused(route: RouteCall, token: string | undefined, status: number, message?: string | RegExp) {
    await settled(db(), { failOnTimeout: true });
    const before = await fingerprint(db());
    const answer = await send(route, token);
    expectMessage(answer, status, message ?? /\S/);
    assert.equal(await fingerprint(db()), before, `a refused ${route.method} ${route.url} changed the database`);
    return answer;
  }

  async function signUp(organization_name = 'Acme', extra: Record<string, unknown> = {}): Promise<SaasUser> {
    const email = uniqueEmail('saas');
    const answer = await send({ method: 'POST', url: '/signup', body: { email, password: PASSWORD, organization_name, ...extra } });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    const signin = await send({ method: 'POST', url: '/signin', body: { email, password: PASSWORD } });
    assert.equal(signin.status, 200, JSON.stringify(signin.body));
    return { userId: answer.body.user_id, orgId: answer.body.org_id, email, password: PASSWORD, token: signin.body.access_token };
  }

  const roleIn = async (orgId: string, userId: string) =>
    (await db().selectFrom('members').innerJoin('roles', 'roles.id', 'members.role_id').select('roles.name').where('members.organisation_id', '=', orgId).where('members.user_id', '=', userId).executeTakeFirst())?.name;

  /** A team signed up through /signup: its owner, and an admin and a member added through the core API. */
  async function team(name = 'Team') {
    const [owner, admin, member, outsider] = await Promise.all([signUp(name), signUp('Admin Co'), signUp('Member Co'), signUp('Outsider Co')]);
    await addMember(app(), owner.token, owner.orgId, admin.userId, 'admin');
    await addMember(app(), owner.token, owner.orgId, member.userId, 'member');
    return { owner, admin, member, outsider, orgId: owner.orgId };
  }

  it('signs up a user with the organisation named, as its owner', async () => {
    const email = uniqueEmail('signup');
    const answer = await send({ method: 'POST', url: '/signup', body: { email, password: PASSWORD, organization_name: 'Fusion Ltd', organization_details: 'Makes things' } });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    assert.deepEqual(Object.keys(answer.body).sort(), ['message', 'org_id', 'user_id']);
    assert.equal(answer.body.message, 'User signed up successfully');
    const user = await db().selectFrom('users').select(['id', 'email']).where('id', '=', answer.body.user_id).executeTakeFirstOrThrow();
    assert.equal(user.email, email);
    const org = await db().selectFrom('organisations').select(['name', 'description']).where('id', '=', answer.body.org_id).executeTakeFirstOrThrow();
    assert.deepEqual(org, { name: 'Fusion Ltd', description: 'Makes things' });
    const members = await db().selectFrom('members').select('user_id').where('organisation_id', '=', answer.body.org_id).execute();
    assert.deepEqual(members, [{ user_id: user.id }]);
    assert.equal(await roleIn(answer.body.org_id, user.id), 'owner');
    const bare = await signUp('No Details');
    assert.equal((await db().selectFrom('organisations').select('description').where('id', '=', bare.orgId).executeTakeFirstOrThrow()).description, '');
  });

  it('refuses a duplicate email in any letter case and missing fields with {"message"}, changing nothing', async () => {
    const user = await signUp();
    const signup = (body: Record<string, unknown>): RouteCall => ({ method: 'POST', url: '/signup', body });
    await expectRefused(signup({ email: user.email.toUpperCase(), password: PASSWORD, organization_name: 'Again' }), undefined, 422, 'Email already exists');
    await expectRefused(signup({ password: PASSWORD, organization_name: 'X' }), undefined, 422, 'Email is required');
    await expectRefused(signup({ email: uniqueEmail(), organization_name: 'X' }), undefined, 422, 'Password is required');
    await expectRefused(signup({ email: uniqueEmail(), password: PASSWORD }), undefined, 422, 'Organization name is required');
    await expectRefused(signup({ email: uniqueEmail(), password: PASSWORD, organization_name: '   ' }), undefined, 422, 'Organization name is required');
    await expectRefused(signup({}), undefined, 422, / is required$/);
  });

  it('signs in with a bearer token pair that works on the core API; a bad credential is 401', async () => {
    const user = await signUp();
    const answer = await send({ method: 'POST', url: '/signin', body: { email: user.email, password: PASSWORD } });
    assert.equal(answer.status, 200);
    assert.deepEqual(Object.keys(answer.body).sort(), ['access_token', 'refresh_token', 'token_type']);
    assert.equal(answer.body.token_type, 'bearer');
    const me = await call(app(), 'GET', '/api/users/me', { token: answer.body.access_token });
    assert.equal(me.status, 200);
    assert.equal(me.body.data.userId, user.userId);
    const refreshed = await call(app(), 'POST', '/auth/refresh', { body: { refreshToken: answer.body.refresh_token } });
    assert.equal(refreshed.status, 200, JSON.stringify(refreshed.body));
    await expectRefused({ method: 'POST', url: '/signin', body: { email: user.email, password: 'wrong horse battery' } }, undefined, 401, 'Authentication failed');
    await expectRefused({ method: 'POST', url: '/signin', body: { email: uniqueEmail(), password: PASSWORD } }, undefined, 401, 'Authentication failed');
  });

  it('resets a forgotten password by the mailed token, once; a bad token is 400', async () => {
    const user = await signUp();
    const requested = await send({ method: 'POST', url: '/reset-password', body: { email: user.email } });
    const unknown = await send({ method: 'POST', url: '/reset-password', body: { email: uniqueEmail() } });
    assert.equal(requested.status, 202);
    assert.deepEqual([unknown.status, unknown.body], [requested.status, requested.body]);
    const token = await mailedToken(user.email, 'password_reset', '/reset-password');
    const reset = await send({ method: 'POST', url: '/reset-password', body: { token, new_password: 'a brand new secret' } });
    expectMessage(reset, 200, 'Password reset successful');
    assert.equal((await send({ method: 'POST', url: '/signin', body: { email: user.email, password: PASSWORD } })).status, 401);
    assert.equal((await send({ method: 'POST', url: '/signin', body: { email: user.email, password: 'a brand new secret' } })).status, 200);
    await expectRefused({ method: 'POST', url: '/reset-password', body: { token, new_password: 'yet another secret' } }, undefined, 400);
    await expectRefused({ method: 'POST', url: '/reset-password', body: { token: 'not-a-token', new_password: 'yet another secret' } }, undefined, 400);
    assert.equal((await send({ method: 'POST', url: '/signin', body: { email: user.email, password: 'a brand new secret' } })).status, 200);
  });

  it('invites by email with a role in any letter case; a non-member is 404, a plain member 403, no token 401', async () => {
    const { owner, member, outsider, orgId } = await team();
    const email = uniqueEmail('invitee');
    const answer = await send({ method: 'POST', url: '/invite-member', body: { email, organization_id: orgId, role: 'Admin' } }, owner.token);
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    assert.deepEqual(Object.keys(answer.body).sort(), ['invitation_id', 'message']);
    assert.equal(answer.body.message, 'Invite email sent successfully.');
    const row = await db().selectFrom('invitations').innerJoin('roles', 'roles.id', 'invitations.role_id').select(['invitations.organisation_id', 'invitations.email', 'invitations.status', 'roles.name']).where('invitations.id', '=', answer.body.invitation_id).executeTakeFirstOrThrow();
    assert.deepEqual(row, { organisation_id: orgId, email, status: 'pending', name: 'admin' });
    assert.ok(await mailedToken(email, 'invitation', '/accept-invite'));
    const route = (organization_id: string): RouteCall => ({ method: 'POST', url: '/invite-member', body: { email: uniqueEmail(), organization_id, role: 'member' } });
    await expectRefused(route(orgId), outsider.token, 404, 'Organisation not found');
    await expectRefused(route(randomUUID()), owner.token, 404, 'Organisation not found');
    await expectRefused(route(outsider.orgId), owner.token, 404, 'Organisation not found');
    await expectRefused(route(orgId), member.token, 403);
    await expectRefused(route(orgId), undefined, 401);
    await expectRefused({ method: 'POST', url: '/invite-member', body: { email: uniqueEmail(), organization_id: orgId, role: 'overlord' } }, owner.token, 422);
  });

  it('requires a valid access token on every protected route of the set, answering {"message"} and changing nothing', async () => {
    const { owner, member, orgId } = await team();
    const routes: RouteCall[] = [
      { method: 'POST', url: '/invite-member', body: { email: uniqueEmail(), organization_id: orgId, role: 'member' } },
      { method: 'PUT', url: '/update_member_role', body: { org_id: orgId, user_id: member.userId, role: 'admin' } },
      { method: 'DELETE', url: '/delete_member', body: { org_id: orgId, user_id: member.userId } },
      { method: 'POST', url: '/organizations', body: { name: 'Sneaky' } },
      ...['role-wise-users', 'org-wise-members', 'org-role-wise-users', 'org-role-wise-users-filtered'].map((path): RouteCall => ({ method: 'GET', url: `/stats/${path}` })),
    ];
    const headers: Array<Record<string, string>> = [{}, { authorization: 'Bearer garbage' }, { authorization: `Bearer ${tamper(owner.token)}` }, { authorization: `Bearer ${algNone(owner.token)}` }, { authorization: 'Basic YTpi' }];
    await settled(db(), { failOnTimeout: true });
    const before = await fingerprint(db());
    for (const route of routes) {
      for (const header of headers) expectMessage(await call(app(), route.method, route.url, { body: route.body, headers: header }), 401, /\S/);
    }
    assert.equal(await fingerprint(db()), before);
  });

  it('serves the accept page, and accepting with a password creates the invited account with the role', async () => {
    const { owner, orgId } = await team('Page Team');
    const email = uniqueEmail('newcomer');
    assert.equal((await send({ method: 'POST', url: '/invite-member', body: { email, organization_id: orgId, role: 'admin' } }, owner.token)).status, 201);
    const token = await mailedToken(email, 'invitation', '/accept-invite');
    const page = await call(app(), 'GET', `/accept-invite?token=${encodeURIComponent(token)}`);
    assert.equal(page.status, 200);
    assert.match(String(page.headers['content-type']), /^text\/html/);
    assert.match(page.body, /Page Team/);
    assert.match(page.body, /admin/);
    const accepted = await send({ method: 'POST', url: '/accept-invite', body: { token, password: 'newcomer password' } });
    expectMessage(accepted, 200, 'Invite accepted successfully.');
    const user = await db().selectFrom('users').select('id').where(sql<string>`lower(email)`, '=', email.toLowerCase()).executeTakeFirstOrThrow();
    assert.equal(await roleIn(orgId, user.id), 'admin');
    assert.equal((await send({ method: 'POST', url: '/signin', body: { email, password: 'newcomer password' } })).status, 200);
    await expectRefused({ method: 'POST', url: '/accept-invite', body: { token, password: 'newcomer password' } }, undefined, 400);
    await expectRefused({ method: 'POST', url: '/accept-invite', body: { token: 'made-up', password: 'whatever it is' } }, undefined, 400);
  });

  it('lets an existing account accept with its password; a wrong password is 401 and joins nobody', async () => {
    const { owner, orgId } = await team();
    const existing = await registerUser(app());
    assert.equal((await send({ method: 'POST', url: '/invite-member', body: { email: existing.email, organization_id: orgId, role: 'MEMBER' } }, owner.token)).status, 201);
    const token = await mailedToken(existing.email, 'invitation', '/accept-invite');
    await expectRefused({ method: 'POST', url: '/accept-invite', body: { token, password: 'not the password' } }, undefined, 401, 'Authentication failed');
    assert.equal(await roleIn(orgId, existing.userId), undefined);
    expectMessage(await send({ method: 'POST', url: '/accept-invite', body: { token, password: existing.password } }), 200, 'Invite accepted successfully.');
    assert.equal(await roleIn(orgId, existing.userId), 'member');
    await expectRefused({ method: 'POST', url: '/accept-invite', body: { token, password: existing.password } }, undefined, 400);
  });

  it('changes a member’s role; an admin cannot make anyone owner, a member changes nothing', async () => {
    const { owner, admin, member, outsider, orgId } = await team();
    const update = (user_id: string, role: string): RouteCall => ({ method: 'PUT', url: '/update_member_role', body: { org_id: orgId, user_id, role } });
    expectMessage(await send(update(member.userId, 'Admin'), owner.token), 200, 'Member role updated successfully.');
    assert.equal(await roleIn(orgId, member.userId), 'admin');
    expectMessage(await send(update(member.userId, 'member'), admin.token), 200, 'Member role updated successfully.');
    assert.equal(await roleIn(orgId, member.userId), 'member');
    await expectRefused(update(member.userId, 'owner'), admin.token, 403);
    await expectRefused(update(admin.userId, 'owner'), admin.token, 403);
    await expectRefused(update(owner.userId, 'member'), admin.token, 403);
    await expectRefused(update(admin.userId, 'member'), member.token, 403);
    await expectRefused(update(member.userId, 'admin'), outsider.token, 404);
    await expectRefused(update(outsider.userId, 'admin'), owner.token, 404);
    await expectRefused(update(owner.userId, 'member'), owner.token, 409, 'An organisation must keep at least one owner');
    assert.deepEqual(await Promise.all([owner, admin, member].map((u) => roleIn(orgId, u.userId))), ['owner', 'admin', 'member']);
  });

  it('deletes a member, lets a member leave, and never removes the last owner', async () => {
    const { owner, admin, member, outsider, orgId } = await team();
    const extra = await signUp('Extra Co');
    await addMember(app(), owner.token, orgId, extra.userId, 'member');
    const remove = (user_id: string): RouteCall => ({ method: 'DELETE', url: '/delete_member', body: { org_id: orgId, user_id } });
    await expectRefused(remove(owner.userId), admin.token, 403);
    await expectRefused(remove(extra.userId), member.token, 403);
    await expectRefused(remove(member.userId), outsider.token, 404);
    expectMessage(await send(remove(extra.userId), admin.token), 200, 'Member deleted');
    assert.equal(await roleIn(orgId, extra.userId), undefined);
    expectMessage(await send(remove(member.userId), member.token), 200, 'Member deleted');
    assert.equal(await roleIn(orgId, member.userId), undefined);
    await expectRefused(remove(owner.userId), owner.token, 409, 'An organisation must keep at least one owner');
    await expectRefused(remove(member.userId), owner.token, 404);
    assert.equal(await roleIn(orgId, owner.userId), 'owner');
  });

  it('creates an organisation with the caller as owner', async () => {
    const user = await signUp();
    const answer = await send({ method: 'POST', url: '/organizations', body: { name: 'Second Org', details: 'More anvils' } }, user.token);
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    assert.deepEqual(Object.keys(answer.body).sort(), ['message', 'org_id']);
    assert.equal(answer.body.message, 'Organization created successfully');
    const org = await db().selectFrom('organisations').select(['name', 'description']).where('id', '=', answer.body.org_id).executeTakeFirstOrThrow();
    assert.deepEqual(org, { name: 'Second Org', description: 'More anvils' });
    assert.equal(await roleIn(answer.body.org_id, user.userId), 'owner');
    await expectRefused({ method: 'POST', url: '/organizations', body: { details: 'no name' } }, user.token, 422, 'Name is required');
  });

  it('answers the statistics in the seeds’ shapes, filtered by from, to and status', async () => {
    const { owner, admin, member, orgId } = await team('Saas Stats');
    const extra = await signUp('Extra Co');
    await addMember(app(), owner.token, orgId, extra.userId, 'member');
    for (const [user, iso] of [[owner, '2024-01-01T00:00:00Z'], [admin, '2024-02-01T00:00:00Z'], [member, '2024-03-01T00:00:00Z'], [extra, '2024-04-01T00:00:00Z']] as const) {
      await sql`update members set created_at = ${new Date(iso)} where organisation_id = ${orgId} and user_id = ${user.userId}`.execute(db());
    }
    await db().updateTable('members').set({ status: 'suspended' }).where('organisation_id', '=', orgId).where('user_id', '=', extra.userId).execute();
    const get = async (path: string, query = '') => {
      const answer = await send({ method: 'GET', url: `/stats/${path}${query}` }, owner.token);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.ok(Array.isArray(answer.body));
      return answer.body;
    };
    const counts = (pairs: Array<[string, number]>) => pairs.map(([role, user_count]) => ({ organization: 'Saas Stats', role, user_count }));
    assert.deepEqual(await get('role-wise-users'), [{ role: 'admin', user_count: 1 }, { role: 'member', user_count: 2 }, { role: 'owner', user_count: 1 }]);
    assert.deepEqual(await get('org-wise-members'), [{ organization: 'Saas Stats', organization_id: orgId, member_count: 4 }]);
    for (const path of ['org-role-wise-users', 'org-role-wise-users-filtered']) {
      assert.deepEqual(await get(path), counts([['admin', 1], ['member', 2], ['owner', 1]]));
      assert.deepEqual(await get(path, '?status=active'), counts([['admin', 1], ['member', 1], ['owner', 1]]));
      assert.deepEqual(await get(path, '?status=suspended'), counts([['member', 1]]));
      assert.deepEqual(await get(path, '?from=2024-02-01T00:00:00Z&to=2024-03-01T00:00:00Z'), counts([['admin', 1], ['member', 1]]));
      const from = Date.parse('2024-03-01T00:00:00Z') / 1000;
      assert.deepEqual(await get(path, `?from=${from}&to=${from + 31 * 86400}`), counts([['member', 2]]));
      assert.deepEqual(await get(path, `?from=${from + 1}&to=${from + 31 * 86400}&status=suspended`), counts([['member', 1]]));
    }
    assert.deepEqual(await get('role-wise-users', '?to=2024-01-01T00:00:00Z'), [{ role: 'owner', user_count: 1 }]);
    assert.deepEqual(await get('org-wise-members', '?status=suspended'), [{ organization: 'Saas Stats', organization_id: orgId, member_count: 1 }]);
    // A plain member holds no stats:read in the team: they see only the organisation they signed up with.
    const theirs = await send({ method: 'GET', url: '/stats/org-wise-members' }, member.token);
    assert.deepEqual(theirs.body, [{ organization: 'Member Co', organization_id: member.orgId, member_count: 1 }]);
    await expectRefused({ method: 'GET', url: '/stats/org-role-wise-users-filtered?from=yesterday' }, owner.token, 422, /^From /);
    await expectRefused({ method: 'GET', url: '/stats/role-wise-users?status=gone' }, owner.token, 422, /^Status /);
  });

  it('is not mounted with GATEHOUSE_COMPAT=none, while the core API works', async () => {
    const bare = await startHarness(h().target, { GATEHOUSE_COMPAT: 'none' });
    try {
      const email = uniqueEmail('nocompat');
      for (const route of [
        { method: 'POST', url: '/signup', body: { email, password: PASSWORD, organization_name: 'X' } },
        { method: 'POST', url: '/signin', body: { email, password: PASSWORD } },
        { method: 'GET', url: '/stats/role-wise-users' },
      ] as RouteCall[]) {
        assert.equal((await call(bare.app, route.method, route.url, { body: route.body })).status, 404, route.url);
      }
      assert.equal(await bare.db.selectFrom('users').select('id').where('email', '=', email).executeTakeFirst(), undefined);
      const registered = await call(bare.app, 'POST', '/auth/register', { body: { firstName: 'Core', lastName: 'Only', email, password: PASSWORD } });
      assert.equal(registered.status, 201, JSON.stringify(registered.body));
      const document = await call(bare.app, 'GET', '/openapi.json');
      assert.equal(document.body.paths['/signup'], undefined);
    } finally {
      await bare.close();
    }
  });

  it('documents every route of the set in the OpenAPI document under its own tag', async () => {
    const answer = await call(app(), 'GET', '/openapi.json');
    assert.equal(answer.status, 200);
    const tagged: string[] = [];
    for (const [path, operations] of Object.entries(answer.body.paths as Record<string, Record<string, { tags?: string[] }>>)) {
      for (const [method, operation] of Object.entries(operations)) if (operation.tags?.includes(TAG)) tagged.push(`${method.toUpperCase()} ${path}`);
    }
    const expected = [
      'POST /signup', 'POST /signin', 'POST /reset-password', 'POST /invite-member', 'POST /accept-invite', 'DELETE /delete_member', 'PUT /update_member_role', 'POST /organizations',
      'GET /stats/role-wise-users', 'GET /stats/org-wise-members', 'GET /stats/org-role-wise-users', 'GET /stats/org-role-wise-users-filtered',
    ];
    assert.deepEqual(tagged.sort(), expected.sort());
    assert.deepEqual(answer.body.paths['/signup'].post.tags, [TAG]);
  });
});
