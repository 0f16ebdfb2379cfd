// The pages behind mailed links: as HTTP answers on every database target, and in a real browser
// (Chromium driven by playwright-core) where one is installed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { call, PASSWORD, registerUser, uniqueEmail, type TestUser } from './helpers/api.ts';
import { NO_BROWSER, useBrowser } from './helpers/browser.ts';
import { forEachDatabase, PUBLIC_URL, type Harness } from './helpers/harness.ts';

/** The link of the newest mail of a kind to an address, read from the outbox. */
async function mailedLink(h: Harness, recipient: string, kind: string, path: string): Promise<string> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const row = await h.db
      .selectFrom('outbox')
      .select('text_body')
      .where('recipient', '=', recipient)
      .where('kind', '=', kind)
      .orderBy('id', 'desc')
      .executeTakeFirst();
    const match = row && new RegExp(`${PUBLIC_URL}${path}\\?token=[\\w-]+`).exec(row.text_body);
    if (match) return match[0];
    await new Promise((resolve) => setTimeout(resolve, 50)); // the forgot request queues its mail after answering
  }
  throw new Error(`no ${kind} mail to ${recipient}`);
}

const tokenOf = (link: string) => new URL(link).searchParams.get('token') ?? '';

/** How many reset mails went to an address. */
const resetMails = async (h: Harness, recipient: string) => (await h.db.selectFrom('outbox').select('id').where('recipient', '=', recipient).where('kind', '=', 'password_reset').execute()).length;

/** The newest reset link mailed to an address once it is another than `older` (the request queues its mail after answering). */
async function newerLink(h: Harness, recipient: string, older: string): Promise<string> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const link = await mailedLink(h, recipient, 'password_reset', '/reset-password');
    if (link !== older) return link;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`no new reset link to ${recipient}`);
}

async function resetLink(h: Harness, user: TestUser) {
  const answer = await call(h.app, 'POST', '/auth/password/forgot', { body: { email: user.email } });
  assert.equal(answer.status, 202);
  return mailedLink(h, user.email, 'password_reset', '/reset-password');
}

