// The page behind an invitation link: as HTTP answers on every database target (what it shows, escaped,
// and which form it offers, or why it offers none), and in a real browser (Chromium driven by
// playwright-core, where one is installed): a new person registers and joins, an existing one signs in
// and joins.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { call, createOrganisation, PASSWORD, registerUser, uniqueEmail, type TestUser } from './helpers/api.ts';
import { NO_BROWSER, useBrowser } from './helpers/browser.ts';
import { fingerprint, forEachDatabase, PUBLIC_URL, settled, type Harness } from './helpers/harness.ts';

const DEAD_LINK = /This link is invalid, has expired or was already used\./;
const ORG_NAME = '<b>Evil</b>';

/** The newest link of a kind mailed to an address, read from the outbox. */
async function mailedLink(h: Harness, email: string, kind = 'invitation', path = '/accept-invite'): Promise<string> {
  const mail = await h.db.selectFrom('outbox').select('text_body').where(sql<string>`lower(recipient)`, '=', email.toLowerCase()).where('kind', '=', kind).orderBy('id', 'desc').executeTakeFirst();
  const match = mail && new RegExp(`${PUBLIC_URL}${path}\\?token=[\\w%-]+`).exec(mail.text_body);
  assert.ok(match, `no ${kind} mail to ${email}`);
  return match[0];
}

const tokenOf = (link: string) => new URL(link).searchParams.get('token') ?? '';

/** An inviter with a name to escape, owning an organisation with a name to escape. */
async function inviterAndOrganisation(h: Harness) {
  const owner = await registerUser(h.app, { firstName: 'Ada', lastName: '<i>Lovelace</i>' });
  return { owner, orgId: await createOrganisation(h.app, owner.accessToken, ORG_NAME) };
}

/** Invites an email and returns the mailed link and the invitation's id. */
async function inviteTo(h: Harness, owner: TestUser, orgId: string, email: string, role = 'admin') {
  const answer = await call(h.app, 'POST', `/api/organisations/${orgId}/invitations`, { token: owner.accessToken, body: { email, role } });
  assert.equal(answer.status, 201, JSON.stringify(answer.body));
  return { link: await mailedLink(h, email), id: answer.body.data.invitationId as string };
}

/** Confirms a user's email by the link mailed at registration. */
async function verify(h: Harness, user: TestUser) {
  const link = await mailedLink(h, user.email, 'email_verification', '/verify-email');
  assert.equal((await call(h.app, 'POST', '/auth/email/verify', { body: { token: tokenOf(link) } })).status, 200);
}

/** The user's role in the organisation as GET /api/organisations tells it, after signing in afresh. */
async function roleVia(h: Harness, email: string, password: string, orgId: string) {
  const login = await call(h.app, 'POST', '/auth/login', { body: { email, password } });
  assert.equal(login.status, 200, JSON.stringify(login.body));
  const listed = await call(h.app, 'GET', '/api/organisations', { token: login.body.data.accessToken });
  return listed.body.data.organisations.find((o: { orgId: string }) => o.orgId === orgId)?.role as string | undefined;
}

