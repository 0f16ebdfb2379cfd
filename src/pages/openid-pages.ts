// The hosted pages of a sign-in through Gatehouse's OpenID Provider: sign in, consent, errors and the
// logout confirmation. Plain forms that post without JavaScript, every field labelled, in the order
// a keyboard reaches them; every value escaped. Each form carries an anti-forgery token bound to its
// interaction (the interaction's own cookie is SameSite=Lax and path-bound as well).
import { escapeHtml, outcome, page, pageCsp, type PageBrand } from './layout.ts';
import { signInLinks } from './openid-signup-pages.ts';

/** The sign-in pages' script (./signin-script.ts): passkeys, where the browser has WebAuthn. */
export const SIGNIN_SCRIPT_URL = '/assets/signin.js';

export interface SignInForm {
  uid: string;
  csrf: string;
  clientName: string;
  email?: string;
  error?: string;
  passwordMin: number;
}

const cancelForm = (uid: string, csrf: string) => `<form method="post" action="/interaction/${escapeHtml(uid)}/abort">
${hidden('csrf', csrf)}
<button type="submit" class="secondary">Cancel</button>
</form>`;

/**
 * A passkey's form: hidden until the sign-in script finds WebAuthn in the browser; the script asks
 * `optionsUrl` for the ceremony, puts the authenticator's answer in `response` and submits it.
 */
const passkeyForm = (action: string, optionsUrl: string, fields: Record<string, string>, label: string, primary = false) => `<form method="post" action="${escapeHtml(action)}" data-passkey="${escapeHtml(optionsUrl)}" hidden>
${Object.entries(fields)
  .map(([name, value]) => hidden(name, value))
  .join('\n')}
${hidden('response', '')}
<button type="submit"${primary ? '' : ' class="secondary"'}>${escapeHtml(label)}</button>
</form>`;

const hidden = (name: string, value: string) => `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`;

export const signInPage = (brand: PageBrand, form: SignInForm) =>
  page(
    'Sign in',
    `<p>to continue to <strong>${escapeHtml(form.clientName)}</strong></p>
${form.error ? outcome('error', form.error) : ''}
<form method="post" action="/interaction/${escapeHtml(form.uid)}/login">
${hidden('csrf', form.csrf)}
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="username" required maxlength="254" value="${escapeHtml(form.email ?? '')}"${form.error ? '' : ' autofocus'}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required maxlength="256"${form.error ? ' autofocus' : ''}>
<button type="submit">Sign in</button>
</form>
${passkeyForm(`/interaction/${form.uid}/passkey`, '/auth/passkey/options', { csrf: form.csrf }, 'Sign in with a passkey')}
${signInLinks(form.uid)}
${cancelForm(form.uid, form.csrf)}`,
    brand,
    { script: SIGNIN_SCRIPT_URL },
  );

export interface SecondFactorForm {
  uid: string;
  csrf: string;
  clientName: string;
  /** The sign-in attempt waiting for its second step (the API's `mfaToken`). */
  mfaToken: string;
  methods: readonly string[];
  error?: string;
}

/** The second step: a code (authenticator app or recovery code) without JavaScript, or a passkey with it. */
export const secondFactorPage = (brand: PageBrand, form: SecondFactorForm) => {
  const codes = form.methods.includes('totp') || form.methods.includes('recovery_code');
  const passkey = form.methods.includes('webauthn');
  const action = `/interaction/${form.uid}/mfa`;
  return page(
    'Second step',
    `<p>to continue to <strong>${escapeHtml(form.clientName)}</strong></p>
${form.error ? outcome('error', form.error) : ''}
${
  codes
    ? `<form method="post" action="${escapeHtml(action)}">
${hidden('csrf', form.csrf)}
${hidden('mfaToken', form.mfaToken)}
<label for="code">Code from your authenticator app, or a recovery code</label>
<input id="code" name="code" type="text" inputmode="text" autocomplete="one-time-code" autocapitalize="off" spellcheck="false" required maxlength="64" autofocus aria-describedby="code-hint">
<p class="hint" id="code-hint">Six digits from the app, or one of the recovery codes you saved.</p>
<button type="submit">Continue</button>
</form>`
    : ''
}
${!codes ? '<p>Use your passkey to finish signing in.</p>' : ''}
${passkey ? passkeyForm(action, '/auth/mfa/webauthn/options', { csrf: form.csrf, mfaToken: form.mfaToken, method: 'webauthn' }, 'Use a passkey', !codes) : ''}
${passkey && !codes ? '<noscript><p class="hint">This account’s second step is a passkey, which needs JavaScript in this browser.</p></noscript>' : ''}
${cancelForm(form.uid, form.csrf)}`,
    brand,
    { script: SIGNIN_SCRIPT_URL },
  );
};

export interface OrganisationForm {
  uid: string;
  csrf: string;
  clientName: string;
  /** `unavailable`: why this sign-in may not choose it (shown, not selectable). */
  organisations: ReadonlyArray<{ id: string; name: string; role: string; unavailable?: string }>;
  error?: string;
}

