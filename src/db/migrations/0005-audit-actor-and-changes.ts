import type { Migration } from './migration.ts';

/**
 * The event stream records who acted (a person or Gatehouse itself) and, for changes, the subject
 * before and after: what a reader of the stream (webhooks) needs beyond the audit log's summary.
 * Earlier events without a person were the command line's.
 */
export const auditActorAndChanges: Migration = {
  name: '0005-audit-actor-and-changes',
  statements: [
    `alter table audit_events add column actor_type text not null default 'user' constraint audit_events_actor_type_check check (actor_type in ('user', 'system'))`,
    `update audit_events set actor_type = 'system' where actor_user_id is null`,
    'alter table audit_events add column before jsonb, add column after jsonb',
  ],
};
