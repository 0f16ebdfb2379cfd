// Liveness, readiness, the published keys and the API description. The discovery document is the
// OpenID Provider's (./openid.routes.ts).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { Config } from '../../config/config.ts';
import type { Services } from '../../domain/services.ts';
import type { Registry } from 'prom-client';
import { AppError } from '../../domain/errors.ts';
import { ErrorBody } from '../schemas.ts';

const READY_TIMEOUT_MS = 2000;

export const operationsRoutes: FastifyPluginAsyncTypebox<{ services: Services; config: Config; metrics: Registry }> = async (app, { services, metrics }) => {
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
        summary: 'The public keys that verify Gatehouse’s tokens: EdDSA for access tokens, RS256 for ID tokens',
        response: {
          200: Type.Object({
            keys: Type.Array(
              Type.Object({
                kty: Type.String(),
                kid: Type.String(),
                alg: Type.String(),
                use: Type.String(),
                crv: Type.Optional(Type.String()),
                x: Type.Optional(Type.String()),
                n: Type.Optional(Type.String()),
                e: Type.Optional(Type.String()),
              }),
            ),
          }),
        },
      },
    },
    async (_request, reply) => {
      reply.header('cache-control', 'public, max-age=300');
      const [edDsa, rs256] = await Promise.all([services.accessTokens.jwks(), services.openid.publicJwks()]);
      return { keys: [...edDsa, ...rs256] };
    },
  );

  app.get('/openapi.json', { config: { auth: 'public' }, schema: { hide: true } }, async () => app.swagger());
  app.get('/', { config: { auth: 'public' }, schema: { hide: true } }, async (_request, reply) => reply.redirect('/docs'));
};
