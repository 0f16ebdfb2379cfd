// Inviting people by email, and accepting an invitation.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { Services } from '../../domain/services.ts';
import { principalOf } from '../auth.ts';
import { ErrorBody, NextCursor, ok, PageQuery, StringEnum, success } from '../schemas.ts';
import { Email } from './fields.ts';

const TAGS = ['Invitations'];
const Status = StringEnum(['pending', 'accepted', 'revoked', 'expired']);
const Invitation = Type.Object({ invitationId: Type.String(), email: Type.String(), role: Type.String(), status: Status, expiresAt: Type.String({ format: 'date-time' }) });
const InvitationParams = Type.Object({ orgId: Type.String(), invitationId: Type.String() });

const invitation = (row: { invitationId: string; email: string; role: string; status: string; expiresAt: Date }) => ({
  invitationId: row.invitationId,
  email: row.email,
  role: row.role,
  status: row.status as 'pending',
  expiresAt: row.expiresAt.toISOString(),
});

export const invitationsRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  app.post(
    '/api/organisations/:orgId/invitations',
    {
      config: { auth: 'user', permission: 'invitations:create', throttled: true },
      schema: {
        operationId: 'createInvitation',
        tags: TAGS,
        summary: 'Invite someone by email',
        description:
          'Mails a link to `/accept-invite`, valid 7 days. The role defaults to `member` and may not be above your own (403). Inviting an email with a pending invitation resends it with a new link; inviting a member is a 409.',
        params: Type.Object({ orgId: Type.String() }),
        body: Type.Object({ email: Email, role: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })) }),
        response: { 201: success(Invitation, 'Invited'), 409: ErrorBody },
      },
    },
    async (request, reply) => {
      const created = await services.invitations.create(principalOf(request), { organisationId: request.params.orgId, email: request.body.email, role: request.body.role });
      return reply.code(201).send(ok(created.created ? 'Invitation sent successfully' : 'Invitation resent successfully', invitation(created)));
    },
  );

  app.get(
    '/api/organisations/:orgId/invitations',
    {
      config: { auth: 'user', permission: 'invitations:create' },
      schema: {
        operationId: 'listInvitations',
        tags: TAGS,
        summary: 'The organisation’s invitations, newest first, optionally of one status',
        params: Type.Object({ orgId: Type.String() }),
        querystring: Type.Object({ ...PageQuery.properties, status: Type.Optional(Status) }),
        response: { 200: success(Type.Object({ invitations: Type.Array(Type.Object({ ...Invitation.properties, createdAt: Type.String({ format: 'date-time' }) })), nextCursor: NextCursor })) },
      },
    },
    async (request) => {
      const { items, nextCursor } = await services.invitations.list(principalOf(request), { organisationId: request.params.orgId, limit: request.query.limit, cursor: request.query.cursor, status: request.query.status });
      const invitations = items.map((row) => ({
        ...invitation({ invitationId: row.id, email: row.email, role: row.role, status: row.status, expiresAt: row.expiresAt }),
        createdAt: row.createdAt.toISOString(),
      }));
      return ok('Invitations retrieved successfully', { invitations, nextCursor });
    },
  );

  app.delete(
    '/api/organisations/:orgId/invitations/:invitationId',
    {
      config: { auth: 'user', permission: 'invitations:create' },
      schema: {
        operationId: 'revokeInvitation',
        tags: TAGS,
        summary: 'Revoke a pending invitation',
        description: 'Its link stops working. An invitation that is no longer pending is a 409.',
        params: InvitationParams,
        response: { 200: success(Type.Object({})), 409: ErrorBody },
      },
    },
    async (request) => {
      await services.invitations.revoke(principalOf(request), { organisationId: request.params.orgId, invitationId: request.params.invitationId });
      return ok('Invitation revoked successfully', {});
    },
  );

  app.post(
    '/api/organisations/:orgId/invitations/:invitationId/resend',
    {
      config: { auth: 'user', permission: 'invitations:create', throttled: true },
      schema: {
        operationId: 'resendInvitation',
        tags: TAGS,
        summary: 'Mail a pending or expired invitation again',
        description: 'With a new link (the old one stops working) and seven more days.',
        params: InvitationParams,
        response: { 200: success(Invitation), 409: ErrorBody },
      },
    },
    async (request) => ok('Invitation resent successfully', invitation(await services.invitations.resend(principalOf(request), { organisationId: request.params.orgId, invitationId: request.params.invitationId }))),
  );

  app.post(
    '/api/invitations/accept',
    {
      config: { auth: 'user' },
      schema: {
        operationId: 'acceptInvitation',
        tags: TAGS,
        summary: 'Join an organisation with an invitation’s token',
        description:
          'The caller’s verified email must be the invitation’s (403 otherwise), and whoever invited must still be able to grant the role (403). A used, revoked or expired token is a 400; a second acceptance a 409.',
        body: Type.Object({ token: Type.String({ minLength: 1, maxLength: 200 }) }),
        response: { 200: success(Type.Object({ orgId: Type.String(), role: Type.String() })), 400: ErrorBody, 409: ErrorBody },
      },
    },
    async (request) => ok('Invitation accepted successfully', await services.invitations.accept(principalOf(request), { token: request.body.token })),
  );
};
