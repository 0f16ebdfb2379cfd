// Gatehouse's OpenID Provider over HTTP: oidc-provider's endpoints under /oidc and the issuer's
// discovery document, handed to the provider as raw Node requests; and the hosted pages of an
// interaction (sign in, consent), which are Gatehouse's own.
//
// The provider's endpoints are described by the discovery document (OpenID Connect Discovery 1.0),
// not by the OpenAPI document: their routes are hidden from it, and their requests reach the provider
// unparsed (it reads its own bodies).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import Type, { type TSchema } from 'typebox';
import type { Config } from '../../config/config.ts';
import { AppError } from '../../domain/errors.ts';
import { INTERACTION_PREFIX, NEEDS_SECOND_FACTOR, OIDC_PREFIX, ORGANISATION_PROMPT } from '../../domain/oidc/openid-provider.ts';
import type { Services } from '../../domain/services.ts';
import { chooseOrganisationPage, consentPage, secondFactorPage, signInPage, SIGNIN_SCRIPT_URL } from '../../pages/openid-pages.ts';
import { SIGNIN_SCRIPT } from '../../pages/signin-script.ts';
import { principalOf } from '../auth.ts';
import { ErrorBody } from '../schemas.ts';
import { asPublic, formField, formTargets, Html, HtmlPage, interactionForms, SeeOther, TAGS, Uid } from './interaction-forms.ts';
import { sendBrandedPage } from './pages.routes.ts';

/** A WebAuthn assertion in its JSON shape, as the sign-in script posts it. */
const PASSKEY_ANSWER_MAX = 8000;

/** A passkey's answer as the page's script posted it; anything unreadable is no answer (the check refuses it). */
function parsedJson(text: string | undefined): unknown {
  try {
    return JSON.parse(text ?? '');
  } catch {
    return null;
  }
}

/** One field takes both codes: six digits are the authenticator app's, anything else a recovery code. */
function codeProof(code: string): { method: 'totp' | 'recovery_code'; code: string } {
  return /^\d{6}$/.test(code.replace(/\s/g, '')) ? { method: 'totp', code } : { method: 'recovery_code', code };
}

