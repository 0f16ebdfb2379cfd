// The `user-api` route set (seed 002): accounts by username, with seed 002's rules — users read and
// update only themselves; admins read anyone, update themselves and ordinary users, and delete only
// ordinary users, never themselves. The reset token goes by mail only, never in an answer.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { Config } from '../../config/config.ts';
import { MAX_PASSWORD_LENGTH } from '../../domain/accounts/passwords.ts';
import type { Services } from '../../domain/services.ts';
import { principalOf } from '../auth.ts';
import { Email, Name, Username } from '../routes/fields.ts';
import { installCompatErrors } from './compat-errors.ts';

const TAGS = ['user-api (seed 002)'];
const Msg = Type.Object({ msg: Type.String() });
const open = { auth: 'public' as const, compat: 'msg' as const };
const signedIn = { auth: 'user' as const, compat: 'msg' as const };
const UsernameParams = Type.Object({ username: Type.String() });

export const userApiRoutes: FastifyPluginAsyncTypebox<{ services: Services; config: Config }> = async (app, { services, config }) => {
  installCompatErrors(app, 'msg');
  const Password = Type.String({ minLength: config.passwordMin, maxLength: MAX_PASSWORD_LENGTH });

  app.post(
    '/api/user/register',
    {
      config: { ...open, throttled: true },
      schema: {
        operationId: 'userApiRegister',
        tags: TAGS,
        summary: 'Register an account with a username (platform role user)',
        body: Type.Object({ username: Username, first_name: Name, last_name: Name, email: Email, password: Password }),
        response: { 201: Msg },
      },
    },
    async (request, reply) => {
      const { username, first_name, last_name, email, password } = request.body;
      await services.accounts.register(principalOf(request), { username, firstName: first_name, lastName: last_name, email, password });
      return reply.code(201).send({ msg: 'User registered successfully.' });
    },
  );

  app.post(
    '/api/user/login',
    {
      config: { ...open, throttled: true },
      schema: {
        operationId: 'userApiLogin',
        tags: TAGS,
        summary: 'Sign in with username and password',
        body: Type.Object({ username: Type.String({ minLength: 1, maxLength: 50 }), password: Type.String({ minLength: 1, maxLength: MAX_PASSWORD_LENGTH }) }),
        response: { 200: Type.Object({ access_token: Type.String() }) },
      },
    },
    async (request) => ({ access_token: (await services.accounts.login(principalOf(request), { username: request.body.username, password: request.body.password })).accessToken }),
  );

  app.post(
    '/api/user/forget_password',
    {
      config: { ...open, throttled: true },
      schema: {
        operationId: 'userApiForgetPassword',
        tags: TAGS,
        summary: 'Mail a reset link when the username and email are one account’s',
        description: 'The token goes by mail only. The answer is the same whether or not they match an account.',
        body: Type.Object({ username: Type.String({ minLength: 1, maxLength: 50 }), email: Email }),
        response: { 200: Msg },
      },
    },
    async (request) => {
      const { username, email } = request.body;
      await services.recovery.forgotPassword(principalOf(request), { email, username, onError: (error) => request.log.error({ err: error }, 'password reset request failed') });
      return { msg: 'Token generated successfully.' };
    },
  );

  app.post(
    '/api/user/reset_password',
    {
      config: { ...open, throttled: true },
      schema: {
        operationId: 'userApiResetPassword',
        tags: TAGS,
        summary: 'Set a new password with the mailed token',
        body: Type.Object({ token: Type.String({ minLength: 1, maxLength: 200 }), new_password: Password }),
        response: { 200: Msg },
      },
    },
    async (request) => {
      await services.recovery.resetPassword(principalOf(request), { token: request.body.token, password: request.body.new_password });
      return { msg: 'Password has been reset.' };
    },
  );

  app.get(
    '/api/user/:username',
    {
      config: signedIn,
      schema: {
        operationId: 'userApiGetUser',
        tags: TAGS,
        summary: 'Your own account; an admin reads anyone’s',
        params: UsernameParams,
        response: {
          200: Type.Object({
            id: Type.String(),
            username: Type.Union([Type.String(), Type.Null()]),
            first_name: Type.String(),
            last_name: Type.String(),
            email: Type.Union([Type.String(), Type.Null()]),
            role: Type.Union([Type.Literal('USER'), Type.Literal('ADMIN')]),
            active: Type.Boolean(),
          }),
        },
      },
    },
    async (request) => {
      // Themselves, or anyone for an admin; anyone else is not found (the policy's rule for this set).
      const user = await services.accounts.findByUsername(principalOf(request), request.params.username);
      return {
        id: user.id,
        username: user.username,
        first_name: user.firstName,
        last_name: user.lastName,
        email: user.email,
        role: user.platformRole === 'admin' ? ('ADMIN' as const) : ('USER' as const),
        active: user.status === 'active',
      };
    },
  );

  app.put(
    '/api/user/:username',
    {
      config: signedIn,
      schema: {
        operationId: 'userApiUpdateUser',
        tags: TAGS,
        summary: 'Update your own account; an admin also updates ordinary users, never another admin',
        params: UsernameParams,
        body: Type.Object({ first_name: Type.Optional(Name), last_name: Type.Optional(Name) }, { additionalProperties: false }),
        response: { 200: Msg },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const user = await services.accounts.findByUsername(principal, request.params.username);
      const changes = { firstName: request.body.first_name, lastName: request.body.last_name };
      // One's own account is a profile change; anyone else's is an admin's change, with the admin rules.
      if (principal.kind === 'user' && user.id === principal.userId) await services.accounts.updateMe(principal, changes);
      else await services.admin.updateUser(principal, { userId: user.id, changes });
      return { msg: 'User details updated.' };
    },
  );

  app.delete(
    '/api/user/:username',
    {
      config: signedIn,
      schema: {
        operationId: 'userApiDeleteUser',
        tags: TAGS,
        summary: 'An admin deletes an ordinary user (never an admin, never themselves)',
        params: UsernameParams,
        response: { 200: Msg },
      },
    },
    async (request) => {
      const principal = principalOf(request);
      const user = await services.accounts.findByUsername(principal, request.params.username);
      await services.admin.deleteUser(principal, user.id);
      return { msg: 'User deleted.' };
    },
  );
};