forEachDatabase('the accept-invite page', (h) => {
  const open = (url: string) => h().app.inject({ url: url.replace(PUBLIC_URL, '') });

  it('shows the organisation, role and inviter, escaped, and a registration form for an email without an account', async () => {
    const { owner, orgId } = await inviterAndOrganisation(h());
    const email = uniqueEmail('newcomer');
    const { link, id } = await inviteTo(h(), owner, orgId, email);
    await settled(h().db, { failOnTimeout: true });
    const before = await fingerprint(h().db);
    const answer = await open(link);
    assert.equal(answer.statusCode, 200);
    assert.match(String(answer.headers['content-type']), /^text\/html/);
    const csp = String(answer.headers['content-security-policy']);
    assert.match(csp, /default-src 'none'/);
    assert.match(csp, /script-src 'self'/);
    assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval/);
    assert.equal(answer.headers['x-frame-options'], 'DENY');

    const html = answer.body;
    assert.ok(html.includes('Ada &lt;i&gt;Lovelace&lt;/i&gt; invites you to join <strong>&lt;b&gt;Evil&lt;/b&gt;</strong> as <strong>admin</strong>'), html);
    assert.doesNotMatch(html, /<b>Evil|<i>Lovelace/);
    assert.match(html, /<form data-action="\/auth\/register"/);
    assert.ok(html.includes(`name="inviteToken" value="${tokenOf(link)}"`));
    assert.ok(html.includes(`value="${email}" readonly`));
    for (const field of ['firstName', 'lastName', 'password', 'confirm']) assert.match(html, new RegExp(`<input id="${field}"`), field);
    assert.doesNotMatch(html, /data-action="\/auth\/login"|Sign in and accept/);
    assert.doesNotMatch(html, /<script>[^<]/, 'no inline script');
    assert.equal(await fingerprint(h().db), before, 'opening the page changed the database');
    assert.equal((await h().db.selectFrom('invitations').select('status').where('id', '=', id).executeTakeFirstOrThrow()).status, 'pending');
  });

  it('offers to sign in and accept when the invited email has an account', async () => {
    const { owner, orgId } = await inviterAndOrganisation(h());
    const invitee = await registerUser(h().app);
    const { link } = await inviteTo(h(), owner, orgId, invitee.email.toUpperCase(), 'member');
    const html = (await open(link)).body;
    assert.ok(html.includes('invites you to join <strong>&lt;b&gt;Evil&lt;/b&gt;</strong> as <strong>member</strong>'), html);
    assert.match(html, /<form data-action="\/auth\/login" data-then="\/api\/invitations\/accept"/);
    assert.match(html, /<button type="submit">Sign in and accept<\/button>/);
    assert.ok(html.includes(`name="token" value="${tokenOf(link)}"`));
    assert.match(html, /<input id="password" name="password" type="password"/);
    assert.doesNotMatch(html, /id="firstName"|\/auth\/register/);
  });

  it('says at once that an unknown or missing token does not work, echoing nothing', async () => {
    for (const url of ['/accept-invite', '/accept-invite?token=nope', '/accept-invite?token=%22%3E%3Cscript%3Ealert(1)%3C%2Fscript%3E']) {
      const answer = await open(url);
      assert.equal(answer.statusCode, 200, url);
      assert.match(String(answer.headers['content-security-policy']), /default-src 'none'/);
      assert.match(answer.body, DEAD_LINK, url);
      assert.doesNotMatch(answer.body, /<form|<script>alert/, url);
    }
  });

  it('says a revoked, accepted or expired invitation no longer works, offering no form', async () => {
    const { app } = h();
    const { owner, orgId } = await inviterAndOrganisation(h());
    const [revoked, accepted, expired] = [uniqueEmail('revoked'), uniqueEmail('accepted'), uniqueEmail('expired')];
    const links = { revoked: await inviteTo(h(), owner, orgId, revoked), accepted: await inviteTo(h(), owner, orgId, accepted), expired: await inviteTo(h(), owner, orgId, expired) };
    for (const { link } of Object.values(links)) assert.match((await open(link)).body, /<form/, 'a pending invitation offers a form');

    assert.equal((await call(app, 'DELETE', `/api/organisations/${orgId}/invitations/${links.revoked.id}`, { token: owner.accessToken })).status, 200);
    const registered = await call(app, 'POST', '/auth/register', { body: { firstName: 'A', lastName: 'B', email: accepted, password: PASSWORD, inviteToken: tokenOf(links.accepted.link) } });
    assert.equal(registered.status, 201, JSON.stringify(registered.body));
    const expect = async (link: string, why: RegExp) => {
      const html = (await open(link)).body;
      assert.match(html, why);
      assert.ok(html.includes('<strong>&lt;b&gt;Evil&lt;/b&gt;</strong>'));
      assert.doesNotMatch(html, /<form|<input/);
    };
    await expect(links.revoked.link, /This invitation was withdrawn\./);
    await expect(links.accepted.link, /This invitation was accepted already\./);
    try {
      h().clock.advance(7 * 24 * 3600 + 60);
      await expect(links.expired.link, /This invitation has expired: ask for a new one\./);
    } finally {
      h().clock.reset();
    }
  });
});

describe('the accept-invite page in a browser', { skip: NO_BROWSER }, () => {
  const { harness: h, open } = useBrowser();

  it('lets a new person register from the link and land in the organisation with the invited role', async () => {
    const { owner, orgId } = await inviterAndOrganisation(h());
    const email = uniqueEmail('browser-new');
    const page = await open((await inviteTo(h(), owner, orgId, email, 'admin')).link);
    assert.equal(await page.textContent('strong'), ORG_NAME, 'the name is shown as text');
    assert.equal(await page.inputValue('#email'), email);
    await page.fill('#firstName', 'Grace');
    await page.fill('#lastName', 'Hopper');
    await page.fill('#password', 'a fresh passphrase');
    await page.fill('#confirm', 'a fresh passphrase');
    await page.click('button[type=submit]');
    await page.waitForSelector('#status.ok');
    assert.equal(await page.textContent('#status'), `Welcome: your account is ready and you are a member of ${ORG_NAME}.`);
    assert.equal(await page.isVisible('form'), false);
    await page.close();

    assert.equal(await roleVia(h(), email, 'a fresh passphrase', orgId), 'admin');
    const user = await h().db.selectFrom('users').select(['first_name', 'email_verified_at']).where('email', '=', email).executeTakeFirstOrThrow();
    assert.equal(user.first_name, 'Grace');
    assert.ok(user.email_verified_at instanceof Date);
  });

  it('lets an existing, verified user sign in from the link and accept', async () => {
    const { owner, orgId } = await inviterAndOrganisation(h());
    const invitee = await registerUser(h().app);
    await verify(h(), invitee);
    const page = await open((await inviteTo(h(), owner, orgId, invitee.email, 'member')).link);
    assert.equal(await page.$('#firstName'), null, 'no registration form for an existing account');
    await page.fill('#password', PASSWORD);
    await page.click('button:has-text("Sign in and accept")');
    await page.waitForSelector('#status.ok');
    assert.equal(await page.textContent('#status'), `Welcome: you are now a member of ${ORG_NAME}.`);
    await page.close();
    assert.equal(await roleVia(h(), invitee.email, PASSWORD, orgId), 'member');
  });

  it('tells an existing user whose email is not verified yet why they cannot accept, joining nothing', async () => {
    const { owner, orgId } = await inviterAndOrganisation(h());
    const invitee = await registerUser(h().app);
    const page = await open((await inviteTo(h(), owner, orgId, invitee.email, 'member')).link);
    await page.fill('#password', PASSWORD);
    await page.click('button[type=submit]');
    await page.waitForSelector('#status.error');
    assert.match(await page.textContent('#status') ?? '', /^Confirm your email address first: follow the link in the confirmation mail \(or ask for a new one\), then accept the invitation$/);
    await page.close();
    assert.equal(await roleVia(h(), invitee.email, PASSWORD, orgId), undefined);
  });
});
