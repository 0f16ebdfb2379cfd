// The real relying party (openid-client in a small web app) signs people with a second factor in
// through the hosted pages in Chromium: once with the authenticator app's code (computed with otpauth)
// and no JavaScript, once with a passkey in Chromium's virtual authenticator (the DevTools WebAuthn
// domain through Playwright's CDP session) — alone, and as the second step after the password.
// WebAuthn needs a secure context, so Gatehouse is at http://localhost here. GATEHOUSE_SCREENSHOTS=<folder>
// keeps a screenshot of the pages (for review; never committed).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { PASSWORD, registerUser, type TestUser } from './helpers/api.ts';
import { launchChromium, NO_BROWSER, screenshot } from './helpers/browser.ts';
import { targets } from './helpers/databases.ts';
import { startHarness, type Harness } from './helpers/harness.ts';
import { enableTotp, nextStep, SECRET_KEY, totpCode } from './helpers/mfa.ts';
import { discover, freePort, makeAdmin, registerClient, relyingPartyApp } from './helpers/relying-party.ts';



for (const target of targets()) {
  describe(`the hosted sign-in with a second factor in a browser [${target}]`, { skip: NO_BROWSER }, () => {
    let harness: Harness | undefined;
    let browser: Browser | undefined;
    let rp: Awaited<ReturnType<typeof relyingPartyApp>> | undefined;
    let base = '';

    before(async () => {
      const port = await freePort();
      base = `http://localhost:${port}`;
      harness = await startHarness(target, { ...SECRET_KEY, PUBLIC_URL: base });
      await harness.app.listen({ port, host: '127.0.0.1' });
      const rpPort = await freePort();
      const admin = await makeAdmin(harness.app, harness.db);
      const client = await registerClient(harness.app, admin.accessToken, { name: 'Notes', type: 'confidential', firstParty: true, redirectUris: [`http://127.0.0.1:${rpPort}/callback`] });
      rp = await relyingPartyApp(await discover(base, client), rpPort);
      browser = await launchChromium();
    });

    after(async () => {
      await browser?.close();
      await rp?.close();
      await harness?.close();
    });

    const amr = () => [...((rp!.seen.tokens?.claims()?.amr as string[] | undefined) ?? [])].sort();

    async function password(page: Page, user: TestUser) {
      await page.goto(`${rp!.base}/login`);
      assert.equal(await page.textContent('h1'), 'Sign in');
      await page.getByLabel('Email').fill(user.email);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    }

    it('asks for the authenticator app’s code after the password, without JavaScript, and comes back with amr pwd, otp, mfa', async () => {
      const h = harness!;
      const user = await enableTotp(h.app, h.clock, await registerUser(h.app));
      nextStep(h.clock);
      const context = await browser!.newContext({ javaScriptEnabled: false, viewport: { width: 390, height: 844 } });
      const page = await context.newPage();
      await password(page, user);
      await page.waitForSelector('h1:text("Second step")');
      assert.equal(await page.isHidden('form[data-passkey]'), true, 'no passkey button without JavaScript');
      await screenshot(page, `${target}-second-step`);
      assert.ok(await page.evaluate('document.documentElement.scrollWidth <= 390'), 'fits 390 px');
      // The code field has the focus and its label.
      assert.equal(await page.evaluate('document.activeElement && document.activeElement.id'), 'code');

      await page.getByLabel(/Code from your authenticator app/).fill('000000' === totpCode(user.secret, h.clock) ? '111111' : '000000');
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.waitForSelector('.outcome.error');
      assert.match((await page.textContent('.outcome.error')) ?? '', /not right/);

      await page.getByLabel(/Code from your authenticator app/).fill(totpCode(user.secret, h.clock));
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.waitForSelector('#hello');
      assert.equal(rp!.seen.tokens?.claims()?.sub, user.userId);
      assert.deepEqual(amr(), ['mfa', 'otp', 'pwd']);
      await context.close();
    });

    it('signs in with a passkey in the virtual authenticator: alone (amr its method and mfa), and as the second step after the password', async () => {
      const h = harness!;
      const user = await registerUser(h.app);
      const context = await browser!.newContext({ viewport: { width: 390, height: 844 } });
      const page = await context.newPage();
      const cdp = await context.newCDPSession(page);
      await cdp.send('WebAuthn.enable');
      await cdp.send('WebAuthn.addVirtualAuthenticator', {
        options: { protocol: 'ctap2', transport: 'internal', hasResidentKey: true, hasUserVerification: true, isUserVerified: true, automaticPresenceSimulation: true },
      });
      // The passkey is registered as a person would, through the API from a page of Gatehouse's origin.
      await page.goto(`${base}/account/security`);
      const registered = await page.evaluate(`(async (token) => {
        const options = await (await fetch('/api/users/me/passkeys/options', { method: 'POST', headers: { authorization: 'Bearer ' + token } })).json();
        const credential = await navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options.data) });
        const answer = await fetch('/api/users/me/passkeys', { method: 'POST', headers: { authorization: 'Bearer ' + token, 'content-type': 'application/json' }, body: JSON.stringify({ response: credential.toJSON(), name: 'Virtual key' }) });
        return answer.status;
      })(${JSON.stringify(user.accessToken)})`);
      assert.equal(registered, 201);

      // Passwordless, from the sign-in page.
      await page.goto(`${rp!.base}/login`);
      await screenshot(page, `${target}-sign-in-with-passkey`);
      await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
      await page.waitForSelector('#hello');
      assert.equal(rp!.seen.tokens?.claims()?.sub, user.userId);
      const alone = amr();
      assert.ok(alone.includes('mfa') && !alone.includes('pwd') && (alone.includes('hwk') || alone.includes('swk')), alone.join(' '));

      // Signed out of Gatehouse (its cookies gone): the password, then the passkey as the second step.
      await context.clearCookies();
      await password(page, user);
      await page.waitForSelector('h1:text("Second step")');
      await screenshot(page, `${target}-second-step-passkey`);
      await page.getByRole('button', { name: 'Use a passkey' }).click();
      await page.waitForSelector('#hello');
      const both = amr();
      assert.ok(both.includes('pwd') && both.includes('mfa') && (both.includes('hwk') || both.includes('swk')), both.join(' '));
      const used = await h.db.selectFrom('passkeys').select('last_used_at').where('user_id', '=', user.userId).executeTakeFirstOrThrow();
      assert.ok(used.last_used_at !== null);
      await context.close();
    });
  });
}
