// The pages behind the links in mails. A link's token is checked when the page opens, so an expired
// or used link says so at once instead of offering a form that cannot work, and says what to do next.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import Type from 'typebox';
import type { Config } from '../../config/config.ts';
import { AppError } from '../../domain/errors.ts';
import { describeLifetime, PASSWORD_RESET_TTL_SECONDS } from '../../domain/lifetimes.ts';
import type { Services } from '../../domain/services.ts';
import { brandCss, escapeHtml, outcome, page as basePage, pageCsp, PAGES_CSS } from '../../pages/layout.ts';
import { PAGES_SCRIPT } from '../../pages/pages-script.ts';
import { principalOf } from '../auth.ts';
import { ErrorBody } from '../schemas.ts';
import { Email } from './fields.ts';

// A mailed link may come back with parameters a mail client or a tracker added (utm_source, …): a
// person opening it gets the page, not a JSON refusal, so the pages let unknown parameters through.
const TokenQuery = Type.Object({ token: Type.Optional(Type.String({ maxLength: 200 })) }, { additionalProperties: true });
const Html = Type.String({ description: 'An HTML page' });
const DEAD_LINK = 'This link is invalid, has expired or was already used.';
const NEW_RESET_LINK_SENT = `If an account exists for this email, a new reset link is on its way. It works for ${describeLifetime(PASSWORD_RESET_TTL_SECONDS)}.`;

/**
 * Asks for a new reset link. With JavaScript the page's script posts the email to the API's
 * /auth/password/forgot; without it the browser posts the form here, to the same service.
 */
const NEW_RESET_LINK_FORM = `
<p>Enter the email address of your account to get a new link.</p>
<form method="post" action="/reset-password/new-link" data-action="/auth/password/forgot" data-success="${escapeHtml(NEW_RESET_LINK_SENT)}">
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="email" required maxlength="254">
<button type="submit">Send me a new link</button>
</form>
<p id="status" hidden></p>`;

const NEW_VERIFICATION_LINK = `
<p>If you have confirmed your email address already, there is nothing left to do.</p>
<p>Otherwise, sign in to the application where you use this account and ask it to send a new confirmation mail. Its link replaces this one.</p>`;

/** Sends a page with its policy; `formTargets` are origins its forms' answers may redirect to. */
export function sendBrandedPage(reply: FastifyReply, html: string, brand?: Config['brand'], formTargets: readonly string[] = []) {
  return reply.header('content-security-policy', pageCsp(brand, formTargets)).header('x-frame-options', 'DENY').header('referrer-policy', 'no-referrer').type('text/html; charset=utf-8').send(html);
}

