// The authorization matrix every protected route is put through: no token, a garbage token, a
// token with tampered claims, an `alg: none` token; and for organisation routes, a user of another
// organisation (404) and a member whose role is too low (403). Each refusal must change nothing.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { assertErrorEnvelope, call } from './api.ts';
import { fingerprint, type Harness } from './harness.ts';

export interface RouteCall {
  method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
  url: string;
  body?: unknown;
}

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const decode = (part: string) => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;

/** The same token with another subject, the signature left as it was. */
export function tamper(token: string): string {
  const [header, payload, signature] = token.split('.') as [string, string, string];
  const claims = decode(payload);
  return `${header}.${b64({ ...claims, sub: randomUUID(), userId: randomUUID() })}.${signature}`;
}

/** The same claims, unsigned, declaring `alg: none`. */
export function algNone(token: string): string {
  const [header, payload] = token.split('.') as [string, string];
  return `${b64({ ...decode(header), alg: 'none' })}.${payload}.`;
}

export async function expectAuthenticationRequired(harness: Harness, route: RouteCall, validToken: string) {
  const { app, db } = harness;
  const before = await fingerprint(db);
  const cases: Array<[string, Record<string, string>]> = [
    ['no token', {}],
    ['garbage token', { authorization: 'Bearer garbage' }],
    ['tampered claims', { authorization: `Bearer ${tamper(validToken)}` }],
    ['alg none', { authorization: `Bearer ${algNone(validToken)}` }],
    ['not a bearer', { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` }],
  ];
  for (const [label, headers] of cases) {
    const answer = await call(app, route.method, route.url, { body: route.body, headers });
    assert.equal(answer.status, 401, `${label}: ${route.method} ${route.url} → ${answer.status} ${JSON.stringify(answer.body)}`);
    assertErrorEnvelope(answer, 401);
    assert.equal(answer.body.status, 'Bad request');
  }
  assert.equal(await fingerprint(db), before, `a refused ${route.method} ${route.url} changed the database`);
}

/** The caller is refused with `status` and the database is untouched. */
export async function expectRefused(harness: Harness, route: RouteCall, token: string, status: 403 | 404, label = '') {
  const before = await fingerprint(harness.db);
  const answer = await call(harness.app, route.method, route.url, { body: route.body, token });
  assert.equal(answer.status, status, `${label} ${route.method} ${route.url} → ${answer.status} ${JSON.stringify(answer.body)}`);
  assertErrorEnvelope(answer, status);
  assert.equal(await fingerprint(harness.db), before, `${label}: a refused ${route.method} ${route.url} changed the database`);
}
