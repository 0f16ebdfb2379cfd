// The real relying party (openid-client in a small web app) asks for the `organization` scope, and a
// person chooses an organisation on the hosted page in Chromium: the ID token and userinfo name it; a
// person with one organisation never sees the page; an organisation forced into the form is refused;
// one that requires a second factor is shown, to a sign-in without one, as unavailable and why.
// GATEHOUSE_SCREENSHOTS=<folder> keeps a screenshot of the page (for review; never committed).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { addMember, call, createOrganisation, PASSWORD, registerUser, type TestUser } from './helpers/api.ts';
import { launchChromium, NO_BROWSER, screenshot } from './helpers/browser.ts';
import { targets } from './helpers/databases.ts';
import { startHarness, type Harness } from './helpers/harness.ts';
import { enableTotp, SECRET_KEY } from './helpers/mfa.ts';
import { discover, freePort, makeAdmin, registerClient, relyingPartyApp } from './helpers/relying-party.ts';


for (const target of targets()) {
  describe(`choosing an organisation in a browser [${target}]`, { skip: NO_BROWSER }, () => {
    let harness: Harness | undefined;
    let browser: Browser | undefined;
    let rp: Awaited<ReturnType<typeof relyingPartyApp>> | undefined;
    let base = '';

    before(async () => {
      const port = await freePort();
      base = `http://127.0.0.1:${port}`;
      harness = await startHarness(target, { ...SECRET_KEY, PUBLIC_URL: base });
      await harness.app.listen({ port, host: '127.0.0.1' });
      const rpPort = await freePort();
      const admin = await makeAdmin(harness.app, harness.db);
      const client = await registerClient(harness.app, admin.accessToken, { name: 'Notes', type: 'confidential', firstParty: true, redirectUris: [`http://127.0.0.1:${rpPort}/callback`] });
      rp = await relyingPartyApp(await discover(base, client), rpPort, { scope: 'openid email organization' });
      browser = await launchChromium();
    });

    after(async () => {
      await browser?.close();
      await rp?.close();
      await harness?.close();
    });

    async function signIn(user: TestUser, javaScript: boolean): Promise<Page> {
      const context = await browser!.newContext({ javaScriptEnabled: javaScript, viewport: { width: 390, height: 844 } });
      const page = await context.newPage();
      await page.goto(`${rp!.base}/login`);
      await page.getByLabel('Email').fill(user.email);
      await page.getByLabel('Password').fill(PASSWORD);
      await page.getByRole('button', { name: 'Sign in', exact: true }).click();
      return page;
    }

    it('lets a person choose one of two organisations, without JavaScript: org_id in the ID token and userinfo', async () => {
      const h = harness!;
      const user = await registerUser(h.app);
      const acme = await createOrganisation(h.app, user.accessToken, 'Acme');
      const page = await signIn(user, false);
      await page.waitForSelector('h1:text("Choose an organisation")');
      assert.ok(await page.evaluate('document.documentElement.scrollWidth <= 390'), 'fits 390 px');
      await screenshot(page, `${target}-choose-organisation`);
      // Each choice is a labelled radio button; the first has the focus.
      assert.equal(await page.evaluate('document.activeElement && document.activeElement.id'), 'org-0');
      await page.getByLabel(/^Acme/).check();
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.waitForSelector('#hello');
      const claims = rp!.seen.tokens?.claims();
      assert.equal(claims?.sub, user.userId);
      assert.equal(claims?.org_id, acme);
      assert.equal(claims?.org_role, 'owner');
      assert.equal(rp!.seen.userinfo?.org_id, acme);
      await page.context().close();
    });

    it('skips the page for a person with one organisation', async () => {
      const user = await registerUser(harness!.app);
      const page = await signIn(user, true);
      await page.waitForSelector('#hello');
      assert.equal(rp!.seen.tokens?.claims()?.sub, user.userId);
      assert.equal(rp!.seen.tokens?.claims()?.org_id, user.personalOrgId);
      assert.equal(rp!.seen.userinfo?.org_id, user.personalOrgId);
      await page.context().close();
    });

    it('refuses an organisation the person is not in, forced into the form, and goes on with one of theirs', async () => {
      const h = harness!;
      const [user, stranger] = await Promise.all([registerUser(h.app), registerUser(h.app)]);
      const acme = await createOrganisation(h.app, user.accessToken, 'Acme');
      const page = await signIn(user, true);
      await page.waitForSelector('h1:text("Choose an organisation")');
      await page.evaluate(`(() => { const first = document.getElementById('org-0'); first.value = ${JSON.stringify(stranger.personalOrgId)}; first.checked = true; })()`);
      const [answer] = await Promise.all([page.waitForResponse((response) => response.url().endsWith('/organization')), page.getByRole('button', { name: 'Continue' }).click()]);
      assert.equal(answer.status(), 404);
      await page.waitForSelector('.outcome.error');
      assert.match((await page.textContent('.outcome.error')) ?? '', /not one of your organisations/);
      assert.notEqual(rp!.seen.tokens?.claims()?.sub, user.userId, 'never back at the application');

      await page.getByLabel(/^Acme/).check();
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.waitForSelector('#hello');
      assert.equal(rp!.seen.tokens?.claims()?.org_id, acme);
      await page.context().close();
    });

    it('shows an organisation that requires a second factor as unavailable, with why, to a sign-in without one', async () => {
      const h = harness!;
      const owner = await enableTotp(h.app, h.clock, await registerUser(h.app));
      const vault = await createOrganisation(h.app, owner.accessToken, 'Vault');
      assert.equal((await call(h.app, 'PATCH', `/api/organisations/${vault}`, { token: owner.accessToken, body: { requireMfa: true } })).status, 200);
      const user = await registerUser(h.app);
      await addMember(h.app, owner.accessToken, vault, user.userId);
      const page = await signIn(user, false);
      await page.waitForSelector('h1:text("Choose an organisation")');
      const unavailable = page.getByLabel(/^Vault/);
      assert.ok(await unavailable.isDisabled(), 'not selectable');
      const why = `${await unavailable.getAttribute('id')}-why`;
      assert.equal(await unavailable.getAttribute('aria-describedby'), why);
      assert.match((await page.textContent(`#${why}`)) ?? '', /requires a second factor: add one in your account security settings/);
      assert.equal(await page.locator('input[name="orgId"]:checked').getAttribute('value'), user.personalOrgId, 'the organisation that may be chosen is selected');
      assert.ok(await page.evaluate('document.documentElement.scrollWidth <= 390'), 'fits 390 px');
      await screenshot(page, `${target}-choose-organisation-unavailable`);
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.waitForSelector('#hello');
      assert.equal(rp!.seen.tokens?.claims()?.org_id, user.personalOrgId);
      await page.context().close();
    });
  });
}
