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
          'Multi-tenant authentication and organisations. Access tokens are EdDSA JWTs: verify them with the keys at `/.well-known/jwks.json`. ' +
          'Errors: `{status, message, statusCode, code, requestId}`; validation errors: 422 `{errors: [{field, message}]}`.',
      },
      servers: [{ url: config.publicUrl }],
      webhooks: webhookDocs(),
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    },
  };
}
