// Registration, sign-in, token refresh and sign-out.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { Config } from '../../config/config.ts';
import { MAX_PASSWORD_LENGTH } from '../../domain/accounts/passwords.ts';
import type { Services } from '../../domain/services.ts';
import { principalOf } from '../auth.ts';
import { ok, PublicUser, publicUser, success } from '../schemas.ts';
import { Email, Name, Phone, Username } from './fields.ts';

const TAGS = ['Accounts and sessions'];

export const TokensAndUser = Type.Object({ accessToken: Type.String(), refreshToken: Type.String(), user: PublicUser });
export const SecondFactorRequired = Type.Object({
  mfaRequired: Type.Literal(true),
  mfaToken: Type.String({ description: 'Names this sign-in attempt: single use, valid for five minutes, ended by five wrong codes' }),
  methods: Type.Array(Type.Union([Type.Literal('totp'), Type.Literal('recovery_code'), Type.Literal('webauthn')])),
});
const TokenPair = Type.Object({ accessToken: Type.String(), refreshToken: Type.String() });
const OpaqueToken = Type.String({ minLength: 1, maxLength: 200 });
const ActiveOrganisation = Type.Optional(
  Type.Union([Type.String({ format: 'uuid' }), Type.Null()], {
    description:
      'The organisation to act in: the access token then carries `org_id`, `org_role` and `org_permissions`, and later refreshes keep it while the membership lasts. `null` clears it. One you are not an active member of is 404 `ORGANISATION_NOT_FOUND`.',
  }),
);

export const authRoutes: FastifyPluginAsyncTypebox<{ services: Services; config: Config }> = async (app, { services, config }) => {
  const Password = Type.String({ minLength: config.passwordMin, maxLength: MAX_PASSWORD_LENGTH, description: `${config.passwordMin} to ${MAX_PASSWORD_LENGTH} characters` });

  app.post(
    '/auth/register',
    {
      config: { auth: 'public', throttled: true },
      schema: {
        operationId: 'register',
        tags: TAGS,
        summary: 'Create an account, its personal organisation and a session',
        body: Type.Object({
          firstName: Name,
          lastName: Name,
          email: Email,
          password: Password,
          phone: Type.Optional(Phone),
          username: Type.Optional(Username),
          inviteToken: Type.Optional(OpaqueToken),
        }),
        response: { 201: success(TokensAndUser, 'Registered') },
      },
    },
    async (request, reply) => {
      // Only the documented fields: the service also takes an organisation, which this route does not offer.
      const { firstName, lastName, email, password, phone, username, inviteToken } = request.body;
      const result = await services.accounts.register(principalOf(request), { firstName, lastName, email, password, phone, username, inviteToken });
      return reply.code(201).send(ok('Registration successful', { accessToken: result.accessToken, refreshToken: result.refreshToken, user: publicUser(result.user) }));
    },
  );

  app.post(
    '/auth/login',
    {
      config: { auth: 'public', throttled: true },
      schema: {
        operationId: 'login',
        tags: TAGS,
        summary: 'Sign in with email (or username) and password',
        description:
          'Any bad credential gets the same 401, after the same work, whether or not the account exists. For an account with a second factor the answer is `message: "Second factor required"` with `data: {mfaRequired: true, mfaToken, methods}` and no tokens: finish with `POST /auth/mfa/verify` within five minutes.',
        body: Type.Object(
          {
            email: Type.Optional(Type.String({ format: 'email', maxLength: 254 })),
            username: Type.Optional(Type.String({ minLength: 1, maxLength: 50 })),
            password: Type.String({ minLength: 1, maxLength: MAX_PASSWORD_LENGTH }),
            orgId: ActiveOrganisation,
          },
          { if: { not: { required: ['username'] } }, then: { required: ['email'] } },
        ),
        response: { 200: success(Type.Union([TokensAndUser, SecondFactorRequired]), 'Signed in, or a second factor is required') },
      },
    },
    async (request) => {
      const result = await services.accounts.signIn(principalOf(request), { email: request.body.email, username: request.body.username, password: request.body.password, orgId: request.body.orgId });
      if ('mfaRequired' in result) return ok('Second factor required', { mfaRequired: true as const, mfaToken: result.mfaToken, methods: result.methods });
      return ok('Login successful', { accessToken: result.accessToken, refreshToken: result.refreshToken, user: publicUser(result.user) });
    },
  );

  app.post(
    '/auth/refresh',
    {
      config: { auth: 'public' },
      schema: {
        operationId: 'refreshTokens',
        tags: TAGS,
        summary: 'Trade a refresh token for a new pair',
        description:
          'The refresh token is spent. Presenting a spent one again ends the whole session. The session’s active organisation is kept (with the role of the day) while the membership lasts; once the member is removed or suspended, the new token has no organisation claims.',
        body: Type.Object({ refreshToken: OpaqueToken, orgId: ActiveOrganisation }),
        response: { 200: success(TokenPair, 'New tokens') },
      },
    },
    async (request) => {
      const pair = await services.sessions.refresh(principalOf(request), request.body.refreshToken, request.body.orgId);
      return ok('Token refreshed successfully', { accessToken: pair.accessToken, refreshToken: pair.refreshToken });
    },
  );

  app.post(
    '/auth/logout',
    {
      config: { auth: 'optional' },
      schema: {
        operationId: 'logout',
        tags: TAGS,
        summary: 'End a session',
        description: 'Ends the session of the refresh token sent, or of the Bearer token. Its access tokens stop working at once.',
        body: Type.Object({ refreshToken: Type.Optional(OpaqueToken) }),
        response: { 200: success(Type.Object({}), 'Signed out') },
      },
    },
    async (request) => {
      await services.sessions.logout(principalOf(request), { refreshToken: request.body.refreshToken });
      return ok('Logout successful', {});
    },
  );
};
