// Attacks on tokens through the HTTP API, on every database target: forged and confused access tokens,
// tokens out of their time, one kind of token presented where another belongs, races on one refresh
// token and on one email, reset links at the edge of their life, mailed links under a hostile Host
// header, and what sign-in, registration and a reset request tell a stranger about an account.
import assert from 'node:assert/strict';
import { createHmac, createPrivateKey, createPublicKey, generateKeyPairSync, randomUUID, sign, type JsonWebKey, type KeyObject } from 'node:crypto';
import { createServer } from 'node:http';
import { after, it } from 'node:test';
import { sql, type RawBuilder } from 'kysely';
import { assertErrorEnvelope, call, createOrganisation, PASSWORD, registerUser, uniqueEmail, type Answer, type TestUser } from './helpers/api.ts';
import { fingerprint, forEachDatabase, PUBLIC_URL, settled, type Harness } from './helpers/harness.ts';
import { linkIn, startMailbox, type ReceivedMail } from './helpers/mailbox.ts';

const mailbox = await startMailbox();
after(() => mailbox.stop());

const SUBJECT = { verification: 'Confirm your email address', reset: 'Reset your password' };
const VERIFY_LINK = `${PUBLIC_URL}/verify-email?token=`;
const RESET_LINK = `${PUBLIC_URL}/reset-password?token=`;
const INVITE_LINK = `${PUBLIC_URL}/accept-invite?token=`;
const NEW_PASSWORD = 'a brand new passphrase';
const HOSTILE_HEADERS = {
  host: 'evil.example',
  'x-forwarded-host': 'evil.example',
  'x-forwarded-proto': 'http',
  'x-forwarded-port': '8080',
  forwarded: 'host=evil.example;proto=http',
  'x-original-host': 'evil.example',
  origin: 'https://evil.example',
  referer: 'https://evil.example/reset',
};

type Json = Record<string, unknown>;
const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const decode = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Json;
const headerOf = (token: string) => decode(token.split('.')[0]!);
const claimsOf = (token: string) => decode(token.split('.')[1]!);
const sid = (token: string) => String(claimsOf(token).sid);

