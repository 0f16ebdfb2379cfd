// A real relying party (tests/helpers/relying-party.ts: openid-client in a small web app) signs a
// person in through Gatehouse's hosted pages in Chromium: discovery, sign in, consent, callback with
// the ID token validated, userinfo, refresh and logout — without JavaScript, as the pages must work,
// at a phone's width and a desktop's. GATEHOUSE_SCREENSHOTS=<folder> keeps a screenshot of each page
// (for review; never committed).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import type { Browser } from 'playwright-core';
import { PASSWORD, registerUser } from './helpers/api.ts';
import { launchChromium, NO_BROWSER, screenshot } from './helpers/browser.ts';
import { startHarness, type Harness } from './helpers/harness.ts';
import { targets } from './helpers/databases.ts';
import { discover, freePort, makeAdmin, registerClient, relyingPartyApp } from './helpers/relying-party.ts';


for (const target of targets()) {
  describe(`the hosted sign-in in a browser [${target}]`, { skip: NO_BROWSER }, () => {
    let harness: Harness | undefined;
    let browser: Browser | undefined;
    let rp: Awaited<ReturnType<typeof relyingPartyApp>> | undefined;
    let config: oidc.Configuration | undefined;
    const base = { url: '' };

    before(async () => {
      const port = await freePort();
      base.url = `http://127.0.0.1:${port}`;
      harness = await startHarness(target, { PUBLIC_URL: base.url, GATEHOUSE_BRAND_NAME: 'Acme Notes', GATEHOUSE_BRAND_COLOR: '#0b6e4f' });
      await harness.app.listen({ port, host: '127.0.0.1' });
      const rpPort = await freePort();
      const admin = await makeAdmin(harness.app, harness.db);
      const client = await registerClient(harness.app, admin.accessToken, {
        name: 'Notes',
        type: 'confidential',
        redirectUris: [`http://127.0.0.1:${rpPort}/callback`],
        postLogoutRedirectUris: [`http://127.0.0.1:${rpPort}/goodbye`],
      });
      config = await discover(base.url, client);
      rp = await relyingPartyApp(config, rpPort);
      browser = await launchChromium();
    });

    after(async () => {
      await browser?.close();
      await rp?.close();
      await harness?.close();
    });


    for (const javaScript of [false, true]) {
      it(`signs in, consents, comes back with a validated ID token, reads userinfo, refreshes and signs out (JavaScript ${javaScript ? 'on' : 'off'})`, async () => {
        const h = harness!;
        const user = await registerUser(h.app);
        const context = await browser!.newContext({ javaScriptEnabled: javaScript, viewport: { width: 390, height: 844 } });
        const page = await context.newPage();
        await page.goto(`${rp!.base}/login`);
        assert.equal(await page.textContent('h1'), 'Sign in');
        assert.match(await page.title(), /Acme Notes/);
        assert.match((await page.textContent('main')) ?? '', /Notes/);
        await screenshot(page, `${target}-sign-in`);
        // Passwordless sign-in is offered where the page's script finds WebAuthn, and only there.
        assert.equal(await page.isVisible('form[data-passkey]'), javaScript);
        // Labelled fields, reached in order by the keyboard.
        await page.getByLabel('Email').fill(user.email);
        await page.getByLabel('Password').fill(PASSWORD);
        await page.getByRole('button', { name: 'Sign in', exact: true }).click();
        await page.waitForSelector('h1:text("Allow access")');
        await screenshot(page, `${target}-consent`);
        await page.getByRole('button', { name: 'Allow' }).click();
        await page.waitForSelector('#hello');
        assert.equal(await page.textContent('#hello'), `Hello ${user.email}`);

        const { tokens, userinfo } = rp!.seen;
        assert.equal(tokens?.claims()?.sub, user.userId);
        assert.equal(userinfo?.email, user.email);
        const refreshed = await oidc.refreshTokenGrant(config!, tokens!.refresh_token!);
        assert.equal(refreshed.claims()?.sub, user.userId);

        await page.goto(`${rp!.base}/logout`);
        await page.waitForSelector('h1:text("Sign out")');
        await screenshot(page, `${target}-sign-out`);
        await page.getByRole('button', { name: 'Sign out', exact: true }).click();
        await page.waitForSelector('#goodbye');
        assert.equal(rp!.seen.loggedOut, true);

        // Signed out: the next sign-in asks for the password again.
        await page.goto(`${rp!.base}/login`);
        assert.equal(await page.textContent('h1'), 'Sign in');
        await context.close();
      });
    }

    it('shows a branded error page for a request that names no registered client', async () => {
      const context = await browser!.newContext({ javaScriptEnabled: false });
      const page = await context.newPage();
      const answer = await page.goto(`${base.url}/oidc/auth?client_id=nobody&response_type=code&scope=openid&redirect_uri=${encodeURIComponent('http://127.0.0.1/x')}`);
      assert.equal(answer?.status(), 400);
      assert.equal(await page.textContent('h1'), 'Sign-in problem');
      await screenshot(page, `${target}-error`);
      await context.close();
    });
  });
}
