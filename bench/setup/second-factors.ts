// Accounts with an authenticator app for the `login-mfa` load, seeded in the everyday database with
// set-based SQL through Gatehouse's schema, as the sign-in accounts are. Each has a TOTP secret of
// its own that the benchmark keeps, so that it computes the code an app would show, sealed under the
// key the benchmark's Gatehouse runs with (GATEHOUSE_SECRET_KEY, see gatehouse.ts).
//
// A code is accepted once per account and 30-second step (RFC 6238, and Gatehouse remembers the step
// it accepted). The load takes the accounts in turn, so an account comes round again after
// MFA_USERS sign-ins: at up to 250 sign-ins a second, more than 30 seconds later, in a later step.
// Faster than that, the answers would be 401s, counted as errors under the table.
import { hashPassword } from '../../src/domain/accounts/passwords.ts';
import { secretBox } from '../../src/domain/mfa/secret-box.ts';
import { newTotpSecret } from '../../src/domain/mfa/totp.ts';
import { addressOf, PASSWORD, USER_AGENT } from '../lib/http.ts';
import { withClient } from '../lib/postgres.ts';
import { SECRET_KEY } from './gatehouse.ts';
import { LOGIN_USERS } from './small.ts';

export const MFA_USERS = 8000;

export interface TotpAccount {
  email: string;
  secret: string;
  /** Its own address, never one of the `login` accounts'. */
  address: string;
}

export async function seedTotpAccounts(databaseUrl: string): Promise<TotpAccount[]> {
  const passwordHash = await hashPassword(PASSWORD);
  const box = secretBox(SECRET_KEY);
  return withClient(databaseUrl, async (client) => {
    await client.query('begin');
    const { rows } = await client.query<{ id: string; n: number }>(
      `insert into users (email, password_hash, first_name, last_name)
       select 'mfa-' || g || '@bench.test', $1, 'Mfa', g::text from generate_series(0, $2 - 1) g
       returning id, last_name::int as n`,
      [passwordHash, MFA_USERS],
    );
    const accounts = rows.map((row) => ({ id: row.id, email: `mfa-${row.n}@bench.test`, secret: newTotpSecret(), address: addressOf(LOGIN_USERS + row.n) }));
    await client.query(
      `insert into mfa_totp (user_id, secret_ciphertext, confirmed_at)
       select user_id, sealed, now() from unnest($1::uuid[], $2::text[]) as t (user_id, sealed)`,
      [accounts.map((a) => a.id), accounts.map((a) => box.seal(a.secret, a.id))],
    );
    // A session each from its address, long over: every sign-in comes from a device the account has
    // used before, as the `login` accounts' do once they have signed in (no new-device alert mail).
    await client.query(
      `insert into sessions (user_id, user_agent, ip, expires_at, revoked_at, revoked_reason)
       select user_id, $3, ip, now(), now(), 'logout' from unnest($1::uuid[], $2::text[]) as t (user_id, ip)`,
      [accounts.map((a) => a.id), accounts.map((a) => a.address), USER_AGENT],
    );
    await client.query('commit');
    await client.query('analyze users, mfa_totp, sessions');
    return accounts.map(({ email, secret, address }) => ({ email, secret, address }));
  });
}
