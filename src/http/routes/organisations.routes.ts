// Organisations and their members. Every route names the permission it needs; the auth hook loads
// the caller's membership of :orgId and answers 404 to a non-member before the handler runs.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { Organisation as Org } from '../../domain/organisations/types.ts';
import type { Services } from '../../domain/services.ts';
import { principalOf } from '../auth.ts';
import { ErrorBody, NextCursor, ok, PageQuery, success, Uuid } from '../schemas.ts';

const TAGS = ['Organisations'];

const OrgParams = Type.Object({ orgId: Type.String() });
const OrgName = Type.String({ minLength: 1, maxLength: 200, pattern: '\\S', 'x-message': '{label} is required' });
const Description = Type.String({ maxLength: 2000 });
const RequireMfa = Type.Boolean({ description: 'Members without a second factor get 403 `ORG_REQUIRES_MFA` on this organisation’s routes' });
const Organisation = Type.Object({ orgId: Type.String(), name: Type.String(), description: Type.String(), requireMfa: RequireMfa });

const organisation = (org: Pick<Org, 'id' | 'name' | 'description' | 'requireMfa'>) => ({ orgId: org.id, name: org.name, description: org.description, requireMfa: org.requireMfa });
/** A new organisation, as the seed contract answers it: it never requires second factors yet. */
const CreatedOrganisation = Type.Object({ orgId: Type.String(), name: Type.String(), description: Type.String() });

export const organisationsRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  app.get(
    '/api/organisations',
    {
      config: { auth: 'user', sessionInQuery: true },
      schema: {
        operationId: 'listOrganisations',
        tags: TAGS,
        summary: 'The organisations the caller belongs to, with the caller’s role in each',
        querystring: PageQuery,
        response: {
          200: success(Type.Object({ organisations: Type.Array(Type.Object({ orgId: Type.String(), name: Type.String(), description: Type.String(), requireMfa: RequireMfa, role: Type.String() })), nextCursor: NextCursor })),
        },
      },
    },
    async (request) => {
      const { items, nextCursor } = await services.organisations.listMine(principalOf(request), request.query);
      return ok('Organisations retrieved successfully', { organisations: items.map((row) => ({ ...organisation(row), role: row.role })), nextCursor });
    },
  );

  app.post(
    '/api/organisations',
    {
      config: { auth: 'user' },
      schema: {
        operationId: 'createOrganisation',
        tags: TAGS,
        summary: 'Create an organisation; the caller becomes its owner',
        body: Type.Object({ name: OrgName, description: Type.Optional(Description) }),
        response: { 201: success(CreatedOrganisation, 'Created') },
      },
    },
    async (request, reply) => {
      const org = await services.organisations.create(principalOf(request), request.body);
      return reply.code(201).send(ok('Organisation created successfully', organisation(org)));
    },
  );

  app.get(
    '/api/organisations/:orgId',
    {
      config: { auth: 'user', permission: 'member' },
      schema: { operationId: 'getOrganisation', tags: TAGS, summary: 'One organisation', params: OrgParams, response: { 200: success(Organisation) } },
    },
    async (request) => ok('Organisation retrieved successfully', organisation(await services.organisations.get(principalOf(request), request.params.orgId))),
  );

  app.patch(
    '/api/organisations/:orgId',
    {
      config: { auth: 'user', permission: 'org:update' },
      schema: {
        operationId: 'updateOrganisation',
        tags: TAGS,
        summary: 'Rename or describe an organisation, or set whether its members need a second factor',
        description:
          '`requireMfa` is the owners’ alone (403 for anyone else), needs a second factor of the owner’s own (409 `NO_SECOND_FACTOR`) checked within ten minutes (403 `STEP_UP_REQUIRED`, see `POST /auth/step-up`).',
        params: OrgParams,
        body: Type.Object({ name: Type.Optional(OrgName), description: Type.Optional(Description), requireMfa: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
        response: { 200: success(Organisation) },
      },
    },
    async (request) => ok('Organisation updated successfully', organisation(await services.organisations.update(principalOf(request), { organisationId: request.params.orgId, changes: request.body }))),
  );

  app.delete(
    '/api/organisations/:orgId',
    {
      config: { auth: 'user', permission: 'org:delete' },
      schema: {
        operationId: 'deleteOrganisation',
        tags: TAGS,
        summary: 'Delete an organisation with its members, roles and invitations',
        description: 'A personal organisation cannot be deleted (409): it goes with its user’s account.',
        params: OrgParams,
        response: { 200: success(Type.Object({})), 409: ErrorBody },
      },
    },
    async (request) => {
      await services.organisations.delete(principalOf(request), request.params.orgId);
      return ok('Organisation deleted successfully', {});
    },
  );

  app.post(
    '/api/organisations/:orgId/users',
    {
      config: { auth: 'user', permission: 'members:add' },
      schema: {
        operationId: 'addOrganisationUser',
        tags: TAGS,
        summary: 'Add an existing user to the organisation',
        description: 'The role defaults to `member`; nobody grants a role above their own (403). An unknown user is 404, a member already 409.',
        params: OrgParams,
        body: Type.Object({ userId: Uuid, role: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })) }),
        response: { 200: success(Type.Object({ userId: Type.String(), orgId: Type.String(), role: Type.String() })), 409: ErrorBody },
      },
    },
    async (request) => {
      const added = await services.organisations.addUser(principalOf(request), { organisationId: request.params.orgId, userId: request.body.userId, role: request.body.role });
      return ok('User added to organisation successfully', { userId: added.userId, orgId: added.orgId, role: added.role });
    },
  );

  app.get(
    '/api/organisations/:orgId/members',
    {
      config: { auth: 'user', permission: 'members:read' },
      schema: {
        operationId: 'listMembers',
        tags: TAGS,
        summary: 'The organisation’s members, in the order they joined',
        params: OrgParams,
        querystring: PageQuery,
        response: {
          200: success(
            Type.Object({
              members: Type.Array(
                Type.Object({
                  userId: Type.String(),
                  firstName: Type.String(),
                  lastName: Type.String(),
                  email: Type.Union([Type.String(), Type.Null()]),
                  role: Type.String(),
                  status: Type.String(),
                  joinedAt: Type.String({ format: 'date-time' }),
                  mfa: Type.Boolean({ description: 'Whether the member has a second factor' }),
                }),
              ),
              nextCursor: NextCursor,
            }),
          ),
        },
      },
    },
    async (request) => {
      const { items, nextCursor } = await services.organisations.listMembers(principalOf(request), { organisationId: request.params.orgId, limit: request.query.limit, cursor: request.query.cursor });
      const members = items.map((member) => ({ ...member, joinedAt: member.joinedAt.toISOString() }));
      return ok('Members retrieved successfully', { members, nextCursor });
    },
  );
};
