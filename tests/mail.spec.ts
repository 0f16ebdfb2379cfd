// The account flows that go through a mail, end to end: each request is made over the HTTP API, the
// outbox worker delivers the mail to a real SMTP server in this process, and the test reads the mail
// and follows its link. On every database target.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, it } from 'node:test';
import { MAILS_PER_HOUR } from '../src/domain/events/notices.ts';
import { addMember, assertErrorEnvelope, call, createOrganisation, PASSWORD, registerUser, uniqueEmail, type TestUser } from './helpers/api.ts';
import { fingerprint, forEachDatabase, PUBLIC_URL, settled, type Harness } from './helpers/harness.ts';
import { linkIn, startMailbox, type ReceivedMail } from './helpers/mailbox.ts';
import { expectAuthenticationRequired, expectRefused, type RouteCall } from './helpers/matrix.ts';

const mailbox = await startMailbox();
after(() => mailbox.stop());

const SUBJECT = {
  verification: 'Confirm your email address',
  reset: 'Reset your password',
  changed: 'Your password was changed',
  loginAlert: 'New sign-in to your account',
};
const VERIFY_LINK = `${PUBLIC_URL}/verify-email?token=`;
const RESET_LINK = `${PUBLIC_URL}/reset-password?token=`;
const NEW_PASSWORD = 'a brand new passphrase';

/** The n-th mail (from 1) with this subject to this address, waiting for it to arrive. */
async function mailTo(email: string, subject: string, n = 1): Promise<ReceivedMail> {
  const matching = () => mailbox.to(email).filter((mail) => mail.subject === subject);
  await mailbox.waitFor(() => matching().length >= n);
  return matching()[n - 1]!;
}

