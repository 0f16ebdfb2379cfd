import type { Migration } from './migration.ts';

/**
 * Invitation mail is capped per organisation as well as per recipient: the outbox remembers which
 * organisation's event sent a mail. No foreign key: a mail, like an audit row, outlives its
 * organisation, and earlier mail counts for no organisation.
 */
export const outboxOrganisation: Migration = {
  name: '0006-outbox-organisation',
  statements: [
    'alter table outbox add column organisation_id uuid',
    'create index outbox_organisation_recent_idx on outbox (organisation_id, kind, created_at) where organisation_id is not null',
  ],
};
