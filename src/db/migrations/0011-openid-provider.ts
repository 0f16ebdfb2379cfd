import type { Migration } from './migration.ts';

const TIMESTAMPS = `
  created_at timestamptz(3) not null default now(),
  updated_at timestamptz(3) not null default now()`;

/**
 * Gatehouse as an OpenID Provider (SPEC §6.4, built on oidc-provider):
 * - signing keys of two algorithms: EdDSA signs access tokens, RS256 signs ID tokens (OpenID Connect
 *   requires RS256); one active key per algorithm, even when several nodes start together;
 * - the clients platform admins register (their secrets as SHA-256 digests only);
 * - everything oidc-provider keeps (sessions, interactions, grants, codes, tokens…): one row per
 *   model and id, its payload as jsonb, with the lookups the provider makes by grant, uid and user
 *   code, so any node continues any flow and a grant's tokens are revoked together.
 */
export const openidProvider: Migration = {
  name: '0011-openid-provider',
  statements: [
    'alter table signing_keys drop constraint signing_keys_algorithm_check',
    `alter table signing_keys add constraint signing_keys_algorithm_check check (algorithm in ('EdDSA', 'RS256'))`,
    'drop index signing_keys_one_active',
    `create unique index signing_keys_one_active on signing_keys (algorithm) where status = 'active'`,

    `create table oidc_clients (
      id uuid primary key default gen_random_uuid(),
      client_id text not null,
      name text not null,
      type text not null,
      first_party boolean not null default false,
      redirect_uris text[] not null,
      post_logout_redirect_uris text[] not null default '{}',
      backchannel_logout_uri text,
      secret_hash text,
      created_by uuid references users (id) on delete set null,${TIMESTAMPS},
      constraint oidc_clients_client_id_key unique (client_id),
      constraint oidc_clients_name_length check (length(name) between 1 and 100),
      constraint oidc_clients_type_check check (type in ('public', 'confidential')),
      constraint oidc_clients_secret_by_type check ((type = 'confidential') = (secret_hash is not null)),
      constraint oidc_clients_redirect_uris_present check (cardinality(redirect_uris) between 1 and 20)
    )`,
    'create index oidc_clients_created_idx on oidc_clients (created_at, id)',
    'create trigger oidc_clients_touch_updated_at before update on oidc_clients for each row execute function gatehouse_touch_updated_at()',

    `create table oidc_payloads (
      model text not null,
      id text not null,
      payload jsonb not null,
      grant_id text,
      uid text,
      user_code text,
      expires_at timestamptz(3),
      consumed_at timestamptz(3),
      created_at timestamptz(3) not null default now(),
      primary key (model, id)
    )`,
    'create index oidc_payloads_grant_idx on oidc_payloads (grant_id) where grant_id is not null',
    'create index oidc_payloads_uid_idx on oidc_payloads (model, uid) where uid is not null',
    'create index oidc_payloads_user_code_idx on oidc_payloads (model, user_code) where user_code is not null',
    'create index oidc_payloads_expires_idx on oidc_payloads (expires_at) where expires_at is not null',
  ],
};