/** The session id an access token names. */
const sid = (token: string): string => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')).sid;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function mailSuite(h: () => Harness) {
  const app = () => h().app;
  const login = (email: string, password: string, headers: Record<string, string> = {}) => call(app(), 'POST', '/auth/login', { body: { email, password }, headers });
  const forgot = (email: string, headers: Record<string, string> = {}) => call(app(), 'POST', '/auth/password/forgot', { body: { email }, headers });
  const reset = (token: string, password = NEW_PASSWORD) => call(app(), 'POST', '/auth/password/reset', { body: { token, password } });
  const verify = (token: string) => call(app(), 'POST', '/auth/email/verify', { body: { token } });
  const me = (token: string) => call(app(), 'GET', '/api/users/me', { token });
  const outboxRows = (email: string, kind: string) =>
    h().db.selectFrom('outbox').select(['id', 'status']).where('recipient', '=', email).where('kind', '=', kind).execute();

  /** Signs the user in once more from the same device, for a second session. */
  async function secondSession(user: TestUser): Promise<string> {
    const answer = await login(user.email, user.password);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return answer.body.data.accessToken;
  }

  it('mails a verification link at registration that confirms the email exactly once', async () => {
    const user = await registerUser(app());
    assert.equal((await me(user.accessToken)).body.data.emailVerified, false);
    const mail = await mailTo(user.email, SUBJECT.verification);
    const { token } = linkIn(mail, VERIFY_LINK);
    assert.ok(token.length >= 22, mail.text);

    const answer = await verify(token);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    assert.equal((await me(user.accessToken)).body.data.emailVerified, true);
    assertErrorEnvelope(await verify(token), 400, 'INVALID_LINK_TOKEN');
    assertErrorEnvelope(await verify('not-a-token'), 400, 'INVALID_LINK_TOKEN');
  });

  it('resends a verification link that replaces the older one', async () => {
    const user = await registerUser(app());
    const first = linkIn(await mailTo(user.email, SUBJECT.verification), VERIFY_LINK).token;
    const answer = await call(app(), 'POST', '/auth/email/resend', { token: user.accessToken });
    assert.equal(answer.status, 202, JSON.stringify(answer.body));
    const second = linkIn(await mailTo(user.email, SUBJECT.verification, 2), VERIFY_LINK).token;
    assert.notEqual(second, first);

    assertErrorEnvelope(await verify(first), 400, 'INVALID_LINK_TOKEN');
    assert.equal((await me(user.accessToken)).body.data.emailVerified, false);
    assert.equal((await verify(second)).status, 200);
    assert.equal((await me(user.accessToken)).body.data.emailVerified, true);
  });

  it('resets a forgotten password from the mailed link, ending every session and mailing an alert', async () => {
    const user = await registerUser(app());
    const otherAccess = await secondSession(user);
    const known = await forgot(user.email);
    const unknown = await forgot(uniqueEmail('ghost'));
    assert.equal(known.status, 202);
    assert.deepEqual(unknown.body, known.body);
    assert.equal(unknown.status, known.status);

    const { url, token } = linkIn(await mailTo(user.email, SUBJECT.reset), RESET_LINK);
    assert.ok(url.startsWith(RESET_LINK));
    const answer = await reset(token);
    assert.equal(answer.status, 200, JSON.stringify(answer.body));

    for (const access of [user.accessToken, otherAccess]) assert.equal((await me(access)).status, 401);
    assert.equal((await call(app(), 'POST', '/auth/refresh', { body: { refreshToken: user.refreshToken } })).status, 401);
    const changed = await mailTo(user.email, SUBJECT.changed);
    assert.match(changed.text, /password of your account was changed/);

    assert.equal((await login(user.email, NEW_PASSWORD)).status, 200);
    assertErrorEnvelope(await login(user.email, PASSWORD), 401, 'AUTHENTICATION_FAILED');
    assertErrorEnvelope(await reset(token, 'yet another passphrase'), 400, 'INVALID_LINK_TOKEN');
    assert.equal((await login(user.email, NEW_PASSWORD)).status, 200);
  });

  it('refuses a reset link older than 30 minutes, changing no password', async () => {
    const user = await registerUser(app());
    assert.equal((await forgot(user.email)).status, 202);
    const { token } = linkIn(await mailTo(user.email, SUBJECT.reset), RESET_LINK);
    h().clock.advance(31 * 60);
    try {
      assertErrorEnvelope(await reset(token), 400, 'INVALID_LINK_TOKEN');
    } finally {
      h().clock.reset();
    }
    assert.equal((await login(user.email, PASSWORD)).status, 200);
    assert.equal((await login(user.email, NEW_PASSWORD)).status, 401);
  });

  it('lets a newer forgot request supersede the older link', async () => {
    const user = await registerUser(app());
    assert.equal((await forgot(user.email)).status, 202);
    const older = linkIn(await mailTo(user.email, SUBJECT.reset), RESET_LINK).token;
    assert.equal((await forgot(user.email)).status, 202);
    const newer = linkIn(await mailTo(user.email, SUBJECT.reset, 2), RESET_LINK).token;
    assert.notEqual(newer, older);
    assertErrorEnvelope(await reset(older), 400, 'INVALID_LINK_TOKEN');
    assert.equal((await reset(newer)).status, 200);
    assert.equal((await login(user.email, NEW_PASSWORD)).status, 200);
  });

  it('queues at most 3 reset mails an hour for one account, answering every request the same', async () => {
    const user = await registerUser(app());
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push(await forgot(user.email));
    for (const answer of answers) {
      assert.equal(answer.status, 202);
      assert.deepEqual(answer.body, answers[0]!.body);
    }
    await mailTo(user.email, SUBJECT.reset, 3);
    // The capped requests leave no trace to wait for (that is the point); give them time to run.
    await sleep(300);
    await settled(h().db, { failOnTimeout: true });
    assert.equal((await outboxRows(user.email, 'password_reset')).length, 3);
    assert.equal(mailbox.to(user.email).filter((mail) => mail.subject === SUBJECT.reset).length, 3);
  });

  it('mails at most 3 verification links an hour to one address, across accounts deleted and made again', async () => {
    const admin = await registerUser(app());
    await h().db.updateTable('users').set({ platform_role: 'admin' }).where('id', '=', admin.userId).execute();
    const email = uniqueEmail('again');
    for (let i = 0; i < 4; i++) {
      const user = await registerUser(app(), { email });
      if (i === 3) break;
      await mailTo(email, SUBJECT.verification, i + 1);
      const deleted = await call(app(), 'DELETE', `/api/admin/users/${user.userId}`, { token: admin.accessToken });
      assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
    }
    await sleep(300);
    await settled(h().db, { failOnTimeout: true });
    assert.equal((await outboxRows(email, 'email_verification')).length, 3);
    assert.equal(mailbox.to(email).filter((mail) => mail.subject === SUBJECT.verification).length, 3);
  });

  it('mails a PUBLIC_URL link even when the forgot request names another host', async () => {
    const user = await registerUser(app());
    const answer = await forgot(user.email, { host: 'evil.example', 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'http' });
    assert.equal(answer.status, 202);
    const mail = await mailTo(user.email, SUBJECT.reset);
    assert.ok(linkIn(mail, RESET_LINK).url.startsWith(`${PUBLIC_URL}/`));
    assert.doesNotMatch(mail.text, /evil\.example/);
    assert.doesNotMatch(mail.html, /evil\.example/);
  });

  it('changes the password with the right current one: other sessions end, the caller’s stays, an alert goes', async () => {
    const user = await registerUser(app());
    const otherAccess = await secondSession(user);
    await mailTo(user.email, SUBJECT.verification);
    await settled(h().db, { failOnTimeout: true });
    const before = await fingerprint(h().db);
    const wrong = await call(app(), 'POST', '/api/users/me/password', { token: user.accessToken, body: { currentPassword: 'not my password', newPassword: NEW_PASSWORD } });
    assert.equal(wrong.status, 422, JSON.stringify(wrong.body));
    assert.deepEqual(wrong.body.errors.map((e: { field: string }) => e.field), ['currentPassword']);
    assert.equal(await fingerprint(h().db), before);
    assert.equal((await me(otherAccess)).status, 200);

    const right = await call(app(), 'POST', '/api/users/me/password', { token: user.accessToken, body: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD } });
    assert.equal(right.status, 200, JSON.stringify(right.body));
    assert.equal((await me(user.accessToken)).status, 200);
    assert.equal((await me(otherAccess)).status, 401);
    await mailTo(user.email, SUBJECT.changed);
    assert.equal((await login(user.email, NEW_PASSWORD)).status, 200);
    assert.equal((await login(user.email, PASSWORD)).status, 401);
  });

  it('alerts a sign-in from a new device, and not one from a device seen before', async () => {
    const user = await registerUser(app());
    assert.equal((await login(user.email, user.password)).status, 200);
    assert.equal((await outboxRows(user.email, 'login_alert')).length, 0);

    const device = 'Mozilla/5.0 (X11; Linux x86_64) NewBrowser/1.0';
    assert.equal((await login(user.email, user.password, { 'user-agent': device })).status, 200);
    assert.equal((await outboxRows(user.email, 'login_alert')).length, 1);
    const alert = await mailTo(user.email, SUBJECT.loginAlert);
    assert.match(alert.text, /NewBrowser\/1\.0/);

    assert.equal((await login(user.email, user.password, { 'user-agent': device })).status, 200);
    assert.equal((await outboxRows(user.email, 'login_alert')).length, 1);

    // The same browser from another address is a new device too.
    const elsewhere = await call(app(), 'POST', '/auth/login', { body: { email: user.email, password: user.password }, headers: { 'user-agent': device }, remoteAddress: '203.0.113.9' });
    assert.equal(elsewhere.status, 200, JSON.stringify(elsewhere.body));
    assert.equal((await outboxRows(user.email, 'login_alert')).length, 2);
  });

  it('keeps links and long text out of an invitation’s subject, and names the organisation and inviter as plain text in its body', async () => {
    const inviter = await registerUser(app(), { firstName: 'Mallory see www.evil-login.com', lastName: '<b>Boss</b>' });
    const spam = 'Spam 1 - URGENT verify your account at http://evil-login.com/verify now';
    const orgId = await createOrganisation(app(), inviter.accessToken, spam);
    const invitee = uniqueEmail('target');
    assert.equal((await call(app(), 'POST', `/api/organisations/${orgId}/invitations`, { token: inviter.accessToken, body: { email: invitee } })).status, 201);
    const mail = await mailbox.waitFor((m) => m.to.toLowerCase() === invitee.toLowerCase());
    // Each name is cut to 40 characters first, then loses what looks like a link.
    assert.equal(mail.subject, 'Mallory see <b>Boss<… invites you to Spam 1 - URGENT verify your account at…');
    for (const part of [mail.text, mail.html]) {
      assert.doesNotMatch(part, /evil-login\.com|http:\/\/evil|www\.evil/, 'a link survived in the body');
      assert.ok(part.includes('evil-login[.]com'), 'the name is shown whole, its link defanged');
    }
    assert.match(mail.text, /Mallory see www\[\.\]evil-login\[\.\]com <b>Boss<\/b> invites you to join the organisation “Spam 1 - URGENT verify your account at http\[:\]\/\/evil-login\[\.\]com\/verify now” as member\./);
    assert.match(mail.html, /&lt;b&gt;Boss&lt;\/b&gt;/);
    assert.doesNotMatch(mail.html, /<b>Boss/);
    assert.ok(linkIn(mail, `${PUBLIC_URL}/accept-invite?token=`).token);
  });

  it('leaves ordinary names in an invitation’s subject as they are', async () => {
    const inviter = await registerUser(app(), { firstName: 'Jean-Luc', lastName: "O'Neill" });
    const orgId = await createOrganisation(app(), inviter.accessToken, "St. Mary's Hospital, Dept. 4");
    const invitee = uniqueEmail('nurse');
    assert.equal((await call(app(), 'POST', `/api/organisations/${orgId}/invitations`, { token: inviter.accessToken, body: { email: invitee } })).status, 201);
    const mail = await mailbox.waitFor((m) => m.to.toLowerCase() === invitee.toLowerCase());
    assert.equal(mail.subject, "Jean-Luc O'Neill invites you to St. Mary's Hospital, Dept. 4");
  });

  it('caps the alerts and welcomes one address gets in an hour, answering every request the same', async () => {
    const user = await registerUser(app());
    let password = PASSWORD;
    for (let i = 0; i <= MAILS_PER_HOUR.password_changed; i++) {
      const next = `a changed passphrase number ${i}`;
      const answer = await call(app(), 'POST', '/api/users/me/password', { token: user.accessToken, body: { currentPassword: password, newPassword: next } });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      password = next;
    }
    const owner = await registerUser(app());
    for (let i = 0; i <= MAILS_PER_HOUR.welcome; i++) {
      const orgId = await createOrganisation(app(), owner.accessToken, `Club ${i}`);
      await addMember(app(), owner.accessToken, orgId, user.userId);
    }
    await settled(h().db, { failOnTimeout: true });
    assert.equal((await outboxRows(user.email, 'password_changed')).length, MAILS_PER_HOUR.password_changed);
    assert.equal((await outboxRows(user.email, 'welcome')).length, MAILS_PER_HOUR.welcome);
  });

  it('escapes a user-given name in the HTML of a mail', async () => {
    const user = await registerUser(app(), { firstName: '<script>alert(1)</script>' });
    const mail = await mailTo(user.email, SUBJECT.verification);
    assert.match(mail.html, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
    assert.doesNotMatch(mail.html, /<script>alert/i);
  });

  it('lists the caller’s live sessions and ends one, or all the others', async () => {
    const alice = await registerUser(app());
    const second = await secondSession(alice);
    const third = await secondSession(alice);
    const list = async () => {
      const answer = await call(app(), 'GET', '/api/users/me/sessions', { token: alice.accessToken });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      return answer.body.data.sessions as Array<{ sessionId: string; current: boolean }>;
    };
    const sessions = await list();
    assert.deepEqual(sessions.map((s) => s.sessionId).sort(), [alice.accessToken, second, third].map(sid).sort());
    assert.deepEqual(sessions.filter((s) => s.current).map((s) => s.sessionId), [sid(alice.accessToken)]);

    const ended = await call(app(), 'DELETE', `/api/users/me/sessions/${sid(second)}`, { token: alice.accessToken });
    assert.equal(ended.status, 200, JSON.stringify(ended.body));
    assert.equal((await me(second)).status, 401);
    assert.equal((await list()).length, 2);

    const bob = await registerUser(app());
    await mailTo(bob.email, SUBJECT.verification);
    await settled(h().db, { failOnTimeout: true });
    for (const id of [sid(third), randomUUID(), 'not-a-uuid']) {
      await expectRefused(h(), { method: 'DELETE', url: `/api/users/me/sessions/${id}` }, bob.accessToken, 404, 'another user’s session');
    }
    assert.equal((await me(third)).status, 200);

    const others = await call(app(), 'DELETE', '/api/users/me/sessions', { token: alice.accessToken });
    assert.equal(others.status, 200, JSON.stringify(others.body));
    assert.equal(others.body.data.ended, 1);
    assert.equal((await me(third)).status, 401);
    assert.equal((await me(alice.accessToken)).status, 200);
    assert.deepEqual((await list()).map((s) => [s.sessionId, s.current]), [[sid(alice.accessToken), true]]);
  });

  it('refuses the session, resend and password routes without a valid token, changing nothing', async () => {
    const user = await registerUser(app());
    await mailTo(user.email, SUBJECT.verification);
    await settled(h().db, { failOnTimeout: true });
    const routes: RouteCall[] = [
      { method: 'GET', url: '/api/users/me/sessions' },
      { method: 'DELETE', url: `/api/users/me/sessions/${sid(user.accessToken)}` },
      { method: 'DELETE', url: '/api/users/me/sessions' },
      { method: 'POST', url: '/auth/email/resend' },
      { method: 'POST', url: '/api/users/me/password', body: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD } },
    ];
    for (const route of routes) await expectAuthenticationRequired(h(), route, user.accessToken);
    assert.equal((await me(user.accessToken)).status, 200);
  });
}

