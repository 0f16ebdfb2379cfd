// An organisation's audit log.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { Services } from '../../domain/services.js';
import { callerMembership } from '../auth.js';
import { NextCursor, ok, PageQuery, success } from '../schemas.js';

const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()]);

export const auditRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  app.get(
    '/api/organisations/:orgId/audit-log',
    {
      config: { auth: 'user', permission: 'audit:read' },
      schema: {
        operationId: 'organisationAuditLog',
        tags: ['Organisations'],
        summary: 'Every change to the organisation, its members, roles and invitations, newest first',
        params: Type.Object({ orgId: Type.String() }),
        querystring: PageQuery,
        response: {
          200: success(
            Type.Object({
              events: Type.Array(
                Type.Object({
                  eventId: Type.Integer(),
                  action: Type.String(),
                  actorUserId: Nullable(Type.String()),
                  targetType: Nullable(Type.String()),
                  targetId: Nullable(Type.String()),
                  ip: Nullable(Type.String()),
                  data: Type.Object({}, { additionalProperties: true }),
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
      const { items, nextCursor } = await services.audit.listForOrganisation(callerMembership(request).organisationId, request.query);
      const events = items.map((e) => ({
        eventId: e.id,
        action: e.action,
        actorUserId: e.actor_user_id,
        targetType: e.target_type,
        targetId: e.target_id,
        ip: e.ip,
        data: e.data,
        createdAt: e.created_at.toISOString(),
      }));
      return ok('Audit log retrieved successfully', { events, nextCursor });
    },
  );
};
