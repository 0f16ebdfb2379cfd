// The flows behind mailed links (verify an email, reset a forgotten password) and changing a password.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { Config } from '../../config/config.ts';
import { MAX_PASSWORD_LENGTH } from '../../domain/accounts/passwords.ts';
import type { Services } from '../../domain/services.ts';
import { principalOf } from '../auth.ts';
import { ErrorBody, ok, success } from '../schemas.ts';
import { Email } from './fields.ts';

const TAGS = ['Accounts and sessions'];
const LinkToken = Type.String({ minLength: 1, maxLength: 200 });
const Empty = Type.Object({});

export const recoveryRoutes: FastifyPluginAsyncTypebox<{ services: Services; config: Config }> = async (app, { services, config }) => {
  const NewPassword = Type.String({ minLength: config.passwordMin, maxLength: MAX_PASSWORD_LENGTH });

  app.post(
    '/auth/password/forgot',
    {
      config: { auth: 'public', throttled: true },
      schema: {
        operationId: 'forgotPassword',
        tags: TAGS,
        summary: 'Mail a password reset link',
        description: 'Always 202, at once: whether the account exists is never told. The link works once, for 30 minutes; a newer one replaces it.',
        body: Type.Object({ email: Email }),
        response: { 202: success(Empty, 'Accepted') },
      },
    },
    async (request, reply) => {
      await services.recovery.forgotPassword(principalOf(request), { email: request.body.email, onError: (error) => request.log.error({ err: error }, 'password reset request failed') });
      return reply.code(202).send(ok('If an account exists for this email, a reset link is on its way', {}));
    },
  );

  app.post(
    '/auth/password/reset',
    {
      config: { auth: 'public', throttled: true },
      schema: {
        operationId: 'resetPassword',
        tags: TAGS,
        summary: 'Choose a new password with a reset link’s token',
        description: 'Ends every session of the account and mails a "password changed" alert. A bad, used or expired token is a 400.',
        body: Type.Object({ token: LinkToken, password: NewPassword }),
        response: { 200: success(Empty), 400: ErrorBody },
      },
    },
    async (request) => {
      await services.recovery.resetPassword(principalOf(request), request.body);
      return ok('Password reset successfully: sign in with the new password', {});
    },
  );

  app.post(
    '/auth/email/verify',
    {
      config: { auth: 'public', throttled: true },
      schema: {
        operationId: 'verifyEmail',
        tags: TAGS,
        summary: 'Confirm an email address with the token of the mailed link',
        body: Type.Object({ token: LinkToken }),
        response: { 200: success(Empty), 400: ErrorBody },
      },
    },
    async (request) => {
      await services.recovery.verifyEmail(principalOf(request), request.body.token);
      return ok('Email verified successfully', {});
    },
  );

  app.post(
    '/auth/email/resend',
    {
      config: { auth: 'user', throttled: true },
      schema: {
        operationId: 'resendVerification',
        tags: TAGS,
        summary: 'Mail a new verification link',
        description: 'Replaces any earlier link. Nothing is sent for an address already verified, nor past a few mails an hour; the answer is the same.',
        response: { 202: success(Empty, 'Accepted'), 409: ErrorBody },
      },
    },
    async (request, reply) => {
      await services.recovery.resendVerification(principalOf(request));
      return reply.code(202).send(ok('If your email still needs confirming, a new link is on its way', {}));
    },
  );

  app.post(
    '/api/users/me/password',
    {
      config: { auth: 'user', throttled: true },
      schema: {
        operationId: 'changePassword',
        tags: ['Users'],
        summary: 'Change the caller’s password',
        description: 'Ends the caller’s other sessions and mails an alert. A wrong current password is a 422 naming `currentPassword`. Step-up: for an account with a second factor, the session’s last strong check must be under ten minutes old (403 `STEP_UP_REQUIRED`, see `POST /auth/step-up`).',
        body: Type.Object({ currentPassword: Type.String({ minLength: 1, maxLength: MAX_PASSWORD_LENGTH }), newPassword: NewPassword }),
        response: { 200: success(Empty) },
      },
    },
    async (request) => {
      await services.recovery.changePassword(principalOf(request), request.body);
      return ok('Password changed successfully', {});
    },
  );
};