forEachDatabase('mail', (h) => mailSuite(h), { SMTP_URL: mailbox.url });

forEachDatabase(
  'mail with GATEHOUSE_REQUIRE_VERIFIED_EMAIL',
  (h) => {
    it('refuses sign-in until the email is verified, then lets the user in', async () => {
      const user = await registerUser(h().app);
      const login = (password: string) => call(h().app, 'POST', '/auth/login', { body: { email: user.email, password } });
      assertErrorEnvelope(await login(user.password), 403, 'EMAIL_NOT_VERIFIED');
      // A wrong password is the ordinary 401: the 403 tells nothing to someone without the password.
      assertErrorEnvelope(await login('not my password'), 401, 'AUTHENTICATION_FAILED');

      const { token } = linkIn(await mailTo(user.email, SUBJECT.verification), VERIFY_LINK);
      assert.equal((await call(h().app, 'POST', '/auth/email/verify', { body: { token } })).status, 200);
      const answer = await login(user.password);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.equal(answer.body.data.user.userId, user.userId);
    });
  },
  { SMTP_URL: mailbox.url, GATEHOUSE_REQUIRE_VERIFIED_EMAIL: 'true' },
);

/** Sign-ins from one device and from two new ones, and the alert mails they queued. */
async function alertsAfterSignIns(h: () => Harness): Promise<{ user: TestUser; alerts: number; sessions: number }> {
  const user = await registerUser(h().app);
  const devices = ['Mozilla/5.0 Known/1.0', 'Mozilla/5.0 Known/1.0', 'Mozilla/5.0 Another/2.0', 'Mozilla/5.0 Third/3.0'];
  for (const device of devices) {
    const answer = await call(h().app, 'POST', '/auth/login', { body: { email: user.email, password: user.password }, headers: { 'user-agent': device } });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
  }
  const n = (row: { n: number | string | bigint }) => Number(row.n);
  const alerts = await h().db.selectFrom('outbox').select((eb) => eb.fn.countAll<number>().as('n')).where('recipient', '=', user.email).where('kind', '=', 'login_alert').executeTakeFirstOrThrow();
  const sessions = await h().db.selectFrom('sessions').select((eb) => eb.fn.countAll<number>().as('n')).where('user_id', '=', user.userId).executeTakeFirstOrThrow();
  return { user, alerts: n(alerts), sessions: n(sessions) };
}