/** A JWT with exactly this header and these claims, signed by Ed25519 under `key`. */
const signEd25519 = (header: Json, claims: Json, key: KeyObject) => {
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${sign(null, Buffer.from(input), key).toString('base64url')}`;
};

/** A JWT signed with HMAC under `secret`, as an algorithm-confusion attack builds it. */
const signHmac = (alg: 'HS256' | 'HS512', header: Json, claims: Json, secret: string | Buffer) => {
  const input = `${b64({ ...header, alg })}.${b64(claims)}`;
  return `${input}.${createHmac(alg === 'HS256' ? 'sha256' : 'sha512', secret).update(input).digest('base64url')}`;
};

/** The same header and signature over changed claims. */
const withClaims = (token: string, changes: Json) => {
  const [header, , signature] = token.split('.') as [string, string, string];
  return `${header}.${b64({ ...claimsOf(token), ...changes })}.${signature}`;
};

/** Letters of `text` in upper or lower case after the bits of `n`, so that each n spells it differently. */
const mixedCase = (text: string, n: number) => [...text].map((c, i) => ((n >> i % 8) & 1 ? c.toUpperCase() : c.toLowerCase())).join('');

const withoutRequestId = (body: Json) => {
  const { requestId: _requestId, ...rest } = body;
  return rest;
};

function tokenSuite(h: () => Harness) {
  const app = () => h().app;
  const db = () => h().db;
  const me = (token: string) => call(app(), 'GET', '/api/users/me', { token });
  const login = (body: Json, url = '/auth/login') => call(app(), 'POST', url, { body });
  const forgot = (email: string, headers: Record<string, string> = {}) => call(app(), 'POST', '/auth/password/forgot', { body: { email }, headers });
  const refresh = (refreshToken: string) => call(app(), 'POST', '/auth/refresh', { body: { refreshToken } });

  /** The n-th mail (from 1) with this subject to this address, waiting for it. */
  async function mailTo(email: string, subject: string | RegExp, n = 1): Promise<ReceivedMail> {
    const matching = () => mailbox.to(email).filter((mail) => (typeof subject === 'string' ? mail.subject === subject : subject.test(mail.subject)));
    await mailbox.waitFor(() => matching().length >= n);
    return matching()[n - 1]!;
  }

  /** The active signing key's private half, read from the database: it signs whatever we like. */
  async function activeKey(): Promise<{ kid: string; key: KeyObject }> {
    const row = await db().selectFrom('signing_keys').select(['kid', 'private_jwk']).where('status', '=', 'active').executeTakeFirstOrThrow();
    return { kid: row.kid, key: createPrivateKey({ key: row.private_jwk as JsonWebKey, format: 'jwk' }) };
  }

  async function makeAdmin(): Promise<TestUser> {
    const user = await registerUser(app());
    await db().updateTable('users').set({ platform_role: 'admin' }).where('id', '=', user.userId).execute();
    const answer = await login({ email: user.email, password: user.password });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return { ...user, accessToken: answer.body.data.accessToken };
  }

  async function disable(user: TestUser) {
    const admin = await makeAdmin();
    const answer = await call(app(), 'PATCH', `/api/admin/users/${user.userId}`, { token: admin.accessToken, body: { status: 'disabled' } });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
  }

  /**
   * Every token is refused with 401 INVALID_TOKEN on a route that would change the caller's profile
   * and on an admin route, and the database is left as it was; the genuine token still works.
   */
  async function expectForgeriesRefused(forgeries: Array<[string, string]>, genuine: string) {
    await settled(db(), { failOnTimeout: true });
    const before = await fingerprint(db());
    for (const [label, token] of forgeries) {
      for (const [method, url, body] of [['PATCH', '/api/users/me', { firstName: 'Forged' }], ['GET', '/api/admin/users', undefined]] as const) {
        const answer = await call(app(), method, url, { token, body });
        assert.equal(answer.status, 401, `${label}: ${method} ${url} → ${answer.status} ${JSON.stringify(answer.body)}`);
        assertErrorEnvelope(answer, 401, 'INVALID_TOKEN');
      }
    }
    assert.equal(await fingerprint(db()), before, 'a refused forgery changed the database');
    const answer = await call(app(), 'PATCH', '/api/users/me', { token: genuine, body: { firstName: 'Genuine' } });
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
  }

  it('refuses alg none in any spelling, with the signature dropped or kept', async () => {
    const user = await registerUser(app());
    const [header, payload, signature] = user.accessToken.split('.') as [string, string, string];
    const forgeries: Array<[string, string]> = [];
    for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
      const unsigned = b64({ ...decode(header), alg });
      forgeries.push([`alg ${alg}`, `${unsigned}.${payload}.`], [`alg ${alg}, signature kept`, `${unsigned}.${payload}.${signature}`]);
    }
    const { alg: _alg, ...noAlg } = decode(header);
    forgeries.push(['no alg at all', `${b64(noAlg)}.${payload}.${signature}`]);
    await expectForgeriesRefused(forgeries, user.accessToken);
  });

  it('refuses HMAC tokens keyed with the published public key: raw x bytes, x text, PEM and DER SPKI, the JWK', async () => {
    const user = await registerUser(app());
    const kid = headerOf(user.accessToken).kid as string;
    const jwks = await call(app(), 'GET', '/.well-known/jwks.json');
    const published = (jwks.body.keys as JsonWebKey[]).find((key) => key.kid === kid);
    assert.ok(published?.x, `kid ${kid} is not published`);
    const publicKey = createPublicKey({ key: { kty: published.kty, crv: published.crv, x: published.x }, format: 'jwk' });
    const pem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const secrets: Array<[string, string | Buffer]> = [
      ['raw x bytes', Buffer.from(published.x, 'base64url')],
      ['x as text', published.x],
      ['PEM', pem],
      ['PEM trimmed', pem.trim()],
      ['DER', publicKey.export({ type: 'spki', format: 'der' })],
      ['JWK JSON', JSON.stringify(published)],
    ];
    const claims = claimsOf(user.accessToken);
    const forgeries: Array<[string, string]> = [];
    for (const [label, secret] of secrets) {
      for (const alg of ['HS256', 'HS512'] as const) forgeries.push([`${alg} keyed with ${label}`, signHmac(alg, { typ: 'JWT', kid }, claims, secret)]);
    }
    await expectForgeriesRefused(forgeries, user.accessToken);
  });

  it('refuses a genuine token whose claims were changed: another user, a later exp, an admin or owner claim', async () => {
    const [user, victim] = await Promise.all([registerUser(app()), registerUser(app())]);
    const { exp } = claimsOf(user.accessToken) as { exp: number };
    const changes: Json[] = [
      { sub: victim.userId, userId: victim.userId },
      { sub: victim.userId, userId: victim.userId, sid: sid(victim.accessToken), email: victim.email },
      { sid: sid(victim.accessToken) },
      { exp: exp + 24 * 3600 },
      { exp: exp + 10 * 365 * 24 * 3600, iat: exp },
      { platformRole: 'admin' },
      { platform_role: 'admin', isAdmin: true },
      { role: 'owner', roles: ['owner', 'admin'] },
    ];
    await expectForgeriesRefused(
      changes.map((change) => [JSON.stringify(change), withClaims(user.accessToken, change)]),
      user.accessToken,
    );
    assert.equal((await me(victim.accessToken)).body.data.firstName, 'Test');
  });

  it('refuses an unknown or injected kid, signed with the real key, an empty key or the kid itself', async () => {
    const user = await registerUser(app());
    const { kid: realKid, key } = await activeKey();
    const claims = claimsOf(user.accessToken);
    const kids: unknown[] = [randomUUID(), '../../dev/null', '../../../../../../../../dev/null', '/dev/null', "' or 1=1--", "x' union select private_jwk from signing_keys--", '', '*', `${realKid} `, realKid.toUpperCase(), 0, null, [realKid], { kid: realKid }];
    const forgeries: Array<[string, string]> = [];
    for (const kid of kids) {
      const label = `kid ${JSON.stringify(kid)}`;
      forgeries.push(
        [`${label}, real key`, signEd25519({ alg: 'EdDSA', typ: 'JWT', kid }, claims, key)],
        [`${label}, HS256 with an empty key`, signHmac('HS256', { typ: 'JWT', kid }, claims, '')],
        [`${label}, HS256 keyed with the kid`, signHmac('HS256', { typ: 'JWT', kid }, claims, String(kid))],
      );
    }
    forgeries.push(['no kid, real key', signEd25519({ alg: 'EdDSA', typ: 'JWT' }, claims, key)]);
    // The same forging works with the right kid: the refusals above are the kid's doing.
    assert.equal((await me(signEd25519({ alg: 'EdDSA', typ: 'at+jwt', kid: realKid }, claims, key))).status, 200);
    await expectForgeriesRefused(forgeries, user.accessToken);
  });

  it('refuses tokens that bring their own key (a jku elsewhere, an embedded jwk) and fetches nothing', async () => {
    const user = await registerUser(app());
    const realKid = headerOf(user.accessToken).kid as string;
    const attacker = generateKeyPairSync('ed25519');
    const attackerJwk = { ...attacker.publicKey.export({ format: 'jwk' }), kid: 'attacker', alg: 'EdDSA', use: 'sig' };
    let fetched = 0;
    const server = createServer((_request, response) => {
      fetched++;
      response.setHeader('content-type', 'application/json');
      response.end(JSON.stringify({ keys: [attackerJwk, { ...attackerJwk, kid: realKid }] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const jku = `http://127.0.0.1:${(server.address() as { port: number }).port}/jwks.json`;
      const claims = claimsOf(user.accessToken);
      const headers: Json[] = [
        { kid: 'attacker', jku },
        { kid: realKid, jku },
        { kid: realKid, jku: 'https://evil.example/.well-known/jwks.json' },
        { jwk: attackerJwk },
        { kid: realKid, jwk: { ...attackerJwk, kid: realKid } },
        { kid: 'attacker', jwk: attackerJwk },
        { kid: realKid, x5u: jku },
      ];
      await expectForgeriesRefused(
        headers.map((header) => [JSON.stringify(header), signEd25519({ alg: 'EdDSA', typ: 'JWT', ...header }, claims, attacker.privateKey)]),
        user.accessToken,
      );
      assert.equal(fetched, 0, 'Gatehouse fetched a key from the URL a token named');
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('accepts an expired access token within the 30 s tolerance and refuses it beyond', async () => {
    const user = await registerUser(app());
    const { exp } = claimsOf(user.accessToken) as { exp: number };
    /** Sets the clock to `seconds` since the epoch; it runs on from there. */
    const clockAt = (seconds: number) => {
      h().clock.reset();
      h().clock.advance(seconds - Date.now() / 1000);
    };
    try {
      // Not at the very edge: the request must be served before the clock, which keeps running, gets there.
      clockAt(exp + 20);
      assert.equal((await me(user.accessToken)).status, 200, 'refused 20 s after exp: no tolerance');
      clockAt(exp + 31);
      assertErrorEnvelope(await me(user.accessToken), 401, 'INVALID_TOKEN');
    } finally {
      h().clock.reset();
    }
  });

  it('accepts an access token issued up to 30 s ahead of its clock and refuses one issued further ahead', async () => {
    const user = await registerUser(app());
    const signInAhead = async (seconds: number) => {
      h().clock.reset();
      h().clock.advance(seconds);
      const answer = await login({ email: user.email, password: user.password });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      return answer.body.data.accessToken as string;
    };
    let slightlyAhead: string;
    let farAhead: string;
    try {
      slightlyAhead = await signInAhead(20);
      farAhead = await signInAhead(45);
    } finally {
      h().clock.reset();
    }
    assert.ok((claimsOf(farAhead).iat as number) > Date.now() / 1000 + 30, 'the token is not from far enough ahead');
    assert.equal((await me(slightlyAhead)).status, 200);
    assertErrorEnvelope(await me(farAhead), 401, 'INVALID_TOKEN');
  });

  /** A verification, a reset and an invitation token, each mailed and still unused. */
  async function linkTokens() {
    const [user, owner] = await Promise.all([registerUser(app()), registerUser(app())]);
    const verification = linkIn(await mailTo(user.email, SUBJECT.verification), VERIFY_LINK).token;
    assert.equal((await forgot(user.email)).status, 202);
    const reset = linkIn(await mailTo(user.email, SUBJECT.reset), RESET_LINK).token;
    const orgId = await createOrganisation(app(), owner.accessToken, 'Inviting');
    const invited = await call(app(), 'POST', `/api/organisations/${orgId}/invitations`, { token: owner.accessToken, body: { email: user.email } });
    assert.equal(invited.status, 201, JSON.stringify(invited.body));
    const invitation = linkIn(await mailTo(user.email, /invites you to/), INVITE_LINK).token;
    return { user, orgId, verification, reset, invitation };
  }

  /** Each token still does its own job afterwards: the refusals were not for a dead token. */
  async function tokensStillWork(tokens: Awaited<ReturnType<typeof linkTokens>>) {
    const { user, orgId, verification, reset, invitation } = tokens;
    assert.equal((await call(app(), 'POST', '/auth/email/verify', { body: { token: verification } })).status, 200);
    const accepted = await call(app(), 'POST', '/api/invitations/accept', { token: user.accessToken, body: { token: invitation } });
    assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
    assert.equal(accepted.body.data.orgId, orgId);
    assert.equal((await call(app(), 'POST', '/auth/password/reset', { body: { token: reset, password: NEW_PASSWORD } })).status, 200);
  }

  it('refuses a verification, a reset and an invitation token presented as a Bearer', async () => {
    const tokens = await linkTokens();
    await settled(db(), { failOnTimeout: true });
    const before = await fingerprint(db());
    for (const [label, token] of [['verification', tokens.verification], ['reset', tokens.reset], ['invitation', tokens.invitation]] as const) {
      for (const [method, url] of [['GET', '/api/users/me'], ['GET', '/api/organisations'], ['DELETE', '/api/users/me/sessions']] as const) {
        const answer = await call(app(), method, url, { token });
        assert.equal(answer.status, 401, `${label} token on ${method} ${url} → ${answer.status}`);
        assertErrorEnvelope(answer, 401, 'INVALID_TOKEN');
      }
    }
    assert.equal(await fingerprint(db()), before);
    await tokensStillWork(tokens);
  });

  it('refuses each kind of link token where another kind belongs', async () => {
    const tokens = await linkTokens();
    const { user, verification, reset, invitation } = tokens;
    const resetWith = (token: string) => call(app(), 'POST', '/auth/password/reset', { body: { token, password: NEW_PASSWORD } });
    const verifyWith = (token: string) => call(app(), 'POST', '/auth/email/verify', { body: { token } });
    const acceptWith = (token: string) => call(app(), 'POST', '/api/invitations/accept', { token: user.accessToken, body: { token } });
    await settled(db(), { failOnTimeout: true });
    const before = await fingerprint(db());
    for (const answer of [await resetWith(verification), await resetWith(invitation), await resetWith(user.refreshToken)]) assertErrorEnvelope(answer, 400, 'INVALID_LINK_TOKEN');
    for (const answer of [await verifyWith(reset), await verifyWith(invitation), await verifyWith(user.refreshToken)]) assertErrorEnvelope(answer, 400, 'INVALID_LINK_TOKEN');
    for (const token of [reset, verification, user.refreshToken]) assertErrorEnvelope(await acceptWith(token), 400, 'INVALID_LINK_TOKEN');
    for (const token of [reset, verification, invitation]) assertErrorEnvelope(await refresh(token), 401, 'INVALID_REFRESH_TOKEN');
    assert.equal(await fingerprint(db()), before);
    await tokensStillWork(tokens);
  });

  it('refuses an access token presented as a refresh token, on refresh and on logout, changing nothing', async () => {
    const user = await registerUser(app());
    await settled(db(), { failOnTimeout: true });
    const before = await fingerprint(db());
    for (const answer of [await refresh(user.accessToken), await call(app(), 'POST', '/auth/logout', { body: { refreshToken: user.accessToken } })]) {
      // An access token is longer than any opaque token, so validation may refuse it before the lookup does.
      if (answer.status === 422) assert.deepEqual(answer.body, { errors: [{ field: 'refreshToken', message: 'Refresh token must be at most 200 characters' }] });
      else assertErrorEnvelope(answer, 401, 'INVALID_REFRESH_TOKEN');
    }
    assert.equal(await fingerprint(db()), before);
    assert.equal((await me(user.accessToken)).status, 200);
    assert.equal((await refresh(user.refreshToken)).status, 200);
  });

  it('never leaves two live successors when 20 refreshes of one token race, and the reuse ends the session', async () => {
    const user = await registerUser(app());
    const sessionId = sid(user.accessToken);
    const answers = await Promise.all(Array.from({ length: 20 }, () => refresh(user.refreshToken)));
    assert.ok(
      answers.every((a) => a.status === 200 || a.status === 401),
      answers.map((a) => a.status).join(','),
    );
    const winners = answers.filter((a) => a.status === 200);
    assert.ok(winners.length <= 1, `${winners.length} refreshes succeeded`);
    for (const loser of answers.filter((a) => a.status === 401)) assertErrorEnvelope(loser, 401, 'INVALID_REFRESH_TOKEN');

    const rows = await db().selectFrom('refresh_tokens').select(['parent_id', 'spent_at']).where('session_id', '=', sessionId).execute();
    assert.equal(rows.filter((row) => row.parent_id !== null).length, winners.length, JSON.stringify(rows));
    assert.equal(rows.length, 1 + winners.length);
    // Every loser presented a spent token: the documented answer is to end the session.
    const session = await db().selectFrom('sessions').select(['revoked_at', 'revoked_reason']).where('id', '=', sessionId).executeTakeFirstOrThrow();
    assert.ok(session.revoked_at, 'the session outlived a reused refresh token');
    assert.equal(session.revoked_reason, 'refresh_token_reuse');

    let working = 0;
    for (const winner of winners) {
      const { accessToken, refreshToken } = winner.body.data;
      if ((await me(accessToken)).status === 200 || (await refresh(refreshToken)).status === 200) working++;
    }
    assert.equal(working, 0, 'a pair of the revoked session still works');
    assertErrorEnvelope(await refresh(user.refreshToken), 401, 'INVALID_REFRESH_TOKEN');
    assertErrorEnvelope(await me(user.accessToken), 401, 'INVALID_TOKEN');
  });

  it('lets exactly one of 50 parallel registrations of one email, in mixed case, through', async (t) => {
    const email = uniqueEmail('herd');
    const answers = await Promise.all(
      Array.from({ length: 50 }, (_, n) => call(app(), 'POST', '/auth/register', { body: { firstName: 'Herd', lastName: String(n), email: mixedCase(email, n), password: PASSWORD } })),
    );
    const statuses = answers.map((a) => a.status);
    assert.equal(statuses.filter((s) => s === 201).length, 1, statuses.join(','));
    assert.ok(
      statuses.every((s) => s < 500),
      statuses.join(','),
    );
    const losers = answers.filter((a) => a.status !== 201);
    assert.ok(
      losers.every((a) => a.status >= 400),
      statuses.join(','),
    );
    for (const loser of losers.filter((a) => a.status === 422)) assert.deepEqual(loser.body, { errors: [{ field: 'email', message: 'Email already exists' }] });
    const other = losers.filter((a) => a.status !== 422);
    if (other.length > 0) t.diagnostic(`not 422: ${other.map((a) => `${a.status} ${JSON.stringify(a.body)}`).join('; ')}`);

    const winner = answers.find((a) => a.status === 201)!.body.data.user.userId as string;
    const count = async (query: RawBuilder<{ n: number }>) => (await query.execute(db())).rows[0]!.n;
    assert.equal(await count(sql<{ n: number }>`select count(*)::int as n from users where lower(email) = ${email.toLowerCase()}`), 1);
    assert.equal(await count(sql<{ n: number }>`select count(*)::int as n from organisations o join users u on u.id = o.created_by where lower(u.email) = ${email.toLowerCase()}`), 1);
    assert.equal(await count(sql<{ n: number }>`select count(*)::int as n from organisations where created_by = ${winner} and personal`), 1);
    assert.equal(await count(sql<{ n: number }>`select count(*)::int as n from members where user_id = ${winner}`), 1);
    assert.equal(await count(sql<{ n: number }>`select count(*)::int as n from sessions where user_id = ${winner}`), 1);
    assert.equal(await count(sql<{ n: number }>`select count(*)::int as n from outbox where lower(recipient) = ${email.toLowerCase()} and kind = 'email_verification'`), 1);
  });

  it('keeps a reset link for its 30 minutes and not past them', async () => {
    const [early, late] = await Promise.all([registerUser(app()), registerUser(app())]);
    const linkFor = async (user: TestUser) => {
      assert.equal((await forgot(user.email)).status, 202);
      return linkIn(await mailTo(user.email, SUBJECT.reset), RESET_LINK).token;
    };
    const [earlyToken, lateToken] = [await linkFor(early), await linkFor(late)];
    const reset = (token: string) => call(app(), 'POST', '/auth/password/reset', { body: { token, password: NEW_PASSWORD } });
    try {
      h().clock.advance(29 * 60);
      assert.equal((await reset(earlyToken)).status, 200);
      h().clock.advance(90);
      assertErrorEnvelope(await reset(lateToken), 400, 'INVALID_LINK_TOKEN');
    } finally {
      h().clock.reset();
    }
    assert.equal((await login({ email: early.email, password: NEW_PASSWORD })).status, 200);
    assert.equal((await login({ email: late.email, password: PASSWORD })).status, 200);
    assertErrorEnvelope(await login({ email: late.email, password: NEW_PASSWORD }), 401, 'AUTHENTICATION_FAILED');
  });

  it('gives an unknown account, a wrong password and a disabled user the same answer on every sign-in route', async () => {
    const username = () => `u${randomUUID().replace(/-/g, '').slice(0, 12)}`;
    const [known, disabled] = await Promise.all([registerUser(app(), { username: username() }), registerUser(app(), { username: username() })]);
    const names = new Map<string, string>();
    for (const user of [known, disabled]) names.set(user.userId, (await me(user.accessToken)).body.data.username);
    await disable(disabled);
    const routes: Array<[string, (user: { email: string; username: string }, password: string) => Json]> = [
      ['/auth/login', (u, password) => ({ email: u.email, password })],
      ['/auth/login', (u, password) => ({ username: u.username, password })],
      ['/signin', (u, password) => ({ email: u.email, password })],
      ['/api/user/login', (u, password) => ({ username: u.username, password })],
      ['/login', (u, password) => ({ username: u.username, password })],
    ];
    const account = (user: TestUser) => ({ email: user.email, username: names.get(user.userId)! });
    const cases: Array<[string, { email: string; username: string }, string]> = [
      ['unknown account', { email: uniqueEmail('ghost'), username: username() }, PASSWORD],
      ['wrong password', account(known), 'not the password'],
      ['disabled, right password', account(disabled), PASSWORD],
      ['disabled, wrong password', account(disabled), 'not the password'],
    ];
    for (const [url, body] of routes) {
      const answers: Array<[string, Answer]> = [];
      for (const [label, user, password] of cases) answers.push([label, await login(body(user, password), url)]);
      const [, first] = answers[0]!;
      assert.equal(first.status, 401, `${url}: ${JSON.stringify(first.body)}`);
      for (const [label, answer] of answers) {
        assert.equal(answer.status, first.status, `${url} ${label}`);
        assert.deepEqual(withoutRequestId(answer.body), withoutRequestId(first.body), `${url} ${label}`);
      }
      const right = await login(body(account(known), PASSWORD), url);
      assert.equal(right.status, 200, `${url}: the known account does not sign in: ${JSON.stringify(right.body)}`);
    }
    const core = await login({ email: uniqueEmail('ghost'), password: PASSWORD });
    assert.deepEqual(withoutRequestId(core.body), { status: 'Bad request', message: 'Authentication failed', statusCode: 401, code: 'AUTHENTICATION_FAILED' });
  });

  it('tells a registration only the documented "Email already exists", whatever the account’s state', async () => {
    const [active, verified, disabled] = await Promise.all([registerUser(app()), registerUser(app()), registerUser(app())]);
    const token = linkIn(await mailTo(verified.email, SUBJECT.verification), VERIFY_LINK).token;
    assert.equal((await call(app(), 'POST', '/auth/email/verify', { body: { token } })).status, 200);
    await disable(disabled);
    const register = (email: string, password = PASSWORD) => call(app(), 'POST', '/auth/register', { body: { firstName: 'Probe', lastName: 'Probe', email, password } });
    await settled(db(), { failOnTimeout: true });
    const before = await fingerprint(db());
    for (const user of [active, verified, disabled]) {
      for (const email of [user.email, user.email.toUpperCase()]) {
        const answer = await register(email);
        assert.equal(answer.status, 422, `${email}: ${JSON.stringify(answer.body)}`);
        assert.deepEqual(answer.body, { errors: [{ field: 'email', message: 'Email already exists' }] });
      }
      // Another invalid field hides whether the email is taken: the answer is the one a free email gets.
      const taken = await register(user.email, 'short');
      const free = await register(uniqueEmail('free'), 'short');
      assert.equal(taken.status, free.status);
      assert.deepEqual(taken.body, free.body);
    }
    assert.equal(await fingerprint(db()), before);
  });

  it('answers a reset request for a disabled or differently cased account as for an unknown one', async () => {
    const [known, disabled] = await Promise.all([registerUser(app()), registerUser(app())]);
    await disable(disabled);
    const unknown = await forgot(uniqueEmail('ghost'));
    assert.equal(unknown.status, 202);
    for (const email of [known.email.toUpperCase(), disabled.email]) {
      const answer = await forgot(email);
      assert.equal(answer.status, unknown.status, email);
      assert.deepEqual(answer.body, unknown.body, email);
    }
    // The differently cased request was real: the known account got its link.
    linkIn(await mailTo(known.email, SUBJECT.reset), RESET_LINK);
  });
}

