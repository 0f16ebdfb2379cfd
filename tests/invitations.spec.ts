// Invitations through the HTTP API, on every database target: inviting (and inviting again), listing,
// revoking, resending, expiring by the clock, accepting (signed in, or by registering with the token),
// who may do each, the races, the database's own one-pending-invitation rule and the audit trail.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { it } from 'node:test';
import { sql } from 'kysely';
import { addMember, assertErrorEnvelope, call, createOrganisation, PASSWORD, registerUser, uniqueEmail, type Answer, type TestUser } from './helpers/api.ts';
import { INVITATIONS_PER_ORGANISATION_PER_HOUR, MAILS_PER_HOUR } from '../src/domain/events/notices.ts';
import { fingerprint, forEachDatabase, PUBLIC_URL, settled } from './helpers/harness.ts';
import { expectAuthenticationRequired, expectRefused, type RouteCall } from './helpers/matrix.ts';

const DAY = 24 * 3600;

forEachDatabase('invitations', (h) => {
  const app = () => h().app;
  const db = () => h().db;
  const base = (orgId: string) => `/api/organisations/${orgId}/invitations`;
  const invite = (user: TestUser, orgId: string, body: Record<string, unknown>) => call(app(), 'POST', base(orgId), { token: user.accessToken, body });
  const accept = (accessToken: string, token: string) => call(app(), 'POST', '/api/invitations/accept', { token: accessToken, body: { token } });
  const register = (email: string, inviteToken: string) => call(app(), 'POST', '/auth/register', { body: { firstName: 'Jo', lastName: 'Iner', email, password: PASSWORD, inviteToken } });
  const row = (id: string) => db().selectFrom('invitations').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
  const count = async (orgId: string, email: string, status: string) =>
    (await sql<{ n: number }>`select count(*)::int as n from invitations where organisation_id = ${orgId} and lower(email) = ${email.toLowerCase()} and status = ${status}`.execute(db())).rows[0]!.n;
  const memberships = (orgId: string, userId: string) => db().selectFrom('members').select('id').where('organisation_id', '=', orgId).where('user_id', '=', userId).execute();
  const roleIn = async (orgId: string, userId: string) =>
    (await db().selectFrom('members').innerJoin('roles', 'roles.id', 'members.role_id').select('roles.name').where('members.organisation_id', '=', orgId).where('members.user_id', '=', userId).executeTakeFirst())?.name;
  const mails = (email: string, kind: string) =>
    db().selectFrom('outbox').select(['id', 'text_body']).where(sql<string>`lower(recipient)`, '=', email.toLowerCase()).where('kind', '=', kind).orderBy('id', 'desc').execute();

  /** An organisation with an owner, an admin and a member, and an outsider who owns another one. */
  async function team() {
    const [owner, admin, member, outsider] = await Promise.all([registerUser(app()), registerUser(app()), registerUser(app()), registerUser(app())]);
    const orgId = await createOrganisation(app(), owner.accessToken, 'Team');
    await addMember(app(), owner.accessToken, orgId, admin.userId, 'admin');
    await addMember(app(), owner.accessToken, orgId, member.userId, 'member');
    return { owner, admin, member, outsider, orgId, otherOrgId: await createOrganisation(app(), outsider.accessToken, 'Elsewhere') };
  }

  /** The token of the newest link mailed to an address, read from the outbox. */
  async function mailedToken(email: string, kind = 'invitation', path = '/accept-invite') {
    const [newest] = await mails(email, kind);
    const match = newest && new RegExp(`${PUBLIC_URL}${path}\\?token=[\\w%-]+`).exec(newest.text_body);
    assert.ok(match, `no ${kind} link to ${email}`);
    return new URL(match[0]).searchParams.get('token') ?? '';
  }

  /** Invites as `user` and returns the invitation's id and the mailed token. */
  async function invited(user: TestUser, orgId: string, email: string, role?: string) {
    const answer = await invite(user, orgId, role ? { email, role } : { email });
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    return { id: answer.body.data.invitationId as string, token: await mailedToken(email), answer };
  }

  /** Confirms the user's email by following the link mailed at registration. */
  async function verified(user: TestUser) {
    await ok(call(app(), 'POST', '/auth/email/verify', { body: { token: await mailedToken(user.email, 'email_verification', '/verify-email') } }));
    return user;
  }

  /** A fresh access token: needed once the test clock has moved past the old one's lifetime. */
  const signIn = async (user: TestUser) => ({ ...user, accessToken: (await ok(call(app(), 'POST', '/auth/login', { body: { email: user.email, password: user.password } }))).body.data.accessToken as string });

  /** The request is refused with this status and code, and the database is untouched. */
  async function expectError(send: () => Promise<Answer>, status: number, code: string) {
    await settled(db(), { failOnTimeout: true });
    const before = await fingerprint(db());
    const answer = await send();
    assertErrorEnvelope(answer, status, code);
    assert.equal(await fingerprint(db()), before, `a refusal with ${code} changed the database`);
    return answer;
  }

  /** The answer, once it is known to be a 200. */
  const ok = async (pending: Promise<Answer>) => {
    const answer = await pending;
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    return answer;
  };

  const nearly = (iso: string, expected: Date) => assert.ok(Math.abs(Date.parse(iso) - expected.getTime()) < 60_000, `${iso} is not about ${expected.toISOString()}`);

  it('invites by email: 201 with the invitation, a mailed link, and the token stored only hashed', async () => {
    const { owner, orgId } = await team();
    const email = uniqueEmail('invitee');
    const { id, token, answer } = await invited(owner, orgId, email);
    assert.deepEqual([answer.body.status, answer.body.message], ['success', 'Invitation sent successfully']);
    assert.deepEqual(Object.keys(answer.body.data).sort(), ['email', 'expiresAt', 'invitationId', 'role', 'status']);
    assert.deepEqual([answer.body.data.email, answer.body.data.role, answer.body.data.status], [email, 'member', 'pending']);
    nearly(answer.body.data.expiresAt, new Date(Date.now() + 7 * DAY * 1000));

    const stored = await row(id);
    assert.deepEqual([stored.organisation_id, stored.email, stored.status, stored.invited_by, stored.accepted_by], [orgId, email, 'pending', owner.userId, null]);
    assert.equal(stored.expires_at.toISOString(), answer.body.data.expiresAt);
    assert.ok(token.length >= 22, token);
    assert.ok(stored.token_hash !== token && !stored.token_hash.includes(token), 'the token is stored as it was mailed');
    const [mail] = await mails(email, 'invitation');
    assert.ok(mail!.text_body.includes(`${PUBLIC_URL}/accept-invite?token=${token}`));

    assert.equal((await invited(owner, orgId, uniqueEmail('second'), 'admin')).answer.body.data.role, 'admin');
  });

  it('resends when the same email is invited again in any letter case: one pending row, a new link, the old one dead', async () => {
    const { owner, orgId } = await team();
    const email = uniqueEmail('Again');
    const first = await invited(owner, orgId, email);
    const second = await invited(owner, orgId, email.toUpperCase());
    assert.equal(second.answer.body.message, 'Invitation resent successfully');
    assert.equal(second.id, first.id);
    assert.notEqual(second.token, first.token);
    assert.equal(await count(orgId, email, 'pending'), 1);

    const invitee = await verified(await registerUser(app(), { email }));
    assertErrorEnvelope(await accept(invitee.accessToken, first.token), 400, 'INVALID_LINK_TOKEN');
    assert.equal((await accept(invitee.accessToken, second.token)).status, 200);
    assert.equal(await roleIn(orgId, invitee.userId), 'member');
  });

  it('refuses inviting a member (409), a role above the inviter’s (403), and callers without invitations:create', async () => {
    const { owner, admin, member, outsider, orgId, otherOrgId } = await team();
    for (const email of [member.email, member.email.toUpperCase(), admin.email]) await expectError(() => invite(owner, orgId, { email }), 409, 'ALREADY_MEMBER');
    await expectError(() => invite(admin, orgId, { email: uniqueEmail(), role: 'owner' }), 403, 'ROLE_ABOVE_OWN');
    assert.equal((await invite(admin, orgId, { email: uniqueEmail(), role: 'admin' })).status, 201);
    assert.equal((await invite(owner, orgId, { email: uniqueEmail(), role: 'owner' })).status, 201);
    await settled(db(), { failOnTimeout: true });
    const body = { email: uniqueEmail() };
    await expectRefused(h(), { method: 'POST', url: base(orgId), body }, member.accessToken, 403, 'member');
    await expectRefused(h(), { method: 'GET', url: base(orgId) }, member.accessToken, 403, 'member');
    for (const url of [base(orgId), base(randomUUID()), base('abc')]) await expectRefused(h(), { method: 'POST', url, body }, outsider.accessToken, 404, 'outsider');
    await expectRefused(h(), { method: 'POST', url: base(otherOrgId), body }, owner.accessToken, 404, 'owner of another');
  });

  it('answers 422 naming the field for an unknown role or a bad email, changing nothing', async () => {
    const { owner, orgId } = await team();
    await settled(db(), { failOnTimeout: true });
    const cases: Array<[Record<string, unknown>, string]> = [[{ email: uniqueEmail(), role: 'overlord' }, 'role'], [{ email: uniqueEmail(), role: 7 }, 'role'], [{ email: 'not-an-email' }, 'email'], [{ role: 'member' }, 'email'], [{ email: 42 }, 'email']];
    for (const [body, field] of cases) {
      const before = await fingerprint(db());
      const answer = await invite(owner, orgId, body);
      assert.equal(answer.status, 422, `${JSON.stringify(body)} → ${answer.status} ${JSON.stringify(answer.body)}`);
      assert.deepEqual(answer.body.errors.map((e: { field: string }) => e.field), [field]);
      assert.equal(await fingerprint(db()), before);
    }
  });

  it('requires a valid access token on every invitation route, changing nothing', async () => {
    const { owner, orgId } = await team();
    const { id, token } = await invited(owner, orgId, uniqueEmail());
    await settled(db(), { failOnTimeout: true });
    const routes: RouteCall[] = [{ method: 'POST', url: base(orgId), body: { email: uniqueEmail() } }, { method: 'GET', url: base(orgId) }, { method: 'DELETE', url: `${base(orgId)}/${id}` }];
    routes.push({ method: 'POST', url: `${base(orgId)}/${id}/resend` }, { method: 'POST', url: '/api/invitations/accept', body: { token } });
    for (const route of routes) await expectAuthenticationRequired(h(), route, owner.accessToken);
  });

  it('lets the database hold one pending invitation per organisation and email', async () => {
    const { owner, orgId } = await team();
    const email = uniqueEmail('Twice');
    const { id } = await invited(owner, orgId, email);
    const original = await row(id);
    const values = { organisation_id: orgId, role_id: original.role_id, invited_by: owner.userId, expires_at: original.expires_at };
    const again = (status: 'pending' | 'revoked', email: string) => db().insertInto('invitations').values({ ...values, email, status, token_hash: randomBytes(16).toString('hex') }).execute();
    for (const address of [email, email.toUpperCase()]) {
      await assert.rejects(again('pending', address), (error: { constraint?: string }) => error.constraint === 'invitations_pending_key');
    }
    await again('revoked', email); // the rule is about pending invitations only
    assert.deepEqual([await count(orgId, email, 'pending'), await count(orgId, email, 'revoked')], [1, 1]);
  });

  it('lists invitations newest first, filtered by status, in pages without overlap', async () => {
    const { owner, admin, orgId } = await team();
    const emails = [1, 2, 3, 4, 5].map((n) => uniqueEmail(`list${n}`));
    const made = [];
    for (const email of emails) made.push(await invited(owner, orgId, email));
    const [expired, revoked, accepted, ...pending] = made as [typeof made[0], typeof made[0], typeof made[0], ...typeof made];
    await db().updateTable('invitations').set({ expires_at: new Date(Date.now() - 1000) }).where('id', '=', expired.id).execute();
    await ok(call(app(), 'DELETE', `${base(orgId)}/${revoked.id}`, { token: owner.accessToken }));
    assert.equal((await register(emails[2]!, accepted.token)).status, 201);

    type Page = { invitations: Array<{ invitationId: string; status: string; createdAt: string }>; nextCursor: string | null };
    const list = async (query: string) => (await ok(call(app(), 'GET', `${base(orgId)}${query}`, { token: admin.accessToken }))).body.data as Page;
    const all = await list('');
    assert.equal(all.nextCursor, null);
    assert.deepEqual(all.invitations.map((i) => i.invitationId).sort(), made.map((m) => m.id).sort());
    assert.deepEqual(Object.keys(all.invitations[0]!).sort(), ['createdAt', 'email', 'expiresAt', 'invitationId', 'role', 'status']);
    const times = all.invitations.map((i) => Date.parse(i.createdAt));
    assert.deepEqual(times, [...times].sort((a, b) => b - a), 'newest first');
    const expected: Record<string, string[]> = { pending: pending.map((p) => p.id), accepted: [accepted.id], revoked: [revoked.id], expired: [expired.id] };
    for (const [status, ids] of Object.entries(expected)) {
      const filtered = await list(`?status=${status}`);
      assert.deepEqual(filtered.invitations.map((i) => i.invitationId).sort(), [...ids].sort(), status);
      assert.ok(filtered.invitations.every((i) => i.status === status));
    }
    assert.equal((await row(expired.id)).status, 'expired', 'expired is a status in the database');
    assert.equal((await call(app(), 'GET', `${base(orgId)}?status=bogus`, { token: owner.accessToken })).status, 422);

    const pages = [await list('?limit=2')];
    while (pages.at(-1)!.nextCursor && pages.length < 5) pages.push(await list(`?limit=2&cursor=${encodeURIComponent(pages.at(-1)!.nextCursor!)}`));
    assert.deepEqual(pages.map((p) => [p.invitations.length, p.nextCursor === null]), [[2, false], [2, false], [1, true]]);
    assert.deepEqual(pages.flatMap((p) => p.invitations.map((i) => i.invitationId)), all.invitations.map((i) => i.invitationId), 'pages overlap or skip');
  });

  it('expires an invitation after 7 days by the clock, as a status; a resend makes it pending with a working link', async () => {
    const { owner, orgId } = await team();
    const invitee = await verified(await registerUser(app()));
    const { id, token } = await invited(owner, orgId, invitee.email);
    const status = async (by: TestUser) => (await call(app(), 'GET', base(orgId), { token: by.accessToken })).body.data.invitations.find((i: { invitationId: string }) => i.invitationId === id)?.status;
    try {
      h().clock.advance(7 * DAY - 120);
      assert.equal(await status(await signIn(owner)), 'pending');
      h().clock.advance(240);
      const [boss, guest] = [await signIn(owner), await signIn(invitee)];
      assert.equal(await status(boss), 'expired');
      assert.equal((await row(id)).status, 'expired');
      assertErrorEnvelope(await accept(guest.accessToken, token), 400, 'INVALID_LINK_TOKEN');
      assert.equal((await memberships(orgId, invitee.userId)).length, 0);

      const resent = await ok(call(app(), 'POST', `${base(orgId)}/${id}/resend`, { token: boss.accessToken }));
      assert.equal(resent.body.data.status, 'pending');
      nearly(resent.body.data.expiresAt, new Date(h().clock.now().getTime() + 7 * DAY * 1000));
      assert.equal((await row(id)).status, 'pending');
      const fresh = await mailedToken(invitee.email);
      assert.notEqual(fresh, token);
      assertErrorEnvelope(await accept(guest.accessToken, token), 400, 'INVALID_LINK_TOKEN');
      await ok(accept(guest.accessToken, fresh));
      assert.equal(await roleIn(orgId, invitee.userId), 'member');
    } finally {
      h().clock.reset();
    }
  });

  it('revokes a pending invitation: its link dies, a second revoke is 409, unknown and foreign ids are 404', async () => {
    const { owner, member, outsider, orgId, otherOrgId } = await team();
    const invitee = await verified(await registerUser(app()));
    const { id, token } = await invited(owner, orgId, invitee.email);
    const foreign = await invited(outsider, otherOrgId, uniqueEmail('foreign'));
    await settled(db(), { failOnTimeout: true });
    await expectRefused(h(), { method: 'DELETE', url: `${base(orgId)}/${id}` }, member.accessToken, 403, 'member');
    await expectRefused(h(), { method: 'DELETE', url: `${base(orgId)}/${id}` }, outsider.accessToken, 404, 'outsider');

    const answer = await ok(call(app(), 'DELETE', `${base(orgId)}/${id}`, { token: owner.accessToken }));
    assert.equal(answer.body.message, 'Invitation revoked successfully');
    const { status, revoked_at: revokedAt } = await row(id);
    assert.deepEqual([status, revokedAt instanceof Date], ['revoked', true]);
    assertErrorEnvelope(await accept(invitee.accessToken, token), 400, 'INVALID_LINK_TOKEN');
    assert.equal((await memberships(orgId, invitee.userId)).length, 0);

    await expectError(() => call(app(), 'DELETE', `${base(orgId)}/${id}`, { token: owner.accessToken }), 409, 'INVITATION_NOT_PENDING');
    await expectError(() => call(app(), 'POST', `${base(orgId)}/${id}/resend`, { token: owner.accessToken }), 409, 'INVITATION_NOT_PENDING');
    for (const other of [randomUUID(), 'abc', foreign.id]) {
      await expectError(() => call(app(), 'DELETE', `${base(orgId)}/${other}`, { token: owner.accessToken }), 404, 'INVITATION_NOT_FOUND');
      await expectError(() => call(app(), 'POST', `${base(orgId)}/${other}/resend`, { token: owner.accessToken }), 404, 'INVITATION_NOT_FOUND');
    }
    assert.equal((await row(foreign.id)).status, 'pending');
  });

  it('resends with a new link, the old one dead, and an audit row', async () => {
    const { owner, admin, orgId } = await team();
    const invitee = await verified(await registerUser(app()));
    const { id, token } = await invited(owner, orgId, invitee.email, 'admin');
    const answer = await ok(call(app(), 'POST', `${base(orgId)}/${id}/resend`, { token: admin.accessToken }));
    assert.equal(answer.body.message, 'Invitation resent successfully');
    assert.deepEqual({ ...answer.body.data, expiresAt: undefined }, { invitationId: id, email: invitee.email, role: 'admin', status: 'pending', expiresAt: undefined });
    const fresh = await mailedToken(invitee.email);
    assert.notEqual(fresh, token);
    assert.equal((await mails(invitee.email, 'invitation')).length, 2);
    const audit = await db().selectFrom('audit_events').select(['actor_user_id']).where('organisation_id', '=', orgId).where('action', '=', 'invitation.resent').where('target_id', '=', id).execute();
    assert.deepEqual(audit, [{ actor_user_id: admin.userId }]);
    assertErrorEnvelope(await accept(invitee.accessToken, token), 400, 'INVALID_LINK_TOKEN');
    assert.deepEqual((await accept(invitee.accessToken, fresh)).body.data, { orgId, role: 'admin' });
  });

  it('accepts for the signed-in user with the invitation’s verified email, once: a membership, a welcome, the row accepted', async () => {
    const { owner, outsider, orgId } = await team();
    const invitee = await registerUser(app());
    const { id, token } = await invited(owner, orgId, invitee.email, 'admin');
    const unverified = await expectError(() => accept(invitee.accessToken, token), 403, 'INVITATION_EMAIL_UNVERIFIED');
    assert.match(unverified.body.message, /^Confirm your email address first/);
    await verified(invitee);
    await verified(outsider);
    await expectError(() => accept(outsider.accessToken, token), 403, 'INVITATION_FOR_ANOTHER_EMAIL');

    const answer = await ok(accept(invitee.accessToken, token));
    assert.equal(answer.body.message, 'Invitation accepted successfully');
    assert.deepEqual(answer.body.data, { orgId, role: 'admin' });
    assert.equal(await roleIn(orgId, invitee.userId), 'admin');
    const accepted = await row(id);
    assert.deepEqual([accepted.status, accepted.accepted_by], ['accepted', invitee.userId]);
    assert.ok(accepted.accepted_at instanceof Date);
    assert.equal((await mails(invitee.email, 'welcome')).length, 1);
    const listed = await call(app(), 'GET', '/api/organisations', { token: invitee.accessToken });
    assert.equal(listed.body.data.organisations.find((o: { orgId: string }) => o.orgId === orgId)?.role, 'admin');

    const again = await accept(invitee.accessToken, token);
    assert.ok([400, 409].includes(again.status), JSON.stringify(again.body));
    assert.equal((await memberships(orgId, invitee.userId)).length, 1);
    assert.equal((await memberships(orgId, outsider.userId)).length, 0);
  });

  it('checks the inviter’s right again at acceptance: an admin demoted since cannot grant admin', async () => {
    const { owner, admin, orgId } = await team();
    const invitee = await verified(await registerUser(app()));
    const { id, token } = await invited(admin, orgId, invitee.email, 'admin');
    const newcomer = uniqueEmail('newcomer');
    const second = await invited(admin, orgId, newcomer, 'admin');
    await ok(call(app(), 'PATCH', `/api/organisations/${orgId}/members/${admin.userId}`, { token: owner.accessToken, body: { role: 'member' } }));

    await expectError(() => accept(invitee.accessToken, token), 403, 'INVITER_CANNOT_GRANT');
    assert.equal((await memberships(orgId, invitee.userId)).length, 0);
    assert.equal((await row(id)).status, 'pending');
    const registration = await expectError(() => register(newcomer, second.token), 400, 'REGISTRATION_FAILED');
    assert.match(registration.body.message, /^Registration unsuccessful/);
  });

  it('lets exactly one of ten parallel acceptances of one invitation through', async () => {
    const { owner, orgId } = await team();
    const invitee = await verified(await registerUser(app()));
    const { token } = await invited(owner, orgId, invitee.email);
    const answers = await Promise.all(Array.from({ length: 10 }, () => accept(invitee.accessToken, token)));
    assert.equal(answers.filter((a) => a.status === 200).length, 1, JSON.stringify(answers.map((a) => [a.status, a.body.code])));
    for (const answer of answers.filter((a) => a.status !== 200)) assert.ok([400, 409].includes(answer.status), JSON.stringify(answer.body));
    assert.equal((await memberships(orgId, invitee.userId)).length, 1);
    assert.equal((await mails(invitee.email, 'welcome')).length, 1);
  });

  it('registers a new person with the token: a member with the invited role, owner of their own organisation, verified', async () => {
    const { owner, orgId } = await team();
    const email = uniqueEmail('Joiner');
    const { id, token } = await invited(owner, orgId, email, 'admin');
    const other = await invited(owner, orgId, uniqueEmail('other'));
    const stranger = uniqueEmail('stranger');
    const refused = await expectError(() => register(stranger, other.token), 400, 'REGISTRATION_FAILED');
    assert.match(refused.body.message, /^Registration unsuccessful/);
    assert.equal(await db().selectFrom('users').select('id').where('email', '=', stranger).executeTakeFirst(), undefined);

    const answer = await register(email, token);
    assert.equal(answer.status, 201, JSON.stringify(answer.body));
    const { userId } = answer.body.data.user;
    const orgs = await call(app(), 'GET', '/api/organisations', { token: answer.body.data.accessToken });
    const roles = orgs.body.data.organisations.map((o: { orgId: string; name: string; role: string }) => [o.orgId === orgId ? 'team' : o.name, o.role]);
    assert.deepEqual(roles.sort(), [["Jo's Organisation", 'owner'], ['team', 'admin']]);
    const user = await db().selectFrom('users').select('email_verified_at').where('id', '=', userId).executeTakeFirstOrThrow();
    assert.ok(user.email_verified_at instanceof Date, 'the invitation proved the mailbox');
    assert.equal((await mails(email, 'email_verification')).length, 0);
    assert.equal((await mails(email, 'welcome')).length, 1);
    const joined = await row(id);
    assert.deepEqual([joined.status, joined.accepted_by], ['accepted', userId]);
    assert.equal((await row(other.id)).status, 'pending');
  });

  it('mails one address at most 3 invitations an hour, from any organisations at once, while every invitation is made', async () => {
    const email = uniqueEmail('Popular');
    const owners = await Promise.all(Array.from({ length: 6 }, () => registerUser(app())));
    const orgs = await Promise.all(owners.map((owner, i) => createOrganisation(app(), owner.accessToken, `Sender ${i}`)));
    const answers = await Promise.all(owners.map((owner, i) => invite(owner, orgs[i]!, { email: i % 2 ? email : email.toUpperCase() })));
    assert.deepEqual(answers.map((a) => a.status), Array(6).fill(201), JSON.stringify(answers.map((a) => a.body)));
    for (const orgId of orgs) assert.equal(await count(orgId, email, 'pending'), 1);
    assert.equal((await mails(email, 'invitation')).length, MAILS_PER_HOUR.invitation);
    // Past the cap the answer is the same: a resend is answered as ever, and mails nothing.
    const resent = await ok(call(app(), 'POST', `${base(orgs[0]!)}/${answers[0]!.body.data.invitationId}/resend`, { token: owners[0]!.accessToken }));
    assert.equal(resent.body.message, 'Invitation resent successfully');
    assert.equal((await mails(email, 'invitation')).length, MAILS_PER_HOUR.invitation);
    try {
      h().clock.advance(3601);
      const owner = await signIn(owners[5]!);
      await ok(call(app(), 'POST', `${base(orgs[5]!)}/${answers[5]!.body.data.invitationId}/resend`, { token: owner.accessToken }));
      assert.equal((await mails(email, 'invitation')).length, MAILS_PER_HOUR.invitation + 1, 'an hour later the address gets mail again');
    } finally {
      h().clock.reset();
    }
  });

  it('mails at most 50 invitations an hour from one organisation, while every invitation is made', async () => {
    const { owner, orgId } = await team();
    const perOrganisation = INVITATIONS_PER_ORGANISATION_PER_HOUR;
    const emails = Array.from({ length: perOrganisation + 2 }, () => uniqueEmail('crowd'));
    for (let i = 0; i < emails.length; i += 10) {
      const answers = await Promise.all(emails.slice(i, i + 10).map((email) => invite(owner, orgId, { email })));
      for (const answer of answers) assert.equal(answer.status, 201, JSON.stringify(answer.body));
    }
    const sent = await db().selectFrom('outbox').select('recipient').where('recipient', 'in', emails).where('kind', '=', 'invitation').execute();
    assert.equal(sent.length, perOrganisation);
    const made = await db().selectFrom('invitations').select('id').where('organisation_id', '=', orgId).where('status', '=', 'pending').execute();
    assert.equal(made.length, emails.length);
    // The cap is the organisation's: the same inviter's other organisation still mails.
    const otherOrgId = await createOrganisation(app(), owner.accessToken, 'Elsewhere');
    const elsewhere = uniqueEmail('elsewhere');
    await invited(owner, otherOrgId, elsewhere);
    assert.equal((await mails(elsewhere, 'invitation')).length, 1);
  });

  it('records invitation.created, resent, revoked and accepted in the organisation’s audit log, with no token', async () => {
    const { owner, orgId } = await team();
    const invitee = await verified(await registerUser(app()));
    const gone = await invited(owner, orgId, uniqueEmail('gone'));
    for (const [method, path] of [['POST', '/resend'], ['DELETE', '']] as const) await ok(call(app(), method, `${base(orgId)}/${gone.id}${path}`, { token: owner.accessToken }));
    const kept = await invited(owner, orgId, invitee.email);
    assert.equal((await accept(invitee.accessToken, kept.token)).status, 200);

    const events = await db().selectFrom('audit_events').selectAll().where('organisation_id', '=', orgId).where('target_type', '=', 'invitation').orderBy('id').execute();
    const byOwner = (action: string, id: string) => [`invitation.${action}`, id, owner.userId];
    const expected = [byOwner('created', gone.id), byOwner('resent', gone.id), byOwner('revoked', gone.id), byOwner('created', kept.id), ['invitation.accepted', kept.id, invitee.userId]];
    assert.deepEqual(events.map((e) => [e.action, e.target_id, e.actor_user_id]), expected);
    const text = JSON.stringify(events);
    for (const secret of [gone.token, kept.token, (await row(kept.id)).token_hash]) assert.ok(!text.includes(secret), 'a token in the audit log');
  });
});
