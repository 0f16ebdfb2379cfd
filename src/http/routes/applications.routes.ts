// Machine clients of an organisation (OAuth 2.0 client credentials): made, listed, given a new secret
// and deleted by signed-in people with `applications:manage`. Their tokens come from /oauth/token.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { Config } from '../../config/config.ts';
import type { Application as ApplicationModel } from '../../domain/credentials/types.ts';
import type { Services } from '../../domain/services.ts';
import { principalOf } from '../auth.ts';
import { NextCursor, ok, PageQuery, success } from '../schemas.ts';
import { CredentialName, DelegatedPermissions } from './api-keys.routes.ts';

const TAGS = ['API keys and machine clients'];
const DateTime = Type.String({ format: 'date-time' });
const Params = Type.Object({ orgId: Type.String() });
const AppParams = Type.Object({ orgId: Type.String(), applicationId: Type.String() });
const Application = Type.Object({
  applicationId: Type.String(),
  clientId: Type.String(),
  name: Type.String(),
  permissions: Type.Array(Type.String()),
  createdAt: DateTime,
  createdBy: Type.Union([Type.String(), Type.Null()]),
});
const Secret = Type.String({ description: 'Shown this once, stored only as a digest' });

const application = (row: ApplicationModel) => ({
  applicationId: row.id,
  clientId: row.clientId,
  name: row.name,
  permissions: row.permissions,
  createdAt: row.createdAt.toISOString(),
  createdBy: row.createdBy,
});

export const applicationsRoutes: FastifyPluginAsyncTypebox<{ services: Services; config: Config }> = async (app, { services, config }) => {
  const overlap = `${Math.round(config.secretOverlapSeconds / 3600)} h`;

  app.post(
    '/api/organisations/:orgId/applications',
    {
      config: { auth: 'user', permission: 'applications:manage' },
      schema: {
        operationId: 'createApplication',
        tags: TAGS,
        summary: 'Make a machine client (OAuth 2.0 client credentials)',
        description:
          'The client gets tokens at `POST /oauth/token` (`grant_type=client_credentials`, `client_secret_basic` or `client_secret_post`), usable as a Bearer on this organisation’s routes with their scope’s permissions (as far as the client still holds them). The secret is in this answer and never again. Needs a signed-in person (403 `PERSON_REQUIRED` for a key or client). Step-up: for an account with a second factor, the session’s last strong check must be under ten minutes old (403 `STEP_UP_REQUIRED`, see `POST /auth/step-up`).',
        params: Params,
        body: Type.Object({ name: CredentialName, permissions: DelegatedPermissions }, { additionalProperties: false }),
        response: { 201: success(Type.Object({ ...Application.properties, clientSecret: Secret }), 'Created') },
      },
    },
    async (request, reply) => {
      const created = await services.applications.create(principalOf(request), { organisationId: request.params.orgId, name: request.body.name, permissions: request.body.permissions });
      return reply.code(201).send(ok('Application created successfully', { ...application(created), clientSecret: created.clientSecret }));
    },
  );

  app.get(
    '/api/organisations/:orgId/applications',
    {
      config: { auth: 'user', permission: 'applications:manage' },
      schema: {
        operationId: 'listApplications',
        tags: TAGS,
        summary: 'The organisation’s machine clients, newest first',
        params: Params,
        querystring: PageQuery,
        response: { 200: success(Type.Object({ applications: Type.Array(Application), nextCursor: NextCursor })) },
      },
    },
    async (request) => {
      const { items, nextCursor } = await services.applications.list(principalOf(request), { organisationId: request.params.orgId, limit: request.query.limit, cursor: request.query.cursor });
      return ok('Applications retrieved successfully', { applications: items.map(application), nextCursor });
    },
  );

  app.delete(
    '/api/organisations/:orgId/applications/:applicationId',
    {
      config: { auth: 'user', permission: 'applications:manage' },
      schema: {
        operationId: 'deleteApplication',
        tags: TAGS,
        summary: 'Delete a machine client',
        description: 'Its secrets stop working at once, and its tokens within 5 seconds on every node.',
        params: AppParams,
        response: { 200: success(Type.Object({})) },
      },
    },
    async (request) => {
      await services.applications.delete(principalOf(request), { organisationId: request.params.orgId, applicationId: request.params.applicationId });
      return ok('Application deleted successfully', {});
    },
  );

  app.post(
    '/api/organisations/:orgId/applications/:applicationId/secret',
    {
      config: { auth: 'user', permission: 'applications:manage' },
      schema: {
        operationId: 'rotateApplicationSecret',
        tags: TAGS,
        summary: 'Give a machine client a new secret',
        description: `The new secret is in this answer and never again. The previous one keeps working for GATEHOUSE_SECRET_OVERLAP (here ${overlap}), so the client can be redeployed in between. Step-up: for an account with a second factor, the session’s last strong check must be under ten minutes old (403 \`STEP_UP_REQUIRED\`, see \`POST /auth/step-up\`).`,
        params: AppParams,
        response: { 200: success(Type.Object({ clientSecret: Secret, previousSecretExpiresAt: DateTime })) },
      },
    },
    async (request) => {
      const rotated = await services.applications.rotateSecret(principalOf(request), { organisationId: request.params.orgId, applicationId: request.params.applicationId });
      return ok('Secret rotated successfully', { clientSecret: rotated.clientSecret, previousSecretExpiresAt: rotated.previousSecretExpiresAt.toISOString() });
    },
  );
};
