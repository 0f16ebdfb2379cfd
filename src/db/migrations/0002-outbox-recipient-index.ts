import type { Migration } from './migration.ts';

/** The hourly cap on mail per person counts recent rows by recipient and kind. */
export const outboxRecipientIndex: Migration = {
  name: '0002-outbox-recipient-index',
  statements: ['create index outbox_recipient_recent_idx on outbox (lower(recipient), kind, created_at)'],
};
