// The `basic` route set (seed 003): username and password only. Accounts made here have a username
// and no email, so they cannot use the email flows.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { Config } from '../../config/config.ts';
import { MAX_PASSWORD_LENGTH } from '../../domain/accounts/passwords.ts';
import { AppError } from '../../domain/errors.ts';
import type { Services } from '../../domain/services.ts';
import { principalOf } from '../auth.ts';
import { Username } from '../routes/fields.ts';
import { installCompatErrors } from './compat-errors.ts';

const TAGS = ['basic (seed 003)'];
const Message = Type.Object({ message: Type.String() });

export const basicRoutes: FastifyPluginAsyncTypebox<{ services: Services; config: Config }> = async (app, { services, config }) => {
  installCompatErrors(app, 'message', { invalidStatus: 400, missingMessage: 'Missing parameters' });

  app.post(
    '/register',
    {
      config: { auth: 'public', compat: 'message', throttled: true },
      schema: {
        operationId: 'basicRegister',
        tags: TAGS,
        summary: 'Register with a username and a password (no email)',
        description: 'Missing fields: 400 "Missing parameters"; a taken username: 400 "Username already exists".',
        body: Type.Object({ username: Username, password: Type.String({ minLength: config.passwordMin, maxLength: MAX_PASSWORD_LENGTH }) }),
        response: { 201: Type.Object({ message: Type.String(), user_id: Type.String() }) },
      },
    },
    async (request, reply) => {
      const { user } = await services.accounts.register(principalOf(request), { username: request.body.username, password: request.body.password, firstName: '', lastName: '' });
      return reply.code(201).send({ message: 'User registered successfully', user_id: user.id });
    },
  );

  app.post(
    '/login',
    {
      config: { auth: 'public', compat: 'message', throttled: true },
      schema: {
        operationId: 'basicLogin',
        tags: TAGS,
        summary: 'Sign in; the token comes in the body and in the Authorization header',
        body: Type.Object({ username: Type.String({ minLength: 1, maxLength: 50 }), password: Type.String({ minLength: 1, maxLength: MAX_PASSWORD_LENGTH }) }),
        response: { 200: Type.Object({ user_id: Type.String(), access_token: Type.String() }) },
      },
    },
    async (request, reply) => {
      let result;
      try {
        result = await services.accounts.login(principalOf(request), { username: request.body.username, password: request.body.password });
      } catch (error) {
        if (error instanceof AppError && error.code === 'AUTHENTICATION_FAILED') throw new AppError('AUTHENTICATION_FAILED', 'Invalid credentials');
        throw error;
      }
      reply.header('authorization', `Bearer ${result.accessToken}`);
      return { user_id: result.user.id, access_token: result.accessToken };
    },
  );

  app.get(
    '/protected',
    { config: { auth: 'user', compat: 'message' }, schema: { operationId: 'basicProtected', tags: TAGS, summary: 'A route that needs a valid token', response: { 200: Message } } },
    async (request) => ({ message: `Access granted to user ${services.accounts.me(principalOf(request)).id}` }),
  );
};
