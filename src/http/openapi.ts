import type { SwaggerOptions } from '@fastify/swagger';
import type { Config } from '../config/config.ts';
import { webhookDocs } from './webhook-docs.ts';

export function openapiInfo(config: Config): SwaggerOptions {
  return {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Gatehouse',
        version: '0.1.0',
        description:
          'Multi-tenant authentication and organisations. Access tokens are EdDSA JWTs (RFC 9068, `typ: at+jwt`, with `aud`): verify them with the keys at `/.well-known/jwks.json`. ' +
          'Organisation routes (`/api/organisations/{orgId}/…`) also take an API key (`Bearer gh_…`) or a machine client’s token from `POST /oauth/token`; every other route takes a person’s access token only. ' +
          'Errors: `{status, message, statusCode, code, requestId}`; validation errors: 422 `{errors: [{field, message}]}`.',
      },
      servers: [{ url: config.publicUrl }],
      webhooks: webhookDocs(),
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A person’s access token; on organisation routes also an API key (gh_…) or a machine client’s token' } } },
    },
  };
}
