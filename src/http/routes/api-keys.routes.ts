// API keys: an organisation's (`/api/organisations/:orgId/api-keys`) and a person's own
// (`/api/users/me/api-keys`). Made, listed and revoked by signed-in people only: a key never mints a key.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyContextConfig } from 'fastify';
import Type from 'typebox';
import type { ApiKey as ApiKeyModel } from '../../domain/credentials/types.ts';
import { PERMISSIONS } from '../../domain/policy/permissions.ts';
import type { Services } from '../../domain/services.ts';
import { principalOf } from '../auth.ts';
import { NextCursor, ok, PageQuery, StringEnum, success } from '../schemas.ts';

const TAGS = ['API keys and machine clients'];
const DateTime = Type.String({ format: 'date-time' });
const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()]);

export const CredentialName = Type.String({ minLength: 1, maxLength: 100, pattern: '\\S', 'x-message': '{label} is required' });
export const DelegatedPermissions = Type.Array(StringEnum(PERMISSIONS), {
  minItems: 1,
  maxItems: PERMISSIONS.length,
  uniqueItems: true,
  description: 'From the permission catalogue; each must be yours too (403 `PERMISSIONS_ABOVE_OWN` otherwise)',
});

const KeyInput = Type.Object(
  {
    name: CredentialName,
    permissions: DelegatedPermissions,
    expiresAt: Type.Optional(Type.Union([DateTime, Type.Null()], { description: 'When the key stops working; never when absent or null. Must be in the future.' })),
  },
  { additionalProperties: false },
);

const ApiKey = Type.Object({
  apiKeyId: Type.String(),
  name: Type.String(),
  permissions: Type.Array(Type.String()),
  prefix: Type.String({ description: 'The key’s first characters, to tell keys apart' }),
  expiresAt: Nullable(DateTime),
});
const ListedKey = Type.Object({ ...ApiKey.properties, lastUsedAt: Nullable(DateTime), createdAt: DateTime, createdBy: Type.String({ description: 'The user who made the key; it acts for them' }) });
const CreatedKey = Type.Object({ ...ApiKey.properties, key: Type.String({ description: '`gh_…`: shown this once, stored only as a digest. Send it as `Authorization: Bearer gh_…`.' }) });

const shown = (key: ApiKeyModel) => ({ apiKeyId: key.id, name: key.name, permissions: key.permissions, prefix: key.prefix, expiresAt: key.expiresAt?.toISOString() ?? null });
const listed = (key: ApiKeyModel) => ({ ...shown(key), lastUsedAt: key.lastUsedAt?.toISOString() ?? null, createdAt: key.createdAt.toISOString(), createdBy: key.userId });

const ORGANISATION_KEYS =
  'An organisation key works as `Authorization: Bearer gh_…` on this organisation’s routes (`/api/organisations/:orgId/…`) only, with its permissions as far as its creator still holds them; anywhere else it is a 401. It stops working when revoked, when it expires, when its creator leaves the organisation, is suspended or disabled, and with the organisation. A revocation reaches every node within 5 seconds. Keys, machine clients and API key management itself need a signed-in person (403 `PERSON_REQUIRED` for a key).';
const PERSONAL_KEYS =
  'A personal key acts as you on the routes of the organisations you are an active member of (`/api/organisations/:orgId/…`), with its permissions narrowed to your role in each; never on your own routes (profile, password, sessions, keys) nor anywhere else (401). Its permissions must be ones you hold in some organisation.';

export const apiKeysRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  for (const scope of ['organisation', 'personal'] as const) {
    const personal = scope === 'personal';
    const base = personal ? '/api/users/me/api-keys' : '/api/organisations/:orgId/api-keys';
    const config: FastifyContextConfig = personal ? { auth: 'user' } : { auth: 'user', permission: 'api-keys:manage' };
    const Params = personal ? Type.Object({}) : Type.Object({ orgId: Type.String() });
    const KeyParams = personal ? Type.Object({ apiKeyId: Type.String() }) : Type.Object({ orgId: Type.String(), apiKeyId: Type.String() });
    const orgOf = (params: { orgId?: string }) => (personal ? null : (params.orgId ?? ''));
    const Op = personal ? 'PersonalApiKey' : 'ApiKey';

    app.post(
      base,
      {
        config,
        schema: {
          operationId: `create${Op}`,
          tags: TAGS,
          summary: personal ? 'Make a personal API key' : 'Make an API key for the organisation',
          description: `The key is in this answer and never again. ${personal ? PERSONAL_KEYS : ORGANISATION_KEYS} Step-up: for an account with a second factor, the session’s last strong check must be under ten minutes old (403 \`STEP_UP_REQUIRED\`, see \`POST /auth/step-up\`).`,
          ...(personal ? {} : { params: Params }),
          body: KeyInput,
          response: { 201: success(CreatedKey, 'Created') },
        },
      },
      async (request, reply) => {
        const { name, permissions, expiresAt } = request.body;
        const created = await services.apiKeys.create(principalOf(request), { organisationId: orgOf(request.params as { orgId?: string }), name, permissions, expiresAt });
        return reply.code(201).send(ok('API key created successfully', { ...shown(created), key: created.key }));
      },
    );

    app.get(
      base,
      {
        config,
        schema: {
          operationId: `list${Op}s`,
          tags: TAGS,
          summary: personal ? 'Your personal API keys, newest first' : 'The organisation’s API keys, newest first',
          description: 'Revoked keys are not listed; expired ones are, with their expiry. Never the key itself.',
          ...(personal ? {} : { params: Params }),
          querystring: PageQuery,
          response: { 200: success(Type.Object({ apiKeys: Type.Array(ListedKey), nextCursor: NextCursor })) },
        },
      },
      async (request) => {
        const { items, nextCursor } = await services.apiKeys.list(principalOf(request), { organisationId: orgOf(request.params as { orgId?: string }), limit: request.query.limit, cursor: request.query.cursor });
        return ok('API keys retrieved successfully', { apiKeys: items.map(listed), nextCursor });
      },
    );

    app.delete(
      `${base}/:apiKeyId`,
      {
        config,
        schema: {
          operationId: `revoke${Op}`,
          tags: TAGS,
          summary: 'Revoke an API key',
          description: 'It is refused at once on this node and within 5 seconds on every other.',
          params: KeyParams,
          response: { 200: success(Type.Object({})) },
        },
      },
      async (request) => {
        const params = request.params as { orgId?: string; apiKeyId: string };
        await services.apiKeys.revoke(principalOf(request), { organisationId: orgOf(params), apiKeyId: params.apiKeyId });
        return ok('API key revoked successfully', {});
      },
    );
  }
};
