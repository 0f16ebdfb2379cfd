// The whole data model of the specification. Invariants live here, as constraints with stable names
// that src/domain/constraint-errors.ts maps to domain errors.
import type { Migration } from './migration.ts';

// The catalogue as it stood when this migration was written; a later change to the catalogue is a
// new migration, never an edit here.
const PERMISSIONS = [
  'org:read',
  'org:update',
  'org:delete',
  'members:read',
  'members:add',
  'members:remove',
  'members:update-role',
  'invitations:create',
  'roles:manage',
  'stats:read',
  'audit:read',
];

const TIMESTAMPS = `
  created_at timestamptz(3) not null default now(),
  updated_at timestamptz(3) not null default now()`;

const TABLES = ['users', 'organisations', 'roles', 'members', 'invitations', 'sessions', 'refresh_tokens', 'one_time_tokens', 'signing_keys', 'outbox', 'audit_events'];

export const initial: Migration = {
  name: '0001-initial',
  statements: [
    `create function gatehouse_touch_updated_at() returns trigger language plpgsql as $$
     begin new.updated_at := now(); return new; end $$`,

    `create table users (
      id uuid primary key default gen_random_uuid(),
      email text,
      username text,
      first_name text not null default '',
      last_name text not null default '',
      phone text,
      password_hash text not null,
      platform_role text not null default 'user',
      status text not null default 'active',
      email_verified_at timestamptz(3),
      profile jsonb not null default '{}',
      settings jsonb not null default '{}',${TIMESTAMPS},
      constraint users_identifier_present check (email is not null or username is not null),
      constraint users_platform_role_check check (platform_role in ('user', 'admin')),
      constraint users_status_check check (status in ('active', 'disabled')),
      constraint users_email_format check (email is null or (length(email) <= 254 and email like '_%@_%')),
      constraint users_username_format check (username is null or username ~ '^[A-Za-z0-9][A-Za-z0-9._-]{2,49}$')
    )`,
    `create unique index users_email_key on users (lower(email))`,
    `create unique index users_username_key on users (lower(username))`,
    `create index users_created_at_idx on users (created_at, id)`,

    `create table organisations (
      id uuid primary key default gen_random_uuid(),
      name text not null,
      description text not null default '',
      personal boolean not null default false,
      status text not null default 'active',
      settings jsonb not null default '{}',
      created_by uuid references users (id) on delete set null,${TIMESTAMPS},
      constraint organisations_name_length check (length(name) between 1 and 200),
      constraint organisations_status_check check (status in ('active', 'suspended'))
    )`,
    // Each user has at most one personal organisation.
    `create unique index organisations_personal_key on organisations (created_by) where personal`,

    `create table roles (
      id uuid primary key default gen_random_uuid(),
      organisation_id uuid not null references organisations (id) on delete cascade,
      name text not null,
      description text not null default '',
      permissions text[] not null default '{}',
      built_in boolean not null default false,${TIMESTAMPS},
      constraint roles_name_length check (length(name) between 1 and 64),
      constraint roles_permissions_known check (permissions <@ array[${PERMISSIONS.map((p) => `'${p}'`).join(', ')}]::text[]),
      constraint roles_id_organisation_key unique (id, organisation_id)
    )`,
    `create unique index roles_name_key on roles (organisation_id, lower(name))`,

    // A member's role must belong to the member's own organisation (composite foreign key), and a
    // role that members hold cannot be deleted (restrict).
    `create table members (
      id uuid primary key default gen_random_uuid(),
      organisation_id uuid not null references organisations (id) on delete cascade,
      user_id uuid not null references users (id) on delete cascade,
      role_id uuid not null,
      status text not null default 'active',
      settings jsonb not null default '{}',${TIMESTAMPS},
      constraint members_organisation_user_key unique (organisation_id, user_id),
      constraint members_status_check check (status in ('active', 'suspended')),
      constraint members_role_fkey foreign key (role_id, organisation_id) references roles (id, organisation_id) on delete restrict
    )`,
    `create index members_user_idx on members (user_id, created_at, organisation_id)`,
    `create index members_role_idx on members (role_id)`,
    `create index members_organisation_created_idx on members (organisation_id, created_at, user_id)`,
    `create index members_created_at_idx on members (created_at)`,

    `create table invitations (
      id uuid primary key default gen_random_uuid(),
      organisation_id uuid not null references organisations (id) on delete cascade,
      email text not null,
      role_id uuid not null,
      invited_by uuid references users (id) on delete set null,
      token_hash text not null,
      status text not null default 'pending',
      expires_at timestamptz(3) not null,
      accepted_at timestamptz(3),
      accepted_by uuid references users (id) on delete set null,
      revoked_at timestamptz(3),${TIMESTAMPS},
      constraint invitations_token_hash_key unique (token_hash),
      constraint invitations_status_check check (status in ('pending', 'accepted', 'revoked', 'expired')),
      constraint invitations_accepted_consistent check ((status = 'accepted') = (accepted_at is not null)),
      constraint invitations_role_fkey foreign key (role_id, organisation_id) references roles (id, organisation_id) on delete cascade
    )`,
    // One pending invitation per organisation and email.
    `create unique index invitations_pending_key on invitations (organisation_id, lower(email)) where status = 'pending'`,
    `create index invitations_organisation_idx on invitations (organisation_id, created_at desc)`,
    `create index invitations_expiry_idx on invitations (expires_at) where status = 'pending'`,

    `create table sessions (
      id uuid primary key default gen_random_uuid(),
      user_id uuid not null references users (id) on delete cascade,
      user_agent text,
      ip text,
      last_used_at timestamptz(3) not null default now(),
      expires_at timestamptz(3) not null,
      revoked_at timestamptz(3),
      revoked_reason text,${TIMESTAMPS}
    )`,
    `create index sessions_user_idx on sessions (user_id, created_at desc)`,

    // Every refresh token ever issued, so that a spent one presented again is recognised (and the
    // session it belongs to revoked). parent_id is the rotation lineage.
    `create table refresh_tokens (
      id uuid primary key default gen_random_uuid(),
      session_id uuid not null references sessions (id) on delete cascade,
      parent_id uuid references refresh_tokens (id) on delete cascade,
      token_hash text not null,
      spent_at timestamptz(3),
      expires_at timestamptz(3) not null,${TIMESTAMPS},
      constraint refresh_tokens_token_hash_key unique (token_hash)
    )`,
    `create index refresh_tokens_session_idx on refresh_tokens (session_id)`,
    // A token has at most one successor: two racing rotations cannot both succeed.
    `create unique index refresh_tokens_parent_key on refresh_tokens (parent_id) where parent_id is not null`,

    `create table one_time_tokens (
      id uuid primary key default gen_random_uuid(),
      user_id uuid not null references users (id) on delete cascade,
      purpose text not null,
      token_hash text not null,
      email text,
      expires_at timestamptz(3) not null,
      used_at timestamptz(3),
      revoked_at timestamptz(3),${TIMESTAMPS},
      constraint one_time_tokens_token_hash_key unique (token_hash),
      constraint one_time_tokens_purpose_check check (purpose in ('password_reset', 'email_verification'))
    )`,
    `create index one_time_tokens_user_idx on one_time_tokens (user_id, purpose, created_at desc)`,

    `create table signing_keys (
      kid text primary key,
      algorithm text not null default 'EdDSA',
      public_jwk jsonb not null,
      private_jwk jsonb not null,
      status text not null default 'active',
      retired_at timestamptz(3),${TIMESTAMPS},
      constraint signing_keys_algorithm_check check (algorithm = 'EdDSA'),
      constraint signing_keys_status_check check (status in ('active', 'retired'))
    )`,
    // Exactly one key signs at a time, even when several nodes start together.
    `create unique index signing_keys_one_active on signing_keys ((true)) where status = 'active'`,

    `create table outbox (
      id bigint generated always as identity primary key,
      kind text not null,
      recipient text not null,
      subject text not null,
      text_body text not null,
      html_body text not null,
      status text not null default 'pending',
      attempts integer not null default 0,
      next_attempt_at timestamptz(3) not null default now(),
      locked_until timestamptz(3),
      last_error text,
      sent_at timestamptz(3),${TIMESTAMPS},
      constraint outbox_status_check check (status in ('pending', 'sent', 'failed')),
      constraint outbox_recipient_single_line check (recipient !~ '[\\r\\n]'),
      constraint outbox_subject_single_line check (subject !~ '[\\r\\n]')
    )`,
    `create index outbox_due_idx on outbox (next_attempt_at) where status = 'pending'`,

    // No foreign key on organisation_id: an organisation's history outlives the organisation.
    `create table audit_events (
      id bigint generated always as identity primary key,
      organisation_id uuid,
      actor_user_id uuid,
      action text not null,
      target_type text,
      target_id text,
      ip text,
      user_agent text,
      data jsonb not null default '{}',${TIMESTAMPS}
    )`,
    `create index audit_events_organisation_idx on audit_events (organisation_id, id desc)`,
    `create index audit_events_actor_idx on audit_events (actor_user_id, id desc)`,

    ...TABLES.map(
      (table) => `create trigger ${table}_touch_updated_at before update on ${table} for each row execute function gatehouse_touch_updated_at()`,
    ),
  ],
};
