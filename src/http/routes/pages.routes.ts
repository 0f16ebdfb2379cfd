// The pages behind the links in mails. A link's token is checked when the page opens, so an expired
// or used link says so at once instead of offering a form that cannot work.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyReply } from 'fastify';
import Type from 'typebox';
import type { Config } from '../../config/config.js';
import type { Services } from '../../domain/services.js';
import { escapeHtml, outcome, page, PAGE_CSP, PAGES_CSS } from '../../pages/layout.js';
import { PAGES_SCRIPT } from '../../pages/pages-script.js';

const TokenQuery = Type.Object({ token: Type.Optional(Type.String({ maxLength: 200 })) });
const Html = Type.String({ description: 'An HTML page' });
const DEAD_LINK = 'This link is invalid, has expired or was already used.';

function sendPage(reply: FastifyReply, html: string) {
  return reply.header('content-security-policy', PAGE_CSP).header('x-frame-options', 'DENY').header('referrer-policy', 'no-referrer').type('text/html; charset=utf-8').send(html);
}

export const pagesRoutes: FastifyPluginAsyncTypebox<{ services: Services; config: Config }> = async (app, { services, config }) => {
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
      return sendPage(reply, page('Reset your password', `${outcome('error', DEAD_LINK)}<p>Ask for a new link where you sign in.</p>`));
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

  app.get('/verify-email', { config: { auth: 'public' }, schema: pageSchema('verifyEmailPage', 'The page of an email verification link') }, async (request, reply) => {
    const token = request.query.token ?? '';
    if (!(await services.recovery.linkIsLive(token, 'email_verification'))) return sendPage(reply, page('Confirm your email', outcome('error', DEAD_LINK)));
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
<button type="submit">Sign in and accept</button>
</form>`
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
  app.get('/assets/pages.css', { config: { auth: 'public' }, schema: { hide: true } }, async (_request, reply) =>
    reply.header('cache-control', 'public, max-age=3600').type('text/css; charset=utf-8').send(PAGES_CSS),
  );
};
