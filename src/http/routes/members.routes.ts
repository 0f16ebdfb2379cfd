// A member's role, removing a member, leaving, and the organisation's custom roles.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { PERMISSIONS } from '../../domain/policy/permissions.ts';
import type { Role as RoleModel } from '../../domain/organisations/types.ts';
import type { Services } from '../../domain/services.ts';
import { principalOf } from '../auth.ts';
import { ErrorBody, ok, StringEnum, success } from '../schemas.ts';

const TAGS = ['Members and roles'];
const MemberParams = Type.Object({ orgId: Type.String(), userId: Type.String() });
const RoleParams = Type.Object({ orgId: Type.String(), roleId: Type.String() });
const RoleName = Type.String({ minLength: 1, maxLength: 64, pattern: '\\S', 'x-message': '{label} is required' });
const Permissions = Type.Array(StringEnum(PERMISSIONS), { maxItems: PERMISSIONS.length, uniqueItems: true, description: 'From the permission catalogue' });
const Role = Type.Object({ roleId: Type.String(), name: Type.String(), description: Type.String(), builtIn: Type.Boolean(), permissions: Type.Array(Type.String()) });

const role = (row: RoleModel) => ({
  roleId: row.id,
  name: row.name,
  description: row.description,
  builtIn: row.builtIn,
  permissions: row.permissions,
});


export const membersRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  app.patch(
    '/api/organisations/:orgId/members/:userId',
    {
      config: { auth: 'user', permission: 'members:update-role' },
      schema: {
        operationId: 'changeMemberRole',
        tags: TAGS,
        summary: 'Give a member another role',
        description: 'Nobody changes the role of a member above them, nor grants a role above their own (403). The last owner cannot be demoted (409).',
        params: MemberParams,
        body: Type.Object({ role: RoleName }, { additionalProperties: false }),
        response: { 200: success(Type.Object({ userId: Type.String(), role: Type.String() })), 409: ErrorBody },
      },
    },
    async (request) => {
      const changed = await services.memberships.changeRole(principalOf(request), { organisationId: request.params.orgId, userId: request.params.userId, role: request.body.role });
      return ok('Member role updated successfully', changed);
    },
  );

  app.patch(
    '/api/organisations/:orgId/members/:userId/status',
    {
      config: { auth: 'user', permission: 'members:remove' },
      schema: {
        operationId: 'setMemberStatus',
        tags: TAGS,
        summary: 'Suspend a member, or reinstate them',
        description:
          'A suspended member keeps their place and role but loses access to the organisation at once, as if removed, until reinstated. Needs the right to remove them; nobody suspends a member above their own role, nor themselves (403), nor the last active owner (409).',
        params: MemberParams,
        body: Type.Object({ status: StringEnum(['active', 'suspended']) }, { additionalProperties: false }),
        response: { 200: success(Type.Object({ userId: Type.String(), role: Type.String(), status: Type.String() })), 409: ErrorBody },
      },
    },
    async (request) => {
      const changed = await services.memberships.setStatus(principalOf(request), { organisationId: request.params.orgId, userId: request.params.userId, status: request.body.status });
      return ok(changed.status === 'suspended' ? 'Member suspended' : 'Member reinstated', changed);
    },
  );

  app.delete(
    '/api/organisations/:orgId/members/:userId',
    {
      config: { auth: 'user', permission: 'members:remove', selfParam: 'userId' },
      schema: {
        operationId: 'removeMember',
        tags: TAGS,
        summary: 'Remove a member, or leave (your own user id)',
        description: 'Leaving needs no permission. The removed member’s access ends with their next request. The last owner cannot leave (409).',
        params: MemberParams,
        response: { 200: success(Type.Object({})), 409: ErrorBody },
      },
    },
    async (request) => {
      await services.memberships.remove(principalOf(request), { organisationId: request.params.orgId, userId: request.params.userId });
      return ok('Member removed successfully', {});
    },
  );

  app.get(
    '/api/organisations/:orgId/roles',
    {
      config: { auth: 'user', permission: 'member' },
      schema: {
        operationId: 'listRoles',
        tags: TAGS,
        summary: 'The organisation’s roles, built-in first, with how many members hold each',
        params: Type.Object({ orgId: Type.String() }),
        response: { 200: success(Type.Object({ roles: Type.Array(Type.Object({ ...Role.properties, memberCount: Type.Integer() })) })) },
      },
    },
    async (request) => {
      const roles = await services.roles.list(principalOf(request), request.params.orgId);
      return ok('Roles retrieved successfully', { roles: roles.map((r) => ({ ...role(r), memberCount: r.memberCount })) });
    },
  );

  app.post(
    '/api/organisations/:orgId/roles',
    {
      config: { auth: 'user', permission: 'roles:manage' },
      schema: {
        operationId: 'createRole',
        tags: TAGS,
        summary: 'Create a custom role',
        description: 'Its permissions must all be yours too (403 otherwise). Names are unique in the organisation whatever the letter case.',
        params: Type.Object({ orgId: Type.String() }),
        body: Type.Object({ name: RoleName, description: Type.Optional(Type.String({ maxLength: 500 })), permissions: Permissions }, { additionalProperties: false }),
        response: { 201: success(Role, 'Created') },
      },
    },
    async (request, reply) => {
      const created = await services.roles.create(principalOf(request), { organisationId: request.params.orgId, name: request.body.name, description: request.body.description, permissions: request.body.permissions });
      return reply.code(201).send(ok('Role created successfully', role(created)));
    },
  );

  app.patch(
    '/api/organisations/:orgId/roles/:roleId',
    {
      config: { auth: 'user', permission: 'roles:manage' },
      schema: {
        operationId: 'updateRole',
        tags: TAGS,
        summary: 'Change a custom role',
        description: 'Built-in roles cannot be changed (409).',
        params: RoleParams,
        body: Type.Object({ name: Type.Optional(RoleName), description: Type.Optional(Type.String({ maxLength: 500 })), permissions: Type.Optional(Permissions) }, { additionalProperties: false }),
        response: { 200: success(Role), 409: ErrorBody },
      },
    },
    async (request) => ok('Role updated successfully', role(await services.roles.update(principalOf(request), { organisationId: request.params.orgId, roleId: request.params.roleId, changes: request.body }))),
  );

  app.delete(
    '/api/organisations/:orgId/roles/:roleId',
    {
      config: { auth: 'user', permission: 'roles:manage' },
      schema: {
        operationId: 'deleteRole',
        tags: TAGS,
        summary: 'Delete a custom role',
        description: 'Refused (409) for a built-in role and for a role members still hold: move them first.',
        params: RoleParams,
        response: { 200: success(Type.Object({})), 409: ErrorBody },
      },
    },
    async (request) => {
      await services.roles.delete(principalOf(request), { organisationId: request.params.orgId, roleId: request.params.roleId });
      return ok('Role deleted successfully', {});
    },
  );
};
