// Kysely's view of the tables created by the migrations.
import type { ColumnType, Generated, Insertable, Selectable } from 'kysely';

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type CreatedAt = ColumnType<Date, Date | string | undefined, never>;
type Json = ColumnType<Record<string, unknown>, string | undefined, string>;

interface Timestamps {
  created_at: CreatedAt;
  updated_at: Timestamp;
}

export type PlatformRole = 'user' | 'admin';
export type UserStatus = 'active' | 'disabled';
export type InvitationStatus = 'pending' | 'accepted' | 'revoked' | 'expired';

export interface UsersTable extends Timestamps {
  id: Generated<string>;
  email: string | null;
  username: string | null;
  first_name: Generated<string>;
  last_name: Generated<string>;
  phone: string | null;
  password_hash: string;
  platform_role: ColumnType<PlatformRole, PlatformRole | undefined, PlatformRole>;
  status: ColumnType<UserStatus, UserStatus | undefined, UserStatus>;
  email_verified_at: Date | null;
  profile: Json;
  settings: Json;
}

export interface OrganisationsTable extends Timestamps {
  id: Generated<string>;
  name: string;
  description: Generated<string>;
  personal: Generated<boolean>;
  status: Generated<string>;
  settings: Json;
  created_by: string | null;
  /** Members without a second factor are refused on its routes (migration 0010). */
  require_mfa: Generated<boolean>;
}

export interface RolesTable extends Timestamps {
  id: Generated<string>;
  organisation_id: string;
  name: string;
  description: Generated<string>;
  permissions: string[];
  built_in: Generated<boolean>;
}

export interface MembersTable extends Timestamps {
  id: Generated<string>;
  organisation_id: string;
  user_id: string;
  role_id: string;
  status: Generated<string>;
  settings: Json;
}

/** Memberships per organisation, role and status; kept by the triggers of migration 0004, never written by the code. */
export interface MembershipCountsTable extends Timestamps {
  organisation_id: string;
  role_id: string;
  status: string;
  members: number;
}

/** Per role name and user, how many memberships with a role of that name the user holds; kept by the triggers of migration 0004. */
export interface RoleHoldersTable extends Timestamps {
  role_name: string;
  user_id: string;
  active: number;
  suspended: number;
}

export interface InvitationsTable extends Timestamps {
  id: Generated<string>;
  organisation_id: string;
  email: string;
  role_id: string;
  invited_by: string | null;
  token_hash: string;
  status: ColumnType<InvitationStatus, InvitationStatus | undefined, InvitationStatus>;
  expires_at: Date;
  accepted_at: Date | null;
  accepted_by: string | null;
  revoked_at: Date | null;
}

export interface SessionsTable extends Timestamps {
  id: Generated<string>;
  user_id: string;
  user_agent: string | null;
  ip: string | null;
  last_used_at: Timestamp;
  expires_at: Date;
  revoked_at: Date | null;
  revoked_reason: string | null;
  /** The active organisation its access tokens name (migration 0009). */
  organisation_id: ColumnType<string | null, string | null | undefined, string | null>;
  /** How it was authenticated (RFC 8176 values) and when its last strong check was (migration 0010). */
  amr: ColumnType<string[], string[] | undefined, string[]>;
  auth_time: ColumnType<Date, Date | string | undefined, Date | string>;
}

export interface RefreshTokensTable extends Timestamps {
  id: Generated<string>;
  session_id: string;
  parent_id: string | null;
  token_hash: string;
  spent_at: Date | null;
  expires_at: Date;
}

export interface OneTimeTokensTable extends Timestamps {
  id: Generated<string>;
  user_id: string;
  purpose: 'password_reset' | 'email_verification';
  token_hash: string;
  email: string | null;
  expires_at: Date;
  used_at: Date | null;
  revoked_at: Date | null;
}

