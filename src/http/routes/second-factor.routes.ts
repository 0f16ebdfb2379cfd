// Second factors: the second step of a sign-in, the step-up, and a person's own authenticator app and
// recovery codes (SPEC §6.1). Passkeys are ./passkeys.routes.ts's.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { Services } from '../../domain/services.ts';
import { principalOf } from '../auth.ts';
import { ok, publicUser, StringEnum, success } from '../schemas.ts';
import { TokensAndUser } from './auth.routes.ts';

const AUTH_TAGS = ['Accounts and sessions'];
const TAGS = ['Second factors'];

const Code = Type.String({ minLength: 1, maxLength: 64, description: 'The six digits of the app, or a recovery code' });
/** A WebAuthn response as `@simplewebauthn/browser` (or `PublicKeyCredential.toJSON()`) gives it. */
export const WebauthnResponse = Type.Object({ id: Type.String({ maxLength: 1024 }), type: Type.String({ maxLength: 32 }) }, { additionalProperties: true, description: 'A WebAuthn response in its JSON shape' });
const Method = StringEnum(['totp', 'recovery_code', 'webauthn'] as const);
const Proof = { method: Method, code: Type.Optional(Code), response: Type.Optional(WebauthnResponse) };
const RecoveryCodes = Type.Object({ recoveryCodes: Type.Array(Type.String(), { description: 'Ten single-use codes, shown this once' }) });
const STEP_UP = 'Step-up: for an account with a second factor, the session’s last strong check must be under ten minutes old, or the answer is 403 `STEP_UP_REQUIRED` (`POST /auth/step-up`).';

export const secondFactorRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  app.post(
    '/auth/mfa/verify',
    {
      config: { auth: 'public', throttled: true },
      schema: {
        operationId: 'verifySecondFactor',
        tags: AUTH_TAGS,
        summary: 'The second step of a sign-in: a second factor for the `mfaToken` of `POST /auth/login`',
        description:
          'With `method: "totp"` or `"recovery_code"` send `code`; with `"webauthn"` send `response` (after `POST /auth/mfa/webauthn/options`). A wrong factor is 401 `INVALID_SECOND_FACTOR` and counts against the attempt: the fifth ends it. A spent, expired or ended `mfaToken` is 401 `INVALID_MFA_TOKEN`.',
        body: Type.Object({ mfaToken: Type.String({ minLength: 1, maxLength: 200 }), ...Proof }),
        response: { 200: success(TokensAndUser, 'Signed in') },
      },
    },
    async (request) => {
      const { mfaToken, method, code, response } = request.body;
      const result = await services.accounts.completeSignIn(principalOf(request), { mfaToken, method, code, response });
      return ok('Login successful', { accessToken: result.accessToken, refreshToken: result.refreshToken, user: publicUser(result.user) });
    },
  );

  app.post(
    '/auth/step-up',
    {
      config: { auth: 'user', throttled: true },
      schema: {
        operationId: 'stepUp',
        tags: AUTH_TAGS,
        summary: 'Prove a second factor again: a new access token with a fresh `auth_time`',
        description: 'For the step-up routes (turning a factor off, new recovery codes, a new password, API keys, machine clients and their new secrets, an organisation’s MFA rule, an admin’s reset of a user’s factors). An account without a second factor gets 409 `NO_SECOND_FACTOR`.',
        body: Type.Object(Proof),
        response: { 200: success(Type.Object({ accessToken: Type.String(), expiresIn: Type.Integer() }), 'A new access token') },
      },
    },
    async (request) => {
      const { method, code, response } = request.body;
      return ok('Second factor confirmed', await services.mfa.stepUp(principalOf(request), { method, code, response }));
    },
  );

  app.get(
    '/api/users/me/mfa',
    {
      config: { auth: 'user' },
      schema: {
        operationId: 'getMySecondFactors',
        tags: TAGS,
        summary: 'The caller’s second factors',
        response: { 200: success(Type.Object({ totp: Type.Boolean(), passkeys: Type.Integer(), recoveryCodesLeft: Type.Integer() })) },
      },
    },
    async (request) => ok('Second factors retrieved successfully', await services.mfa.status(principalOf(request))),
  );

  app.post(
    '/api/users/me/mfa/totp',
    {
      config: { auth: 'user' },
      schema: {
        operationId: 'startTotp',
        tags: TAGS,
        summary: 'Start setting up an authenticator app: a pending RFC 6238 secret (SHA-1, 6 digits, 30 s)',
        description: `Pending until \`POST /api/users/me/mfa/totp/confirm\`; starting again replaces a pending secret. 409 \`TOTP_ALREADY_ENABLED\` once one is on. 403 \`SECOND_FACTORS_UNAVAILABLE\` when the server has no GATEHOUSE_SECRET_KEY. ${STEP_UP}`,
        response: { 201: success(Type.Object({ secret: Type.String(), otpauthUrl: Type.String(), qrSvg: Type.String({ description: 'The otpauth URL as a QR code (SVG)' }) })) },
      },
    },
    async (request, reply) => reply.code(201).send(ok('Scan the QR code, then confirm with a code', await services.mfa.startTotp(principalOf(request)))),
  );

  app.post(
    '/api/users/me/mfa/totp/confirm',
    {
      config: { auth: 'user', throttled: true },
      schema: {
        operationId: 'confirmTotp',
        tags: TAGS,
        summary: 'Turn the authenticator app on with a code it shows; answers ten recovery codes, shown once',
        description: 'The first second factor of an account ends its other sessions.',
        body: Type.Object({ code: Type.String({ minLength: 1, maxLength: 16 }) }),
        response: { 200: success(RecoveryCodes) },
      },
    },
    async (request) => ok('Authenticator app turned on', await services.mfa.confirmTotp(principalOf(request), request.body.code)),
  );

  app.delete(
    '/api/users/me/mfa/totp',
    {
      config: { auth: 'user' },
      schema: { operationId: 'disableTotp', tags: TAGS, summary: 'Turn the authenticator app off', description: STEP_UP, response: { 200: success(Type.Object({})) } },
    },
    async (request) => {
      await services.mfa.disableTotp(principalOf(request));
      return ok('Authenticator app turned off', {});
    },
  );

  app.post(
    '/api/users/me/mfa/recovery-codes',
    {
      config: { auth: 'user' },
      schema: { operationId: 'renewRecoveryCodes', tags: TAGS, summary: 'A new set of ten recovery codes; the old set stops working', description: STEP_UP, response: { 200: success(RecoveryCodes) } },
    },
    async (request) => ok('New recovery codes', await services.mfa.renewRecoveryCodes(principalOf(request))),
  );
};
