// Passkeys (WebAuthn, in `@simplewebauthn`'s JSON shapes): a person's own list, and the ceremonies of
// a sign-in with one, as a second factor or passwordless (SPEC §6.1).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { Passkey } from '../../domain/mfa/passkey-types.ts';
import type { Services } from '../../domain/services.ts';
import { principalOf } from '../auth.ts';
import { ok, publicUser, success } from '../schemas.ts';
import { TokensAndUser } from './auth.routes.ts';
import { WebauthnResponse } from './second-factor.routes.ts';

const TAGS = ['Second factors'];
const AUTH_TAGS = ['Accounts and sessions'];
const Options = Type.Object({ challenge: Type.String() }, { additionalProperties: true, description: 'WebAuthn options in their JSON shape: hand them to `@simplewebauthn/browser` (or `PublicKeyCredential.parse…OptionsFromJSON`)' });
const PasskeyName = Type.String({ minLength: 1, maxLength: 100 });
const PasskeyBody = Type.Object({
  passkeyId: Type.String(),
  name: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
});
const ListedPasskey = Type.Object({
  ...PasskeyBody.properties,
  lastUsedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  deviceType: Type.String({ description: '`singleDevice` (bound to one authenticator) or `multiDevice` (synced)' }),
  backedUp: Type.Boolean(),
});
const shown = (p: Passkey) => ({ passkeyId: p.id, name: p.name, createdAt: p.createdAt.toISOString() });
const listed = (p: Passkey) => ({ ...shown(p), lastUsedAt: p.lastUsedAt?.toISOString() ?? null, deviceType: p.deviceType, backedUp: p.backedUp });
const STEP_UP = 'Step-up: for an account with a second factor, the session’s last strong check must be under ten minutes old (403 `STEP_UP_REQUIRED` otherwise).';

export const passkeysRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  app.post(
    '/api/users/me/passkeys/options',
    {
      config: { auth: 'user' },
      schema: { operationId: 'passkeyRegistrationOptions', tags: TAGS, summary: 'Options to register a passkey (valid five minutes, used once)', description: STEP_UP, response: { 200: success(Options) } },
    },
    async (request) => ok('Registration options', await services.passkeys.registrationOptions(principalOf(request))),
  );

  app.post(
    '/api/users/me/passkeys',
    {
      config: { auth: 'user' },
      schema: {
        operationId: 'registerPasskey',
        tags: TAGS,
        summary: 'Register a passkey with the authenticator’s response to the options',
        description: `The first second factor of an account ends its other sessions. ${STEP_UP}`,
        body: Type.Object({ response: WebauthnResponse, name: Type.Optional(PasskeyName) }),
        response: { 201: success(PasskeyBody) },
      },
    },
    async (request, reply) => reply.code(201).send(ok('Passkey registered', shown(await services.passkeys.register(principalOf(request), request.body)))),
  );

  app.get(
    '/api/users/me/passkeys',
    { config: { auth: 'user' }, schema: { operationId: 'listPasskeys', tags: TAGS, summary: 'The caller’s passkeys', response: { 200: success(Type.Object({ passkeys: Type.Array(ListedPasskey) })) } } },
    async (request) => ok('Passkeys retrieved successfully', { passkeys: (await services.passkeys.list(principalOf(request))).map(listed) }),
  );

  app.patch(
    '/api/users/me/passkeys/:passkeyId',
    {
      config: { auth: 'user' },
      schema: {
        operationId: 'renamePasskey',
        tags: TAGS,
        summary: 'Rename a passkey',
        params: Type.Object({ passkeyId: Type.String() }),
        body: Type.Object({ name: PasskeyName }),
        response: { 200: success(ListedPasskey) },
      },
    },
    async (request) => ok('Passkey renamed', listed(await services.passkeys.rename(principalOf(request), { passkeyId: request.params.passkeyId, name: request.body.name }))),
  );

  app.delete(
    '/api/users/me/passkeys/:passkeyId',
    {
      config: { auth: 'user' },
      schema: { operationId: 'deletePasskey', tags: TAGS, summary: 'Remove a passkey', description: STEP_UP, params: Type.Object({ passkeyId: Type.String() }), response: { 200: success(Type.Object({})) } },
    },
    async (request) => {
      await services.passkeys.remove(principalOf(request), request.params.passkeyId);
      return ok('Passkey removed', {});
    },
  );

  app.post(
    '/auth/mfa/webauthn/options',
    {
      config: { auth: 'public', throttled: true },
      schema: {
        operationId: 'secondFactorWebauthnOptions',
        tags: AUTH_TAGS,
        summary: 'WebAuthn options for the second step of a sign-in: the account’s passkeys',
        description: 'Then `POST /auth/mfa/verify` with `method: "webauthn"` and the authenticator’s `response`.',
        body: Type.Object({ mfaToken: Type.String({ minLength: 1, maxLength: 200 }) }),
        response: { 200: success(Options) },
      },
    },
    async (request) => ok('Authentication options', await services.accounts.secondFactorOptions(request.body.mfaToken)),
  );

  app.post(
    '/auth/step-up/webauthn/options',
    {
      config: { auth: 'user' },
      schema: { operationId: 'stepUpWebauthnOptions', tags: AUTH_TAGS, summary: 'WebAuthn options for a step-up with a passkey', response: { 200: success(Options) } },
    },
    async (request) => ok('Authentication options', await services.passkeys.stepUpOptions(principalOf(request))),
  );

  app.post(
    '/auth/passkey/options',
    {
      config: { auth: 'public', throttled: true },
      schema: { operationId: 'passkeySignInOptions', tags: AUTH_TAGS, summary: 'Options for a passwordless sign-in with a discoverable passkey (user verification required)', response: { 200: success(Options) } },
    },
    async () => ok('Authentication options', await services.passkeys.passwordlessOptions()),
  );

  app.post(
    '/auth/passkey/verify',
    {
      config: { auth: 'public', throttled: true },
      schema: {
        operationId: 'passkeySignIn',
        tags: AUTH_TAGS,
        summary: 'Sign in with a passkey alone: the login answer',
        description: 'The authenticator must have verified its user; the tokens’ `amr` is the key’s method (`hwk` or `swk`) and `mfa`. Any failure is the 401 of a failed sign-in.',
        body: Type.Object({ response: WebauthnResponse }),
        response: { 200: success(TokensAndUser, 'Signed in') },
      },
    },
    async (request) => {
      const result = await services.accounts.passkeySignIn(principalOf(request), request.body.response);
      return ok('Login successful', { accessToken: result.accessToken, refreshToken: result.refreshToken, user: publicUser(result.user) });
    },
  );
};
