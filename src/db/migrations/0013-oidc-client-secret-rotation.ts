import type { Migration } from './migration.ts';

/**
 * An OpenID client's secret rotates as a machine client's does: the new one is current at once and
 * the previous one keeps working until its expiry (GATEHOUSE_SECRET_OVERLAP), then never again. Both
 * are digests; a client has a previous secret with an expiry, or neither.
 */
export const oidcClientSecretRotation: Migration = {
  name: '0013-oidc-client-secret-rotation',
  statements: [
    'alter table oidc_clients add column previous_secret_hash text, add column previous_secret_expires_at timestamptz',
    'alter table oidc_clients add constraint oidc_clients_previous_secret_expiry check ((previous_secret_hash is null) = (previous_secret_expires_at is null))',
  ],
};