export interface SigningKeysTable extends Timestamps {
  kid: string;
  algorithm: Generated<string>;
  public_jwk: Json;
  private_jwk: Json;
  status: ColumnType<'active' | 'retired', 'active' | 'retired' | undefined, 'active' | 'retired'>;
  retired_at: Date | null;
}

export interface OutboxTable extends Timestamps {
  id: Generated<number>;
  kind: string;
  recipient: string;
  subject: string;
  text_body: string;
  html_body: string;
  status: ColumnType<'pending' | 'sent' | 'failed', 'pending' | undefined, 'pending' | 'sent' | 'failed'>;
  attempts: Generated<number>;
  next_attempt_at: Timestamp;
  locked_until: Date | null;
  last_error: string | null;
  sent_at: Date | null;
  /** The organisation whose event sent the mail (migration 0006); no foreign key, like the audit log's. */
  organisation_id: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface AuditEventsTable extends Timestamps {
  id: Generated<number>;
  organisation_id: string | null;
  actor_user_id: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  ip: string | null;
  user_agent: string | null;
  data: Json;
  actor_type: ColumnType<ActorType, ActorType | undefined, never>;
  /** The acting user, API key or machine client (migration 0009); null for the system and older rows. */
  actor_id: ColumnType<string | null, string | null | undefined, never>;
  before: ColumnType<Record<string, unknown> | null, string | null | undefined, never>;
  after: ColumnType<Record<string, unknown> | null, string | null | undefined, never>;
}

export interface WebhookEndpointsTable extends Timestamps {
  id: Generated<string>;
  /** null: the platform's own endpoint, for every organisation's events and the user events. */
  organisation_id: string | null;
  url: string;
  description: Generated<string>;
  events: string[];
  enabled: Generated<boolean>;
  secret: string;
  previous_secret: string | null;
  previous_secret_until: Date | null;
  failing_since: Date | null;
  disabled_reason: string | null;
  created_by: string | null;
}

export interface WebhookMessagesTable {
  id: string;
  type: string;
  organisation_id: string | null;
  subject_id: string;
  /** The exact text that is signed and sent. */
  body: string;
  created_at: CreatedAt;
}

export type WebhookDeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface WebhookDeliveriesTable {
  id: Generated<number>;
  message_id: string;
  endpoint_id: string;
  subject_id: string;
  status: ColumnType<WebhookDeliveryStatus, WebhookDeliveryStatus | undefined, WebhookDeliveryStatus>;
  attempts: Generated<number>;
  next_attempt_at: Timestamp;
  locked_until: Date | null;
  response_status: number | null;
  response_body: string | null;
  error: string | null;
  duration_ms: number | null;
  attempted_at: Date | null;
  delivered_at: Date | null;
  created_at: CreatedAt;
}

export type ActorType = 'user' | 'system' | 'api_key' | 'application';

export interface ApiKeysTable extends Timestamps {
  id: Generated<string>;
  /** Null for a personal key. */
  organisation_id: string | null;
  user_id: string;
  name: string;
  prefix: string;
  key_hash: string;
  permissions: string[];
  expires_at: Date | null;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

export interface ApplicationsTable extends Timestamps {
  id: Generated<string>;
  organisation_id: string;
  client_id: string;
  name: string;
  permissions: string[];
  created_by: string | null;
}

export interface ApplicationSecretsTable extends Timestamps {
  id: Generated<string>;
  application_id: string;
  secret_hash: string;
  /** Null for the current secret; a rotated-out one works until then. */
  expires_at: Date | null;
}

export interface RevokedTokensTable {
  jti: string;
  expires_at: Date;
  created_at: CreatedAt;
}

export interface OidcClientsTable extends Timestamps {
  id: Generated<string>;
  client_id: string;
  name: string;
  type: 'public' | 'confidential';
  first_party: Generated<boolean>;
  redirect_uris: string[];
  post_logout_redirect_uris: ColumnType<string[], string[] | undefined, string[]>;
  backchannel_logout_uri: string | null;
  secret_hash: string | null;
  /** The secret before the last rotation (a digest), working until previous_secret_expires_at. */
  previous_secret_hash: ColumnType<string | null, string | null | undefined, string | null>;
  previous_secret_expires_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  created_by: string | null;
}

/** What oidc-provider keeps, one row per model and id (src/domain/oidc/oidc-payloads.repo.ts). */
export interface OidcPayloadsTable {
  model: string;
  id: string;
  payload: Json;
  grant_id: string | null;
  uid: string | null;
  user_code: string | null;
  expires_at: Date | null;
  consumed_at: Date | null;
  created_at: CreatedAt;
}

export interface MfaTotpTable extends Timestamps {
  user_id: string;
  /** AES-256-GCM under GATEHOUSE_SECRET_KEY (src/domain/mfa/secret-box.ts). */
  secret_ciphertext: string;
  /** Null while pending: a code must confirm it. */
  confirmed_at: Date | null;
  /** The last RFC 6238 time step accepted: a code is accepted once. */
  last_used_step: number | null;
}

export interface MfaRecoveryCodesTable extends Timestamps {
  id: Generated<string>;
  user_id: string;
  code_hash: string;
  used_at: Date | null;
}

export interface PasskeysTable extends Timestamps {
  id: Generated<string>;
  user_id: string;
  /** base64url, as WebAuthn's JSON shapes carry it. */
  credential_id: string;
  /** The COSE public key, base64url. */
  public_key: string;
  counter: ColumnType<number, number | undefined, number>;
  transports: ColumnType<string[], string[] | undefined, string[]>;
  device_type: string;
  backed_up: Generated<boolean>;
  name: string;
  last_used_at: Date | null;
}

export type FirstFactor = 'pwd' | 'hwk' | 'swk';

export interface MfaChallengesTable extends Timestamps {
  id: Generated<string>;
  token_hash: string;
  user_id: string;
  first_factor: FirstFactor;
  organisation_id: string | null;
  ip: string | null;
  user_agent: string | null;
  failures: Generated<number>;
  expires_at: Date;
  used_at: Date | null;
}

export type WebauthnPurpose = 'registration' | 'second_factor' | 'passwordless' | 'step_up';

export interface WebauthnChallengesTable extends Timestamps {
  id: Generated<string>;
  challenge: string;
  purpose: WebauthnPurpose;
  user_id: string | null;
  mfa_challenge_id: string | null;
  expires_at: Date;
  used_at: Date | null;
}

export interface Database {
  users: UsersTable;
  organisations: OrganisationsTable;
  roles: RolesTable;
  members: MembersTable;
  membership_counts: MembershipCountsTable;
  role_holders: RoleHoldersTable;
  invitations: InvitationsTable;
  sessions: SessionsTable;
  refresh_tokens: RefreshTokensTable;
  one_time_tokens: OneTimeTokensTable;
  signing_keys: SigningKeysTable;
  oidc_clients: OidcClientsTable;
  oidc_payloads: OidcPayloadsTable;
  outbox: OutboxTable;
  audit_events: AuditEventsTable;
  webhook_endpoints: WebhookEndpointsTable;
  webhook_messages: WebhookMessagesTable;
  webhook_deliveries: WebhookDeliveriesTable;
  api_keys: ApiKeysTable;
  applications: ApplicationsTable;
  application_secrets: ApplicationSecretsTable;
  revoked_tokens: RevokedTokensTable;
  mfa_totp: MfaTotpTable;
  mfa_recovery_codes: MfaRecoveryCodesTable;
  passkeys: PasskeysTable;
  mfa_challenges: MfaChallengesTable;
  webauthn_challenges: WebauthnChallengesTable;
}

export type User = Selectable<UsersTable>;
export type NewUser = Insertable<UsersTable>;
export type Organisation = Selectable<OrganisationsTable>;
export type Role = Selectable<RolesTable>;
export type Session = Selectable<SessionsTable>;
