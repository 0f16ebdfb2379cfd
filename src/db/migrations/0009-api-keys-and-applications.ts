import { PERMISSIONS_0007 as PERMISSIONS } from './0007-integration-permissions.ts';
import type { Migration } from './migration.ts';

// The catalogue as it stands with this migration (0007's): keys and clients hold only these.
const KNOWN = `array[${PERMISSIONS.map((p) => `'${p}'`).join(', ')}]::text[]`;
const TIMESTAMPS = `
  created_at timestamptz(3) not null default now(),
  updated_at timestamptz(3) not null default now()`;

/**
 * Organisation tokens, API keys and machine clients (SPEC §6.2):
 * - a session remembers its active organisation (its access tokens name it; gone with the organisation);
 * - API keys, of an organisation or personal (no organisation), stored as SHA-256 digests of 256
 *   random bits; a key goes with its organisation and with its owner's account;
 * - machine clients (OAuth 2.0 client credentials) with their secrets' digests: the current secret has
 *   no expiry, a rotated-out one keeps working until its `expires_at`;
 * - the `jti`s of revoked machine tokens, kept until the token would have expired anyway;
 * - the audit log names API keys and machine clients as actors (`actor_id`).
 */
export const apiKeysAndApplications: Migration = {
  name: '0009-api-keys-and-applications',
  statements: [
    'alter table sessions add column organisation_id uuid references organisations (id) on delete set null',

    `create table api_keys (
      id uuid primary key default gen_random_uuid(),
      organisation_id uuid references organisations (id) on delete cascade,
      user_id uuid not null references users (id) on delete cascade,
      name text not null,
      prefix text not null,
      key_hash text not null,
      permissions text[] not null,
      expires_at timestamptz(3),
      last_used_at timestamptz(3),
      revoked_at timestamptz(3),${TIMESTAMPS},
      constraint api_keys_name_length check (length(name) between 1 and 100),
      constraint api_keys_permissions_known check (permissions <@ ${KNOWN}),
      constraint api_keys_key_hash_key unique (key_hash)
    )`,
    'create index api_keys_organisation_idx on api_keys (organisation_id, created_at) where organisation_id is not null',
    'create index api_keys_user_idx on api_keys (user_id, created_at)',

    `create table applications (
      id uuid primary key default gen_random_uuid(),
      organisation_id uuid not null references organisations (id) on delete cascade,
      client_id text not null,
      name text not null,
      permissions text[] not null,
      created_by uuid references users (id) on delete set null,${TIMESTAMPS},
      constraint applications_name_length check (length(name) between 1 and 100),
      constraint applications_permissions_known check (permissions <@ ${KNOWN}),
      constraint applications_client_id_key unique (client_id)
    )`,
    'create index applications_organisation_idx on applications (organisation_id, created_at)',

    `create table application_secrets (
      id uuid primary key default gen_random_uuid(),
      application_id uuid not null references applications (id) on delete cascade,
      secret_hash text not null,
      expires_at timestamptz(3),${TIMESTAMPS}
    )`,
    'create index application_secrets_application_idx on application_secrets (application_id)',

    `create table revoked_tokens (
      jti uuid primary key,
      expires_at timestamptz(3) not null,
      created_at timestamptz(3) not null default now()
    )`,
    'create index revoked_tokens_expires_idx on revoked_tokens (expires_at)',

    ...['api_keys', 'applications', 'application_secrets'].map(
      (table) => `create trigger ${table}_touch_updated_at before update on ${table} for each row execute function gatehouse_touch_updated_at()`,
    ),

    'alter table audit_events drop constraint audit_events_actor_type_check',
    `alter table audit_events add constraint audit_events_actor_type_check check (actor_type in ('user', 'system', 'api_key', 'application'))`,
    'alter table audit_events add column actor_id uuid',
  ],
};
