// Second factors as a client uses them: real TOTP codes computed with `otpauth` from the secret the
// enrolment answered, at the harness's clock.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { Secret, TOTP } from 'otpauth';
import type { App } from '../../src/app.ts';
import type { Db } from '../../src/db/database.ts';
import { call, type TestUser } from './api.ts';
import { PUBLIC_URL, type TestClock } from './harness.ts';

/** A key for the PostgreSQL target, which (like a production server) has no key file. */
export const SECRET_KEY = { GATEHOUSE_SECRET_KEY: randomBytes(32).toString('base64') };

/** The code an authenticator app shows for the secret at the clock's time (or `offsetSteps` away). */
export function totpCode(secret: string, clock: TestClock, offsetSteps = 0): string {
  return new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate({ timestamp: clock.now().getTime() + offsetSteps * 30_000 });
}

export interface TotpUser extends TestUser {
  secret: string;
  recoveryCodes: string[];
}

/** Sets up and confirms an authenticator app for a user; their access token stays valid (it proved the factor). */
export async function enableTotp(app: App, clock: TestClock, user: TestUser): Promise<TotpUser> {
  const started = await call(app, 'POST', '/api/users/me/mfa/totp', { token: user.accessToken });
  assert.equal(started.status, 201, JSON.stringify(started.body));
  const { secret } = started.body.data;
  const confirmed = await call(app, 'POST', '/api/users/me/mfa/totp/confirm', { token: user.accessToken, body: { code: totpCode(secret, clock) } });
  assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body));
  return { ...user, secret, recoveryCodes: confirmed.body.data.recoveryCodes };
}

/** The first step of a sign-in of an account with a second factor: its `mfaToken`. */
export async function firstStep(app: App, user: { email: string; password: string }, extra: Record<string, unknown> = {}): Promise<string> {
  const answer = await call(app, 'POST', '/auth/login', { body: { email: user.email, password: user.password, ...extra } });
  assert.equal(answer.status, 200, JSON.stringify(answer.body));
  assert.equal(answer.body.data.mfaRequired, true, JSON.stringify(answer.body));
  return answer.body.data.mfaToken;
}

/** Moves the clock to the next TOTP step, so that a fresh code is not the one just used. */
export const nextStep = (clock: TestClock) => clock.advance(30);

/** The token of the newest mail of a kind to an address, with the link it carries. */
export async function mailedToken(db: Db, email: string, kind: string, path: string, base = PUBLIC_URL): Promise<string> {
  for (let i = 0; i < 400; i++) {
    const mail = await db.selectFrom('outbox').select('text_body').where(sql<string>`lower(recipient)`, '=', email.toLowerCase()).where('kind', '=', kind).orderBy('id', 'desc').executeTakeFirst();
    const match = mail && new RegExp(`${base}${path}\\?token=[\\w%-]+`).exec(mail.text_body);
    if (match) return new URL(match[0]).searchParams.get('token') ?? '';
    await sleep(25);
  }
  return assert.fail(`no ${kind} mail to ${email}`);
}