forEachDatabase('pages', (h) => {
  it('serves the reset page with a strict Content-Security-Policy and the form for a live link', async () => {
    const user = await registerUser(h().app);
    const link = await resetLink(h(), user);
    const answer = await h().app.inject({ url: link.replace(PUBLIC_URL, '') });
    assert.equal(answer.statusCode, 200);
    assert.match(String(answer.headers['content-type']), /^text\/html/);
    const csp = String(answer.headers['content-security-policy']);
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline/);
    assert.equal(answer.headers['x-frame-options'], 'DENY');
    assert.match(answer.body, /<form data-action="\/auth\/password\/reset"/);
    assert.ok(answer.body.includes(`value="${tokenOf(link)}"`));
    assert.doesNotMatch(answer.body, /<script>[^<]/, 'no inline script');
  });

  it('serves a mailed link with parameters a mail client added (utm_source …) as the page, not a refusal', async () => {
    const user = await registerUser(h().app);
    const link = await resetLink(h(), user);
    const answer = await h().app.inject({ url: `${link.replace(PUBLIC_URL, '')}&utm_source=mail&utm_medium=email` });
    assert.equal(answer.statusCode, 200, answer.body);
    assert.match(String(answer.headers['content-type']), /^text\/html/);
    assert.ok(answer.body.includes(`value="${tokenOf(link)}"`));
  });

  it('says at once that a used, expired or unknown link no longer works, echoing nothing', async () => {
    const user = await registerUser(h().app);
    const link = await resetLink(h(), user);
    assert.equal((await call(h().app, 'POST', '/auth/password/reset', { body: { token: tokenOf(link), password: 'a brand new password' } })).status, 200);
    for (const url of [link.replace(PUBLIC_URL, ''), '/reset-password', '/reset-password?token=%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E', '/verify-email?token=nope']) {
      const answer = await h().app.inject({ url });
      assert.equal(answer.statusCode, 200, url);
      assert.match(answer.body, /This link is invalid, has expired or was already used\./, url);
      // No form that needs the dead token: at most the one asking for a new link, which holds no token.
      assert.doesNotMatch(answer.body, /data-action="\/auth\/(password\/reset|email\/verify)"|name="token"/, url);
      assert.ok(!answer.body.includes(tokenOf(link)), url);
      assert.doesNotMatch(answer.body, /<script>alert/, url);
    }
  });

  it('offers a spent reset link a form for a new one, which also works as a plain form post', async () => {
    const user = await registerUser(h().app);
    const link = await resetLink(h(), user);
    assert.equal((await call(h().app, 'POST', '/auth/password/reset', { body: { token: tokenOf(link), password: 'a brand new password' } })).status, 200);
    const dead = await h().app.inject({ url: link.replace(PUBLIC_URL, '') });
    assert.match(dead.body, /<form method="post" action="\/reset-password\/new-link" data-action="\/auth\/password\/forgot"/);
    assert.match(dead.body, /<input id="email" name="email" type="email"/);
    assert.doesNotMatch(dead.body, /where you sign in/);

    const post = (email: string, fetchSite = 'same-origin') =>
      h().app.inject({ method: 'POST', url: '/reset-password/new-link', headers: { 'content-type': 'application/x-www-form-urlencoded', 'sec-fetch-site': fetchSite }, payload: new URLSearchParams({ email }).toString() });
    const answer = await post(user.email);
    assert.equal(answer.statusCode, 200, answer.body);
    assert.match(String(answer.headers['content-type']), /^text\/html/);
    assert.match(String(answer.headers['content-security-policy']), /default-src 'none'/);
    assert.match(answer.body, /If an account exists for this email, a new reset link is on its way\. It works for 30 minutes\./);
    const fresh = await newerLink(h(), user.email, link);
    assert.match((await h().app.inject({ url: fresh.replace(PUBLIC_URL, '') })).body, /data-action="\/auth\/password\/reset"/);
    // The same answer for an address with no account.
    assert.equal((await post(uniqueEmail('nobody'))).body, answer.body);
    // Another site cannot post it from its visitors' browsers.
    const mailsBefore = await resetMails(h(), user.email);
    assert.equal((await post(user.email, 'cross-site')).statusCode, 403);
    assert.equal(await resetMails(h(), user.email), mailsBefore);
  });

  it('tells how to get a new verification link from a spent one', async () => {
    const answer = await h().app.inject({ url: '/verify-email?token=spent' });
    assert.match(answer.body, /If you have confirmed your email address already, there is nothing left to do\./);
    assert.match(answer.body, /sign in to the application where you use this account and ask it to send a new confirmation mail/);
    assert.doesNotMatch(answer.body, /<form/);
  });

  it('expires a reset link after 30 minutes on the page too', async () => {
    const user = await registerUser(h().app);
    const link = await resetLink(h(), user);
    h().clock.advance(31 * 60);
    try {
      const answer = await h().app.inject({ url: link.replace(PUBLIC_URL, '') });
      assert.match(answer.body, /has expired or was already used/);
    } finally {
      h().clock.reset();
    }
  });

  it('serves the verification page with a button, not confirming on open', async () => {
    const user = await registerUser(h().app);
    const link = await mailedLink(h(), user.email, 'email_verification', '/verify-email');
    const answer = await h().app.inject({ url: link.replace(PUBLIC_URL, '') });
    assert.match(answer.body, /<form data-action="\/auth\/email\/verify"/);
    const me = await call(h().app, 'GET', '/api/users/me', { token: user.accessToken });
    assert.equal(me.body.data.emailVerified, false, 'opening the page must not use the link up');
  });

  it('serves its script and stylesheet from this origin', async () => {
    const script = await h().app.inject({ url: '/assets/pages.js' });
    assert.equal(script.statusCode, 200);
    assert.match(String(script.headers['content-type']), /^text\/javascript/);
    const css = await h().app.inject({ url: '/assets/pages.css' });
    assert.match(String(css.headers['content-type']), /^text\/css/);
  });
});