forEachDatabase(
  'mail with GATEHOUSE_LOGIN_ALERTS=all',
  (h) => {
    it('alerts every sign-in, from a device seen before too', async () => {
      const { user, alerts, sessions } = await alertsAfterSignIns(h);
      assert.equal(sessions, 5); // the registration's and four sign-ins
      assert.equal(alerts, 4);
      await mailTo(user.email, SUBJECT.loginAlert, 4);
    });

    it('alerts at most MAILS_PER_HOUR.login_alert sign-ins an hour, signing every one in', async () => {
      const user = await registerUser(h().app);
      for (let i = 0; i <= MAILS_PER_HOUR.login_alert; i++) {
        const answer = await call(h().app, 'POST', '/auth/login', { body: { email: user.email, password: user.password } });
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
      }
      const alerts = await h().db.selectFrom('outbox').select('id').where('recipient', '=', user.email).where('kind', '=', 'login_alert').execute();
      assert.equal(alerts.length, MAILS_PER_HOUR.login_alert);
    });
  },
  { SMTP_URL: mailbox.url, GATEHOUSE_LOGIN_ALERTS: 'all' },
);

forEachDatabase(
  'mail with GATEHOUSE_LOGIN_ALERTS=off',
  (h) => {
    it('alerts no sign-in, from a new device neither', async () => {
      const { alerts, sessions } = await alertsAfterSignIns(h);
      assert.equal(sessions, 5);
      assert.equal(alerts, 0);
    });
  },
  { SMTP_URL: mailbox.url, GATEHOUSE_LOGIN_ALERTS: 'off' },
);
