// Platform administration: users, organisations and the whole audit log. Platform admins only.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { User } from '../../domain/accounts/types.ts';
import type { Services } from '../../domain/services.ts';
import { principalOf } from '../auth.ts';
import { ErrorBody, NextCursor, ok, PageQuery, StringEnum, success } from '../schemas.ts';
import { AuditEvent, auditEvent } from './audit.routes.ts';
import { Name, Phone, Username } from './fields.ts';

const TAGS = ['Platform administration'];
const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()]);
const UserStatus = StringEnum(['active', 'disabled']);
const PlatformRole = StringEnum(['user', 'admin']);
const UserParams = Type.Object({ id: Type.String() });

const AdminUser = Type.Object({
  userId: Type.String(),
  email: Nullable(Type.String()),
  username: Nullable(Type.String()),
  firstName: Type.String(),
  lastName: Type.String(),
  phone: Nullable(Type.String()),
  platformRole: Type.String(),
  status: Type.String(),
  emailVerified: Type.Boolean(),
  createdAt: Type.String({ format: 'date-time' }),
});

const adminUser = (user: User) => ({
  userId: user.id,
  email: user.email,
  username: user.username,
  firstName: user.firstName,
  lastName: user.lastName,
  phone: user.phone,
  platformRole: user.platformRole,
  status: user.status,
  emailVerified: user.emailVerifiedAt !== null,
  createdAt: user.createdAt.toISOString(),
});

export const adminRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const config = { auth: 'admin' as const };

  app.post(
    '/api/admin/users/:id/mfa/reset',
    {
      config,
      schema: {
        operationId: 'adminResetSecondFactors',
        tags: TAGS,
        summary: 'Remove every second factor of a user (authenticator app, passkeys, recovery codes)',
        description: 'For a person who lost them all and proved who they are some other way. Audited (`mfa.disabled`, `via: admin`) and mailed to the user. Another admin is 403 `ADMIN_PROTECTED`; a user without a factor 409 `NO_SECOND_FACTOR`. Step-up: an admin with a second factor must have checked it within ten minutes (403 `STEP_UP_REQUIRED`).',
        params: UserParams,
        response: { 200: success(Type.Object({})), 409: ErrorBody },
      },
    },
    async (request) => {
      await services.mfa.adminReset(principalOf(request), request.params.id);
      return ok('Second factors reset', {});
    },
  );

  app.get(
    '/api/admin/users',
    {
      config,
      schema: {
        operationId: 'adminListUsers',
        tags: TAGS,
        summary: 'Find users by email, username or name; filter by status and platform role',
        querystring: Type.Object({
          ...PageQuery.properties,
          search: Type.Optional(Type.String({ maxLength: 200, description: 'Part of the email, username or name' })),
          // Kept so that clients written before `search` keep working.
          q: Type.Optional(Type.String({ maxLength: 200, deprecated: true, description: 'Deprecated: the old name of `search`, which wins when both are given' })),
          status: Type.Optional(UserStatus),
          role: Type.Optional(PlatformRole),
        }),
        response: { 200: success(Type.Object({ users: Type.Array(AdminUser), nextCursor: NextCursor })) },
      },
    },
    async (request) => {
      const { search, q, status, role, limit, cursor } = request.query;
      const { items, nextCursor } = await services.admin.listUsers(principalOf(request), { search: search ?? q, status, role, limit, cursor });
      return ok('Users retrieved successfully', { users: items.map(adminUser), nextCursor });
    },
  );

  app.get(
    '/api/admin/users/:id',
    { config, schema: { operationId: 'adminGetUser', tags: TAGS, summary: 'One user', params: UserParams, response: { 200: success(AdminUser), 404: ErrorBody } } },
    async (request) => ok('User retrieved successfully', adminUser(await services.admin.getUser(principalOf(request), request.params.id))),
  );

  app.patch(
    '/api/admin/users/:id',
    {
      config,
      schema: {
        operationId: 'adminUpdateUser',
        tags: TAGS,
        summary: 'Disable or enable a user, change their platform role or profile',
        description:
          'An admin changes themselves and ordinary users, never another admin (403). The platform keeps an active admin (409). Disabling ends every session of the user at once.',
        params: UserParams,
        body: Type.Object(
          {
            status: Type.Optional(UserStatus),
            platformRole: Type.Optional(PlatformRole),
            firstName: Type.Optional(Name),
            lastName: Type.Optional(Name),
            phone: Type.Optional(Type.Union([Phone, Type.Null()])),
            username: Type.Optional(Type.Union([Username, Type.Null()])),
          },
          { additionalProperties: false },
        ),
        response: { 200: success(AdminUser), 404: ErrorBody, 409: ErrorBody },
      },
    },
    async (request) => ok('User updated successfully', adminUser(await services.admin.updateUser(principalOf(request), { userId: request.params.id, changes: request.body }))),
  );

  app.delete(
    '/api/admin/users/:id',
    {
      config,
      schema: {
        operationId: 'adminDeleteUser',
        tags: TAGS,
        summary: 'Delete an ordinary user',
        description:
          'Never an admin, never yourself (403). Refused (409, naming them) while the user is the last owner of organisations with other members. Their personal organisation, and any where they are the only member, go with them.',
        params: UserParams,
        response: { 200: success(Type.Object({})), 404: ErrorBody, 409: ErrorBody },
      },
    },
    async (request) => {
      await services.admin.deleteUser(principalOf(request), request.params.id);
      return ok('User deleted successfully', {});
    },
  );

  app.get(
    '/api/admin/organisations',
    {
      config,
      schema: {
        operationId: 'adminListOrganisations',
        tags: TAGS,
        summary: 'Every organisation, oldest first, optionally by name',
        querystring: Type.Object({ ...PageQuery.properties, q: Type.Optional(Type.String({ maxLength: 200 })) }),
        response: {
          200: success(
            Type.Object({
              organisations: Type.Array(
                Type.Object({
                  orgId: Type.String(),
                  name: Type.String(),
                  description: Type.String(),
                  personal: Type.Boolean(),
                  createdBy: Nullable(Type.String()),
                  memberCount: Type.Integer(),
                  createdAt: Type.String({ format: 'date-time' }),
                }),
              ),
              nextCursor: NextCursor,
            }),
          ),
        },
      },
    },
    async (request) => {
      const { q, limit, cursor } = request.query;
      const { items, nextCursor } = await services.admin.listOrganisations(principalOf(request), { search: q, limit, cursor });
      const organisations = items.map((o) => ({
        orgId: o.id,
        name: o.name,
        description: o.description,
        personal: o.personal,
        createdBy: o.createdBy,
        memberCount: o.memberCount,
        createdAt: o.createdAt.toISOString(),
      }));
      return ok('Organisations retrieved successfully', { organisations, nextCursor });
    },
  );

  app.get(
    '/api/admin/audit-log',
    {
      config,
      schema: {
        operationId: 'adminAuditLog',
        tags: TAGS,
        summary: 'Every audit event of the platform, newest first: sign-ins, account and admin actions, and every organisation’s',
        querystring: Type.Object({ ...PageQuery.properties, action: Type.Optional(Type.String({ maxLength: 100 })) }),
        response: { 200: success(Type.Object({ events: Type.Array(AuditEvent), nextCursor: NextCursor })) },
      },
    },
    async (request) => {
      const { items, nextCursor } = await services.admin.auditLog(principalOf(request), { limit: request.query.limit, cursor: request.query.cursor, action: request.query.action });
      return ok('Audit log retrieved successfully', { events: items.map(auditEvent), nextCursor });
    },
  );
};