export const openidRoutes: FastifyPluginAsyncTypebox<{ services: Services; config: Config }> = async (app, { services, config }) => {
  const publicUrl = new URL(config.publicUrl);
  const { openid } = services;

  // The provider's own endpoints: the raw request goes to it, unread (no body parser runs here).
  await app.register(async (mount) => {
    mount.removeAllContentTypeParsers();
    mount.addContentTypeParser('*', (_request, _payload, done) => done(null, undefined));
    const handOver = async (request: FastifyRequest, reply: FastifyReply) => {
      reply.hijack();
      const res = reply.raw;
      res.setHeader('x-request-id', request.id);
      res.setHeader('x-content-type-options', 'nosniff');
      res.setHeader('referrer-policy', 'no-referrer');
      // The pages the provider renders set their own policy; what else it renders is the form_post
      // response mode's auto-submitting form, whose script's hash the provider adds to script-src and
      // whose target is a redirect URI the client registered.
      res.setHeader('content-security-policy', "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; form-action 'self' https: http:; frame-ancestors 'none'; base-uri 'none'");
      try {
        await openid.handle(asPublic(request, publicUrl), res);
      } catch (error) {
        request.log.error({ err: error }, 'the OpenID Provider failed');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'server_error' }));
      }
    };
    // Only the endpoints the provider serves are routed: anything else under /oidc is Gatehouse's 404.
    // OPTIONS: the provider answers CORS preflights of the endpoints a browser app calls.
    const endpoints: Array<[Array<'GET' | 'POST' | 'OPTIONS'>, string]> = [
      [['GET'], '/auth'],
      [['GET'], '/auth/:uid'],
      [['POST', 'OPTIONS'], '/token'],
      [['GET', 'POST', 'OPTIONS'], '/me'],
      [['GET', 'POST'], '/session/end'],
      [['POST'], '/session/end/confirm'],
      [['GET'], '/session/end/success'],
      [['POST', 'OPTIONS'], '/token/revocation'],
    ];
    for (const [method, path] of endpoints) {
      mount.route({ method, url: `${OIDC_PREFIX}${path}`, config: { auth: 'public' }, schema: { hide: true, querystring: Type.Object({}, { additionalProperties: true }) }, handler: handOver });
    }
    mount.get(
      '/.well-known/openid-configuration',
      {
        config: { auth: 'public' },
        schema: {
          operationId: 'openidConfiguration',
          tags: ['Tokens'],
          summary: 'The OpenID Provider’s discovery document (OpenID Connect Discovery 1.0)',
          description:
            'Where the authorization, token, userinfo, end-session and revocation endpoints are (all under `/oidc`), the key set, and what the provider supports: the authorization code flow with PKCE (S256), refresh tokens with `offline_access`, ID tokens signed RS256. Machine clients’ client-credentials endpoint is `/oauth/token` (see its operation), outside this document.',
          response: { 200: Type.Object({}, { additionalProperties: true, description: 'The discovery document' }) },
        },
      },
      handOver,
    );
  });

  // The hosted pages read URL-encoded forms; a passkey's answer, encoded twice (JSON, then the form), is the largest field.
  const { interactionOf, expired, checkForm, clientOf, finish, signedIn } = interactionForms(app, { services, config }, 16_384);

  const pageSchema = (operationId: string, summary: string) => ({
    operationId,
    tags: TAGS,
    summary,
    params: Uid,
    response: { 200: HtmlPage, 303: SeeOther },
  });

  app.get(`${INTERACTION_PREFIX}/:uid`, { config: { auth: 'public' }, schema: pageSchema('interactionPage', 'The page of a sign-in step: sign in, allow an application, or choose an organisation') }, async (request, reply) => {
    const details = await interactionOf(request, reply, request.params.uid);
    if (!details) return expired(reply);
    const client = await clientOf(details.params.client_id);
    const csrf = await openid.csrfToken(details.uid);
    const targets = formTargets(details.params.redirect_uri);
    if (details.prompt.name === 'login') {
      // login_hint (OpenID Connect Core §3.1.2.1) fills in the email the application already knows.
      const hint = typeof details.params.login_hint === 'string' ? details.params.login_hint.slice(0, 254) : undefined;
      return sendBrandedPage(reply, signInPage(config.brand, { uid: details.uid, csrf, clientName: client.name, email: hint, passwordMin: config.passwordMin }), config.brand, targets);
    }
    if (details.prompt.name === 'consent') {
      // A first-party application is Gatehouse's operator's own: nothing to ask.
      if (client.firstParty) return finish(request, reply, { consent: { grantId: await openid.grantConsent(details) } });
      const scopes = String(details.params.scope ?? '').split(' ').filter(Boolean);
      const userEmail = details.session?.accountId ? await openid.accountEmail(details.session.accountId) : null;
      return sendBrandedPage(reply, consentPage(config.brand, { uid: details.uid, csrf, clientName: client.name, scopes, userEmail }), config.brand, targets);
    }
    if (details.prompt.name === ORGANISATION_PROMPT) return organisationStep(request, reply, details);
    return expired(reply);
  });

  const formSchema = (operationId: string, summary: string, fields: Record<string, TSchema>) => ({
    operationId,
    tags: TAGS,
    summary,
    params: Uid,
    body: Type.Object({ csrf: Type.String({ maxLength: 200 }), ...fields }, { additionalProperties: true }),
    response: { 200: HtmlPage, 303: SeeOther, 403: ErrorBody },
  });

  type Details = NonNullable<Awaited<ReturnType<typeof interactionOf>>>;

  /** The sign-in page again, with what went wrong. */
  async function signInAgain(reply: FastifyReply, details: Details, message: string, email = '') {
    const client = await clientOf(details.params.client_id);
    const page = signInPage(config.brand, { uid: details.uid, csrf: await openid.csrfToken(details.uid), clientName: client.name, email, error: message, passwordMin: config.passwordMin });
    return sendBrandedPage(reply.code(200), page, config.brand, formTargets(details.params.redirect_uri));
  }

  async function secondStep(reply: FastifyReply, details: Details, attempt: { mfaToken: string; methods: readonly string[] }, error?: string) {
    const client = await clientOf(details.params.client_id);
    const page = secondFactorPage(config.brand, { uid: details.uid, csrf: await openid.csrfToken(details.uid), clientName: client.name, ...attempt, ...(error ? { error } : {}) });
    return sendBrandedPage(reply.code(200), page, config.brand, formTargets(details.params.redirect_uri));
  }

  app.post(
    `${INTERACTION_PREFIX}/:uid/login`,
    {
      config: { auth: 'public', throttled: true },
      schema: formSchema('interactionSignIn', 'Signs in with a password during a sign-in (a form post); an account with a second factor is asked for it next', {
        email: Type.String({ maxLength: 254 }),
        password: Type.String({ maxLength: 256 }),
      }),
    },
    async (request, reply) => {
      await checkForm(request, request.params.uid);
      const details = await interactionOf(request, reply, request.params.uid);
      if (!details || details.prompt.name !== 'login') return expired(reply);
      const email = formField(request.body, 'email') ?? '';
      try {
        const outcome = await services.accounts.signIn(principalOf(request), { email, password: formField(request.body, 'password') ?? '' });
        if ('mfaRequired' in outcome) return await secondStep(reply, details, outcome);
        return await signedIn(request, reply, outcome);
      } catch (error) {
        if (!(error instanceof AppError) || !['AUTHENTICATION_FAILED', 'EMAIL_NOT_VERIFIED', 'VALIDATION_FAILED'].includes(error.code)) throw error;
        return signInAgain(reply, details, error.code === 'EMAIL_NOT_VERIFIED' ? error.message : 'The email or password is not right.', email);
      }
    },
  );

  app.post(
    `${INTERACTION_PREFIX}/:uid/mfa`,
    {
      config: { auth: 'public', throttled: true },
      schema: formSchema('interactionSecondFactor', 'The second step of a sign-in (a form post): a code from the authenticator app, a recovery code, or a passkey’s answer', {
        mfaToken: Type.String({ minLength: 1, maxLength: 200 }),
        code: Type.Optional(Type.String({ maxLength: 64 })),
        method: Type.Optional(Type.Literal('webauthn')),
        response: Type.Optional(Type.String({ maxLength: PASSKEY_ANSWER_MAX })),
      }),
    },
    async (request, reply) => {
      await checkForm(request, request.params.uid);
      const details = await interactionOf(request, reply, request.params.uid);
      if (!details || details.prompt.name !== 'login') return expired(reply);
      const mfaToken = formField(request.body, 'mfaToken') ?? '';
      const proof = formField(request.body, 'method') === 'webauthn' ? { method: 'webauthn' as const, response: parsedJson(formField(request.body, 'response')) } : codeProof(formField(request.body, 'code') ?? '');
      try {
        return await signedIn(request, reply, await services.accounts.completeSignIn(principalOf(request), { mfaToken, ...proof }));
      } catch (error) {
        if (!(error instanceof AppError)) throw error;
        // A spent, expired or exhausted attempt: the password again, never the code alone.
        if (error.code === 'INVALID_MFA_TOKEN') return signInAgain(reply, details, 'This sign-in took too long or was already used. Sign in again.');
        if (!['INVALID_SECOND_FACTOR', 'VALIDATION_FAILED'].includes(error.code)) throw error;
        const attempt = await services.accounts.pendingSignIn(mfaToken);
        if (!attempt) return signInAgain(reply, details, 'Too many wrong codes. Sign in again.');
        return secondStep(reply, details, { mfaToken, methods: attempt.methods }, proof.method === 'webauthn' ? 'The passkey was not accepted.' : 'That code is not right.');
      }
    },
  );

  app.post(
    `${INTERACTION_PREFIX}/:uid/passkey`,
    {
      config: { auth: 'public', throttled: true },
      schema: formSchema('interactionPasskeySignIn', 'Signs in with a passkey alone during a sign-in (a form post the page’s script fills in)', { response: Type.String({ maxLength: PASSKEY_ANSWER_MAX }) }),
    },
    async (request, reply) => {
      await checkForm(request, request.params.uid);
      const details = await interactionOf(request, reply, request.params.uid);
      if (!details || details.prompt.name !== 'login') return expired(reply);
      try {
        return await signedIn(request, reply, await services.accounts.passkeySignIn(principalOf(request), parsedJson(formField(request.body, 'response'))));
      } catch (error) {
        if (!(error instanceof AppError) || !['AUTHENTICATION_FAILED', 'EMAIL_NOT_VERIFIED', 'VALIDATION_FAILED'].includes(error.code)) throw error;
        return signInAgain(reply, details, error.code === 'EMAIL_NOT_VERIFIED' ? error.message : 'The passkey was not accepted.');
      }
    },
  );

  app.get(SIGNIN_SCRIPT_URL, { config: { auth: 'public' }, schema: { hide: true } }, async (_request, reply) =>
    reply.header('cache-control', 'public, max-age=3600').type('text/javascript; charset=utf-8').send(SIGNIN_SCRIPT),
  );

  /**
   * The `organization` scope's step: the page lists the person's organisations, those whose rule asks
   * for a second factor this sign-in did not use shown as unavailable, with why. With one (that may be
   * chosen) there is nothing to ask. With none (every account starts with a personal one, but may
   * leave it), or none this sign-in may choose, the application is told the sign-in was refused
   * rather than handed tokens without an organisation.
   */
  async function organisationStep(request: FastifyRequest, reply: FastifyReply, details: Details, error?: { status: number; message: string }) {
    const organisations = await openid.choosableOrganisations({ accountId: details.session?.accountId ?? '', amr: details.session?.amr });
    const [only] = organisations;
    if (organisations.length === 0) return finish(request, reply, { error: 'access_denied', error_description: 'The person is a member of no organisation' });
    if (organisations.every((org) => org.unavailable)) {
      return finish(request, reply, { error: 'access_denied', error_description: 'Every organisation of the person requires a second factor, which this sign-in did not use: add one in the account security settings, then sign in again' });
    }
    if (organisations.length === 1 && only && !error) return finish(request, reply, { consent: { grantId: await openid.chooseOrganisation(details, only.id) }, organization: { id: only.id } });
    const client = await clientOf(details.params.client_id);
    const page = chooseOrganisationPage(config.brand, { uid: details.uid, csrf: await openid.csrfToken(details.uid), clientName: client.name, organisations, ...(error ? { error: error.message } : {}) });
    return sendBrandedPage(reply.code(error?.status ?? 200), page, config.brand, formTargets(details.params.redirect_uri));
  }

  app.post(
    `${INTERACTION_PREFIX}/:uid/organization`,
    {
      config: { auth: 'public' },
      schema: {
        ...formSchema('interactionChooseOrganisation', 'Chooses the organisation the application acts in (a form post): one the person is an active member of', { orgId: Type.String({ maxLength: 64 }) }),
        response: {
          200: HtmlPage,
          303: SeeOther,
          403: {
            description: 'A form from elsewhere (the API’s error), or an organisation whose rule asks for a second factor this sign-in did not use (the page again, saying so)',
            content: { 'application/json': { schema: ErrorBody }, 'text/html': { schema: Html } },
          },
          404: HtmlPage,
        },
      },
    },
    async (request, reply) => {
      await checkForm(request, request.params.uid);
      const details = await interactionOf(request, reply, request.params.uid);
      if (!details || details.prompt.name !== ORGANISATION_PROMPT) return expired(reply);
      const orgId = formField(request.body, 'orgId') ?? '';
      try {
        return await finish(request, reply, { consent: { grantId: await openid.chooseOrganisation(details, orgId) }, organization: { id: orgId } });
      } catch (error) {
        // Not one of theirs (a forged form, or a membership ended since the page was shown): the page again, nothing chosen.
        if (!(error instanceof AppError)) throw error;
        // Its rule asks for a second factor this sign-in did not use (a forced form: the page shows it as unavailable).
        if (error.code === 'ORG_REQUIRES_MFA' || error.code === 'PLATFORM_REQUIRES_MFA') {
          return organisationStep(request, reply, details, { status: 403, message: `That organisation ${NEEDS_SECOND_FACTOR}, then sign in again. Choose another.` });
        }
        if (error.code !== 'ORGANISATION_NOT_FOUND') throw error;
        return organisationStep(request, reply, details, { status: 404, message: 'That is not one of your organisations. Choose one of these.' });
      }
    },
  );

  app.post(`${INTERACTION_PREFIX}/:uid/consent`, { config: { auth: 'public' }, schema: formSchema('interactionConsent', 'Allows the application what it asked for (a form post)', {}) }, async (request, reply) => {
    await checkForm(request, request.params.uid);
    const details = await interactionOf(request, reply, request.params.uid);
    if (!details || details.prompt.name !== 'consent') return expired(reply);
    return finish(request, reply, { consent: { grantId: await openid.grantConsent(details) } });
  });

  app.post(`${INTERACTION_PREFIX}/:uid/abort`, { config: { auth: 'public' }, schema: formSchema('interactionAbort', 'Cancels the sign-in or denies the application (a form post)', {}) }, async (request, reply) => {
    await checkForm(request, request.params.uid);
    const details = await interactionOf(request, reply, request.params.uid);
    if (!details) return expired(reply);
    return finish(request, reply, { error: 'access_denied', error_description: 'The person cancelled the sign-in' });
  });
};
