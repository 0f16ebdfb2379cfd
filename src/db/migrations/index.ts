// Append-only: add the next numbered migration at the end, never edit one that has shipped.
import { initial } from './0001-initial.ts';
import { outboxRecipientIndex } from './0002-outbox-recipient-index.ts';
import { keepAnOwner } from './0003-keep-an-owner.ts';
import { membershipCounts } from './0004-membership-counts.ts';
import { auditActorAndChanges } from './0005-audit-actor-and-changes.ts';
import { outboxOrganisation } from './0006-outbox-organisation.ts';
import { integrationPermissions } from './0007-integration-permissions.ts';
import { webhooks } from './0008-webhooks.ts';
import { apiKeysAndApplications } from './0009-api-keys-and-applications.ts';
import { secondFactors } from './0010-second-factors.ts';
import { openidProvider } from './0011-openid-provider.ts';
import { organisationNameIndex } from './0012-organisation-name-index.ts';
import { oidcClientSecretRotation } from './0013-oidc-client-secret-rotation.ts';
import { checkedInStatement } from './0014-checked-in-statement.ts';
import type { Migration } from './migration.ts';

export const MIGRATIONS: readonly Migration[] = [
  initial,
  outboxRecipientIndex,
  keepAnOwner,
  membershipCounts,
  auditActorAndChanges,
  outboxOrganisation,
  integrationPermissions,
  webhooks,
  apiKeysAndApplications,
  secondFactors,
  openidProvider,
  organisationNameIndex,
  oidcClientSecretRotation,
  checkedInStatement,
];
