// The hosted pages that start from the sign-in page of an OpenID sign-in: create an account, and ask
// for a password reset link. Plain forms that post without JavaScript, every field labelled, an
// error next to the field it is about (and tied to it for screen readers), every value escaped; each
// form carries the anti-forgery token of its interaction, as the sign-in page's do.
import { escapeHtml, outcome, page, type PageBrand } from './layout.ts';

const hidden = (name: string, value: string) => `<input type="hidden" name="${name}" value="${escapeHtml(value)}">`;

/** What a field's error says, by field name. */
export type FieldErrors = Partial<Record<string, string>>;

interface Field {
  name: string;
  label: string;
  type: string;
  autocomplete: string;
  maxlength: number;
  minlength?: number;
  hint?: string;
}

function field(spec: Field, value: string, errors: FieldErrors, focus: boolean) {
  const error = errors[spec.name];
  const describedBy = [error ? `${spec.name}-error` : '', spec.hint ? `${spec.name}-hint` : ''].filter(Boolean).join(' ');
  return `<label for="${spec.name}">${escapeHtml(spec.label)}</label>
<input id="${spec.name}" name="${spec.name}" type="${spec.type}" autocomplete="${spec.autocomplete}" required maxlength="${spec.maxlength}"${spec.minlength ? ` minlength="${spec.minlength}"` : ''}${spec.type === 'password' ? '' : ` value="${escapeHtml(value)}"`}${error ? ' aria-invalid="true"' : ''}${describedBy ? ` aria-describedby="${describedBy}"` : ''}${focus ? ' autofocus' : ''}>
${spec.hint ? `<p class="hint" id="${spec.name}-hint">${escapeHtml(spec.hint)}</p>` : ''}${error ? `<p class="field-error" id="${spec.name}-error">${escapeHtml(error)}</p>` : ''}`;
}

const backToSignIn = (uid: string) => `<p class="links"><a href="/interaction/${escapeHtml(uid)}">Back to sign in</a></p>`;

export interface SignUpForm {
  uid: string;
  csrf: string;
  clientName: string;
  passwordMin: number;
  values?: Partial<Record<'firstName' | 'lastName' | 'email', string>>;
  errors?: FieldErrors;
}

export function signUpPage(brand: PageBrand, form: SignUpForm) {
  const errors = form.errors ?? {};
  const values = form.values ?? {};
  const fields: Field[] = [
    { name: 'firstName', label: 'First name', type: 'text', autocomplete: 'given-name', maxlength: 100 },
    { name: 'lastName', label: 'Last name', type: 'text', autocomplete: 'family-name', maxlength: 100 },
    { name: 'email', label: 'Email', type: 'email', autocomplete: 'email', maxlength: 254 },
    { name: 'password', label: 'Password', type: 'password', autocomplete: 'new-password', maxlength: 256, minlength: form.passwordMin, hint: `At least ${form.passwordMin} characters.` },
  ];
  // The first field with an error takes the focus; with none, the first field.
  const focused = fields.find((spec) => errors[spec.name])?.name ?? fields[0]!.name;
  return page(
    'Create an account',
    `<p>to continue to <strong>${escapeHtml(form.clientName)}</strong></p>
${Object.keys(errors).length > 0 ? outcome('error', 'Please correct the fields marked below.') : ''}
<form method="post" action="/interaction/${escapeHtml(form.uid)}/signup" novalidate>
${hidden('csrf', form.csrf)}
${fields.map((spec) => field(spec, values[spec.name as keyof typeof values] ?? '', errors, spec.name === focused)).join('\n')}
<button type="submit">Create account</button>
</form>
${backToSignIn(form.uid)}`,
    brand,
  );
}

/** After a sign-up that must confirm its address first: the same words whether or not the address was new. */
export const confirmEmailPage = (brand: PageBrand, details: { uid: string; email: string }) =>
  page(
    'Check your email',
    `${outcome('ok', `If ${details.email} can be used for a new account, a link to confirm it is on its way.`)}
<p>Follow the link in the mail, then come back and sign in to continue.</p>
${backToSignIn(details.uid)}`,
    brand,
  );

export interface ForgotPasswordForm {
  uid: string;
  csrf: string;
  email?: string;
  errors?: FieldErrors;
}

export const forgotPasswordPage = (brand: PageBrand, form: ForgotPasswordForm) =>
  page(
    'Reset your password',
    `<p>Enter the email address of your account: we will mail you a link to choose a new password.</p>
<form method="post" action="/interaction/${escapeHtml(form.uid)}/forgot-password" novalidate>
${hidden('csrf', form.csrf)}
${field({ name: 'email', label: 'Email', type: 'email', autocomplete: 'email', maxlength: 254 }, form.email ?? '', form.errors ?? {}, true)}
<button type="submit">Send me a link</button>
</form>
${backToSignIn(form.uid)}`,
    brand,
  );

/** The one answer to a reset request, whether or not the account exists. */
export const resetLinkSentPage = (brand: PageBrand, details: { uid: string; message: string }) =>
  page('Reset your password', `${outcome('ok', details.message)}\n<p>Once you have chosen a new password, come back and sign in.</p>\n${backToSignIn(details.uid)}`, brand);

/** The sign-in page's ways onwards: to these pages. */
export const signInLinks = (uid: string) =>
  `<p class="links"><a href="/interaction/${escapeHtml(uid)}/forgot-password">Forgot your password?</a></p>
<p class="links">New here? <a href="/interaction/${escapeHtml(uid)}/signup">Create an account</a></p>`;