/** The first organisation that may be chosen is selected (and focused); the unavailable ones say why, disabled. */
const organisationChoice = (org: OrganisationForm['organisations'][number], index: number, first: boolean) => {
  const note = org.unavailable ? `<span class="hint" id="org-${index}-why">${escapeHtml(org.unavailable)}</span>` : '';
  const attributes = org.unavailable ? ` disabled aria-describedby="org-${index}-why"` : first ? ' checked autofocus' : '';
  return `<div class="choice${org.unavailable ? ' unavailable' : ''}"><input type="radio" id="org-${index}" name="orgId" value="${escapeHtml(org.id)}"${attributes}>
<label for="org-${index}">${escapeHtml(org.name)} <span class="hint">${escapeHtml(org.role)}</span>${note ? `<br>${note}` : ''}</label></div>`;
};

/** The `organization` scope's step: one radio button per organisation, in a fieldset its legend names. */
export const chooseOrganisationPage = (brand: PageBrand, form: OrganisationForm) =>
  page(
    'Choose an organisation',
    `<p>to continue to <strong>${escapeHtml(form.clientName)}</strong></p>
${form.error ? outcome('error', form.error) : ''}
<form method="post" action="/interaction/${escapeHtml(form.uid)}/organization">
${hidden('csrf', form.csrf)}
<fieldset class="choices">
<legend>Which organisation should ${escapeHtml(form.clientName)} use?</legend>
${form.organisations.map((org, index) => organisationChoice(org, index, index === form.organisations.findIndex((one) => !one.unavailable))).join('\n')}
</fieldset>
<button type="submit">Continue</button>
</form>
${cancelForm(form.uid, form.csrf)}`,
    brand,
  );

const SCOPE_TEXT: Record<string, string> = {
  openid: 'Know who you are',
  profile: 'See your name',
  email: 'See your email address',
  offline_access: 'Stay signed in when you are away',
  organization: 'Know which of your organisations you use it with, and your role there',
};

export const consentPage = (brand: PageBrand, form: { uid: string; csrf: string; clientName: string; scopes: readonly string[]; userEmail: string | null }) =>
  page(
    'Allow access',
    `<p><strong>${escapeHtml(form.clientName)}</strong> asks to:</p>
<ul class="scopes">${form.scopes.map((scope) => `<li>${escapeHtml(SCOPE_TEXT[scope] ?? scope)}</li>`).join('')}</ul>
${form.userEmail ? `<p class="hint">Signed in as ${escapeHtml(form.userEmail)}</p>` : ''}
<form method="post" action="/interaction/${escapeHtml(form.uid)}/consent">
${hidden('csrf', form.csrf)}
<button type="submit">Allow</button>
</form>
<form method="post" action="/interaction/${escapeHtml(form.uid)}/abort">
${hidden('csrf', form.csrf)}
<button type="submit" class="secondary">Deny</button>
</form>`,
    brand,
  );

/** What a person reads when a sign-in cannot go on: never the provider's internals. */
const ERROR_TEXT: Record<string, string> = {
  invalid_request: 'The application sent a sign-in request that Gatehouse cannot accept.',
  invalid_client: 'The application is not registered here.',
  invalid_redirect_uri: 'The application asked to return to an address it has not registered.',
  unauthorized_client: 'The application may not sign you in this way.',
  access_denied: 'The sign-in was cancelled.',
  server_error: 'Something went wrong on our side. Try again in a moment.',
};

export const providerErrorPage = (brand: PageBrand, details: { error: string; description: string | undefined }) =>
  page(
    'Sign-in problem',
    `${outcome('error', ERROR_TEXT[details.error] ?? 'This sign-in cannot go on: it may have expired or been used already. Go back to the application and start again.')}
${details.description && details.error !== 'server_error' ? `<p class="hint">${escapeHtml(details.error)}: ${escapeHtml(details.description)}</p>` : ''}`,
    brand,
  );

/** `form` is the provider's own hidden form (its id and anti-forgery field); the buttons submit it. */
export const logoutPage = (brand: PageBrand, details: { form: string; clientName: string | null }) =>
  page(
    'Sign out',
    `<p>Sign out of ${escapeHtml(brand.name)}${details.clientName ? ` and ${escapeHtml(details.clientName)}` : ''}?</p>
${details.form}
<button type="submit" form="op.logoutForm" name="logout" value="yes">Sign out</button>
<button type="submit" form="op.logoutForm" class="secondary">Stay signed in</button>`,
    brand,
  );

export const loggedOutPage = (brand: PageBrand, details: { clientName: string | null }) =>
  page('Signed out', outcome('ok', `You are signed out${details.clientName ? ` of ${details.clientName}` : ''}.`), brand);

/** The pages the provider renders itself, in Gatehouse's look. */
export const providerPages = (brand: PageBrand) => ({
  error: (details: { error: string; description: string | undefined }) => providerErrorPage(brand, details),
  logout: (details: { form: string; clientName: string | null }) => logoutPage(brand, details),
  loggedOut: (details: { clientName: string | null }) => loggedOutPage(brand, details),
  csp: (formTargets: readonly string[]) => pageCsp(brand, formTargets),
});
