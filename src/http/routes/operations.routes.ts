// Liveness, readiness, the published keys and the API description.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { PERMISSIONS } from '../../domain/policy/permissions.ts';
import type { Config } from '../../config/config.ts';
import type { Services } from '../../domain/services.ts';
import type { Registry } from 'prom-client';
import { AppError } from '../../domain/errors.ts';
import { ErrorBody } from '../schemas.ts';

const READY_TIMEOUT_MS = 2000;

export const operationsRoutes: FastifyPluginAsyncTypebox<{ services: Services; config: Config; metrics: Registry }> = async (app, { services, config, metrics }) => {
  app.get(
    '/healthz',
    { config: { auth: 'public' }, schema: { operationId: 'health', tags: ['Operations'], summary: 'The process is alive', response: { 200: Type.Object({ status: Type.Literal('ok') }) } } },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/metrics',
    {
      config: { auth: 'public' },
      schema: {
        operationId: 'metrics',
        tags: ['Operations'],
        summary: 'Prometheus metrics of this process',
        description: 'Text exposition format. Keep it on the internal network: it tells traffic figures.',
        produces: ['text/plain'],
        response: { 200: Type.String({ description: 'Prometheus text exposition format' }) },
      },
    },
    async (_request, reply) => reply.type(metrics.contentType).header('cache-control', 'no-store').send(await metrics.metrics()),
  );

  app.get(
    '/readyz',
    {
      config: { auth: 'public' },
      schema: {
        operationId: 'ready',
        tags: ['Operations'],
        summary: 'The database answers',
        response: { 200: Type.Object({ status: Type.Literal('ready') }), 503: ErrorBody },
      },
    },
    async () => {
      // Readiness fails first on SIGTERM, so that a load balancer takes this node out before it stops listening.
      if (services.health.isDraining()) throw new AppError('SERVICE_UNAVAILABLE', 'Gatehouse is shutting down');
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(Object.assign(new Error('readiness check timed out'), { code: '57P03' })), READY_TIMEOUT_MS);
      });
      try {
        await Promise.race([services.health.databaseAnswers(), timeout]);
      } finally {
        clearTimeout(timer);
      }
      return { status: 'ready' as const };
    },
  );

  app.get(
    '/.well-known/jwks.json',
    {
      config: { auth: 'public' },
      schema: {
        operationId: 'jwks',
        tags: ['Tokens'],
        summary: 'The public keys that verify Gatehouse access tokens',
        response: {
          200: Type.Object({
            keys: Type.Array(Type.Object({ kty: Type.String(), crv: Type.String(), x: Type.String(), kid: Type.String(), alg: Type.String(), use: Type.String() })),
          }),
        },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=300');
      return { keys: await services.accessTokens.jwks() };
    },
  );

  app.get(
    '/.well-known/openid-configuration',
    {
      config: { auth: 'public' },
      schema: {
        operationId: 'openidConfiguration',
        tags: ['Tokens'],
        summary: 'Where the issuer publishes its keys, and its OAuth 2.0 endpoints for machine clients',
        description:
          'Only what exists: the key set, and the token (client credentials only), introspection and revocation endpoints with the client authentication they take. No authorization endpoint or ID tokens yet.',
        response: {
          200: Type.Object({
            issuer: Type.String(),
            jwks_uri: Type.String(),
            id_token_signing_alg_values_supported: Type.Array(Type.String()),
            token_endpoint: Type.String(),
            grant_types_supported: Type.Array(Type.String()),
            token_endpoint_auth_methods_supported: Type.Array(Type.String()),
            introspection_endpoint: Type.String(),
            introspection_endpoint_auth_methods_supported: Type.Array(Type.String()),
            revocation_endpoint: Type.String(),
            revocation_endpoint_auth_methods_supported: Type.Array(Type.String()),
            scopes_supported: Type.Array(Type.String()),
          }),
        },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=300');
      const base = config.publicUrl;
      const clientAuth = ['client_secret_basic', 'client_secret_post'];
      return {
        issuer: base,
        jwks_uri: `${base}/.well-known/jwks.json`,
        id_token_signing_alg_values_supported: ['EdDSA'],
        token_endpoint: `${base}/oauth/token`,
        grant_types_supported: ['client_credentials'],
        token_endpoint_auth_methods_supported: clientAuth,
        introspection_endpoint: `${base}/oauth/introspect`,
        introspection_endpoint_auth_methods_supported: clientAuth,
        revocation_endpoint: `${base}/oauth/revoke`,
        revocation_endpoint_auth_methods_supported: clientAuth,
        // A machine client's scopes are the permissions it asks for.
        scopes_supported: [...PERMISSIONS],
      };
    },
  );

  app.get('/openapi.json', { config: { auth: 'public' }, schema: { hide: true } }, async () => app.swagger());
  app.get('/', { config: { auth: 'public' }, schema: { hide: true } }, async (_request, reply) => reply.redirect('/docs'));
};