export const pagesRoutes: FastifyPluginAsyncTypebox<{ services: Services; config: Config }> = async (app, { services, config }) => {
  // The pages behind mailed links wear the brand of the hosted sign-in pages.
  const page = (title: string, body: string) => basePage(title, body, config.brand);
  const sendPage = (reply: FastifyReply, html: string) => sendBrandedPage(reply, html, config.brand);
  // A form posted without JavaScript arrives URL-encoded; only the routes of this file read it.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4096 }, (_request, body, done) => {
    done(null, Object.fromEntries(new URLSearchParams(body as string)));
  });

  const pageSchema = (operationId: string, summary: string) => ({
    operationId,
    tags: ['Pages'],
    summary,
    querystring: TokenQuery,
    // The page is HTML; its errors (a malformed query, an outage) are JSON like every other answer.
    response: { 200: { description: 'An HTML page', content: { 'text/html': { schema: Html } } } },
  });

  app.get('/reset-password', { config: { auth: 'public' }, schema: pageSchema('resetPasswordPage', 'The page of a password reset link') }, async (request, reply) => {
    const token = request.query.token ?? '';
    if (!(await services.recovery.linkIsLive(token, 'password_reset'))) {
      return sendPage(reply, page('Reset your password', `${outcome('error', DEAD_LINK)}${NEW_RESET_LINK_FORM}`));
    }
    const form = `
<form data-action="/auth/password/reset" data-confirm="password" data-success="Your password was changed. Every session was signed out: sign in again with the new password.">
<input type="hidden" name="token" value="${escapeHtml(token)}">
<label for="password">New password</label>
<input id="password" name="password" type="password" autocomplete="new-password" required minlength="${config.passwordMin}" maxlength="256">
<label for="confirm">Repeat it</label>
<input id="confirm" name="confirm" type="password" autocomplete="new-password" required>
<button type="submit">Change my password</button>
</form>
<p id="status" hidden></p>`;
    return sendPage(reply, page('Reset your password', form));
  });

  app.post(
    '/reset-password/new-link',
    {
      config: { auth: 'public', throttled: true },
      schema: {
        operationId: 'requestResetLinkPage',
        tags: ['Pages'],
        summary: 'The form of a dead reset link, posted without JavaScript: mails a new link',
        description: 'What `POST /auth/password/forgot` does, for a browser form (URL-encoded): the same answer whether or not the account exists, as a page.',
        body: Type.Object({ email: Email }),
        response: { 200: { description: 'An HTML page', content: { 'text/html': { schema: Html } } }, 403: ErrorBody },
      },
    },
    async (request, reply) => {
      // A form any site could post from its visitors' browsers would spread mail over their addresses.
      if (request.headers['sec-fetch-site'] === 'cross-site' || request.headers['sec-fetch-site'] === 'same-site') throw new AppError('FORBIDDEN');
      await services.recovery.forgotPassword(principalOf(request), { email: request.body.email, onError: (error) => request.log.error({ err: error }, 'password reset request failed') });
      return sendPage(reply, page('Reset your password', outcome('ok', NEW_RESET_LINK_SENT)));
    },
  );

  app.get('/verify-email', { config: { auth: 'public' }, schema: pageSchema('verifyEmailPage', 'The page of an email verification link') }, async (request, reply) => {
    const token = request.query.token ?? '';
    if (!(await services.recovery.linkIsLive(token, 'email_verification'))) return sendPage(reply, page('Confirm your email', `${outcome('error', DEAD_LINK)}${NEW_VERIFICATION_LINK}`));
    // A button rather than confirming on open: mail scanners that fetch links must not use them up.
    const form = `
<p>Confirm that this email address is yours.</p>
<form data-action="/auth/email/verify" data-success="Thank you: your email address is confirmed.">
<input type="hidden" name="token" value="${escapeHtml(token)}">
<button type="submit">Confirm my email</button>
</form>
<p id="status" hidden></p>`;
    return sendPage(reply, page('Confirm your email', form));
  });

  app.get('/accept-invite', { config: { auth: 'public' }, schema: pageSchema('acceptInvitePage', 'The page of an invitation link') }, async (request, reply) => {
    const token = request.query.token ?? '';
    const invitation = await services.invitations.describe(token);
    const title = 'Join an organisation';
    if (!invitation) return sendPage(reply, page(title, outcome('error', DEAD_LINK)));
    const what = `<p>${escapeHtml(invitation.inviter || 'Someone')} invites you to join <strong>${escapeHtml(invitation.organisation)}</strong> as <strong>${escapeHtml(invitation.role)}</strong>.</p>`;
    if (invitation.status !== 'pending') {
      const why = { accepted: 'This invitation was accepted already.', revoked: 'This invitation was withdrawn.', expired: 'This invitation has expired: ask for a new one.' }[invitation.status];
      return sendPage(reply, page(title, `${what}${outcome('error', why)}`));
    }
    const hidden = `<input type="hidden" name="token" value="${escapeHtml(token)}">`;
    const form = invitation.hasAccount
      ? `<form data-action="/auth/login" data-then="/api/invitations/accept" data-success="Welcome: you are now a member of ${escapeHtml(invitation.organisation)}.">
${hidden}
<label for="email">Email</label>
<input id="email" name="email" type="email" value="${escapeHtml(invitation.email)}" readonly>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required maxlength="256">
<p class="hint">Your account’s email address must be confirmed before you can accept: if it is not yet, follow the link in the confirmation mail first.</p>
<button type="submit">Sign in and accept</button>
</form>
<section id="mfa-step" hidden aria-labelledby="mfa-step-hint">
<p id="mfa-step-hint" class="hint">Your account has a second factor: use it to finish signing in.</p>
<form id="mfa-code-form">
<label for="mfa-code">Code from your authenticator app, or a recovery code</label>
<input id="mfa-code" name="code" autocomplete="one-time-code" required maxlength="32" spellcheck="false" autocapitalize="off">
<button type="submit">Continue and accept</button>
</form>
<button id="mfa-passkey" type="button" class="secondary" hidden>Use a passkey and accept</button>
</section>`
      : `<form data-action="/auth/register" data-confirm="password" data-success="Welcome: your account is ready and you are a member of ${escapeHtml(invitation.organisation)}.">
<input type="hidden" name="inviteToken" value="${escapeHtml(token)}">
<label for="email">Email</label>
<input id="email" name="email" type="email" value="${escapeHtml(invitation.email)}" readonly>
<label for="firstName">First name</label>
<input id="firstName" name="firstName" autocomplete="given-name" required maxlength="100">
<label for="lastName">Last name</label>
<input id="lastName" name="lastName" autocomplete="family-name" required maxlength="100">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="new-password" required minlength="${config.passwordMin}" maxlength="256">
<label for="confirm">Repeat it</label>
<input id="confirm" name="confirm" type="password" autocomplete="new-password" required>
<button type="submit">Create my account and join</button>
</form>`;
    return sendPage(reply, page(title, `${what}${form}<p id="status" hidden></p>`));
  });

  app.get('/assets/pages.js', { config: { auth: 'public' }, schema: { hide: true } }, async (_request, reply) =>
    reply.header('cache-control', 'public, max-age=3600').type('text/javascript; charset=utf-8').send(PAGES_SCRIPT),
  );
  const brandStylesheet = brandCss(config.brand);
  app.get('/assets/brand.css', { config: { auth: 'public' }, schema: { hide: true } }, async (_request, reply) =>
    reply.header('cache-control', 'public, max-age=300').type('text/css; charset=utf-8').send(brandStylesheet),
  );
  app.get('/assets/pages.css', { config: { auth: 'public' }, schema: { hide: true } }, async (_request, reply) =>
    reply.header('cache-control', 'public, max-age=3600').type('text/css; charset=utf-8').send(PAGES_CSS),
  );
};
