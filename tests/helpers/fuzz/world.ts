// The realistic context requests are fuzzed in: an owner of an organisation with a second member, a
// custom role and a pending invitation, a platform admin, and the tokens mailed to them, so that
// generated ids and tokens name real things as often as they name nothing. Requests come from
// addresses of their own, so that throttling one does not throttle the setup or the health checks.
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { sql } from 'kysely';
import type { App } from '../../../src/app.ts';
import type { Db } from '../../../src/db/database.ts';
import { system } from '../../../src/domain/principal.ts';
import { PASSWORD, roleIn, uniqueEmail } from '../api.ts';
import type { Answer } from './openapi.ts';

export interface Wire {
  method: string;
  url: string;
  headers?: Record<string, string>;
  payload?: string | Buffer;
  remoteAddress?: string;
}

/** A random private address: each caller gets counters of its own. */
export const someAddress = () => `10.${randomInt(256)}.${randomInt(256)}.${randomInt(1, 255)}`;

export async function send(app: App, request: Wire): Promise<Answer> {
  const response = await app.inject({
    method: request.method as 'GET',
    url: request.url,
    headers: request.headers ?? {},
    remoteAddress: request.remoteAddress ?? someAddress(),
    ...(request.payload !== undefined ? { payload: request.payload } : {}),
  });
  return { status: response.statusCode, headers: response.headers, text: response.body };
}

export async function sendJson(app: App, method: string, url: string, options: { body?: unknown; token?: string } = {}) {
  const headers: Record<string, string> = {};
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const answer = await send(app, { method, url, headers, ...(options.body !== undefined ? { payload: JSON.stringify(options.body) } : {}) });
  return { ...answer, body: answer.text ? JSON.parse(answer.text) : undefined };
}

export interface Person {
  userId: string;
  email: string;
  username: string;
  accessToken: string;
  refreshToken: string;
  sessionId: string;
  passwordHash: string;
}

export interface World {
  owner: Person;
  member: Person;
  admin: Person;
  /** The owner's team organisation, where `member` is a member. */
  orgId: string;
  /** The owner's and the member's personal organisations: one the owner may not see. */
  personalOrgIds: string[];
  roleId: string;
  roleName: string;
  builtInRoleIds: string[];
  invitationId: string;
  invitedEmail: string;
  /** Tokens as mailed: verification, invitation and password reset. */
  mailedTokens: string[];
}

const sessionOf = (accessToken: string) => JSON.parse(Buffer.from(accessToken.split('.')[1]!, 'base64url').toString()).sid as string;

async function passwordHashOf(db: Db, userId: string) {
  return (await db.selectFrom('users').select('password_hash').where('id', '=', userId).executeTakeFirstOrThrow()).password_hash;
}

async function person(db: Db, email: string, username: string, answer: { status: number; body: { data: { accessToken: string; refreshToken: string } } }, userId: string): Promise<Person> {
  assert.ok(answer.status === 200 || answer.status === 201, JSON.stringify(answer.body));
  const { accessToken, refreshToken } = answer.body.data;
  return { userId, email, username, accessToken, refreshToken, sessionId: sessionOf(accessToken), passwordHash: await passwordHashOf(db, userId) };
}

const uniqueUsername = (prefix: string) => `${prefix}${Date.now().toString(36)}${randomInt(1_000_000)}`;

export async function register(app: App, db: Db, prefix: string): Promise<Person> {
  const email = uniqueEmail(prefix);
  const username = uniqueUsername(prefix);
  const answer = await sendJson(app, 'POST', '/auth/register', { body: { firstName: prefix, lastName: 'Fuzz', email, password: PASSWORD, username } });
  assert.equal(answer.status, 201, answer.text);
  return person(db, email, username, answer, answer.body.data.user.userId);
}

async function newAdmin(app: App, db: Db): Promise<Person> {
  const email = uniqueEmail('admin');
  const username = uniqueUsername('admin');
  const { userId } = await app.services.accounts.createAdmin(system('tests'), { email, username, readPassword: async () => PASSWORD });
  return person(db, email, username, await sendJson(app, 'POST', '/auth/login', { body: { email, password: PASSWORD } }), userId);
}

