// The caller's own profile, and other users' public profiles where the caller may see them.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { User } from '../../domain/accounts/types.ts';
import type { Services } from '../../domain/services.ts';
import { principalOf } from '../auth.ts';
import { ErrorBody, ok, PublicUser, publicUser, success } from '../schemas.ts';
import { Name, Phone, Username } from './fields.ts';

const TAGS = ['Users'];

const Profile = Type.Object({
  userId: Type.String(),
  firstName: Type.String(),
  lastName: Type.String(),
  email: Type.Union([Type.String(), Type.Null()]),
  phone: Type.Union([Type.String(), Type.Null()]),
  username: Type.Union([Type.String(), Type.Null()]),
  emailVerified: Type.Boolean(),
  platformRole: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
});

const profile = (user: User) => ({
  ...publicUser(user),
  username: user.username,
  emailVerified: user.emailVerifiedAt !== null,
  platformRole: user.platformRole,
  createdAt: user.createdAt.toISOString(),
});

export const usersRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  app.get(
    '/api/users/me',
    {
      config: { auth: 'user' },
      schema: { operationId: 'getMe', tags: TAGS, summary: 'The caller’s profile', response: { 200: success(Profile) } },
    },
    // The authentication already read the profile, in the same query as the session.
    async (request) => ok('Profile retrieved successfully', profile(services.accounts.me(principalOf(request)))),
  );

  app.patch(
    '/api/users/me',
    {
      config: { auth: 'user' },
      schema: {
        operationId: 'updateMe',
        tags: TAGS,
        summary: 'Change the caller’s profile',
        description: 'Only these fields; any other field in the body is refused with 422.',
        body: Type.Object(
          {
            firstName: Type.Optional(Name),
            lastName: Type.Optional(Name),
            phone: Type.Optional(Type.Union([Phone, Type.Null()])),
            username: Type.Optional(Type.Union([Username, Type.Null()])),
          },
          { additionalProperties: false },
        ),
        response: { 200: success(Profile) },
      },
    },
    async (request) => ok('Profile updated successfully', profile(await services.accounts.updateMe(principalOf(request), request.body))),
  );

  app.get(
    '/api/users/:id',
    {
      config: { auth: 'user' },
      schema: {
        operationId: 'getUser',
        tags: TAGS,
        summary: 'A user’s profile',
        description: 'Visible for the caller, a user sharing an organisation with the caller, or any user for a platform admin; otherwise 404.',
        params: Type.Object({ id: Type.String() }),
        response: { 200: success(PublicUser), 404: ErrorBody },
      },
    },
    async (request) => {
      return ok('User retrieved successfully', publicUser(await services.accounts.visibleUser(principalOf(request), request.params.id)));
    },
  );
};
