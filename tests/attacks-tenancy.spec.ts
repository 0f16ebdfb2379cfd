// Attacks across accounts and tenants through the HTTP API, on every database target. Every route
// that takes a body is sent fields it does not document (mass assignment), and every route with an id
// in its path is called by a user of another organisation with the first one's ids. The routes come
// from the OpenAPI document, so a new route is put through both: one without a recipe here fails.
import assert from 'node:assert/strict';
import { randomBytes, randomUUID } from 'node:crypto';
import { it } from 'node:test';
import { sql, type RawBuilder } from 'kysely';
import type { Db } from '../src/db/database.ts';
import { PERMISSIONS } from '../src/domain/policy/permissions.ts';
import { addMember, assertErrorEnvelope, call, createOrganisation, PASSWORD, registerUser, uniqueEmail, type Answer, type TestUser } from './helpers/api.ts';
import { fingerprint, forEachDatabase, PUBLIC_URL, settled, type Harness } from './helpers/harness.ts';
import { enableTotp, firstStep, nextStep, SECRET_KEY, totpCode } from './helpers/mfa.ts';
import { SoftwareAuthenticator } from './helpers/webauthn.ts';

type Json = Record<string, unknown>;
type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
const METHODS: Method[] = ['GET', 'POST', 'PATCH', 'PUT', 'DELETE'];

const INJECTED_ID = randomUUID();
const INJECTED_NAME = 'Injected by mass assignment';
const INJECTED_TIME = '2000-01-01T00:00:00.000Z';
const NEW_PASSWORD = 'a brand new passphrase';
/** A well-formed argon2id hash of some other password. */
const INJECTED_HASH = '$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$5mCUHJMb7mmFg8nT7DOKkYxqgcrgICbeK5Oa2ZLk0fA';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const uniqueUsername = () => `m${randomBytes(6).toString('hex')}`;

/** A route as the OpenAPI document describes it. */
interface Operation {
  method: Method;
  path: string;
  operationId: string;
  /** The body's documented fields; null when the route takes no body. */
  bodyFields: string[] | null;
  adminOnly: boolean;
  compat: boolean;
  /** A page of the hosted sign-in (tag 'Hosted sign-in'). */
  hostedPage: boolean;
}

async function operations(harness: Harness): Promise<Operation[]> {
  const answer = await call(harness.app, 'GET', '/openapi.json');
  assert.equal(answer.status, 200);
  const found: Operation[] = [];
  for (const [path, methods] of Object.entries(answer.body.paths as Record<string, Record<string, Json>>)) {
    for (const [method, operation] of Object.entries(methods)) {
      const content = (operation.requestBody as { content?: Record<string, { schema?: { properties?: Json } }> } | undefined)?.content;
      const schema = content?.['application/json']?.schema;
      found.push({
        method: method.toUpperCase() as Method,
        path,
        operationId: String(operation.operationId),
        bodyFields: schema ? Object.keys(schema.properties ?? {}) : null,
        adminOnly: String(operation.description ?? '').includes('Platform admins only.'),
        compat: ((operation.tags as string[] | undefined) ?? []).some((tag) => /seed/.test(tag)),
        hostedPage: ((operation.tags as string[] | undefined) ?? []).includes('Hosted sign-in'),
      });
    }
  }
  return found;
}

const fill = (path: string, params: Record<string, string>) =>
  path.replace(/\{(\w+)\}/g, (_, name: string) => {
    const value = params[name];
    assert.ok(value !== undefined, `no value for {${name}} in ${path}`);
    return value;
  });

/** The other account whose ids are injected, and everything of it that nobody else may change. */
interface Victim {
  user: TestUser;
  orgId: string;
}

/** What a request may legitimately change, beyond the rows it creates. */
interface Allowed {
  verifies?: string[];
  newUsersVerified?: boolean;
  passwordOf?: string[];
  /** Memberships the request makes: [orgId, userId or 'new' for a user it creates, role]. */
  joins?: Array<[string, string, string]>;
  roleOf?: [string, string, string];
  leaves?: [string, string];
}

interface Recipe {
  params?: Record<string, string>;
  body: Json;
  token?: string;
  success: number;
  /** Whose own account the request acts on; null for a request that creates its account. */
  actor: string | null;
  allowed?: Allowed;
}

interface State {
  users: Map<string, { platform_role: string; status: string; email_verified_at: Date | null; password_hash: string; created_at: Date }>;
  orgs: Map<string, { personal: boolean; created_by: string | null; created_at: Date }>;
  members: Map<string, string>;
  builtInRoles: Map<string, string>;
  liveSessions: Map<string, string>;
  /** Rows carrying an injected value, by what they show. */
  injected: Record<string, number>;
}

async function snapshot(db: Db): Promise<State> {
  const users = await db.selectFrom('users').select(['id', 'platform_role', 'status', 'email_verified_at', 'password_hash', 'created_at']).execute();
  const orgs = await db.selectFrom('organisations').select(['id', 'personal', 'created_by', 'created_at']).execute();
  const members = await db.selectFrom('members').innerJoin('roles', 'roles.id', 'members.role_id').select(['members.organisation_id', 'members.user_id', 'roles.name']).execute();
  const roles = await db.selectFrom('roles').select(['id', 'organisation_id', 'name', 'permissions']).where('built_in', '=', true).execute();
  const sessions = await db.selectFrom('sessions').select(['id', 'user_id']).where('revoked_at', 'is', null).execute();
  return {
    users: new Map(users.map(({ id, ...rest }) => [id, rest])),
    orgs: new Map(orgs.map(({ id, ...rest }) => [id, rest])),
    members: new Map(members.map((m) => [`${m.organisation_id}/${m.user_id}`, m.name])),
    builtInRoles: new Map(roles.map((r) => [r.id, `${r.organisation_id}/${r.name}/${[...r.permissions].sort().join(',')}`])),
    liveSessions: new Map(sessions.map((s) => [s.id, s.user_id])),
    injected: await injectedRows(db),
  };
}

