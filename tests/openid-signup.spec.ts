// The hosted sign-up and forgot-password pages of an OpenID sign-in, seen by a relying party built on
// openid-client: create an account from the sign-in page and come back signed in with an ID token for
// it; ask for a reset link (mailed through the outbox to a real SMTP server) and get the same answer
// for an unknown address; forms without their anti-forgery token, from another site, or with wrong
// fields are refused and write nothing. Driven without script over HTTP on both databases, and once
// in Chromium (JavaScript off), as a person would.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import * as oidc from 'openid-client';
import type { Browser } from 'playwright-core';
import { call, registerUser, uniqueEmail, type TestUser } from './helpers/api.ts';
import { launchChromium, NO_BROWSER, screenshot } from './helpers/browser.ts';
import { targets } from './helpers/databases.ts';
import { fingerprint, forEachDatabase, settled, startHarness, type Harness } from './helpers/harness.ts';
import { linkIn, startMailbox } from './helpers/mailbox.ts';
import { authorizationRequest, discover, freePort, makeAdmin, Navigator, registerClient, relyingPartyApp } from './helpers/relying-party.ts';

const mailbox = await startMailbox();
after(() => mailbox.stop());

const RP = 'http://rp.test';
const CALLBACK = `${RP}/callback`;
const NEW_PASSWORD = 'a long and unusual passphrase';

/** One Gatehouse listening on its PUBLIC_URL, with a first-party client and openid-client's configuration for it. */
function suiteOn(h: () => Harness, base: string, port: number) {
  let ready: Promise<oidc.Configuration> | undefined;
  return () =>
    (ready ??= (async () => {
      await h().app.listen({ port, host: '127.0.0.1' });
      const admin = await makeAdmin(h().app, h().db);
      const client = await registerClient(h().app, admin.accessToken, { name: 'Notes', redirectUris: [CALLBACK], type: 'confidential', firstParty: true });
      return discover(base, client);
    })());
}

/** The sign-in page of a new authorization request, and the request. */
async function signInPage(config: oidc.Configuration, navigator: Navigator) {
  const request = await authorizationRequest(config, CALLBACK);
  const page = await navigator.go(request.url.href);
  assert.equal(page.status, 200, page.html);
  assert.match(page.html, /<h1>Sign in<\/h1>/);
  return { request, page };
}

/** Follows the sign-in page's link whose text is `text`. */
async function follow(navigator: Navigator, page: { url: string; html: string }, text: string) {
  const link = [...page.html.matchAll(/<a href="([^"]+)">([^<]+)<\/a>/g)].find((match) => match[2] === text);
  assert.ok(link, `no link "${text}" on ${page.url}`);
  return navigator.go(new URL(link[1]!, page.url).href);
}

const newcomer = (email = uniqueEmail('newcomer')) => ({ firstName: 'Nora', lastName: 'Newcomer', email, password: NEW_PASSWORD });

async function userRow(h: Harness, email: string) {
  return h.db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
}

const PORT = await freePort();
const BASE = `http://127.0.0.1:${PORT}`;

