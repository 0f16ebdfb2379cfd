// The hosted security page: sign in (with a second step, or a passkey alone), then set up an
// authenticator app, see and renew recovery codes, and add or remove passkeys. Server-rendered, one
// script and one stylesheet from this origin, under the pages' Content-Security-Policy.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { Config } from '../../config/config.ts';
import Type from 'typebox';
import { page, pageCsp } from '../../pages/layout.ts';
import { ACCOUNT_SCRIPT } from '../../pages/account-script.ts';

const SECOND_STEP = `
<section id="second-step" hidden aria-labelledby="second-step-title">
<h2 id="second-step-title">Second factor</h2>
<form id="code-form">
<label for="code">Code from your authenticator app, or a recovery code</label>
<input id="code" name="code" autocomplete="one-time-code" required maxlength="32" spellcheck="false" autocapitalize="off">
<button type="submit">Continue</button>
</form>
<button id="second-passkey" type="button" class="secondary">Use a passkey</button>
</section>`;

const SECURITY_PAGE = `
<section id="signin" aria-labelledby="signin-title">
<h2 id="signin-title">Sign in</h2>
<form id="signin-form">
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="username webauthn" required maxlength="254">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required maxlength="256">
<button type="submit">Sign in</button>
</form>
<button id="passkey-signin" type="button" class="secondary">Sign in with a passkey</button>
</section>
${SECOND_STEP}
<section id="panel" hidden aria-labelledby="panel-title">
<h2 id="panel-title">Authenticator app</h2>
<p id="totp-state"></p>
<button id="totp-start" type="button">Set up an authenticator app</button>
<div id="totp-enrol" hidden>
<p>Scan this QR code with your authenticator app, then enter the code it shows.</p>
<div id="qr" class="qr"></div>
<p class="hint">Or enter this key by hand: <code id="totp-secret"></code></p>
<form id="totp-confirm">
<label for="totp-code">Code from the app</label>
<input id="totp-code" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9 ]*" required maxlength="8">
<button type="submit">Turn it on</button>
</form>
</div>
<button id="totp-off" type="button" class="secondary" hidden>Turn the authenticator app off</button>
<h2>Recovery codes</h2>
<p id="codes-left"></p>
<p id="codes-hint" class="hint" hidden>Each code works once. Keep them somewhere safe: they are not shown again.</p>
<ol id="codes" class="codes" hidden></ol>
<button id="codes-new" type="button" class="secondary">Make new recovery codes</button>
<h2>Passkeys</h2>
<ul id="passkeys" class="passkeys"></ul>
<form id="passkey-add">
<label for="passkey-name">Name of the new passkey (optional)</label>
<input id="passkey-name" name="name" maxlength="100">
<button type="submit">Add a passkey</button>
</form>
<button id="signout" type="button" class="secondary">Sign out</button>
</section>
<p id="status" role="status" hidden></p>`;

export const accountPagesRoutes: FastifyPluginAsyncTypebox<{ config: Config }> = async (app, { config }) => {
  app.get(
    '/account/security',
    {
      config: { auth: 'public' },
      schema: {
        operationId: 'securityPage',
        tags: ['Pages'],
        summary: 'The hosted page for second factors: authenticator app, recovery codes, passkeys',
        response: { 200: { description: 'An HTML page', content: { 'text/html': { schema: Type.String() } } } },
      },
    },
    async (_request, reply) =>
      reply
        .header('content-security-policy', pageCsp(config.brand))
        .header('x-frame-options', 'DENY')
        .header('referrer-policy', 'no-referrer')
        .type('text/html; charset=utf-8')
        .send(page('Sign-in security', SECURITY_PAGE, config.brand, { script: '/assets/account.js' })),
  );

  app.get('/assets/account.js', { config: { auth: 'public' }, schema: { hide: true } }, async (_request, reply) =>
    reply.header('cache-control', 'public, max-age=3600').type('text/javascript; charset=utf-8').send(ACCOUNT_SCRIPT),
  );
};

export { SECOND_STEP };
