// The hosted security page in a real browser: Chromium's virtual authenticator (the DevTools WebAuthn
// domain through Playwright's CDP session) registers a passkey on the page, then signs in with it,
// once as the second factor after the password and once alone (passwordless).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { chromium, type Browser, type Page } from 'playwright-core';
import { call, registerUser } from './helpers/api.ts';
import { CHROMIUM, CHROMIUM_ARGS, NO_BROWSER } from './helpers/browser.ts';
import { forEachDatabase, startHarness, type Harness } from './helpers/harness.ts';
import { freePort } from './helpers/mailbox.ts';
import { enableTotp, mailedToken } from './helpers/mfa.ts';

describe('the security page with a virtual authenticator', { skip: NO_BROWSER }, () => {
  let harness: Harness | undefined;
  let browser: Browser | undefined;
  let origin = '';

  before(async () => {
    // WebAuthn needs the page's origin to be the relying party's: PUBLIC_URL is where the browser goes.
    const port = await freePort();
    origin = `http://localhost:${port}`;
    harness = await startHarness('embedded', { PUBLIC_URL: origin });
    await harness.app.listen({ port, host: '127.0.0.1' });
    browser = await chromium.launch({ executablePath: CHROMIUM as string, args: CHROMIUM_ARGS });
  });
  after(async () => {
    await browser?.close();
    await harness?.close();
  });

  async function pageWithAuthenticator(): Promise<Page> {
    const context = await browser!.newContext({ viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send('WebAuthn.enable');
    await cdp.send('WebAuthn.addVirtualAuthenticator', {
      options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
    });
    return page;
  }

  async function signInWithPassword(page: Page, email: string, password: string) {
    await page.goto(`${origin}/account/security`);
    await page.fill('#email', email);
    await page.fill('#password', password);
    await page.click('#signin-form button[type="submit"]');
  }

  it('adds a passkey on the page, then signs in with it as the second factor and without a password', async () => {
    const user = await registerUser(harness!.app);
    const page = await pageWithAuthenticator();
    await signInWithPassword(page, user.email, user.password);
    await page.waitForSelector('#panel:not([hidden])');
    // Nothing is wider than a phone's screen.
    assert.ok(await page.evaluate('document.documentElement.scrollWidth <= 390'), 'fits 390 px');

    await page.fill('#passkey-name', 'Virtual key');
    await page.click('#passkey-add button[type="submit"]');
    await page.waitForSelector('#passkeys li:has-text("Virtual key")');
    const mfa = await call(harness!.app, 'GET', '/api/users/me/mfa', { token: user.accessToken });
    // The session that added the first factor carries on; others ended: the registration's did.
    assert.equal(mfa.status, 401);
    const row = await harness!.db.selectFrom('passkeys').select(['name', 'counter']).where('user_id', '=', user.userId).executeTakeFirstOrThrow();
    assert.equal(row.name, 'Virtual key');

    // As the second factor: the password alone now leads to the second step.
    await page.click('#signout');
    await signInWithPassword(page, user.email, user.password);
    await page.waitForSelector('#second-step:not([hidden])');
    await page.click('#second-passkey');
    await page.waitForSelector('#panel:not([hidden])');
    await page.waitForSelector('#passkeys li:has-text("Virtual key")');

    // Passwordless.
    await page.click('#signout');
    await page.waitForSelector('#signin:not([hidden])');
    await page.click('#passkey-signin');
    await page.waitForSelector('#panel:not([hidden])');
    const used = await harness!.db.selectFrom('passkeys').select(['counter', 'last_used_at']).where('user_id', '=', user.userId).executeTakeFirstOrThrow();
    assert.ok(used.last_used_at !== null);
    const sessions = await harness!.db.selectFrom('sessions').select('amr').where('user_id', '=', user.userId).where('revoked_at', 'is', null).execute();
    assert.ok(sessions.some((s) => s.amr.includes('mfa') && !s.amr.includes('pwd')), 'a passwordless session');
  });

  it('signs in on the invitation page in two steps for an account with a second factor, then accepts', async () => {
    const h = harness!;
    const user = await enableTotp(h.app, h.clock, await registerUser(h.app));
    // Accepting needs the invited address confirmed, as the page says.
    await h.db.updateTable('users').set({ email_verified_at: new Date() }).where('id', '=', user.userId).execute();
    const owner = await registerUser(h.app);
    const invited = await call(h.app, 'POST', `/api/organisations/${owner.personalOrgId}/invitations`, { token: owner.accessToken, body: { email: user.email, role: 'member' } });
    assert.equal(invited.status, 201, JSON.stringify(invited.body));
    const token = await mailedToken(h.db, user.email, 'invitation', '/accept-invite', origin);
    const context = await browser!.newContext({ viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    await page.goto(`${origin}/accept-invite?token=${encodeURIComponent(token)}`);
    await page.fill('#password', user.password);
    await page.click('form[data-action] button[type="submit"]');
    await page.waitForSelector('#mfa-step:not([hidden])');
    assert.equal(await page.isHidden('form[data-action]'), true);
    await page.fill('#mfa-code', user.recoveryCodes[0]!);
    await page.click('#mfa-step button[type="submit"]');
    await page.waitForSelector('#status.ok');
    assert.match((await page.textContent('#status')) ?? '', /Welcome/);
    const member = await h.db.selectFrom('members').select('user_id').where('organisation_id', '=', owner.personalOrgId).where('user_id', '=', user.userId).execute();
    assert.equal(member.length, 1);
  });
});

forEachDatabase('the security page', (h) => {
  it('is served with the pages’ strict Content-Security-Policy, its own script and no inline script', async () => {
    const answer = await h().app.inject({ url: '/account/security' });
    assert.equal(answer.statusCode, 200);
    assert.match(String(answer.headers['content-type']), /^text\/html/);
    assert.match(String(answer.headers['content-security-policy']), /default-src 'none'.*script-src 'self'/);
    assert.doesNotMatch(String(answer.headers['content-security-policy']), /unsafe-inline/);
    assert.equal(answer.headers['x-frame-options'], 'DENY');
    assert.match(answer.body, /<script src="\/assets\/account.js" defer><\/script>/);
    assert.doesNotMatch(answer.body, /<script>[^<]/);
    assert.match(answer.body, /<label for="code">/);
    const script = await h().app.inject({ url: '/assets/account.js' });
    assert.equal(script.statusCode, 200);
    assert.match(String(script.headers['content-type']), /^text\/javascript/);
  });
});