describe('pages in a browser', { skip: NO_BROWSER }, () => {
  const { harness: h, open } = useBrowser();

  it('resets a password by filling the form, then signs in with it', async () => {
    const user = await registerUser(h().app);
    const page = await open(await resetLink(h(), user));
    await page.fill('#password', 'my new secret phrase');
    await page.fill('#confirm', 'my new secret phrase');
    await page.click('button[type=submit]');
    await page.waitForSelector('#status.ok');
    assert.match(await page.textContent('#status') ?? '', /Your password was changed/);
    assert.equal(await page.isVisible('form'), false);
    await page.close();
    assert.equal((await call(h().app, 'POST', '/auth/login', { body: { email: user.email, password: 'my new secret phrase' } })).status, 200);
    assert.equal((await call(h().app, 'POST', '/auth/login', { body: { email: user.email, password: PASSWORD } })).status, 401);
  });

  it('shows what is wrong without sending: two different passwords, then one too short', async () => {
    const user = await registerUser(h().app);
    const page = await open(await resetLink(h(), user));
    await page.fill('#password', 'first phrase here');
    await page.fill('#confirm', 'another phrase');
    await page.click('button[type=submit]');
    await page.waitForSelector('.field-error');
    assert.match(await page.textContent('.field-error') ?? '', /differ/);
    // The browser's own check stops a password under the minimum before anything is sent.
    await page.fill('#password', 'short');
    await page.fill('#confirm', 'short');
    await page.click('button[type=submit]');
    assert.equal(await page.$eval('#password', (el) => (el as unknown as { validity: { valid: boolean } }).validity.valid), false);
    await page.close();
    assert.equal((await call(h().app, 'POST', '/auth/login', { body: { email: user.email, password: PASSWORD } })).status, 200);
  });

  it('shows that a link used in another tab no longer works', async () => {
    const user = await registerUser(h().app);
    const link = await resetLink(h(), user);
    const page = await open(link);
    assert.equal((await call(h().app, 'POST', '/auth/password/reset', { body: { token: tokenOf(link), password: 'set elsewhere already' } })).status, 200);
    await page.fill('#password', 'my new secret phrase');
    await page.fill('#confirm', 'my new secret phrase');
    await page.click('button[type=submit]');
    await page.waitForSelector('#status.error');
    assert.match(await page.textContent('#status') ?? '', /invalid, has expired or was already used/);
    await page.close();
  });

  it('asks for a new reset link from a spent one, in place', async () => {
    const user = await registerUser(h().app);
    const link = await resetLink(h(), user);
    assert.equal((await call(h().app, 'POST', '/auth/password/reset', { body: { token: tokenOf(link), password: 'spent on this link' } })).status, 200);
    const page = await open(link);
    await page.fill('#email', user.email);
    await page.click('button[type=submit]');
    await page.waitForSelector('#status.ok');
    assert.match(await page.textContent('#status') ?? '', /a new reset link is on its way/);
    assert.equal(await page.isVisible('form'), false);
    await page.close();
    await newerLink(h(), user.email, link);
  });

  it('asks for a new reset link from a spent one without JavaScript', async () => {
    const user = await registerUser(h().app);
    const link = await resetLink(h(), user);
    assert.equal((await call(h().app, 'POST', '/auth/password/reset', { body: { token: tokenOf(link), password: 'spent on this link' } })).status, 200);
    const page = await open(link, { javaScript: false });
    await page.fill('#email', user.email);
    await Promise.all([page.waitForURL(/\/reset-password\/new-link$/), page.click('button[type=submit]')]);
    assert.match(await page.textContent('.outcome.ok') ?? '', /a new reset link is on its way/);
    await page.close();
    await newerLink(h(), user.email, link);
  });

  it('confirms an email address with the button', async () => {
    const user = await registerUser(h().app);
    const page = await open(await mailedLink(h(), user.email, 'email_verification', '/verify-email'));
    await page.click('button[type=submit]');
    await page.waitForSelector('#status.ok');
    assert.match(await page.textContent('#status') ?? '', /confirmed/);
    await page.close();
    const me = await call(h().app, 'GET', '/api/users/me', { token: user.accessToken });
    assert.equal(me.body.data.emailVerified, true);
  });
});