/** The token of the newest mail of a kind to an address; reset mail is queued in the background. */
async function mailedToken(db: Db, recipient: string, kind: string): Promise<string> {
  for (let attempt = 0; attempt < 400; attempt++) {
    const row = await db.selectFrom('outbox').select('text_body').where('recipient', '=', recipient).where('kind', '=', kind).orderBy('id', 'desc').executeTakeFirst();
    const token = row ? /[?&]token=([\w-]+)/.exec(row.text_body)?.[1] : undefined;
    if (token) return token;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  assert.fail(`no ${kind} mail to ${recipient}`);
}

export async function buildWorld(app: App, db: Db): Promise<World> {
  const [owner, member, admin] = await Promise.all([register(app, db, 'owner'), register(app, db, 'member'), newAdmin(app, db)]);
  const org = await sendJson(app, 'POST', '/api/organisations', { token: owner.accessToken, body: { name: 'Fuzzed', description: 'Fuzz target' } });
  assert.equal(org.status, 201, org.text);
  const orgId: string = org.body.data.orgId;
  const added = await sendJson(app, 'POST', `/api/organisations/${orgId}/users`, { token: owner.accessToken, body: { userId: member.userId, role: 'member' } });
  assert.equal(added.status, 200, added.text);
  const roleName = `auditor-${randomInt(1_000_000)}`;
  const role = await sendJson(app, 'POST', `/api/organisations/${orgId}/roles`, { token: owner.accessToken, body: { name: roleName, permissions: ['org:read', 'audit:read'] } });
  assert.equal(role.status, 201, role.text);
  const invitedEmail = uniqueEmail('invited');
  const invitation = await sendJson(app, 'POST', `/api/organisations/${orgId}/invitations`, { token: owner.accessToken, body: { email: invitedEmail, role: 'member' } });
  assert.equal(invitation.status, 201, invitation.text);
  const forgot = await sendJson(app, 'POST', '/auth/password/forgot', { body: { email: owner.email } });
  assert.equal(forgot.status, 202, forgot.text);
  const personal = await db.selectFrom('organisations').innerJoin('members', 'members.organisation_id', 'organisations.id').select('organisations.id').where('organisations.personal', '=', true).where('members.user_id', 'in', [owner.userId, member.userId]).execute();
  const builtIn = await db.selectFrom('roles').select('id').where('organisation_id', '=', orgId).where('built_in', '=', true).execute();
  return {
    owner,
    member,
    admin,
    orgId,
    personalOrgIds: personal.map((row) => row.id),
    roleId: role.body.data.roleId,
    roleName,
    builtInRoleIds: builtIn.map((row) => row.id),
    invitationId: invitation.body.data.invitationId,
    invitedEmail,
    mailedTokens: [await mailedToken(db, owner.email, 'email_verification'), await mailedToken(db, invitedEmail, 'invitation'), await mailedToken(db, owner.email, 'password_reset')],
  };
}

/**
 * Whether the world is still as built: the people active with their roles, passwords and names,
 * signed in, the organisation, role and invitation as they were. A fuzzed request may legitimately
 * change any of it (sign out, delete, accept); the next operation then gets a new world.
 */
export async function intact(db: Db, world: World): Promise<boolean> {
  const people = [world.owner, world.member, world.admin];
  const users = await db.selectFrom('users').select(['id', 'email', 'username', 'status', 'platform_role', 'password_hash']).where('id', 'in', people.map((p) => p.userId)).execute();
  const usersIntact = people.every((p) => {
    const row = users.find((u) => u.id === p.userId);
    return row?.status === 'active' && row.email === p.email && row.username === p.username && row.password_hash === p.passwordHash && row.platform_role === (p === world.admin ? 'admin' : 'user');
  });
  const { rows: live } = await sql<{ n: number }>`select count(*)::int as n from sessions where id in (${sql.join(people.map((p) => p.sessionId))}) and revoked_at is null and expires_at > now()`.execute(db);
  const role = await db.selectFrom('roles').select('name').where('id', '=', world.roleId).executeTakeFirst();
  const invitation = await db.selectFrom('invitations').select('status').where('id', '=', world.invitationId).executeTakeFirst();
  const personal = await db.selectFrom('organisations').select('id').where('id', 'in', world.personalOrgIds).execute();
  return (
    usersIntact &&
    live[0]?.n === people.length &&
    (await roleIn(db, world.orgId, world.owner.userId)) === 'owner' &&
    (await roleIn(db, world.orgId, world.member.userId)) === 'member' &&
    role?.name === world.roleName &&
    invitation?.status === 'pending' &&
    personal.length === world.personalOrgIds.length
  );
}

/** The service still answers its probes, and a person it has never seen fuzzed can sign in and use it. */
export async function assertHealthy(app: App, sentinel: Person) {
  for (const url of ['/healthz', '/readyz']) {
    const probe = await send(app, { method: 'GET', url });
    assert.equal(probe.status, 200, `${url} → ${probe.status} ${probe.text}`);
  }
  const login = await sendJson(app, 'POST', '/auth/login', { body: { email: sentinel.email, password: PASSWORD } });
  assert.equal(login.status, 200, `the sentinel cannot sign in: ${login.text}`);
  const me = await sendJson(app, 'GET', '/api/users/me', { token: login.body.data.accessToken });
  assert.equal(me.status, 200, me.text);
  assert.equal(me.body.data.userId, sentinel.userId);
}