/** Every link in a mail starts with PUBLIC_URL, and the hostile host appears nowhere in it. */
function assertLinksArePublic(mail: ReceivedMail, label: string) {
  const links = [...`${mail.text}\n${mail.html}`.matchAll(/https?:\/\/[^\s"'<>]+/g)].map((m) => m[0]);
  assert.ok(links.length > 0, `${label}: no link in ${mail.text}`);
  for (const link of links) assert.ok(link.startsWith(`${PUBLIC_URL}/`), `${label}: ${link}`);
  for (const part of [mail.subject, mail.text, mail.html]) assert.doesNotMatch(part, /evil\.example|:8080/, label);
}

function hostSuite(h: () => Harness) {
  const app = () => h().app;
  const send = (method: 'POST', url: string, body: Json | undefined, token?: string) => call(app(), method, url, { body, token, headers: HOSTILE_HEADERS });
  const accepted = (answer: Answer, status: number, label: string) => assert.equal(answer.status, status, `${label}: ${JSON.stringify(answer.body)}`);

  /** The n-th mail (from 1) to this address whose subject matches. */
  async function mailTo(email: string, subject: RegExp, n = 1) {
    const matching = () => mailbox.to(email).filter((mail) => subject.test(mail.subject));
    await mailbox.waitFor(() => matching().length >= n);
    return matching()[n - 1]!;
  }

  it('mails links under PUBLIC_URL whatever Host and forwarding headers every mail-sending request carries', async () => {
    const email = uniqueEmail('host');
    const registered = await send('POST', '/auth/register', { firstName: 'Host', lastName: 'Header', email, password: PASSWORD });
    accepted(registered, 201, 'register');
    assertLinksArePublic(await mailTo(email, /^Confirm your email/), 'verification at registration');

    accepted(await send('POST', '/auth/email/resend', undefined, registered.body.data.accessToken), 202, 'resend');
    assertLinksArePublic(await mailTo(email, /^Confirm your email/, 2), 'verification resent');

    accepted(await send('POST', '/auth/password/forgot', { email }), 202, 'forgot');
    assertLinksArePublic(await mailTo(email, /^Reset your password/), 'reset');

    const owner = await registerUser(app());
    const orgId = await createOrganisation(app(), owner.accessToken, 'Hosts');
    const invitee = uniqueEmail('invitee');
    const invited = await send('POST', `/api/organisations/${orgId}/invitations`, { email: invitee }, owner.accessToken);
    accepted(invited, 201, 'invite');
    assertLinksArePublic(await mailTo(invitee, /invites you to/), 'invitation');
    accepted(await send('POST', `/api/organisations/${orgId}/invitations/${invited.body.data.invitationId}/resend`, undefined, owner.accessToken), 200, 'invitation resend');
    assertLinksArePublic(await mailTo(invitee, /invites you to/, 2), 'invitation resent');

    const saasInvitee = uniqueEmail('saas-invitee');
    accepted(await send('POST', '/invite-member', { email: saasInvitee, organization_id: orgId, role: 'member' }, owner.accessToken), 201, 'saas invite');
    assertLinksArePublic(await mailTo(saasInvitee, /invites you to/), 'saas invitation');

    const member = await registerUser(app());
    accepted(await send('POST', '/reset-password', { email: member.email }), 202, 'saas reset');
    assertLinksArePublic(await mailTo(member.email, /^Reset your password/), 'saas reset');

    const username = `host${randomUUID().replace(/-/g, '').slice(0, 10)}`;
    const apiEmail = uniqueEmail('user-api');
    accepted(await send('POST', '/api/user/register', { username, first_name: 'Api', last_name: 'User', email: apiEmail, password: PASSWORD }), 201, 'user-api register');
    assertLinksArePublic(await mailTo(apiEmail, /^Confirm your email/), 'user-api verification');
    accepted(await send('POST', '/api/user/forget_password', { username, email: apiEmail }), 200, 'user-api forget');
    assertLinksArePublic(await mailTo(apiEmail, /^Reset your password/), 'user-api reset');
  });
}

forEachDatabase('token attacks', (h) => tokenSuite(h), { SMTP_URL: mailbox.url });

// Behind a proxy the forwarding headers are trusted for the client's address: still never for links.
forEachDatabase('mailed links under hostile Host headers', (h) => hostSuite(h), { SMTP_URL: mailbox.url, TRUST_PROXY: 'true' });
