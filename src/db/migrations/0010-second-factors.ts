import type { Migration } from './migration.ts';

const TIMESTAMPS = `
  created_at timestamptz(3) not null default now(),
  updated_at timestamptz(3) not null default now()`;

/**
 * Second factors and passkeys (SPEC §6.1):
 * - a session remembers how it was authenticated (`amr`, RFC 8176) and when its last strong check was
 *   (`auth_time`: the sign-in, or the latest step-up);
 * - one TOTP secret per user, encrypted (AES-256-GCM under GATEHOUSE_SECRET_KEY), pending until a code
 *   confirms it; the last time step used, so that a code is accepted once;
 * - recovery codes as SHA-256 digests, each spent once;
 * - passkeys (WebAuthn credentials) with their signature counters;
 * - sign-in attempts waiting for their second factor (`mfaToken`, stored as a digest), bound to the
 *   account, the active organisation asked for and the client, with their failures counted;
 * - WebAuthn challenges, kept in the database so that any node can check the answer, each used once;
 * - an organisation's `require_mfa`.
 */
export const secondFactors: Migration = {
  name: '0010-second-factors',
  statements: [
    `alter table sessions add column amr text[] not null default array['pwd']::text[]`,
    'alter table sessions add column auth_time timestamptz(3)',
    'update sessions set auth_time = created_at',
    'alter table sessions alter column auth_time set not null',
    'alter table sessions alter column auth_time set default now()',

    `create table mfa_totp (
      user_id uuid primary key references users (id) on delete cascade,
      secret_ciphertext text not null,
      confirmed_at timestamptz(3),
      last_used_step bigint,${TIMESTAMPS}
    )`,

    `create table mfa_recovery_codes (
      id uuid primary key default gen_random_uuid(),
      user_id uuid not null references users (id) on delete cascade,
      code_hash text not null,
      used_at timestamptz(3),${TIMESTAMPS},
      constraint mfa_recovery_codes_user_code_key unique (user_id, code_hash)
    )`,

    `create table passkeys (
      id uuid primary key default gen_random_uuid(),
      user_id uuid not null references users (id) on delete cascade,
      credential_id text not null,
      public_key text not null,
      counter bigint not null default 0,
      transports text[] not null default '{}',
      device_type text not null,
      backed_up boolean not null default false,
      name text not null,
      last_used_at timestamptz(3),${TIMESTAMPS},
      constraint passkeys_name_length check (length(name) between 1 and 100),
      constraint passkeys_credential_id_key unique (credential_id)
    )`,
    'create index passkeys_user_idx on passkeys (user_id, created_at)',

    `create table mfa_challenges (
      id uuid primary key default gen_random_uuid(),
      token_hash text not null,
      user_id uuid not null references users (id) on delete cascade,
      first_factor text not null,
      organisation_id uuid references organisations (id) on delete cascade,
      ip text,
      user_agent text,
      failures integer not null default 0,
      expires_at timestamptz(3) not null,
      used_at timestamptz(3),${TIMESTAMPS},
      constraint mfa_challenges_token_hash_key unique (token_hash),
      constraint mfa_challenges_first_factor_check check (first_factor in ('pwd', 'hwk', 'swk'))
    )`,
    'create index mfa_challenges_user_idx on mfa_challenges (user_id)',
    'create index mfa_challenges_expires_idx on mfa_challenges (expires_at)',

    `create table webauthn_challenges (
      id uuid primary key default gen_random_uuid(),
      challenge text not null,
      purpose text not null,
      user_id uuid references users (id) on delete cascade,
      mfa_challenge_id uuid references mfa_challenges (id) on delete cascade,
      expires_at timestamptz(3) not null,
      used_at timestamptz(3),${TIMESTAMPS},
      constraint webauthn_challenges_challenge_key unique (challenge),
      constraint webauthn_challenges_purpose_check check (purpose in ('registration', 'second_factor', 'passwordless', 'step_up'))
    )`,
    'create index webauthn_challenges_expires_idx on webauthn_challenges (expires_at)',

    'alter table organisations add column require_mfa boolean not null default false',

    ...['mfa_totp', 'mfa_recovery_codes', 'passkeys', 'mfa_challenges', 'webauthn_challenges'].map(
      (table) => `create trigger ${table}_touch_updated_at before update on ${table} for each row execute function gatehouse_touch_updated_at()`,
    ),
  ],
};
