// An organisation's audit log.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { AuditEntry } from '../../domain/audit/types.ts';
import type { Services } from '../../domain/services.ts';
import { principalOf } from '../auth.ts';
import { NextCursor, ok, PageQuery, success } from '../schemas.ts';

const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()]);

/** One audit event as both audit logs show it, the organisation's and the platform's. */
export const AuditEvent = Type.Object({
  eventId: Type.Integer(),
  organisationId: Nullable(Type.String()),
  action: Type.String(),
  actorUserId: Nullable(Type.String()),
  actor: Type.Object(
    { type: Type.String({ enum: ['user', 'system', 'api_key', 'application'] }), id: Nullable(Type.String()) },
    { description: 'Who acted: a person, an API key, a machine client (their ids), or Gatehouse itself' },
  ),
  targetType: Nullable(Type.String()),
  targetId: Nullable(Type.String()),
  ip: Nullable(Type.String()),
  data: Type.Object({}, { additionalProperties: true }),
  createdAt: Type.String({ format: 'date-time' }),
});

export const auditEvent = (e: AuditEntry) => ({
  eventId: e.id,
  organisationId: e.organisationId,
  action: e.action,
  actorUserId: e.actorUserId,
  actor: { type: e.actorType, id: e.actorId ?? (e.actorType === 'user' ? e.actorUserId : null) },
  targetType: e.targetType,
  targetId: e.targetId,
  ip: e.ip,
  data: e.data,
  createdAt: e.createdAt.toISOString(),
});

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
        response: { 200: success(Type.Object({ events: Type.Array(AuditEvent), nextCursor: NextCursor })) },
      },
    },
    async (request) => {
      const { items, nextCursor } = await services.audit.listForOrganisation(principalOf(request), { organisationId: request.params.orgId, limit: request.query.limit, cursor: request.query.cursor });
      return ok('Audit log retrieved successfully', { events: items.map(auditEvent), nextCursor });
    },
  );
};
