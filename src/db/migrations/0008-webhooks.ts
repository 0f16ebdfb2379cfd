import type { Migration } from './migration.ts';

const TIMESTAMPS = `
  created_at timestamptz(3) not null default now(),
  updated_at timestamptz(3) not null default now()`;

/**
 * Webhooks (SPEC §6.3). An endpoint belongs to an organisation, or to the platform (no organisation:
 * it receives every organisation's events and the user events); an organisation's endpoints go with it.
 * A message is one event as the receivers see it, its body kept as the exact text that is signed; a
 * delivery is one message to one endpoint, the unit of work the delivery worker claims and leases as
 * the mail worker does mail. A message is written only when some endpoint takes it.
 */
export const webhooks: Migration = {
  name: '0008-webhooks',
  statements: [
    `create table webhook_endpoints (
      id uuid primary key default gen_random_uuid(),
      organisation_id uuid references organisations (id) on delete cascade,
      url text not null,
      description text not null default '',
      events text[] not null,
      enabled boolean not null default true,
      secret text not null,
      previous_secret text,
      previous_secret_until timestamptz(3),
      failing_since timestamptz(3),
      disabled_reason text,
      created_by uuid references users (id) on delete set null,${TIMESTAMPS},
      constraint webhook_endpoints_url_length check (length(url) between 1 and 2048),
      constraint webhook_endpoints_events_present check (cardinality(events) between 1 and 100),
      constraint webhook_endpoints_previous_secret_until check ((previous_secret is null) = (previous_secret_until is null))
    )`,
    `create index webhook_endpoints_organisation_idx on webhook_endpoints (organisation_id, created_at)`,
    `create index webhook_endpoints_platform_idx on webhook_endpoints (created_at) where organisation_id is null`,
    `create trigger webhook_endpoints_touch_updated_at before update on webhook_endpoints for each row execute function gatehouse_touch_updated_at()`,

    // No foreign key on organisation_id: like the audit log, a message outlives its organisation.
    `create table webhook_messages (
      id uuid primary key,
      type text not null,
      organisation_id uuid,
      subject_id text not null,
      body text not null,
      created_at timestamptz(3) not null default now()
    )`,

    // Room left on each page (fillfactor) lets a claim's lease be written in place, without new index entries.
    `create table webhook_deliveries (
      id bigint generated always as identity primary key,
      message_id uuid not null references webhook_messages (id) on delete cascade,
      endpoint_id uuid not null references webhook_endpoints (id) on delete cascade,
      subject_id text not null,
      status text not null default 'pending',
      attempts integer not null default 0,
      next_attempt_at timestamptz(3) not null default now(),
      locked_until timestamptz(3),
      response_status integer,
      response_body text,
      error text,
      duration_ms integer,
      attempted_at timestamptz(3),
      delivered_at timestamptz(3),
      created_at timestamptz(3) not null default now(),
      constraint webhook_deliveries_status_check check (status in ('pending', 'delivered', 'failed')),
      constraint webhook_deliveries_once unique (message_id, endpoint_id),
      constraint webhook_deliveries_response_body_length check (octet_length(response_body) <= 1024)
    ) with (fillfactor = 70)`,
    // Claims walk the oldest due deliveries in this order.
    `create index webhook_deliveries_due_idx on webhook_deliveries (next_attempt_at, id) where status = 'pending'`,
    // Deliveries of one subject to one endpoint go in order: the earliest pending one goes first.
    `create index webhook_deliveries_subject_idx on webhook_deliveries (endpoint_id, subject_id, id) where status = 'pending'`,
    `create index webhook_deliveries_endpoint_idx on webhook_deliveries (endpoint_id, id desc)`,
  ],
};
