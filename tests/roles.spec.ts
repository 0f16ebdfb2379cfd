// An organisation's roles through the HTTP API, on every database target: listing the built-in and
// custom roles, creating, changing and deleting custom roles, who may do each, and that a custom
// role gives its holders exactly its permissions, from their next request on.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { it } from 'node:test';
import { PERMISSIONS } from '../src/domain/policy/permissions.ts';
import { addMember, assertErrorEnvelope, call, createOrganisation, registerUser, type TestUser, team as sharedTeam } from './helpers/api.ts';
import { fingerprint, forEachDatabase, settled } from './helpers/harness.ts';
import { expectAuthenticationRequired, expectRefused, type RouteCall } from './helpers/matrix.ts';

const rolesUrl = (orgId: string) => `/api/organisations/${orgId}/roles`;
const roleUrl = (orgId: string, roleId: string) => `/api/organisations/${orgId}/roles/${roleId}`;

interface RoleRow {
  id: string;
  name: string;
  description: string;
  permissions: string[];
  built_in: boolean;
}

forEachDatabase('roles', (h) => {
  const team = () => sharedTeam(h().app);

  const send = (route: RouteCall, user: TestUser) => call(h().app, route.method, route.url, { body: route.body, token: user.accessToken });

  const roleRow = (orgId: string, name: string): Promise<RoleRow | undefined> =>
    h().db.selectFrom('roles').select(['id', 'name', 'description', 'permissions', 'built_in']).where('organisation_id', '=', orgId).where('name', '=', name).executeTakeFirst();

  const roleById = (roleId: string): Promise<RoleRow | undefined> => h().db.selectFrom('roles').select(['id', 'name', 'description', 'permissions', 'built_in']).where('id', '=', roleId).executeTakeFirst();

  async function createRole(user: TestUser, orgId: string, body: { name: string; description?: string; permissions: string[] }) {
    const answer = await send({ method: 'POST', url: rolesUrl(orgId), body }, user);
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    return answer.body.data.roleId as string;
  }

  /** The request is refused with `status` (and `code`), and the database is untouched. */
  async function expectError(route: RouteCall, user: TestUser, status: number, code?: string) {
    await settled(h().db, { failOnTimeout: true });
    const before = await fingerprint(h().db);
    const answer = await send(route, user);
    if (status === 422) {
      assert.equal(answer.status, 422, JSON.stringify(answer.body));
      assert.deepEqual(answer.body.errors.map((e: { field: string }) => e.field), [code], JSON.stringify(answer.body));
    } else {
      assertErrorEnvelope(answer, status, code);
    }
    assert.equal(await fingerprint(h().db), before, `a refused ${route.method} ${route.url} changed the database`);
    return answer;
  }

  const allowed = async (route: RouteCall, user: TestUser) => (await send(route, user)).status;

  it('lists the built-in roles to any member, with their permissions and how many hold each', async () => {
    const { owner, member, orgId } = await team();
    const custom = await createRole(owner, orgId, { name: 'Auditor', permissions: ['audit:read'] });
    const answer = await send({ method: 'GET', url: rolesUrl(orgId) }, member);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.message, 'Roles retrieved successfully');
    const roles = answer.body.data.roles as Array<Record<string, unknown>>;
    assert.deepEqual(
      roles.map((r) => [r.name, r.builtIn, r.memberCount]),
      [
        ['admin', true, 1],
        ['member', true, 1],
        ['owner', true, 1],
        ['Auditor', false, 0],
      ],
    );
    assert.deepEqual(Object.keys(roles[0]!).sort(), ['builtIn', 'description', 'memberCount', 'name', 'permissions', 'roleId']);
    const byName = Object.fromEntries(roles.map((r) => [r.name, r]));
    assert.deepEqual([...(byName.owner!.permissions as string[])].sort(), [...PERMISSIONS].sort());
    assert.deepEqual([...(byName.admin!.permissions as string[])].sort(), PERMISSIONS.filter((p) => p !== 'org:delete').sort());
    assert.deepEqual([...(byName.member!.permissions as string[])].sort(), ['members:read', 'org:read']);
    assert.equal(byName.Auditor!.roleId, custom);
    for (const r of roles) assert.equal(r.roleId, (await roleRow(orgId, r.name as string))?.id);
  });

  it('lets the owner and an admin create a role, stored as sent; a member gets 403 and an outsider 404', async () => {
    const { owner, admin, member, outsider, orgId } = await team();
    const body = { name: 'Auditor', description: 'Reads the log', permissions: ['audit:read', 'members:read'] };
    const answer = await send({ method: 'POST', url: rolesUrl(orgId), body }, owner);
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    assert.equal(answer.body.status, 'success');
    assert.equal(answer.body.message, 'Role created successfully');
    const { roleId, ...rest } = answer.body.data;
    assert.deepEqual(rest, { ...body, builtIn: false });
    assert.deepEqual(await roleRow(orgId, 'Auditor'), { id: roleId, name: 'Auditor', description: 'Reads the log', permissions: ['audit:read', 'members:read'], built_in: false });

    const byAdmin = await createRole(admin, orgId, { name: 'Greeter', permissions: ['members:add', 'invitations:create'] });
    assert.deepEqual((await roleById(byAdmin))?.description, '');
    await expectRefused(h(), { method: 'POST', url: rolesUrl(orgId), body: { name: 'Mine', permissions: [] } }, member.accessToken, 403, 'member');
    await expectRefused(h(), { method: 'POST', url: rolesUrl(orgId), body: { name: 'Theirs', permissions: [] } }, outsider.accessToken, 404, 'outsider');
  });

  it('refuses a duplicate name in any letter case, a permission outside the catalogue and a missing field with 422', async () => {
    const { owner, orgId } = await team();
    await createRole(owner, orgId, { name: 'Auditor', permissions: ['audit:read'] });
    const post = (body: unknown): RouteCall => ({ method: 'POST', url: rolesUrl(orgId), body });
    for (const name of ['auditor', 'AUDITOR', 'Owner', 'admin']) {
      const answer = await expectError(post({ name, permissions: [] }), owner, 422, 'name');
      assert.deepEqual(answer.body.errors, [{ field: 'name', message: 'A role with this name already exists' }]);
    }
    for (const permissions of [['audit:read', 'superuser'], ['ORG:READ'], 'audit:read', [7], ['audit:read', 'audit:read']]) await expectError(post({ name: 'New', permissions }), owner, 422, 'permissions');
    await expectError(post({ name: 'New' }), owner, 422, 'permissions');
    for (const name of ['', '   ', 'x'.repeat(65), 5]) await expectError(post({ name, permissions: [] }), owner, 422, 'name');
    assert.equal(await roleRow(orgId, 'New'), undefined);
  });

  it('refuses a name that looks like a built-in or existing role: spaces, letter case, other scripts, compatibility forms, invisible characters', async () => {
    const { owner, orgId } = await team();
    const auditor = await createRole(owner, orgId, { name: 'Auditor', permissions: ['audit:read'] });
    const post = (name: string): RouteCall => ({ method: 'POST', url: rolesUrl(orgId), body: { name, permissions: [] } });
    const lookalikes: Array<[string, string]> = [
      ['owner ', 'A role with this name already exists'],
      ['  Owner', 'A role with this name already exists'],
      ['\u043ewner', 'This name looks like the role “owner”: choose one that cannot be mistaken for it'], // Cyrillic о
      ['\u041eWNER', 'This name looks like the role “owner”: choose one that cannot be mistaken for it'], // Cyrillic О
      ['\uff4f\uff57\uff4e\uff45\uff52', 'A role with this name already exists'], // fullwidth, NFKC "owner"
      ['ow\u200bner', 'A role with this name already exists'], // a zero-width space
      ['0wner', 'This name looks like the role “owner”: choose one that cannot be mistaken for it'],
      ['adrnin', 'This name looks like the role “admin”: choose one that cannot be mistaken for it'],
      ['\u0410uditor', 'This name looks like the role “Auditor”: choose one that cannot be mistaken for it'], // Cyrillic А
      ['AUD\u0406TOR', 'This name looks like the role “Auditor”: choose one that cannot be mistaken for it'], // Ukrainian І
    ];
    for (const [name, message] of lookalikes) {
      const answer = await expectError(post(name), owner, 422, 'name');
      assert.deepEqual(answer.body.errors, [{ field: 'name', message }], JSON.stringify(name));
    }
    // A rename is held to the same rule, against every role but its own.
    const other = await createRole(owner, orgId, { name: 'Billing', permissions: [] });
    await expectError({ method: 'PATCH', url: roleUrl(orgId, other), body: { name: '\u0410uditor' } }, owner, 422, 'name'); // Cyrillic А
    assert.equal((await send({ method: 'PATCH', url: roleUrl(orgId, auditor), body: { name: 'AUDITOR' } }, owner)).status, 200);
    assert.equal((await roleById(auditor))?.name, 'AUDITOR');
    const names = (await h().db.selectFrom('roles').select('name').where('organisation_id', '=', orgId).execute()).map((r) => r.name).sort();
    assert.deepEqual(names, ['AUDITOR', 'Billing', 'admin', 'member', 'owner'].sort());
  });

  it('stores a role name normalised: NFKC, trimmed, one space between words; distinct names stay distinct', async () => {
    const { owner, orgId } = await team();
    const support = await createRole(owner, orgId, { name: '  Support \t  team ', permissions: [] });
    assert.equal((await roleById(support))?.name, 'Support team');
    const cafe = await createRole(owner, orgId, { name: 'Cafe\u0301 staff', permissions: [] });
    assert.equal((await roleById(cafe))?.name, 'Caf\u00e9 staff');
    for (const name of ['Owners', 'Co-owner', 'Administrators', 'Membership']) await createRole(owner, orgId, { name, permissions: [] });
    // A name is found whichever way it is written.
    const { member } = await team();
    await addMember(h().app, owner.accessToken, orgId, member.userId, '\uff33upport team');
    await expectError({ method: 'POST', url: rolesUrl(orgId), body: { name: '\u200b\u2060', permissions: [] } }, owner, 422, 'name');
  });

  it('lets nobody create or edit a role above their own: an admin and org:delete get 403 ROLE_ABOVE_OWN', async () => {
    const { owner, admin, orgId } = await team();
    await expectError({ method: 'POST', url: rolesUrl(orgId), body: { name: 'Destroyer', permissions: ['org:delete'] } }, admin, 403, 'ROLE_ABOVE_OWN');
    assert.equal(await roleRow(orgId, 'Destroyer'), undefined);
    const low = await createRole(admin, orgId, { name: 'Low', permissions: ['members:read'] });
    await expectError({ method: 'PATCH', url: roleUrl(orgId, low), body: { permissions: ['members:read', 'org:delete'] } }, admin, 403, 'ROLE_ABOVE_OWN');
    const high = await createRole(owner, orgId, { name: 'High', permissions: ['org:delete'] });
    await expectError({ method: 'PATCH', url: roleUrl(orgId, high), body: { name: 'Lowered' } }, admin, 403, 'ROLE_ABOVE_OWN');
    await expectError({ method: 'DELETE', url: roleUrl(orgId, high) }, admin, 403, 'ROLE_ABOVE_OWN');
    assert.deepEqual([(await roleById(low))?.permissions, (await roleById(high))?.name], [['members:read'], 'High']);
  });

  it('gives a member holding a custom role exactly its permissions', async () => {
    const { owner, member, orgId } = await team();
    await createRole(owner, orgId, { name: 'Viewer', permissions: ['members:read', 'stats:read'] });
    const answer = await send({ method: 'PATCH', url: `/api/organisations/${orgId}/members/${member.userId}`, body: { role: 'viewer' } }, owner);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.deepEqual(answer.body.data, { userId: member.userId, role: 'Viewer' });
    const held = await h().db.selectFrom('members').innerJoin('roles', 'roles.id', 'members.role_id').select('roles.name').where('members.organisation_id', '=', orgId).where('members.user_id', '=', member.userId).executeTakeFirstOrThrow();
    assert.equal(held.name, 'Viewer');
    assert.equal(await allowed({ method: 'GET', url: `/api/organisations/${orgId}/members` }, member), 200);
    await expectRefused(h(), { method: 'PATCH', url: `/api/organisations/${orgId}`, body: { name: 'Mine now' } }, member.accessToken, 403, 'viewer');
    await expectRefused(h(), { method: 'GET', url: `/api/organisations/${orgId}/audit-log` }, member.accessToken, 403, 'viewer');
    await expectRefused(h(), { method: 'POST', url: rolesUrl(orgId), body: { name: 'More', permissions: [] } }, member.accessToken, 403, 'viewer');
  });

  it('changes a custom role, and its holders’ permissions with their next request', async () => {
    const { owner, member, orgId } = await team();
    const roleId = await createRole(owner, orgId, { name: 'Viewer', permissions: ['members:read'] });
    await send({ method: 'PATCH', url: `/api/organisations/${orgId}/members/${member.userId}`, body: { role: 'Viewer' } }, owner);
    const members: RouteCall = { method: 'GET', url: `/api/organisations/${orgId}/members` };
    const log: RouteCall = { method: 'GET', url: `/api/organisations/${orgId}/audit-log` };
    assert.deepEqual([await allowed(members, member), await allowed(log, member)], [200, 403]);

    const answer = await send({ method: 'PATCH', url: roleUrl(orgId, roleId), body: { name: 'Reviewer', description: 'Reads the log', permissions: ['audit:read'] } }, owner);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal(answer.body.message, 'Role updated successfully');
    assert.deepEqual(answer.body.data, { roleId, name: 'Reviewer', description: 'Reads the log', builtIn: false, permissions: ['audit:read'] });
    assert.deepEqual(await roleById(roleId), { id: roleId, name: 'Reviewer', description: 'Reads the log', permissions: ['audit:read'], built_in: false });
    assert.deepEqual([await allowed(members, member), await allowed(log, member)], [403, 200]);

    const renamed = await send({ method: 'PATCH', url: roleUrl(orgId, roleId), body: { name: 'Checker' } }, owner);
    assert.deepEqual([renamed.status, renamed.body.data?.permissions], [200, ['audit:read']]);
    assert.deepEqual(await roleById(roleId), { id: roleId, name: 'Checker', description: 'Reads the log', permissions: ['audit:read'], built_in: false });
    await expectError({ method: 'PATCH', url: roleUrl(orgId, roleId), body: { name: 'ADMIN' } }, owner, 422, 'name');
    await expectError({ method: 'PATCH', url: roleUrl(orgId, roleId), body: { builtIn: true } }, owner, 422, 'builtIn');
    await expectError({ method: 'PATCH', url: roleUrl(orgId, roleId), body: { permissions: ['root'] } }, owner, 422, 'permissions');
  });

  it('answers an empty change to a role as a no-op or a 422, never a 500', async () => {
    const { owner, orgId } = await team();
    const roleId = await createRole(owner, orgId, { name: 'Viewer', permissions: ['members:read'] });
    await settled(h().db, { failOnTimeout: true });
    const before = await fingerprint(h().db);
    const answer = await send({ method: 'PATCH', url: roleUrl(orgId, roleId), body: {} }, owner);
    assert.ok(answer.status === 422 || answer.status === 200, `PATCH {} → ${answer.status} ${JSON.stringify(answer.body)}`);
    if (answer.status === 422) assert.equal(await fingerprint(h().db), before);
    else assert.deepEqual(answer.body.data, { roleId, name: 'Viewer', description: '', builtIn: false, permissions: ['members:read'] });
    assert.deepEqual((await roleById(roleId))?.permissions, ['members:read']);
  });

  it('refuses to change or delete a built-in role with 409 BUILT_IN_ROLE', async () => {
    const { owner, orgId } = await team();
    for (const name of ['owner', 'admin', 'member']) {
      const { id } = (await roleRow(orgId, name))!;
      const patched = await expectError({ method: 'PATCH', url: roleUrl(orgId, id), body: { permissions: ['org:read'] } }, owner, 409, 'BUILT_IN_ROLE');
      assert.equal(patched.body.status, 'Conflict');
      await expectError({ method: 'PATCH', url: roleUrl(orgId, id), body: { name: `${name}2` } }, owner, 409, 'BUILT_IN_ROLE');
      await expectError({ method: 'DELETE', url: roleUrl(orgId, id) }, owner, 409, 'BUILT_IN_ROLE');
    }
  });

  it('answers 404 ROLE_NOT_FOUND for an unknown, malformed or other organisation’s role id', async () => {
    const { owner, outsider, orgId, otherOrgId } = await team();
    const theirs = await createRole(outsider, otherOrgId, { name: 'Theirs', permissions: ['members:read'] });
    const theirOwner = (await roleRow(otherOrgId, 'owner'))!.id;
    for (const roleId of [randomUUID(), 'abc', '1', theirs, theirOwner]) {
      await expectError({ method: 'PATCH', url: roleUrl(orgId, roleId), body: { name: 'Hijacked' } }, owner, 404, 'ROLE_NOT_FOUND');
      await expectError({ method: 'DELETE', url: roleUrl(orgId, roleId) }, owner, 404, 'ROLE_NOT_FOUND');
    }
    assert.equal((await roleById(theirs))?.name, 'Theirs');
  });

  it('deletes a role nobody holds; refuses one members hold with 409 ROLE_IN_USE until they move', async () => {
    const { owner, admin, member, orgId } = await team();
    const unused = await createRole(owner, orgId, { name: 'Unused', permissions: [] });
    const answer = await send({ method: 'DELETE', url: roleUrl(orgId, unused) }, admin);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.deepEqual(answer.body, { status: 'success', message: 'Role deleted successfully', data: {} });
    assert.equal(await roleById(unused), undefined);
    await expectError({ method: 'DELETE', url: roleUrl(orgId, unused) }, owner, 404, 'ROLE_NOT_FOUND');

    const held = await createRole(owner, orgId, { name: 'Held', permissions: ['members:read'] });
    const memberUrl = `/api/organisations/${orgId}/members/${member.userId}`;
    assert.equal((await send({ method: 'PATCH', url: memberUrl, body: { role: 'Held' } }, owner)).status, 200);
    const refused = await expectError({ method: 'DELETE', url: roleUrl(orgId, held) }, owner, 409, 'ROLE_IN_USE');
    assert.equal(refused.body.status, 'Conflict');
    assert.equal((await roleById(held))?.name, 'Held');
    assert.equal((await send({ method: 'PATCH', url: memberUrl, body: { role: 'member' } }, owner)).status, 200);
    const deleted = await send({ method: 'DELETE', url: roleUrl(orgId, held) }, owner);
    assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
    assert.equal(await roleById(held), undefined);
  });

  it('requires a valid access token on every role route, changing nothing', async () => {
    const { owner, orgId } = await team();
    const roleId = await createRole(owner, orgId, { name: 'Target', permissions: [] });
    const routes: RouteCall[] = [
      { method: 'GET', url: rolesUrl(orgId) },
      { method: 'POST', url: rolesUrl(orgId), body: { name: 'Sneaky', permissions: [] } },
      { method: 'PATCH', url: roleUrl(orgId, roleId), body: { name: 'Sneaky' } },
      { method: 'DELETE', url: roleUrl(orgId, roleId) },
    ];
    for (const route of routes) await expectAuthenticationRequired(h(), route, owner.accessToken);
    assert.equal((await roleById(roleId))?.name, 'Target');
  });

  it('answers 403 to a member on every change and 404 to outsiders on every role route', async () => {
    const { owner, member, outsider, orgId, otherOrgId } = await team();
    const roleId = await createRole(owner, orgId, { name: 'Target', permissions: [] });
    const theirs = await createRole(outsider, otherOrgId, { name: 'Theirs', permissions: [] });
    const routes = (org: string, role: string): RouteCall[] => [
      { method: 'GET', url: rolesUrl(org) },
      { method: 'POST', url: rolesUrl(org), body: { name: 'Sneaky', permissions: [] } },
      { method: 'PATCH', url: roleUrl(org, role), body: { name: 'Sneaky' } },
      { method: 'DELETE', url: roleUrl(org, role) },
    ];
    for (const route of routes(orgId, roleId).slice(1)) await expectRefused(h(), route, member.accessToken, 403, 'member');
    for (const route of [...routes(orgId, roleId), ...routes(orgId, theirs)]) await expectRefused(h(), route, outsider.accessToken, 404, 'outsider');
    for (const route of [...routes(otherOrgId, theirs), ...routes(randomUUID(), roleId), ...routes('abc', roleId)]) await expectRefused(h(), route, owner.accessToken, 404, 'owner of A');
    assert.deepEqual([(await roleById(roleId))?.name, (await roleById(theirs))?.name], ['Target', 'Theirs']);
  });
  it('lets any member read the organisation and its roles, even with a custom role lacking org:read', async () => {
    const { app } = h();
    const [owner, analyst] = await Promise.all([registerUser(app), registerUser(app)]);
    const orgId = await createOrganisation(app, owner.accessToken, 'Readers');
    const created = await call(app, 'POST', `/api/organisations/${orgId}/roles`, { token: owner.accessToken, body: { name: 'Counter', permissions: ['stats:read'] } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await addMember(app, owner.accessToken, orgId, analyst.userId, 'Counter');
    assert.equal((await call(app, 'GET', `/api/organisations/${orgId}`, { token: analyst.accessToken })).status, 200);
    assert.equal((await call(app, 'GET', `/api/organisations/${orgId}/roles`, { token: analyst.accessToken })).status, 200);
    assert.equal((await call(app, 'GET', `/api/organisations/${orgId}/members`, { token: analyst.accessToken })).status, 403);
  });
});