forEachDatabase(
  'the hosted sign-up and forgot-password pages',
  (h) => {
    const configured = suiteOn(h, BASE, PORT);

    it('creates an account from the sign-in page and goes back to the application signed in, with an ID token for it', async () => {
      const config = await configured();
      const navigator = new Navigator(CALLBACK);
      const { request, page } = await signInPage(config, navigator);
      const form = await follow(navigator, page, 'Create an account');
      assert.equal(form.status, 200, form.html);
      assert.match(form.html, /<h1>Create an account<\/h1>/);
      assert.match(form.headers?.get('content-security-policy') ?? '', /default-src 'none'; script-src 'self'/);
      for (const name of ['firstName', 'lastName', 'email', 'password']) assert.match(form.html, new RegExp(`<label for="${name}">`), name);
      const person = newcomer();
      const done = await navigator.submit(form, '/signup', person);
      assert.ok(done.callback, `not sent back to the application: ${done.status} ${done.html}`);

      const tokens = await oidc.authorizationCodeGrant(config, done.callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce, idTokenExpected: true });
      const user = await userRow(h(), person.email);
      assert.ok(user, 'the account was written');
      assert.equal(tokens.claims()?.sub, user.id);
      assert.equal(user.first_name, 'Nora');
      assert.equal(user.email_verified_at, null);
      // Registration's rules: a personal organisation owned by the new user, the events, the verification mail.
      const organisation = await h().db.selectFrom('organisations').selectAll().where('created_by', '=', user.id).executeTakeFirstOrThrow();
      assert.equal(organisation.name, "Nora's Organisation");
      assert.equal(organisation.personal, true);
      const member = await h().db.selectFrom('members').selectAll().where('user_id', '=', user.id).executeTakeFirstOrThrow();
      assert.equal(member.organisation_id, organisation.id);
      const events = await h().db.selectFrom('audit_events').select('action').where('target_id', 'in', [user.id, organisation.id]).execute();
      assert.deepEqual(events.map((event) => event.action).sort(), ['organisation.created', 'user.registered']);
      const mail = await mailbox.waitFor((m) => m.to === person.email);
      const link = linkIn(mail, `${BASE}/verify-email?token=`);
      assert.ok(link.token);
      const userinfo = await oidc.fetchUserInfo(config, tokens.access_token, user.id);
      assert.equal(userinfo.email, person.email);
    });

    it('shows each wrong field next to its error, keeps what was typed, and writes nothing', async () => {
      const config = await configured();
      const navigator = new Navigator(CALLBACK);
      const form = await follow(navigator, (await signInPage(config, navigator)).page, 'Create an account');
      const before = await fingerprint(h().db);
      const cases: Array<[Record<string, string>, Record<string, RegExp>]> = [
        [{ ...newcomer('not-an-email'), password: 'short' }, { email: /Email must be a valid email address|Email/, password: /at least 8 characters/ }],
        [{ ...newcomer(), firstName: '   ' }, { firstName: /First name is required/ }],
        [{ ...newcomer(), password: 'password123' }, { password: /too common/ }],
      ];
      for (const [fields, expected] of cases) {
        const page = await navigator.submit(form, '/signup', fields);
        assert.equal(page.status, 422, `${page.url} ${page.html}`);
        assert.match(page.html, /<h1>Create an account<\/h1>/);
        for (const [field, message] of Object.entries(expected)) {
          const error = new RegExp(`<p class="field-error" id="${field}-error">([^<]*)</p>`).exec(page.html);
          assert.ok(error, `no error for ${field}: ${page.html}`);
          assert.match(error[1]!, message);
          assert.match(page.html, new RegExp(`id="${field}"[^>]*aria-invalid="true"`));
        }
        if (fields.email !== 'not-an-email') assert.ok(page.html.includes(`value="${fields.email}"`), 'the email typed is kept');
        assert.ok(!page.html.includes(fields.password!), 'a password is never sent back');
      }
      assert.equal(await fingerprint(h().db), before);
    });

    it('an address that has an account is told so at its field, as POST /auth/register tells it, and nothing is written', async () => {
      const config = await configured();
      const existing = await registerUser(h().app);
      const navigator = new Navigator(CALLBACK);
      const form = await follow(navigator, (await signInPage(config, navigator)).page, 'Create an account');
      const before = await fingerprint(h().db);
      const page = await navigator.submit(form, '/signup', newcomer(existing.email));
      assert.equal(page.status, 422);
      assert.match(page.html, /<p class="field-error" id="email-error">Email already exists<\/p>/);
      assert.equal(await fingerprint(h().db), before);
    });

    it('refuses a form without its anti-forgery token, with a wrong one, or posted from another site, and writes nothing', async () => {
      const config = await configured();
      const navigator = new Navigator(CALLBACK);
      const form = await follow(navigator, (await signInPage(config, navigator)).page, 'Create an account');
      const action = /action="([^"]*\/signup)"/.exec(form.html)![1]!;
      const before = await fingerprint(h().db);
      const missing = await navigator.go(new URL(action, BASE).href, { method: 'POST', form: newcomer() });
      assert.equal(missing.status, 422, missing.html);
      assert.match(missing.html, /csrf/);
      const wrong = await navigator.go(new URL(action, BASE).href, { method: 'POST', form: { ...newcomer(), csrf: 'forged' } });
      assert.equal(wrong.status, 403, wrong.html);
      const forgot = await follow(navigator, (await signInPage(config, navigator)).page, 'Forgot your password?');
      const forgotAction = new URL(/action="([^"]*\/forgot-password)"/.exec(forgot.html)![1]!, BASE).href;
      const noToken = await navigator.go(forgotAction, { method: 'POST', form: { email: uniqueEmail() } });
      assert.equal(noToken.status, 422);
      // Another site's page posting a victim's browser, token and all: refused by Sec-Fetch-Site.
      const csrf = /name="csrf" value="([^"]+)"/.exec(forgot.html)![1]!;
      const crossSite = await fetch(forgotAction, {
        method: 'POST',
        redirect: 'manual',
        headers: { cookie: [...navigator.cookies].map(([name, value]) => `${name}=${value}`).join('; '), 'sec-fetch-site': 'cross-site', 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ csrf, email: uniqueEmail() }).toString(),
      });
      assert.equal(crossSite.status, 403);
      assert.equal(await fingerprint(h().db), before);
    });

    it('mails a reset link for a known address and gives the same answer for an unknown one', async () => {
      const config = await configured();
      const user: TestUser = await registerUser(h().app);
      const navigator = new Navigator(CALLBACK);
      const answers: string[] = [];
      const unknown = uniqueEmail('nobody');
      for (const email of [user.email, unknown]) {
        const form = await follow(navigator, (await signInPage(config, navigator)).page, 'Forgot your password?');
        assert.match(form.html, /<h1>Reset your password<\/h1>/);
        assert.match(form.html, /<label for="email">Email<\/label>/);
        const page = await navigator.submit(form, '/forgot-password', { email });
        assert.equal(page.status, 200, page.html);
        answers.push(/<p class="outcome ok" role="status">([^<]*)<\/p>/.exec(page.html)![1]!);
      }
      assert.equal(answers[0], answers[1]);
      assert.match(answers[0]!, /If an account exists for this email/);
      const mail = await mailbox.waitFor((m) => m.to === user.email && m.text.includes('/reset-password?token='));
      const link = linkIn(mail, `${BASE}/reset-password?token=`);
      // The mailed link opens the existing reset page, in the same look.
      const resetPage = await navigator.go(link.url);
      assert.equal(resetPage.status, 200);
      assert.match(resetPage.html, /<h1>Reset your password<\/h1>/);
      assert.match(resetPage.html, /name="password"/);
      await settled(h().db, { failOnTimeout: true });
      assert.deepEqual(mailbox.to(unknown), []);
      const rows = await h().db.selectFrom('one_time_tokens').select('purpose').where('user_id', '=', user.userId).where('purpose', '=', 'password_reset').execute();
      assert.equal(rows.length, 1);
      // An address that is no address is the field's error, and nothing is mailed.
      const form = await follow(navigator, (await signInPage(config, navigator)).page, 'Forgot your password?');
      const bad = await navigator.submit(form, '/forgot-password', { email: 'nobody-at-all' });
      assert.equal(bad.status, 422);
      assert.match(bad.html, /<p class="field-error" id="email-error">Email /);
    });
  },
  { PUBLIC_URL: BASE, SMTP_URL: mailbox.url, GATEHOUSE_PASSWORD_BLOCKLIST: 'common' },
);