async function injectedRows(db: Db): Promise<Record<string, number>> {
  const count = async (query: RawBuilder<{ n: number }>) => (await query.execute(db)).rows[0]!.n;
  const found: Record<string, number> = {};
  for (const table of ['users', 'organisations', 'roles', 'members', 'invitations', 'sessions'] as const) {
    found[`the injected id or creation time reached ${table}`] = await count(
      sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)} where id::text = ${INJECTED_ID} or created_at < ${'2001-01-01T00:00:00Z'}::timestamptz`,
    );
  }
  found['an organisation was named by an undocumented field'] = await count(sql<{ n: number }>`select count(*)::int as n from organisations where name = ${INJECTED_NAME} or description = ${INJECTED_NAME}`);
  return found;
}

/** Every row that belongs to the victim, as one digest: nobody else's request may change it. */
async function victimDigest(db: Db, victim: Victim): Promise<string> {
  const { userId } = victim.user;
  const orgs = sql`(select organisation_id from members where user_id = ${userId})`;
  const parts = [
    sql`select t::text as line from users t where id = ${userId}`,
    sql`select t::text as line from organisations t where id in ${orgs}`,
    sql`select t::text as line from members t where organisation_id in ${orgs} or user_id = ${userId}`,
    sql`select t::text as line from roles t where organisation_id in ${orgs}`,
    sql`select t::text as line from invitations t where organisation_id in ${orgs}`,
    sql`select t::text as line from sessions t where user_id = ${userId}`,
    sql`select r::text as line from refresh_tokens r join sessions s on s.id = r.session_id where s.user_id = ${userId}`,
    sql`select t::text as line from one_time_tokens t where user_id = ${userId}`,
  ];
  const digests: string[] = [];
  for (const part of parts) {
    const { rows } = await sql<{ digest: string }>`select md5(coalesce(string_agg(line, '|' order by line), '')) as digest from (${part}) q`.execute(db);
    digests.push(rows[0]!.digest);
  }
  return digests.join(',');
}

/** The database changed only in the ways `recipe` allows, and the injected values are nowhere. */
async function assertOnlyAllowed(db: Db, before: State, after: State, recipe: Recipe, label: string) {
  const allowed = recipe.allowed ?? {};
  const newUsers = new Set([...after.users.keys()].filter((id) => !before.users.has(id)));
  for (const [id, was] of before.users) {
    const now = after.users.get(id);
    assert.ok(now, `${label}: user ${id} disappeared`);
    assert.equal(now.platform_role, was.platform_role, `${label}: a user's platform role changed`);
    assert.equal(now.status, was.status, `${label}: a user's status changed`);
    assert.equal(now.created_at.getTime(), was.created_at.getTime(), `${label}: a user's creation time changed`);
    if (!allowed.verifies?.includes(id)) assert.equal(now.email_verified_at?.getTime(), was.email_verified_at?.getTime(), `${label}: a user's email became verified`);
    if (!allowed.passwordOf?.includes(id)) assert.equal(now.password_hash, was.password_hash, `${label}: a user's password changed`);
  }
  for (const id of newUsers) {
    const user = after.users.get(id)!;
    assert.equal(user.platform_role, 'user', `${label}: a new user is ${user.platform_role}`);
    assert.equal(user.status, 'active', `${label}: a new user is ${user.status}`);
    if (!allowed.newUsersVerified) assert.equal(user.email_verified_at, null, `${label}: a new user's email is verified`);
    assert.notEqual(user.password_hash, INJECTED_HASH, `${label}: a new user has the injected password hash`);
  }

  const creators = new Set([...newUsers, ...(recipe.actor ? [recipe.actor] : [])]);
  for (const [id, was] of before.orgs) {
    const now = after.orgs.get(id);
    assert.ok(now, `${label}: organisation ${id} disappeared`);
    assert.deepEqual(now, was, `${label}: an organisation's personal flag, creator or creation time changed`);
  }
  for (const [id, org] of after.orgs) {
    if (before.orgs.has(id)) continue;
    assert.ok(org.created_by && creators.has(org.created_by), `${label}: a new organisation was created by ${org.created_by}`);
    assert.equal(org.personal, newUsers.has(org.created_by), `${label}: a new organisation's personal flag is ${org.personal}`);
  }
  for (const id of newUsers) {
    assert.equal([...after.orgs.values()].filter((org) => org.created_by === id && org.personal).length, 1, `${label}: a new user has no single personal organisation`);
  }

  const joins = new Map((allowed.joins ?? []).map(([orgId, userId, role]) => [`${orgId}/${userId}`, role]));
  for (const [key, role] of before.members) {
    const now = after.members.get(key);
    if (allowed.leaves && key === allowed.leaves.join('/')) continue;
    const expected = allowed.roleOf && key === `${allowed.roleOf[0]}/${allowed.roleOf[1]}` ? [role, allowed.roleOf[2]] : [role];
    assert.ok(now !== undefined && expected.includes(now), `${label}: membership ${key} went from ${role} to ${now}`);
  }
  for (const [key, role] of after.members) {
    if (before.members.has(key)) continue;
    const [orgId, userId] = key.split('/') as [string, string];
    const ownsNewOrg = !before.orgs.has(orgId) && after.orgs.get(orgId)?.created_by === userId && role === 'owner';
    const joined = joins.get(key) ?? (newUsers.has(userId) ? joins.get(`${orgId}/new`) : undefined);
    assert.ok(ownsNewOrg || joined === role, `${label}: ${userId} became ${role} of ${orgId}`);
  }

  for (const [id, role] of before.builtInRoles) assert.equal(after.builtInRoles.get(id), role, `${label}: a built-in role changed`);
  for (const [id, role] of after.builtInRoles) {
    if (!before.builtInRoles.has(id)) assert.ok(!before.orgs.has(role.split('/')[0]!), `${label}: a new built-in role in an existing organisation`);
  }
  for (const [id, userId] of before.liveSessions) {
    if (!after.liveSessions.has(id)) assert.ok(userId === recipe.actor || allowed.passwordOf?.includes(userId), `${label}: a session of ${userId} ended`);
  }

  for (const [what, count] of Object.entries(after.injected)) assert.equal(count, before.injected[what], `${label}: ${what}`);
}

