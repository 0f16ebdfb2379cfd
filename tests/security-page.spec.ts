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
import { enableTotp, mailedToken, nextStep, totpCode } from './helpers/mfa.ts';

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

  /** An invitation to a new organisation for a verified account (accepting needs the address confirmed, as the page says): its link's token. */
  async function invite(user: { userId: string; email: string }) {
    const h = harness!;
    await h.db.updateTable('users').set({ email_verified_at: new Date() }).where('id', '=', user.userId).execute();
    const owner = await registerUser(h.app);
    const invited = await call(h.app, 'POST', `/api/organisations/${owner.personalOrgId}/invitations`, { token: owner.accessToken, body: { email: user.email, role: 'member' } });
    assert.equal(invited.status, 201, JSON.stringify(invited.body));
    return { orgId: owner.personalOrgId, token: await mailedToken(h.db, user.email, 'invitation', '/accept-invite', origin) };
  }

  /** The invitation page's first step: the password; the second step shows in place of the form. */
  async function passwordOnInvitation(page: Page, token: string, password: string) {
    await page.goto(`${origin}/accept-invite?token=${encodeURIComponent(token)}`);
    await page.fill('#password', password);
    await page.click('form[data-action] button[type="submit"]');
    await page.waitForSelector('#mfa-step:not([hidden])');
    assert.equal(await page.isHidden('form[data-action]'), true);
  }

  async function accepted(page: Page, orgId: string, userId: string) {
    await page.waitForSelector('#status.ok');
    assert.match((await page.textContent('#status')) ?? '', /Welcome/);
    assert.ok(await page.evaluate('document.documentElement.scrollWidth <= 390'), 'fits 390 px');
    const member = await harness!.db.selectFrom('members').select('status').where('organisation_id', '=', orgId).where('user_id', '=', userId).execute();
    assert.deepEqual(member, [{ status: 'active' }]);
  }

  it('signs in on the invitation page in two steps for an account with a second factor, then accepts', async () => {
    const h = harness!;
    const user = await enableTotp(h.app, h.clock, await registerUser(h.app));
    const { orgId, token } = await invite(user);
    const context = await browser!.newContext({ viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    await passwordOnInvitation(page, token, user.password);
    // An app and recovery codes, no passkey: the code field only.
    assert.equal(await page.isHidden('#mfa-passkey'), true);
    // A wrong code keeps the step open and says so; nothing is joined.
    await page.fill('#mfa-code', '000000' === totpCode(user.secret, h.clock) ? '111111' : '000000');
    await page.click('#mfa-step button[type="submit"]');
    await page.waitForSelector('#status.error');
    assert.equal(await page.isVisible('#mfa-code'), true);
    assert.equal((await h.db.selectFrom('members').select('user_id').where('organisation_id', '=', orgId).where('user_id', '=', user.userId).execute()).length, 0);
    await page.fill('#mfa-code', user.recoveryCodes[0]!);
    await page.click('#mfa-step button[type="submit"]');
    await accepted(page, orgId, user.userId);
  });

  it('takes the authenticator app’s code on the invitation page’s second step', async () => {
    const h = harness!;
    const user = await enableTotp(h.app, h.clock, await registerUser(h.app));
    const { orgId, token } = await invite(user);
    const page = await (await browser!.newContext({ viewport: { width: 390, height: 844 } })).newPage();
    await passwordOnInvitation(page, token, user.password);
    // The code of the next step: enrolment spent this one.
    nextStep(h.clock);
    await page.fill('#mfa-code', totpCode(user.secret, h.clock));
    await page.click('#mfa-step button[type="submit"]');
    await accepted(page, orgId, user.userId);
    const session = await h.db.selectFrom('sessions').select('amr').where('user_id', '=', user.userId).orderBy('created_at', 'desc').executeTakeFirstOrThrow();
    assert.deepEqual([...session.amr].sort(), ['mfa', 'otp', 'pwd']);
  });

  it('takes a passkey on the invitation page’s second step', async () => {
    const h = harness!;
    const user = await registerUser(h.app);
    const page = await pageWithAuthenticator();
    // The passkey goes into the virtual authenticator through the security page.
    await signInWithPassword(page, user.email, user.password);
    await page.waitForSelector('#panel:not([hidden])');
    await page.fill('#passkey-name', 'Virtual key');
    await page.click('#passkey-add button[type="submit"]');
    await page.waitForSelector('#passkeys li:has-text("Virtual key")');
    // A passkey alone: no recovery codes were made, so there is no code to ask for.
    assert.deepEqual((await call(h.app, 'POST', '/auth/login', { body: { email: user.email, password: user.password } })).body.data.methods, ['webauthn']);

    const { orgId, token } = await invite(user);
    await passwordOnInvitation(page, token, user.password);
    assert.equal(await page.isHidden('#mfa-code-form'), true);
    await page.click('#mfa-passkey');
    await accepted(page, orgId, user.userId);
    const used = await h.db.selectFrom('passkeys').select('last_used_at').where('user_id', '=', user.userId).executeTakeFirstOrThrow();
    assert.ok(used.last_used_at !== null);
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
