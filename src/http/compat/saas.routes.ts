// The `saas` route set (seeds 001 and 004): the same services as the core API, in the seeds' shapes.
// Organisation ids come in the body here, so each handler checks the caller's membership itself,
// with the same rule as the core routes: a non-member gets 404, too low a role 403.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { Config } from '../../config/config.ts';
import { MAX_PASSWORD_LENGTH } from '../../domain/accounts/passwords.ts';
import { AppError } from '../../domain/errors.ts';
import type { Services } from '../../domain/services.ts';
import { principalOf } from '../auth.ts';
import { Email } from '../routes/fields.ts';
import { installCompatErrors } from './compat-errors.ts';
import { saasStatsRoutes } from './saas-stats.routes.ts';

const TAGS = ['saas (seeds 001, 004)'];
const Message = Type.Object({ message: Type.String() });
const Id = Type.String({ minLength: 1, maxLength: 40 });

export const saasRoutes: FastifyPluginAsyncTypebox<{ services: Services; config: Config }> = async (app, { services, config }) => {
  installCompatErrors(app, 'message');
  const Password = Type.String({ minLength: config.passwordMin, maxLength: MAX_PASSWORD_LENGTH });
  const open = { auth: 'public' as const, compat: 'message' as const };
  const signedIn = { auth: 'user' as const, compat: 'message' as const };

  app.post(
    '/signup',
    {
      config: { ...open, throttled: true },
      schema: {
        operationId: 'saasSignup',
        tags: TAGS,
        summary: 'Register; the organisation named is created with the user as its owner',
        body: Type.Object({ email: Email, password: Password, organization_name: Type.String({ minLength: 1, maxLength: 200, pattern: '\\S', 'x-message': 'Organization name is required' }), organization_details: Type.Optional(Type.String({ maxLength: 2000 })) }),
        response: { 201: Type.Object({ message: Type.String(), user_id: Type.String(), org_id: Type.String() }) },
      },
    },
    async (request, reply) => {
      const { email, password, organization_name, organization_details } = request.body;
      const result = await services.accounts.register(
        principalOf(request),
        { firstName: '', lastName: '', email, password, organisation: { name: organization_name, description: organization_details } },
      );
      return reply.code(201).send({ message: 'User signed up successfully', user_id: result.user.id, org_id: result.organisationId });
    },
  );

  app.post(
    '/signin',
    {
      config: { ...open, throttled: true },
      schema: {
        operationId: 'saasSignin',
        tags: TAGS,
        summary: 'Sign in',
        body: Type.Object({ email: Type.String({ minLength: 1, maxLength: 254 }), password: Type.String({ minLength: 1, maxLength: MAX_PASSWORD_LENGTH }) }),
        response: { 200: Type.Object({ access_token: Type.String(), refresh_token: Type.String(), token_type: Type.Literal('bearer') }) },
      },
    },
    async (request) => {
      const result = await services.accounts.login(principalOf(request), { email: request.body.email, password: request.body.password });
      return { access_token: result.accessToken, refresh_token: result.refreshToken, token_type: 'bearer' as const };
    },
  );

  app.post(
    '/reset-password',
    {
      config: { ...open, throttled: true },
      schema: {
        operationId: 'saasResetPassword',
        tags: TAGS,
        summary: 'With `email`: mail a reset link (202, whether or not the account exists). With `token` and `new_password`: set the password.',
        body: Type.Object({ email: Type.Optional(Email), token: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })), new_password: Type.Optional(Password) }),
        response: { 200: Message, 202: Message },
      },
    },
    async (request, reply) => {
      const { email, token, new_password } = request.body;
      if (token !== undefined || new_password !== undefined) {
        if (token === undefined) throw new AppError('TOKEN_REQUIRED');
        if (new_password === undefined) throw new AppError('NEW_PASSWORD_REQUIRED');
        await services.recovery.resetPassword(principalOf(request), { token, password: new_password });
        return { message: 'Password reset successful' };
      }
      if (email === undefined) throw new AppError('EMAIL_REQUIRED');
      await services.recovery.forgotPassword(principalOf(request), { email, onError: (error) => request.log.error({ err: error }, 'password reset request failed') });
      return reply.code(202).send({ message: 'If an account exists for this email, a reset link is on its way' });
    },
  );

  app.post(
    '/invite-member',
    {
      config: { ...signedIn, throttled: true },
      schema: {
        operationId: 'saasInviteMember',
        tags: TAGS,
        summary: 'Invite someone to an organisation by email (needs `invitations:create` there)',
        body: Type.Object({ email: Email, organization_id: Id, role: Type.Optional(Type.String({ minLength: 1, maxLength: 64 })) }),
        response: { 201: Type.Object({ message: Type.String(), invitation_id: Type.String() }) },
      },
    },
    async (request, reply) => {
      const invitation = await services.invitations.create(principalOf(request), { organisationId: request.body.organization_id, email: request.body.email, role: request.body.role });
      return reply.code(201).send({ message: 'Invite email sent successfully.', invitation_id: invitation.invitationId });
    },
  );

  app.post(
    '/accept-invite',
    {
      config: { ...open, throttled: true },
      schema: {
        operationId: 'saasAcceptInvite',
        tags: TAGS,
        summary: 'Accept an invitation: creates the account with this password when none has the invited email; otherwise signs in with it',
        body: Type.Object({ token: Type.String({ minLength: 1, maxLength: 200 }), password: Type.String({ minLength: 1, maxLength: MAX_PASSWORD_LENGTH }) }),
        response: { 200: Message },
      },
    },
    async (request) => {
      await services.accounts.acceptInvitationWithPassword(principalOf(request), { token: request.body.token, password: request.body.password });
      return { message: 'Invite accepted successfully.' };
    },
  );

  app.delete(
    '/delete_member',
    {
      config: signedIn,
      schema: {
        operationId: 'saasDeleteMember',
        tags: TAGS,
        summary: 'Remove a member (needs `members:remove`), or leave (your own user id)',
        body: Type.Object({ org_id: Id, user_id: Id }),
        response: { 200: Message },
      },
    },
    async (request) => {
      await services.memberships.remove(principalOf(request), { organisationId: request.body.org_id, userId: request.body.user_id });
      return { message: 'Member deleted' };
    },
  );

  app.put(
    '/update_member_role',
    {
      config: signedIn,
      schema: {
        operationId: 'saasUpdateMemberRole',
        tags: TAGS,
        summary: 'Give a member another role (needs `members:update-role`)',
        body: Type.Object({ org_id: Id, user_id: Id, role: Type.String({ minLength: 1, maxLength: 64 }) }),
        response: { 200: Message },
      },
    },
    async (request) => {
      await services.memberships.changeRole(principalOf(request), { organisationId: request.body.org_id, userId: request.body.user_id, role: request.body.role });
      return { message: 'Member role updated successfully.' };
    },
  );

  app.post(
    '/organizations',
    {
      config: signedIn,
      schema: {
        operationId: 'saasCreateOrganization',
        tags: TAGS,
        summary: 'Create an organisation; the caller is its owner',
        body: Type.Object({ name: Type.String({ minLength: 1, maxLength: 200, pattern: '\\S', 'x-message': 'Name is required' }), details: Type.Optional(Type.String({ maxLength: 2000 })) }),
        response: { 201: Type.Object({ message: Type.String(), org_id: Type.String() }) },
      },
    },
    async (request, reply) => {
      const org = await services.organisations.create(principalOf(request), { name: request.body.name, description: request.body.details });
      return reply.code(201).send({ message: 'Organization created successfully', org_id: org.id });
    },
  );

  await app.register(saasStatsRoutes, { services });
};
