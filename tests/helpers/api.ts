// Requests as a client sends them (through Fastify's inject: the whole HTTP pipeline, no socket),
// and the accounts most tests start from.
import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import type { App } from '../../src/app.ts';
import type { Db } from '../../src/db/database.ts';

export interface Answer {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  headers: Record<string, string | string[] | number | undefined>;
}

type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';

export interface CallOptions {
  body?: unknown;
  token?: string;
  headers?: Record<string, string>;
  /** The client's address as the socket shows it (127.0.0.1 otherwise). */
  remoteAddress?: string;
}

export async function call(app: App, method: Method, url: string, options: CallOptions = {}): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers };
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
  const response = await app.inject({
    method,
    url,
    headers,
    ...(options.remoteAddress !== undefined ? { remoteAddress: options.remoteAddress } : {}),
    ...(options.body !== undefined ? { payload: options.body as object } : {}),
  });
  let body: unknown = response.body;
  try {
    body = response.body ? JSON.parse(response.body) : undefined;
  } catch {
    // not JSON: keep the text
  }
  return { status: response.statusCode, body, headers: response.headers };
}

let counter = 0;
/** An email no other test uses, in a letter case of the caller's choosing. */
export const uniqueEmail = (prefix = 'user') => `${prefix}.${process.pid}.${++counter}.${randomBytes(3).toString('hex')}@example.com`;

export const PASSWORD = 'correct horse battery';

export interface TestUser {
  userId: string;
  email: string;
  password: string;
  accessToken: string;
  refreshToken: string;
  personalOrgId: string;
}

export async function registerUser(app: App, overrides: Record<string, unknown> = {}): Promise<TestUser> {
  const body = { firstName: 'Test', lastName: 'User', email: uniqueEmail(), password: PASSWORD, ...overrides };
  const answer = await call(app, 'POST', '/auth/register', { body });
  assert.equal(answer.status, 201, JSON.stringify(answer.body));
  const { accessToken, refreshToken, user } = answer.body.data;
  const orgs = await call(app, 'GET', '/api/organisations', { token: accessToken });
  return { userId: user.userId, email: body.email as string, password: body.password as string, accessToken, refreshToken, personalOrgId: orgs.body.data.organisations[0].orgId };
}

export async function createOrganisation(app: App, token: string, name = 'Acme'): Promise<string> {
  const answer = await call(app, 'POST', '/api/organisations', { token, body: { name } });
  assert.equal(answer.status, 201, JSON.stringify(answer.body));
  return answer.body.data.orgId;
}

/** Adds a user to an organisation with a role, as someone allowed to. */
export async function addMember(app: App, token: string, orgId: string, userId: string, role = 'member') {
  const answer = await call(app, 'POST', `/api/organisations/${orgId}/users`, { token, body: { userId, role } });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
}

/** An organisation with an owner, an admin and a member, and an outsider who owns another one. */
export async function team(app: App) {
  const [owner, admin, member, outsider] = await Promise.all([registerUser(app), registerUser(app), registerUser(app), registerUser(app)]);
  const orgId = await createOrganisation(app, owner.accessToken, 'Team');
  await addMember(app, owner.accessToken, orgId, admin.userId, 'admin');
  await addMember(app, owner.accessToken, orgId, member.userId, 'member');
  const otherOrgId = await createOrganisation(app, outsider.accessToken, 'Elsewhere');
  return { owner, admin, member, outsider, orgId, otherOrgId };
}

/** The name of the role a user holds in an organisation, read from the database. */
export async function roleIn(db: Db, orgId: string, userId: string): Promise<string | undefined> {
  const row = await db
    .selectFrom('members')
    .innerJoin('roles', 'roles.id', 'members.role_id')
    .select('roles.name')
    .where('members.organisation_id', '=', orgId)
    .where('members.user_id', '=', userId)
    .executeTakeFirst();
  return row?.name;
}

export function assertErrorEnvelope(answer: Answer, status: number, code?: string) {
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  assert.equal(answer.body.statusCode, status);
  assert.equal(typeof answer.body.status, 'string');
  assert.equal(typeof answer.body.message, 'string');
  assert.equal(typeof answer.body.requestId, 'string');
  if (code) assert.equal(answer.body.code, code);
}
