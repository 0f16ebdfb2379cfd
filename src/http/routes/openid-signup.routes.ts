// The hosted pages reached from the sign-in page of an OpenID sign-in: create an account (then go on
// with the sign-in, signed in), and ask for a password reset link. Registration's and the API's
// forgot-password rules, as pages: the service decides, these routes only read forms and render.
//
// Every form is bound to its interaction: the interaction's own cookie (SameSite=Lax, path-bound) and
// an anti-forgery token derived from it; a post another site makes from its visitors' browsers is
// refused before anything is read or written (it would create accounts or spread mail).
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import Type, { type TSchema } from 'typebox';
import type { Config } from '../../config/config.ts';
import { MAX_PASSWORD_LENGTH } from '../../domain/accounts/passwords.ts';
import { ValidationError } from '../../domain/errors.ts';
import { describeLifetime, PASSWORD_RESET_TTL_SECONDS } from '../../domain/lifetimes.ts';
import { INTERACTION_PREFIX } from '../../domain/oidc/openid-provider.ts';
import type { Services } from '../../domain/services.ts';
import { confirmEmailPage, forgotPasswordPage, resetLinkSentPage, signUpPage, type FieldErrors } from '../../pages/openid-signup-pages.ts';
import { principalOf } from '../auth.ts';
import { ErrorBody, ValidationErrorBody } from '../schemas.ts';
import { toFieldErrors, validatorCompiler } from '../validation.ts';
import { Email, Name } from './fields.ts';
import { formField, formTargets, Html, HtmlPage, interactionForms, SeeOther, TAGS, Uid } from './interaction-forms.ts';
import { sendBrandedPage } from './pages.routes.ts';

const Refused = {
  description: 'The page again, with the error of each wrong field next to it (HTML); a post without its anti-forgery token is the JSON validation error',
  content: { 'text/html': { schema: Html }, 'application/json': { schema: ValidationErrorBody } },
};
const RESET_LINK_SENT = `If an account exists for this email, a reset link is on its way. It works for ${describeLifetime(PASSWORD_RESET_TTL_SECONDS)}.`;

/** Checks a form's fields with the API's own schemas and words: what a field's error says, by field. */
function formChecker(fields: Record<string, TSchema>) {
  const schema = Type.Object(fields);
  const validate = validatorCompiler({ schema, httpPart: 'body', method: 'POST', url: '' }) as ((data: unknown) => boolean) & { errors: Parameters<typeof toFieldErrors>[0] | null };
  return (values: Record<string, string>): FieldErrors => {
    if (validate(values)) return {};
    return Object.fromEntries(toFieldErrors(validate.errors ?? [], { body: schema }, 'body').map(({ field, message }) => [field, message]));
  };
}

const fieldErrorsOf = (error: ValidationError): FieldErrors => Object.fromEntries(error.errors.map(({ field, message }) => [field, message]));