const VERIFIED_PORT = await freePort();
const VERIFIED_BASE = `http://127.0.0.1:${VERIFIED_PORT}`;

forEachDatabase(
  'the hosted sign-up when a confirmed email is required',
  (h) => {
    const configured = suiteOn(h, VERIFIED_BASE, VERIFIED_PORT);

    it('answers a new address and a taken one alike; the new one confirms its address, signs in and goes back to the application', async () => {
      const config = await configured();
      const existing = await registerUser(h().app);
      const person = newcomer();
      const answers: string[] = [];
      const navigator = new Navigator(CALLBACK);
      for (const email of [person.email, existing.email]) {
        const form = await follow(navigator, (await signInPage(config, navigator)).page, 'Create an account');
        const page = await navigator.submit(form, '/signup', { ...person, email });
        assert.equal(page.status, 200, page.html);
        assert.match(page.html, /<h1>Check your email<\/h1>/);
        answers.push(page.html.replaceAll(email, '<email>').replace(/\/interaction\/[^"]+/g, '<link>'));
      }
      assert.equal(answers[0], answers[1]);
      const taken = await userRow(h(), existing.email);
      assert.equal(taken?.first_name, 'Test', 'the existing account is untouched');
      const created = await userRow(h(), person.email);
      assert.ok(created);

      const mail = await mailbox.waitFor((m) => m.to === person.email);
      const verified = await call(h().app, 'POST', '/auth/email/verify', { body: { token: linkIn(mail, `${VERIFIED_BASE}/verify-email?token=`).token } });
      assert.equal(verified.status, 200);
      const { request, page } = await signInPage(config, navigator);
      const done = await navigator.submit(page, '/login', { email: person.email, password: person.password });
      assert.ok(done.callback, done.html);
      const tokens = await oidc.authorizationCodeGrant(config, done.callback, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce, idTokenExpected: true });
      assert.equal(tokens.claims()?.sub, created.id);
    });
  },
  { PUBLIC_URL: VERIFIED_BASE, SMTP_URL: mailbox.url, GATEHOUSE_REQUIRE_VERIFIED_EMAIL: 'true' },
);

for (const target of targets()) {
  describe(`the hosted sign-up in a browser [${target}]`, { skip: NO_BROWSER }, () => {
    let harness: Harness | undefined;
    let browser: Browser | undefined;
    let rp: Awaited<ReturnType<typeof relyingPartyApp>> | undefined;

    before(async () => {
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      harness = await startHarness(target, { PUBLIC_URL: base, SMTP_URL: mailbox.url, GATEHOUSE_BRAND_NAME: 'Acme Notes', GATEHOUSE_BRAND_COLOR: '#0b6e4f' });
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


    it('signs up from the sign-in page without JavaScript and lands back at the application with an ID token for the new account', async () => {
      const context = await browser!.newContext({ javaScriptEnabled: false, viewport: { width: 390, height: 844 } });
      const page = await context.newPage();
      await page.goto(`${rp!.base}/login`);
      assert.equal(await page.textContent('h1'), 'Sign in');
      await screenshot(page, `${target}-sign-in-with-links`);
      await page.getByRole('link', { name: 'Create an account' }).click();
      await page.waitForSelector('h1:text("Create an account")');
      assert.match(await page.title(), /Acme Notes/);
      await screenshot(page, `${target}-sign-up`);
      const person = newcomer();
      // A wrong field first: the page says which, in the browser too.
      await page.getByLabel('First name').fill(person.firstName);
      await page.getByLabel('Last name').fill(person.lastName);
      await page.getByLabel('Email').fill('not-an-email');
      await page.getByLabel('Password').fill(person.password);
      await page.getByRole('button', { name: 'Create account' }).click();
      await page.waitForSelector('#email-error');
      await screenshot(page, `${target}-sign-up-error`);
      assert.equal(await page.inputValue('#firstName'), person.firstName);
      await page.getByLabel('Email').fill(person.email);
      await page.getByLabel('Password').fill(person.password);
      await page.getByRole('button', { name: 'Create account' }).click();
      await page.waitForSelector('#hello');
      assert.equal(await page.textContent('#hello'), `Hello ${person.email}`);
      const user = await userRow(harness!, person.email);
      assert.equal(rp!.seen.tokens?.claims()?.sub, user?.id);
      await context.close();
    });

    it('asks for a reset link from the sign-in page and the mailed link opens the reset page', async () => {
      const user = await registerUser(harness!.app);
      const context = await browser!.newContext({ javaScriptEnabled: false });
      const page = await context.newPage();
      await page.goto(`${rp!.base}/login`);
      await page.getByRole('link', { name: 'Forgot your password?' }).click();
      await page.waitForSelector('h1:text("Reset your password")');
      await screenshot(page, `${target}-forgot-password`);
      await page.getByLabel('Email').fill(user.email);
      await page.getByRole('button', { name: 'Send me a link' }).click();
      await page.waitForSelector('.outcome.ok');
      await screenshot(page, `${target}-reset-link-sent`);
      const mail = await mailbox.waitFor((m) => m.to === user.email && m.text.includes('/reset-password?token='));
      const link = /\S*\/reset-password\?token=\S*/.exec(mail.text)![0];
      await page.goto(link);
      assert.equal(await page.textContent('h1'), 'Reset your password');
      assert.ok(await page.getByLabel('New password').isVisible());
      await context.close();
    });
  });
}