function tenancySuite(h: () => Harness) {
  const app = () => h().app;
  const db = () => h().db;
  const send = (method: Method, url: string, options: { body?: unknown; token?: string } = {}) => call(app(), method, url, options);
  const ok = async (pending: Promise<Answer>, status = 200) => {
    const answer = await pending;
    assert.equal(answer.status, status, JSON.stringify(answer.body));
    return answer;
  };

  /** The token of the newest link of a kind mailed to an address, waiting for a mail queued in the background. */
  async function mailedToken(email: string, kind: 'email_verification' | 'password_reset' | 'invitation'): Promise<string> {
    const path = { email_verification: '/verify-email', password_reset: '/reset-password', invitation: '/accept-invite' }[kind];
    for (let attempt = 0; attempt < 400; attempt++) {
      const mail = await db().selectFrom('outbox').select('text_body').where(sql<string>`lower(recipient)`, '=', email.toLowerCase()).where('kind', '=', kind).orderBy('id', 'desc').executeTakeFirst();
      const match = mail && new RegExp(`${PUBLIC_URL}${path}\\?token=[\\w%-]+`).exec(mail.text_body);
      if (match) return new URL(match[0]).searchParams.get('token') ?? '';
      await sleep(25);
    }
    return assert.fail(`no ${kind} mail to ${email}`);
  }

  const withUsername = async () => {
    const username = uniqueUsername();
    return { ...(await registerUser(app(), { username })), username };
  };
  const verified = async (user: TestUser) => {
    await ok(send('POST', '/auth/email/verify', { body: { token: await mailedToken(user.email, 'email_verification') } }));
    return user;
  };
  const resetToken = async (user: TestUser) => {
    await ok(send('POST', '/auth/password/forgot', { body: { email: user.email } }), 202);
    return mailedToken(user.email, 'password_reset');
  };
  const invitationToken = async (owner: TestUser, orgId: string, email: string) => {
    await ok(send('POST', `/api/organisations/${orgId}/invitations`, { token: owner.accessToken, body: { email } }), 201);
    return mailedToken(email, 'invitation');
  };
  /** An owner of a fresh organisation with one plain member. */
  const teamOfTwo = async () => {
    const [owner, member] = await Promise.all([registerUser(app()), registerUser(app())]);
    const orgId = await createOrganisation(app(), owner.accessToken, 'Mass');
    await addMember(app(), owner.accessToken, orgId, member.userId);
    return { owner, member, orgId };
  };
  const makeAdmin = async () => {
    const user = await registerUser(app());
    await db().updateTable('users').set({ platform_role: 'admin' }).where('id', '=', user.userId).execute();
    const answer = await ok(send('POST', '/auth/login', { body: { email: user.email, password: user.password } }));
    return { ...user, accessToken: answer.body.data.accessToken as string };
  };

  /** A valid request for each route with a body, made with fresh accounts. */
  const recipes: Record<string, () => Promise<Recipe>> = {
    register: async () => ({ body: { firstName: 'Mass', lastName: 'Assign', email: uniqueEmail('mass'), password: PASSWORD }, success: 201, actor: null }),
    login: async () => {
      const u = await registerUser(app());
      return { body: { email: u.email, password: PASSWORD }, success: 200, actor: u.userId };
    },
    refreshTokens: async () => {
      const u = await registerUser(app());
      return { body: { refreshToken: u.refreshToken }, success: 200, actor: u.userId };
    },
    logout: async () => {
      const u = await registerUser(app());
      return { body: { refreshToken: u.refreshToken }, success: 200, actor: u.userId };
    },
    forgotPassword: async () => {
      const u = await registerUser(app());
      return { body: { email: u.email }, success: 202, actor: u.userId };
    },
    requestResetLinkPage: async () => {
      const u = await registerUser(app());
      return { body: { email: u.email }, success: 200, actor: u.userId };
    },
    resetPassword: async () => {
      const u = await registerUser(app());
      return { body: { token: await resetToken(u), password: NEW_PASSWORD }, success: 200, actor: u.userId, allowed: { passwordOf: [u.userId] } };
    },
    verifyEmail: async () => {
      const u = await registerUser(app());
      return { body: { token: await mailedToken(u.email, 'email_verification') }, success: 200, actor: u.userId, allowed: { verifies: [u.userId] } };
    },
    changePassword: async () => {
      const u = await registerUser(app());
      return { body: { currentPassword: PASSWORD, newPassword: NEW_PASSWORD }, token: u.accessToken, success: 200, actor: u.userId, allowed: { passwordOf: [u.userId] } };
    },
    updateMe: async () => {
      const u = await registerUser(app());
      return { body: { firstName: 'Renamed' }, token: u.accessToken, success: 200, actor: u.userId };
    },
    saasResetPassword: async () => {
      const u = await registerUser(app());
      return { body: { token: await resetToken(u), new_password: NEW_PASSWORD }, success: 200, actor: u.userId, allowed: { passwordOf: [u.userId] } };
    },
    saasAcceptInvite: async () => {
      const owner = await registerUser(app());
      const orgId = await createOrganisation(app(), owner.accessToken, 'Mass');
      const token = await invitationToken(owner, orgId, uniqueEmail('invitee'));
      return { body: { token, password: PASSWORD }, success: 200, actor: null, allowed: { newUsersVerified: true, joins: [[orgId, 'new', 'member']] } };
    },
    saasSignup: async () => ({ body: { email: uniqueEmail('mass'), password: PASSWORD, organization_name: 'Mass' }, success: 201, actor: null }),
    saasSignin: async () => {
      const u = await registerUser(app());
      return { body: { email: u.email, password: PASSWORD }, success: 200, actor: u.userId };
    },
    saasInviteMember: async () => {
      const owner = await registerUser(app());
      const orgId = await createOrganisation(app(), owner.accessToken, 'Mass');
      return { body: { email: uniqueEmail('invitee'), organization_id: orgId, role: 'member' }, token: owner.accessToken, success: 201, actor: owner.userId };
    },
    saasDeleteMember: async () => {
      const { owner, member, orgId } = await teamOfTwo();
      return { body: { org_id: orgId, user_id: member.userId }, token: owner.accessToken, success: 200, actor: owner.userId, allowed: { leaves: [orgId, member.userId] } };
    },
    saasUpdateMemberRole: async () => {
      const { owner, member, orgId } = await teamOfTwo();
      return { body: { org_id: orgId, user_id: member.userId, role: 'admin' }, token: owner.accessToken, success: 200, actor: owner.userId, allowed: { roleOf: [orgId, member.userId, 'admin'] } };
    },
    saasCreateOrganization: async () => {
      const u = await registerUser(app());
      return { body: { name: 'Mass', details: 'Made with extra fields' }, token: u.accessToken, success: 201, actor: u.userId };
    },
    userApiRegister: async () => ({ body: { username: uniqueUsername(), first_name: 'Mass', last_name: 'Assign', email: uniqueEmail('mass'), password: PASSWORD }, success: 201, actor: null }),
    userApiLogin: async () => {
      const u = await withUsername();
      return { body: { username: u.username, password: PASSWORD }, success: 200, actor: u.userId };
    },
    userApiForgetPassword: async () => {
      const u = await withUsername();
      return { body: { username: u.username, email: u.email }, success: 200, actor: u.userId };
    },
    userApiResetPassword: async () => {
      const u = await registerUser(app());
      return { body: { token: await resetToken(u), new_password: NEW_PASSWORD }, success: 200, actor: u.userId, allowed: { passwordOf: [u.userId] } };
    },
    userApiUpdateUser: async () => {
      const u = await withUsername();
      return { params: { username: u.username }, body: { first_name: 'Renamed' }, token: u.accessToken, success: 200, actor: u.userId };
    },
    basicRegister: async () => ({ body: { username: uniqueUsername(), password: PASSWORD }, success: 201, actor: null }),
    basicLogin: async () => {
      const u = await withUsername();
      return { body: { username: u.username, password: PASSWORD }, success: 200, actor: u.userId };
    },
    createOrganisation: async () => {
      const u = await registerUser(app());
      return { body: { name: 'Mass', description: 'Made with extra fields' }, token: u.accessToken, success: 201, actor: u.userId };
    },
    updateOrganisation: async () => {
      const u = await registerUser(app());
      const orgId = await createOrganisation(app(), u.accessToken, 'Mass');
      return { params: { orgId }, body: { name: 'Renamed' }, token: u.accessToken, success: 200, actor: u.userId };
    },
    addOrganisationUser: async () => {
      const [owner, target] = await Promise.all([registerUser(app()), registerUser(app())]);
      const orgId = await createOrganisation(app(), owner.accessToken, 'Mass');
      return { params: { orgId }, body: { userId: target.userId, role: 'member' }, token: owner.accessToken, success: 200, actor: owner.userId, allowed: { joins: [[orgId, target.userId, 'member']] } };
    },
    changeMemberRole: async () => {
      const { owner, member, orgId } = await teamOfTwo();
      return { params: { orgId, userId: member.userId }, body: { role: 'admin' }, token: owner.accessToken, success: 200, actor: owner.userId, allowed: { roleOf: [orgId, member.userId, 'admin'] } };
    },
    setMemberStatus: async () => {
      const { owner, member, orgId } = await teamOfTwo();
      return { params: { orgId, userId: member.userId }, body: { status: 'suspended' }, token: owner.accessToken, success: 200, actor: owner.userId };
    },
    createRole: async () => {
      const u = await registerUser(app());
      const orgId = await createOrganisation(app(), u.accessToken, 'Mass');
      return { params: { orgId }, body: { name: 'Auditor', permissions: ['org:read', 'audit:read'] }, token: u.accessToken, success: 201, actor: u.userId };
    },
    updateRole: async () => {
      const u = await registerUser(app());
      const orgId = await createOrganisation(app(), u.accessToken, 'Mass');
      const created = await ok(send('POST', `/api/organisations/${orgId}/roles`, { token: u.accessToken, body: { name: 'Auditor', permissions: ['org:read'] } }), 201);
      return { params: { orgId, roleId: created.body.data.roleId }, body: { name: 'Renamed' }, token: u.accessToken, success: 200, actor: u.userId };
    },
    createInvitation: async () => {
      const u = await registerUser(app());
      const orgId = await createOrganisation(app(), u.accessToken, 'Mass');
      return { params: { orgId }, body: { email: uniqueEmail('invitee'), role: 'member' }, token: u.accessToken, success: 201, actor: u.userId };
    },
    acceptInvitation: async () => {
      const [owner, invitee] = await Promise.all([registerUser(app()), registerUser(app())]);
      await verified(invitee);
      const orgId = await createOrganisation(app(), owner.accessToken, 'Mass');
      const token = await invitationToken(owner, orgId, invitee.email);
      return { body: { token }, token: invitee.accessToken, success: 200, actor: invitee.userId, allowed: { joins: [[orgId, invitee.userId, 'member']] } };
    },
    createApiKey: async () => {
      const u = await registerUser(app());
      const orgId = await createOrganisation(app(), u.accessToken, 'Mass');
      return { params: { orgId }, body: { name: 'Mass', permissions: ['org:read'] }, token: u.accessToken, success: 201, actor: u.userId };
    },
    createPersonalApiKey: async () => {
      const u = await registerUser(app());
      return { body: { name: 'Mass', permissions: ['org:read'] }, token: u.accessToken, success: 201, actor: u.userId };
    },
    createApplication: async () => {
      const u = await registerUser(app());
      const orgId = await createOrganisation(app(), u.accessToken, 'Mass');
      return { params: { orgId }, body: { name: 'Mass', permissions: ['org:read'] }, token: u.accessToken, success: 201, actor: u.userId };
    },
    createOidcClient: async () => {
      const admin = await makeAdmin();
      return { body: { name: 'Mass', redirectUris: ['https://mass.example/cb'], type: 'confidential' }, token: admin.accessToken, success: 201, actor: admin.userId };
    },
    updateOidcClient: async () => {
      const admin = await makeAdmin();
      const created = await call(app(), 'POST', '/api/admin/oidc-clients', { token: admin.accessToken, body: { name: 'Mass', redirectUris: ['https://mass.example/cb'], type: 'public' } });
      return { params: { clientId: created.body.data.clientId }, body: { name: 'Renamed' }, token: admin.accessToken, success: 200, actor: admin.userId };
    },
    // The hosted sign-in's forms, posted without the browser's interaction cookie and form token: refused.
    interactionSignIn: async () => {
      const u = await registerUser(app());
      return { params: { uid: 'not-this-browsers' }, body: { csrf: 'forged', email: u.email, password: PASSWORD }, success: 403, actor: u.userId };
    },
    interactionConsent: async () => ({ params: { uid: 'not-this-browsers' }, body: { csrf: 'forged' }, success: 403, actor: null }),
    interactionAbort: async () => ({ params: { uid: 'not-this-browsers' }, body: { csrf: 'forged' }, success: 403, actor: null }),
    interactionSecondFactor: async () => ({ params: { uid: 'not-this-browsers' }, body: { csrf: 'forged', mfaToken: 'forged', code: '123456' }, success: 403, actor: null }),
    interactionChooseOrganisation: async () => ({ params: { uid: 'not-this-browsers' }, body: { csrf: 'forged', orgId: '00000000-0000-4000-8000-000000000000' }, success: 403, actor: null }),
    interactionPasskeySignIn: async () => ({ params: { uid: 'not-this-browsers' }, body: { csrf: 'forged', response: '{}' }, success: 403, actor: null }),
    interactionSignUp: async () => ({ params: { uid: 'not-this-browsers' }, body: { csrf: 'forged', firstName: 'Mass', lastName: 'Assign', email: `mass-${Date.now()}@example.com`, password: PASSWORD }, success: 403, actor: null }),
    interactionForgotPassword: async () => {
      const u = await registerUser(app());
      return { params: { uid: 'not-this-browsers' }, body: { csrf: 'forged', email: u.email }, success: 403, actor: u.userId };
    },
    adminUpdateUser: async () => {
      const [admin, target] = await Promise.all([makeAdmin(), registerUser(app())]);
      return { params: { id: target.userId }, body: { firstName: 'Renamed' }, token: admin.accessToken, success: 200, actor: admin.userId };
    },
    // Second factors: each recipe's account has its own, and a code of a time step not used before.
    verifySecondFactor: async () => {
      const u = await enableTotp(app(), h().clock, await registerUser(app()));
      const mfaToken = await firstStep(app(), u);
      nextStep(h().clock);
      return { body: { mfaToken, method: 'totp', code: totpCode(u.secret, h().clock) }, success: 200, actor: u.userId };
    },
    stepUp: async () => {
      const u = await enableTotp(app(), h().clock, await registerUser(app()));
      nextStep(h().clock);
      return { body: { method: 'totp', code: totpCode(u.secret, h().clock) }, token: u.accessToken, success: 200, actor: u.userId };
    },
    confirmTotp: async () => {
      const u = await registerUser(app());
      const started = await ok(send('POST', '/api/users/me/mfa/totp', { token: u.accessToken }), 201);
      return { body: { code: totpCode(started.body.data.secret, h().clock) }, token: u.accessToken, success: 200, actor: u.userId };
    },
    registerPasskey: async () => {
      const u = await registerUser(app());
      const options = await ok(send('POST', '/api/users/me/passkeys/options', { token: u.accessToken }));
      return { body: { response: new SoftwareAuthenticator(PUBLIC_URL).register(options.body.data), name: 'Laptop' }, token: u.accessToken, success: 201, actor: u.userId };
    },
    renamePasskey: async () => {
      const u = await registerUser(app());
      const { passkeyId } = await addPasskey(u);
      return { params: { passkeyId }, body: { name: 'Renamed' }, token: u.accessToken, success: 200, actor: u.userId };
    },
    secondFactorWebauthnOptions: async () => {
      const u = await registerUser(app());
      await addPasskey(u);
      return { body: { mfaToken: await firstStep(app(), u) }, success: 200, actor: u.userId };
    },
    passkeySignIn: async () => {
      const u = await registerUser(app());
      const { authenticator } = await addPasskey(u);
      const options = await ok(send('POST', '/auth/passkey/options', { body: {} }));
      return { body: { response: authenticator.authenticate(options.body.data) }, success: 200, actor: u.userId };
    },
    // Webhook endpoints are made disabled, so that nothing is delivered while the suite compares the database.
    createWebhook: async () => {
      const u = await registerUser(app());
      const orgId = await createOrganisation(app(), u.accessToken, 'Mass');
      return { params: { orgId }, body: { url: 'https://receiver.example/hook', events: ['member.added'] }, token: u.accessToken, success: 201, actor: u.userId };
    },
    updateWebhook: async () => {
      const u = await registerUser(app());
      const orgId = await createOrganisation(app(), u.accessToken, 'Mass');
      const webhookId = await disabledWebhook(u.accessToken, `/api/organisations/${orgId}/webhooks`);
      return { params: { orgId, webhookId }, body: { description: 'Renamed' }, token: u.accessToken, success: 200, actor: u.userId };
    },
    createPlatformWebhook: async () => {
      const admin = await makeAdmin();
      return { body: { url: 'https://receiver.example/hook', events: ['user.created'] }, token: admin.accessToken, success: 201, actor: admin.userId };
    },
    updatePlatformWebhook: async () => {
      const admin = await makeAdmin();
      const webhookId = await disabledWebhook(admin.accessToken, '/api/admin/webhooks');
      return { params: { webhookId }, body: { description: 'Renamed' }, token: admin.accessToken, success: 200, actor: admin.userId };
    },
  };

  /** A passkey of the user's, from a software authenticator. */
  async function addPasskey(user: TestUser) {
    const authenticator = new SoftwareAuthenticator(PUBLIC_URL);
    const options = await ok(send('POST', '/api/users/me/passkeys/options', { token: user.accessToken }));
    const added = await ok(send('POST', '/api/users/me/passkeys', { token: user.accessToken, body: { response: authenticator.register(options.body.data) } }), 201);
    return { authenticator, passkeyId: added.body.data.passkeyId as string };
  }

  /** A webhook endpoint, disabled at once: the suite's snapshots see no deliveries come and go. */
  async function disabledWebhook(token: string, collection: string): Promise<string> {
    const created = await ok(send('POST', collection, { token, body: { url: 'https://receiver.example/hook', events: ['*'] } }), 201);
    const webhookId = created.body.data.webhookId as string;
    await ok(send('PATCH', `${collection}/${webhookId}`, { token, body: { enabled: false } }));
    return webhookId;
  }

  /** A user with an organisation of her own, a member, a custom role and a pending invitation. */
  async function tenant(name: string) {
    const [owner, member] = await Promise.all([registerUser(app(), { username: uniqueUsername() }), registerUser(app())]);
    const orgId = await createOrganisation(app(), owner.accessToken, name);
    await addMember(app(), owner.accessToken, orgId, member.userId);
    const role = await ok(send('POST', `/api/organisations/${orgId}/roles`, { token: owner.accessToken, body: { name: 'Auditor', permissions: ['org:read', 'audit:read'] } }), 201);
    const invitation = await ok(send('POST', `/api/organisations/${orgId}/invitations`, { token: owner.accessToken, body: { email: uniqueEmail('pending') } }), 201);
    const webhookId = await disabledWebhook(owner.accessToken, `/api/organisations/${orgId}/webhooks`);
    const { passkeyId } = await addPasskey(owner);
    const username = (await ok(send('GET', '/api/users/me', { token: owner.accessToken }))).body.data.username as string;
    // The owner's key holds everything the owner does; the machine client every permission it may have.
    const everything = [...PERMISSIONS];
    const apiKey = await ok(send('POST', `/api/organisations/${orgId}/api-keys`, { token: owner.accessToken, body: { name: 'Everything', permissions: everything } }), 201);
    const application = await ok(send('POST', `/api/organisations/${orgId}/applications`, { token: owner.accessToken, body: { name: 'Everything', permissions: everything } }), 201);
    const { clientId, clientSecret } = application.body.data as { clientId: string; clientSecret: string };
    const grant = await app().inject({ method: 'POST', url: '/oauth/token', headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }).toString() });
    assert.equal(grant.statusCode, 200, grant.body);
    return {
      owner,
      member,
      orgId,
      name,
      username,
      webhookId,
      passkeyId,
      roleId: role.body.data.roleId as string,
      invitationId: invitation.body.data.invitationId as string,
      apiKeyId: apiKey.body.data.apiKeyId as string,
      apiKey: apiKey.body.data.key as string,
      applicationId: application.body.data.applicationId as string,
      machineToken: (JSON.parse(grant.body) as { access_token: string }).access_token,
    };
  }

  const sessionOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')).sid as string;

  it('ignores or refuses undocumented fields on every route that takes a body, changing nothing they name', async (t) => {
    const victimUser = await registerUser(app());
    const victim: Victim = { user: victimUser, orgId: await createOrganisation(app(), victimUser.accessToken, 'Victim') };
    const injected: Json = {
      id: INJECTED_ID,
      userId: victim.user.userId,
      user_id: victim.user.userId,
      ownerId: victim.user.userId,
      createdBy: victim.user.userId,
      orgId: victim.orgId,
      org_id: victim.orgId,
      organisationId: victim.orgId,
      organization_id: victim.orgId,
      platformRole: 'admin',
      platform_role: 'admin',
      isAdmin: true,
      emailVerified: true,
      email_verified_at: INJECTED_TIME,
      role: 'owner',
      status: 'disabled',
      passwordHash: INJECTED_HASH,
      password_hash: INJECTED_HASH,
      personal: true,
      builtIn: true,
      permissions: [...PERMISSIONS],
      createdAt: INJECTED_TIME,
      created_at: INJECTED_TIME,
      organisation: { name: INJECTED_NAME, description: INJECTED_NAME, personal: true },
    };
    const withBody = (await operations(h())).filter((op) => op.bodyFields !== null);
    assert.ok(withBody.length > 0);
    const missing = withBody.filter((op) => !recipes[op.operationId]).map((op) => `${op.method} ${op.path} (${op.operationId})`);
    assert.deepEqual(missing, [], 'routes with a body and no recipe in this suite: add one');

    const victimBefore = await victimDigest(db(), victim);
    for (const op of withBody) {
      const label = `${op.method} ${op.path}`;
      await t.test(label, async (st) => {
        const recipe = await recipes[op.operationId]!();
        // Only what the route does not document: `role` is a field of some routes, for instance.
        const extras = Object.fromEntries(Object.entries(injected).filter(([field]) => !op.bodyFields!.includes(field) && !(field in recipe.body)));
        await settled(db(), { failOnTimeout: true });
        const before = await snapshot(db());
        const answer = await send(op.method, fill(op.path, recipe.params ?? {}), { body: { ...recipe.body, ...extras }, token: recipe.token });
        st.diagnostic(`${answer.status === 422 ? 'refused' : 'accepted'} with ${answer.status}`);
        if (answer.status === 422 && !op.compat) {
          const fields = (answer.body.errors as Array<{ field: string }>).map((e) => e.field);
          assert.ok(fields.length > 0 && fields.every((field) => field in extras), `${label}: 422 for ${fields.join(', ')}`);
        } else if (answer.status === 422) {
          assert.match(JSON.stringify(answer.body), /not allowed/, `${label}: ${JSON.stringify(answer.body)}`);
        } else {
          assert.equal(answer.status, recipe.success, `${label}: ${JSON.stringify(answer.body)}`);
          assert.ok(!JSON.stringify(answer.body ?? '').includes(INJECTED_ID), `${label}: the answer carries the injected id`);
        }
        await settled(db(), { failOnTimeout: true });
        await assertOnlyAllowed(db(), before, await snapshot(db()), recipe, label);
      });
    }
    assert.equal(await victimDigest(db(), victim), victimBefore, 'a request with injected ids changed the victim’s rows');
  });

  it('answers a user of another organisation 404 (403 on admin routes) on every route with an id in its path, changing nothing', async () => {
    const [a, b] = [await tenant('Tenant A'), await tenant('Tenant B')];
    const ids: Record<string, string> = {
      orgId: a.orgId,
      userId: a.member.userId,
      id: a.owner.userId,
      roleId: a.roleId,
      invitationId: a.invitationId,
      sessionId: sessionOf(a.owner.accessToken),
      username: a.username,
      webhookId: a.webhookId,
      deliveryId: '1',
      passkeyId: a.passkeyId,
      apiKeyId: a.apiKeyId,
      applicationId: a.applicationId,
      clientId: 'gho_unknown',
    };
    const bodies: Record<string, Json> = {
      updateOrganisation: { name: 'Hijacked' },
      addOrganisationUser: { userId: b.owner.userId, role: 'owner' },
      changeMemberRole: { role: 'owner' },
      setMemberStatus: { status: 'suspended' },
      createRole: { name: 'Hijacker', permissions: ['org:read'] },
      updateRole: { name: 'Hijacked', permissions: ['org:read', 'org:delete'] },
      createInvitation: { email: uniqueEmail('hijack'), role: 'owner' },
      createApiKey: { name: 'Hijacker', permissions: ['org:read'] },
      createApplication: { name: 'Hijacker', permissions: ['org:read'] },
      userApiUpdateUser: { first_name: 'Hijacked' },
      adminUpdateUser: { platformRole: 'admin' },
      updateWebhook: { url: 'https://attacker.example/hook', enabled: true },
      updatePlatformWebhook: { url: 'https://attacker.example/hook' },
      renamePasskey: { name: 'Hijacked' },
    };
    // The hosted sign-in's pages belong to one browser's sign-in (its interaction cookie), not to a
    // tenant: tests/openid.spec.ts shows what they answer anyone else.
    const ops = (await operations(h())).filter((op) => op.path.includes('{') && !op.hostedPage);
    assert.ok(ops.length > 0);
    const secrets = [a.owner.email, a.member.email, a.name];
    await settled(db(), { failOnTimeout: true });
    let before = await fingerprint(db());
    for (const path of new Set(ops.map((op) => op.path))) {
      const url = fill(path, ids);
      for (const method of METHODS) {
        const op = ops.find((o) => o.path === path && o.method === method);
        const body = op ? bodies[op.operationId] : method === 'GET' || method === 'DELETE' ? undefined : { name: 'Hijacked' };
        const answer = await send(method, url, { token: b.owner.accessToken, body });
        const label = `${method} ${url} (${op?.operationId ?? 'undocumented'})`;
        const expected = op?.adminOnly ? 403 : 404;
        assert.equal(answer.status, expected, `${label} → ${answer.status} ${JSON.stringify(answer.body)}`);
        if (op?.compat) assert.equal(Object.keys(answer.body).length, 1, `${label}: ${JSON.stringify(answer.body)}`);
        else assertErrorEnvelope(answer, expected);
        for (const secret of secrets) assert.ok(!JSON.stringify(answer.body).includes(secret), `${label} tells ${secret}`);
        const after = await fingerprint(db());
        assert.equal(after, before, `${label} changed the database`);
        before = after;
      }
    }
    // Tenant A's world is as it was: the same calls by A herself still work.
    assert.equal((await send('GET', `/api/organisations/${a.orgId}/members`, { token: a.owner.accessToken })).body.data.members.length, 2);
    assert.equal((await send('GET', `/api/organisations/${a.orgId}/roles`, { token: a.owner.accessToken })).body.data.roles.length, 4);
  });

  it('answers organisation A’s API key and machine token 404 on every route of organisation B, changing nothing', async () => {
    const [a, b] = [await tenant('Tenant A'), await tenant('Tenant B')];
    const ids: Record<string, string> = { orgId: b.orgId, userId: b.member.userId, roleId: b.roleId, invitationId: b.invitationId, apiKeyId: b.apiKeyId, applicationId: b.applicationId, webhookId: b.webhookId, deliveryId: '1' };
    const orgRoutes = (await operations(h())).filter((op) => op.path.startsWith('/api/organisations/{orgId}'));
    assert.ok(orgRoutes.length >= 20, `${orgRoutes.length} organisation routes`);
    const bodies: Record<string, Json> = {
      updateOrganisation: { name: 'Hijacked' },
      addOrganisationUser: { userId: a.owner.userId, role: 'owner' },
      changeMemberRole: { role: 'owner' },
      setMemberStatus: { status: 'suspended' },
      createRole: { name: 'Hijacker', permissions: ['org:read'] },
      updateRole: { name: 'Hijacked' },
      createInvitation: { email: uniqueEmail('hijack'), role: 'owner' },
      createApiKey: { name: 'Hijacker', permissions: ['org:read'] },
      createApplication: { name: 'Hijacker', permissions: ['org:read'] },
      createWebhook: { url: 'https://attacker.example/hook', events: ['*'] },
      updateWebhook: { url: 'https://attacker.example/hook', enabled: true },
    };
    for (const [label, credential] of [
      ['API key', a.apiKey],
      ['machine token', a.machineToken],
    ] as const) {
      // The credential works in its own organisation (and its use is recorded now, not below): the refusals are tenancy's doing.
      assert.equal((await send('GET', `/api/organisations/${a.orgId}/members`, { token: credential })).status, 200, label);
      await settled(db(), { failOnTimeout: true });
      let before = await fingerprint(db());
      for (const op of orgRoutes) {
        const url = fill(op.path, ids);
        const answer = await send(op.method, url, { token: credential, body: bodies[op.operationId] ?? (op.bodyFields ? {} : undefined) });
        assertErrorEnvelope(answer, 404, 'ORGANISATION_NOT_FOUND');
        assert.ok(!JSON.stringify(answer.body).includes(b.name), `${label} ${op.method} ${url} tells the organisation's name`);
        const after = await fingerprint(db());
        assert.equal(after, before, `${label} ${op.method} ${url} changed the database`);
        before = after;
      }
    }
  });

  it('answers 404 to an organisation’s own owner naming another organisation’s member, role, invitation, key, client or webhook', async () => {
    const [a, b] = [await tenant('Tenant A'), await tenant('Tenant B')];
    const bodies: Record<string, Json> = { changeMemberRole: { role: 'member' }, setMemberStatus: { status: 'suspended' }, updateRole: { name: 'Hijacked' }, updateWebhook: { enabled: true } };
    const mixed = (await operations(h())).filter((op) => op.path.startsWith('/api/organisations/{orgId}/') && /\{(userId|roleId|invitationId|apiKeyId|applicationId|webhookId)\}/.test(op.path));
    assert.ok(mixed.length >= 5, mixed.map((op) => op.operationId).join());
    await settled(db(), { failOnTimeout: true });
    let before = await fingerprint(db());
    for (const op of mixed) {
      for (const userId of [a.member.userId, a.owner.userId]) {
        const url = fill(op.path, { orgId: b.orgId, userId, roleId: a.roleId, invitationId: a.invitationId, webhookId: a.webhookId, deliveryId: '1', apiKeyId: a.apiKeyId, applicationId: a.applicationId });
        const answer = await send(op.method, url, { token: b.owner.accessToken, body: bodies[op.operationId] });
        assertErrorEnvelope(answer, 404);
        const after = await fingerprint(db());
        assert.equal(after, before, `${op.method} ${url} changed the database`);
        before = after;
      }
    }
    // Leaving needs no permission, but only an organisation one belongs to.
    assertErrorEnvelope(await send('DELETE', `/api/organisations/${a.orgId}/members/${b.owner.userId}`, { token: b.owner.accessToken }), 404);
    assert.equal(await fingerprint(db()), before, 'leaving another organisation changed the database');
    // The seed-compatible routes take the ids in the body: the same answer there.
    const bodyRoutes: Array<[Method, string, Json]> = [
      ['DELETE', '/delete_member', { org_id: b.orgId, user_id: a.member.userId }],
      ['DELETE', '/delete_member', { org_id: a.orgId, user_id: a.member.userId }],
      ['PUT', '/update_member_role', { org_id: b.orgId, user_id: a.member.userId, role: 'admin' }],
      ['PUT', '/update_member_role', { org_id: a.orgId, user_id: a.member.userId, role: 'admin' }],
      ['POST', '/invite-member', { email: uniqueEmail('hijack'), organization_id: a.orgId, role: 'member' }],
    ];
    for (const [method, url, body] of bodyRoutes) {
      const answer = await send(method, url, { token: b.owner.accessToken, body });
      assert.equal(answer.status, 404, `${method} ${url} ${JSON.stringify(body)} → ${answer.status} ${JSON.stringify(answer.body)}`);
      const after = await fingerprint(db());
      assert.equal(after, before, `${method} ${url} changed the database`);
      before = after;
    }
  });
}

forEachDatabase('tenancy attacks', (h) => tenancySuite(h), SECRET_KEY);
