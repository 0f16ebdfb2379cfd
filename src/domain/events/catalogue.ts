// The closed catalogue of what happens in Gatehouse. Every change records exactly one of these, in
// the transaction of the change (./event-stream.ts); the audit log and mail are readers of it, and so
// so are webhooks (src/domain/webhooks/catalogue.ts names what receivers are told of). A new kind of change adds its type here, with the data it carries: TypeScript then
// refuses an event that does not match, and the audit log shows it under this name.
import type { ClientInfo } from '../principal.ts';
import type { Notice } from './notices.ts';

/**
 * Who caused an event: a person, an API key, a machine client (their ids), or Gatehouse itself (the
 * command line, a job). An API key's owner is the key's `user_id`: the key names them.
 */
export type Actor = { type: 'user'; id: string } | { type: 'api_key'; id: string } | { type: 'application'; id: string } | { type: 'system'; id: null };

export type SubjectType = 'user' | 'organisation' | 'invitation' | 'role' | 'webhook' | 'api_key' | 'application' | 'oidc_client' | 'signing_key';
export interface Subject {
  type: SubjectType;
  id: string;
}

type Fields = { fields: string[] };

/** Each event type with the subject it is about and the data the audit log keeps (never a secret). */
export interface EventTypes {
  'user.registered': { subject: 'user'; data: { platformRole?: 'admin'; via?: string } };
  'user.signed_in': { subject: 'user'; data: Record<string, never> };
  'user.updated': { subject: 'user'; data: Fields };
  'user.promoted': { subject: 'user'; data: { platformRole: 'admin'; via: string } };
  'user.email_verified': { subject: 'user'; data: Record<string, never> };
  'user.verification_requested': { subject: 'user'; data: Record<string, never> };
  'user.password_reset_requested': { subject: 'user'; data: Record<string, never> };
  'user.password_reset': { subject: 'user'; data: Record<string, never> };
  'user.password_changed': { subject: 'user'; data: Record<string, never> };
  'organisation.created': { subject: 'organisation'; data: { name: string; personal: boolean } };
  'organisation.updated': { subject: 'organisation'; data: Fields };
  'organisation.deleted': { subject: 'organisation'; data: { name: string } };
  'member.added': { subject: 'user'; data: { role: string; via?: 'invitation' } };
  'member.role_changed': { subject: 'user'; data: { from: string; to: string } };
  'member.removed': { subject: 'user'; data: { role: string } };
  'member.left': { subject: 'user'; data: { role: string } };
  'member.suspended': { subject: 'user'; data: { role: string } };
  'member.reinstated': { subject: 'user'; data: { role: string } };
  'invitation.created': { subject: 'invitation'; data: { email: string; role: string } };
  'invitation.resent': { subject: 'invitation'; data: { email: string; role?: string } };
  'invitation.revoked': { subject: 'invitation'; data: { email: string } };
  'invitation.accepted': { subject: 'invitation'; data: { role: string } };
  'role.created': { subject: 'role'; data: { name: string; permissions: string[] } };
  'role.updated': { subject: 'role'; data: Fields };
  'role.deleted': { subject: 'role'; data: { name: string } };
  'api_key.created': { subject: 'api_key'; data: { name: string; permissions: string[]; personal: boolean; expiresAt: string | null } };
  'api_key.revoked': { subject: 'api_key'; data: { name: string; personal: boolean } };
  'application.created': { subject: 'application'; data: { name: string; clientId: string; permissions: string[] } };
  'application.deleted': { subject: 'application'; data: { name: string; clientId: string } };
  'application.secret_rotated': { subject: 'application'; data: { clientId: string; previousSecretExpiresAt: string } };
  'admin.user_updated': { subject: 'user'; data: Fields & { status?: string; platformRole?: string } };
  'webhook.created': { subject: 'webhook'; data: { url: string; events: string[] } };
  'webhook.updated': { subject: 'webhook'; data: Fields };
  'webhook.deleted': { subject: 'webhook'; data: { url: string } };
  'webhook.secret_rotated': { subject: 'webhook'; data: { previousValidUntil: string } };
  'webhook.disabled': { subject: 'webhook'; data: { url: string; reason: string } };
  'oidc_client.created': { subject: 'oidc_client'; data: { name: string; clientId: string; type: 'public' | 'confidential'; firstParty: boolean } };
  'oidc_client.updated': { subject: 'oidc_client'; data: Fields & { clientId: string } };
  'oidc_client.deleted': { subject: 'oidc_client'; data: { name: string; clientId: string } };
  'oidc_client.secret_rotated': { subject: 'oidc_client'; data: { clientId: string; previousSecretExpiresAt: string } };
  'admin.user_deleted': { subject: 'user'; data: { email: string | null; username: string | null; organisationsDeleted: number } };
  'mfa.enabled': { subject: 'user'; data: { method: 'totp' | 'passkey'; passkeyId?: string } };
  'mfa.disabled': { subject: 'user'; data: { method: 'totp' | 'passkey' | 'all'; passkeyId?: string; via?: 'admin' } };
  'mfa.recovery_codes_renewed': { subject: 'user'; data: { count: number } };
  'mfa.passkey_renamed': { subject: 'user'; data: { passkeyId: string } };
  /** The subject is the new key (its kid); the previous one stays published until `previousValidUntil`. */
  'signing_key.rotated': { subject: 'signing_key'; data: { algorithm: 'EdDSA' | 'RS256'; previousValidUntil: string } };
}

export type EventType = keyof EventTypes;

/**
 * Events that exist only to send their mail: past the recipient's hourly cap nothing is sent, so
 * nothing happened and nothing is recorded (a request for a reset link, a new verification link).
 */
export const MAIL_ONLY: ReadonlySet<EventType> = new Set(['user.password_reset_requested', 'user.verification_requested']);

/** Events the audit log does not show: a new verification link changes nothing a person audits. */
export const UNAUDITED: ReadonlySet<EventType> = new Set(['user.verification_requested']);

export type DomainEvent<T extends EventType = EventType> = {
  [K in T]: {
    type: K;
    actor: Actor;
    /** Where the request came from (the audit log's address and device). */
    client: ClientInfo;
    /** The organisation the event belongs to, when it belongs to one: its audit log shows it. */
    organisationId?: string | null;
    subject: { type: EventTypes[K]['subject']; id: string };
    data: EventTypes[K]['data'];
    /** For changes: the subject as it was and as it is now (the fields that changed). */
    before?: Record<string, unknown>;
    after?: Record<string, unknown>;
    /** The mail this event sends (or mails: to each owner); its rendering, caps and delivery are the event stream's. */
    notify?: Notice | readonly Notice[];
  };
}[T];

export const userActor = (id: string): Actor => ({ type: 'user', id });
export const SYSTEM_ACTOR: Actor = { type: 'system', id: null };