export const openidSignUpRoutes: FastifyPluginAsyncTypebox<{ services: Services; config: Config }> = async (app, { services, config }) => {
  const { openid } = services;
  const checkSignUp = formChecker({
    firstName: Name,
    lastName: Name,
    email: Email,
    password: Type.String({ minLength: config.passwordMin, maxLength: MAX_PASSWORD_LENGTH }),
  });
  const checkEmail = formChecker({ email: Email });

  // The pages read URL-encoded forms (only the routes of this file).
  const { interactionOf, expired, checkForm, clientOf, signedIn } = interactionForms(app, { services, config }, 4096);

  /** The interaction the browser's cookie names, still at its sign-in step; otherwise null. */
  async function signInStep(request: FastifyRequest, reply: FastifyReply, uid: string) {
    const details = await interactionOf(request, reply, uid);
    return details?.prompt.name === 'login' ? details : null;
  }

  const pageSchema = (operationId: string, summary: string) => ({ operationId, tags: TAGS, summary, params: Uid, response: { 200: HtmlPage } });
  const formSchema = (operationId: string, summary: string, description: string, fields: Record<string, TSchema>) => ({
    operationId,
    tags: TAGS,
    summary,
    description,
    params: Uid,
    // The fields are checked by the route, so that a wrong one comes back as the page with its error.
    body: Type.Object({ csrf: Type.String({ maxLength: 200 }), ...fields }, { additionalProperties: true }),
    response: { 200: HtmlPage, 303: SeeOther, 403: ErrorBody, 422: Refused },
  });
  const Text = (maxLength: number) => Type.Optional(Type.String({ maxLength }));

  app.get(`${INTERACTION_PREFIX}/:uid/signup`, { config: { auth: 'public' }, schema: pageSchema('interactionSignUpPage', 'The page that creates an account during a sign-in') }, async (request, reply) => {
    const details = await signInStep(request, reply, request.params.uid);
    if (!details) return expired(reply);
    const page = signUpPage(config.brand, { uid: details.uid, csrf: await openid.csrfToken(details.uid), clientName: (await clientOf(details.params.client_id)).name, passwordMin: config.passwordMin });
    return sendBrandedPage(reply, page, config.brand, formTargets(details.params.redirect_uri));
  });

  app.post(
    `${INTERACTION_PREFIX}/:uid/signup`,
    {
      config: { auth: 'public', throttled: true },
      schema: formSchema(
        'interactionSignUp',
        'Creates an account during a sign-in (a form post)',
        'What `POST /auth/register` does (password policy, personal organisation, verification mail), then the sign-in goes on signed in. With GATEHOUSE_REQUIRE_VERIFIED_EMAIL the answer is a "check your email" page, the same for an address that has an account already.',
        { firstName: Text(100), lastName: Text(100), email: Text(254), password: Text(MAX_PASSWORD_LENGTH) },
      ),
    },
    async (request, reply) => {
      await checkForm(request, request.params.uid);
      const details = await signInStep(request, reply, request.params.uid);
      if (!details) return expired(reply);
      const input = {
        firstName: formField(request.body, 'firstName') ?? '',
        lastName: formField(request.body, 'lastName') ?? '',
        email: formField(request.body, 'email')?.trim() ?? '',
        password: formField(request.body, 'password') ?? '',
      };
      const again = async (errors: FieldErrors) => {
        const page = signUpPage(config.brand, { uid: details.uid, csrf: await openid.csrfToken(details.uid), clientName: (await clientOf(details.params.client_id)).name, passwordMin: config.passwordMin, values: input, errors });
        return sendBrandedPage(reply.code(422), page, config.brand, formTargets(details.params.redirect_uri));
      };
      const errors = checkSignUp(input);
      if (Object.keys(errors).length > 0) return again(errors);
      let outcome;
      try {
        outcome = await services.signUp.signUp(principalOf(request), input);
      } catch (error) {
        if (error instanceof ValidationError) return again(fieldErrorsOf(error));
        throw error;
      }
      if ('confirmEmail' in outcome) return sendBrandedPage(reply, confirmEmailPage(config.brand, { uid: details.uid, email: input.email }), config.brand);
      return signedIn(request, reply, outcome.signedIn);
    },
  );

  app.get(`${INTERACTION_PREFIX}/:uid/forgot-password`, { config: { auth: 'public' }, schema: pageSchema('interactionForgotPasswordPage', 'The page that asks for a password reset link during a sign-in') }, async (request, reply) => {
    const details = await signInStep(request, reply, request.params.uid);
    if (!details) return expired(reply);
    return sendBrandedPage(reply, forgotPasswordPage(config.brand, { uid: details.uid, csrf: await openid.csrfToken(details.uid) }), config.brand);
  });

  app.post(
    `${INTERACTION_PREFIX}/:uid/forgot-password`,
    {
      config: { auth: 'public', throttled: true },
      schema: formSchema(
        'interactionForgotPassword',
        'Mails a password reset link during a sign-in (a form post)',
        'What `POST /auth/password/forgot` does: the same answer whether or not the account exists; the link opens `/reset-password`.',
        { email: Text(254) },
      ),
    },
    async (request, reply) => {
      await checkForm(request, request.params.uid);
      const details = await signInStep(request, reply, request.params.uid);
      if (!details) return expired(reply);
      const email = formField(request.body, 'email')?.trim() ?? '';
      const errors = checkEmail({ email });
      if (Object.keys(errors).length > 0) {
        return sendBrandedPage(reply.code(422), forgotPasswordPage(config.brand, { uid: details.uid, csrf: await openid.csrfToken(details.uid), email, errors }), config.brand);
      }
      await services.recovery.forgotPassword(principalOf(request), { email, onError: (error) => request.log.error({ err: error }, 'password reset request failed') });
      return sendBrandedPage(reply, resetLinkSentPage(config.brand, { uid: details.uid, message: RESET_LINK_SENT }), config.brand);
    },
  );
};
