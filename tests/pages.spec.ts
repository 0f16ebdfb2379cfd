// The pages behind mailed links: as HTTP answers on every database target, and in a real browser
// (Chromium driven by playwright-core) where one is installed.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { call, PASSWORD, registerUser, type TestUser } from './helpers/api.js';
import { NO_BROWSER, useBrowser } from './helpers/browser.js';
import { forEachDatabase, PUBLIC_URL, type Harness } from './helpers/harness.js';

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

  it('says at once that a used, expired or unknown link no longer works, echoing nothing', async () => {
    const user = await registerUser(h().app);
    const link = await resetLink(h(), user);
    assert.equal((await call(h().app, 'POST', '/auth/password/reset', { body: { token: tokenOf(link), password: 'a brand new password' } })).status, 200);
    for (const url of [link.replace(PUBLIC_URL, ''), '/reset-password', '/reset-password?token=%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E', '/verify-email?token=nope']) {
      const answer = await h().app.inject({ url });
      assert.equal(answer.statusCode, 200, url);
      assert.match(answer.body, /This link is invalid, has expired or was already used\./, url);
      assert.doesNotMatch(answer.body, /<form/, url);
      assert.doesNotMatch(answer.body, /<script>alert/, url);
    }
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
