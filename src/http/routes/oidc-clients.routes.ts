// The relying parties of Gatehouse's OpenID Provider (SPEC §6.4), registered by platform admins.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { OidcClient as OidcClientModel } from '../../domain/oidc/oidc-clients.service.ts';
import type { Services } from '../../domain/services.ts';
import { principalOf } from '../auth.ts';
import { ErrorBody, NextCursor, ok, PageQuery, StringEnum, success } from '../schemas.ts';

const TAGS = ['OpenID clients'];
const Params = Type.Object({ clientId: Type.String({ maxLength: 100 }) });
const Uri = Type.String({ maxLength: 2000, description: 'An absolute http(s) URL without a fragment' });
const RedirectUris = Type.Array(Uri, { minItems: 1, maxItems: 20, description: 'Where the provider may send the browser back with a code: exact matches only' });
const PostLogoutRedirectUris = Type.Array(Uri, { maxItems: 20, description: 'Where RP-initiated logout may return to' });
const BackchannelLogoutUri = Type.Union([Uri, Type.Null()], { description: 'Where the provider posts a logout token when the person signs out (OpenID Connect Back-Channel Logout 1.0)' });
const Name = Type.String({ minLength: 1, maxLength: 100 });
const DateTime = Type.String({ format: 'date-time' });

const OidcClient = Type.Object({
  clientId: Type.String(),
  name: Type.String(),
  type: StringEnum(['public', 'confidential']),
  firstParty: Type.Boolean({ description: 'A first-party client skips the consent page' }),
  redirectUris: Type.Array(Type.String()),
  postLogoutRedirectUris: Type.Array(Type.String()),
  backchannelLogoutUri: Type.Union([Type.String(), Type.Null()]),
  createdAt: DateTime,
  updatedAt: DateTime,
});

const view = (client: OidcClientModel) => ({
  clientId: client.clientId,
  name: client.name,
  type: client.type,
  firstParty: client.firstParty,
  redirectUris: client.redirectUris,
  postLogoutRedirectUris: client.postLogoutRedirectUris,
  backchannelLogoutUri: client.backchannelLogoutUri,
  createdAt: client.createdAt.toISOString(),
  updatedAt: client.updatedAt.toISOString(),
});

export const oidcClientsRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const config = { auth: 'admin' as const };

  app.post(
    '/api/admin/oidc-clients',
    {
      config,
      schema: {
        operationId: 'createOidcClient',
        tags: TAGS,
        summary: 'Register an application that signs people in with Gatehouse (OpenID Connect)',
        description:
          'A `confidential` client (a server) gets a `clientSecret`, in this answer and never again (stored as a digest), and authenticates with `client_secret_basic`; a `public` one (a browser or mobile app) has none. Both use the authorization code flow with PKCE (S256). Find the endpoints at `/.well-known/openid-configuration`.',
        body: Type.Object(
          {
            name: Name,
            redirectUris: RedirectUris,
            postLogoutRedirectUris: Type.Optional(PostLogoutRedirectUris),
            type: StringEnum(['public', 'confidential']),
            firstParty: Type.Optional(Type.Boolean({ description: 'Skips the consent page; false by default' })),
            backchannelLogoutUri: Type.Optional(BackchannelLogoutUri),
          },
          { additionalProperties: false },
        ),
        response: { 201: success(Type.Object({ ...OidcClient.properties, clientSecret: Type.Optional(Type.String({ description: 'Confidential clients only; shown this once' })) }), 'Created'), 400: ErrorBody },
      },
    },
    async (request, reply) => {
      const { clientSecret, ...created } = await services.oidcClients.create(principalOf(request), request.body);
      return reply.code(201).send(ok('OpenID client created successfully', { ...view(created), ...(clientSecret ? { clientSecret } : {}) }));
    },
  );

  app.get(
    '/api/admin/oidc-clients',
    {
      config,
      schema: { operationId: 'listOidcClients', tags: TAGS, summary: 'The registered OpenID clients, oldest first', querystring: PageQuery, response: { 200: success(Type.Object({ clients: Type.Array(OidcClient), nextCursor: NextCursor })) } },
    },
    async (request) => {
      const { items, nextCursor } = await services.oidcClients.list(principalOf(request), request.query);
      return ok('OpenID clients retrieved successfully', { clients: items.map(view), nextCursor });
    },
  );

  app.get(
    '/api/admin/oidc-clients/:clientId',
    { config, schema: { operationId: 'getOidcClient', tags: TAGS, summary: 'One OpenID client', params: Params, response: { 200: success(OidcClient), 404: ErrorBody } } },
    async (request) => ok('OpenID client retrieved successfully', view(await services.oidcClients.get(principalOf(request), request.params.clientId))),
  );

  app.patch(
    '/api/admin/oidc-clients/:clientId',
    {
      config,
      schema: {
        operationId: 'updateOidcClient',
        tags: TAGS,
        summary: 'Change an OpenID client’s name, addresses or first-party standing',
        description: 'Its type and secret stay. A removed redirect URI refuses new sign-ins at once; tokens already issued live on.',
        params: Params,
        body: Type.Object(
          {
            name: Type.Optional(Name),
            redirectUris: Type.Optional(RedirectUris),
            postLogoutRedirectUris: Type.Optional(PostLogoutRedirectUris),
            firstParty: Type.Optional(Type.Boolean()),
            backchannelLogoutUri: Type.Optional(BackchannelLogoutUri),
          },
          { additionalProperties: false },
        ),
        response: { 200: success(OidcClient), 400: ErrorBody, 404: ErrorBody },
      },
    },
    async (request) => ok('OpenID client updated successfully', view(await services.oidcClients.update(principalOf(request), request.params.clientId, request.body))),
  );

  app.post(
    '/api/admin/oidc-clients/:clientId/secret',
    {
      config,
      schema: {
        operationId: 'rotateOidcClientSecret',
        tags: TAGS,
        summary: 'Give a confidential OpenID client a new secret',
        description:
          'The new secret is in this answer and never again (stored as a digest). The previous one keeps working at the token endpoint for GATEHOUSE_SECRET_OVERLAP (24 h by default), so the application can be redeployed in between; a secret rotated out twice stops at once. A public client has none (409).',
        params: Params,
        response: { 200: success(Type.Object({ clientSecret: Type.String({ description: 'Shown this once' }), previousSecretExpiresAt: DateTime })), 404: ErrorBody, 409: ErrorBody },
      },
    },
    async (request) => {
      const rotated = await services.oidcClients.rotateSecret(principalOf(request), request.params.clientId);
      return ok('Secret rotated successfully', { clientSecret: rotated.clientSecret, previousSecretExpiresAt: rotated.previousSecretExpiresAt.toISOString() });
    },
  );

  app.delete(
    '/api/admin/oidc-clients/:clientId',
    {
      config,
      schema: {
        operationId: 'deleteOidcClient',
        tags: TAGS,
        summary: 'Delete an OpenID client, with every grant, code and token the provider holds for it',
        params: Params,
        response: { 200: success(Type.Object({})), 404: ErrorBody },
      },
    },
    async (request) => {
      await services.oidcClients.delete(principalOf(request), request.params.clientId);
      return ok('OpenID client deleted successfully', {});
    },
  );
};
