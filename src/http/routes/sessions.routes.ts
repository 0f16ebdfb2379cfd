// The caller's own sessions: where they are signed in, and signing out of any of them.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { Services } from '../../domain/services.ts';
import { principalOf } from '../auth.ts';
import { ErrorBody, ok, success } from '../schemas.ts';

const TAGS = ['Users'];
const Nullable = (schema: ReturnType<typeof Type.String>) => Type.Union([schema, Type.Null()]);

export const sessionsRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  app.get(
    '/api/users/me/sessions',
    {
      config: { auth: 'user' },
      schema: {
        operationId: 'listSessions',
        tags: TAGS,
        summary: 'The caller’s live sessions, newest first',
        response: {
          200: success(
            Type.Object({
              sessions: Type.Array(
                Type.Object({
                  sessionId: Type.String(),
                  current: Type.Boolean(),
                  ip: Nullable(Type.String()),
                  userAgent: Nullable(Type.String()),
                  createdAt: Type.String({ format: 'date-time' }),
                  lastUsedAt: Type.String({ format: 'date-time' }),
                  expiresAt: Type.String({ format: 'date-time' }),
                }),
              ),
            }),
          ),
        },
      },
    },
    async (request) => {
      const sessions = await services.sessions.list(principalOf(request));
      return ok('Sessions retrieved successfully', {
        sessions: sessions.map((s) => ({
          sessionId: s.id,
          current: s.current,
          ip: s.ip,
          userAgent: s.userAgent,
          createdAt: s.createdAt.toISOString(),
          lastUsedAt: new Date(s.lastUsedAt).toISOString(),
          expiresAt: s.expiresAt.toISOString(),
        })),
      });
    },
  );

  app.delete(
    '/api/users/me/sessions/:sessionId',
    {
      config: { auth: 'user' },
      schema: {
        operationId: 'endSession',
        tags: TAGS,
        summary: 'End one of the caller’s sessions',
        description: 'Its refresh token and access tokens stop working at once. Another user’s session is not found.',
        params: Type.Object({ sessionId: Type.String() }),
        response: { 200: success(Type.Object({})), 404: ErrorBody },
      },
    },
    async (request) => {
      await services.sessions.end(principalOf(request), request.params.sessionId);
      return ok('Session ended', {});
    },
  );

  app.delete(
    '/api/users/me/sessions',
    {
      config: { auth: 'user' },
      schema: {
        operationId: 'endOtherSessions',
        tags: TAGS,
        summary: 'Sign out everywhere else',
        description: 'Ends every session of the caller but the one making this request.',
        response: { 200: success(Type.Object({ ended: Type.Integer() })) },
      },
    },
    async (request) => ok('Other sessions ended', { ended: await services.sessions.endOthers(principalOf(request)) }),
  );
};
