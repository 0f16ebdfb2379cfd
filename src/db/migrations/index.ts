// Append-only: add the next numbered migration at the end, never edit one that has shipped.
import { initial } from './0001-initial.js';
import { outboxRecipientIndex } from './0002-outbox-recipient-index.js';
import { keepAnOwner } from './0003-keep-an-owner.js';
import { membershipCounts } from './0004-membership-counts.js';
import { auditActorAndChanges } from './0005-audit-actor-and-changes.js';
import { outboxOrganisation } from './0006-outbox-organisation.js';
import type { Migration } from './migration.js';

export const MIGRATIONS: readonly Migration[] = [initial, outboxRecipientIndex, keepAnOwner, membershipCounts, auditActorAndChanges, outboxOrganisation];
