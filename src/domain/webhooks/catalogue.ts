// What receivers see of the event stream: the webhook event types (SPEC §6.3) and the message each
// domain event becomes. An event whose type has no webhook name here (a sign-in, a reset link asked
// for) is not sent. The body is built once, in the transaction of the change, and kept as the exact
// text that is signed and sent on every attempt.
import { randomUUID } from 'node:crypto';
import type { DomainEvent, EventType } from '../events/catalogue.ts';

export const WEBHOOK_EVENT_TYPES = [
  'user.created',
  'user.updated',
  'user.deleted',
  'organisation.created',
  'organisation.updated',
  'organisation.deleted',
  'member.added',
  'member.removed',
  'member.role_changed',
  'member.suspended',
  'member.reinstated',
  'invitation.created',
  'invitation.accepted',
  'invitation.revoked',
  'role.created',
  'role.updated',
  'role.deleted',
  'api_key.created',
  'api_key.revoked',
  'mfa.enabled',
  'mfa.disabled',
] as const;

export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];

/** Subscribes an endpoint to every event it can receive. */
export const EVERY_EVENT = '*';

/** The types about one person's account rather than an organisation: only the platform's endpoints get them. */
const USER_TYPES: ReadonlySet<WebhookEventType> = new Set(['user.created', 'user.updated', 'user.deleted', 'mfa.enabled', 'mfa.disabled']);

/** The types an organisation's endpoint may subscribe to. */
export const ORGANISATION_EVENT_TYPES = WEBHOOK_EVENT_TYPES.filter((type) => !USER_TYPES.has(type));

/** The test message `POST …/webhooks/:webhookId/test` sends, to that endpoint alone. */
export const TEST_EVENT_TYPE = 'webhook.test' as const;

/** The webhook type of each domain event that receivers are told of, and what more it says. */
const SENT: Partial<Record<EventType, { type: WebhookEventType; extra?: Record<string, unknown> }>> = {
  'user.registered': { type: 'user.created' },
  'user.updated': { type: 'user.updated' },
  'user.email_verified': { type: 'user.updated', extra: { fields: ['emailVerified'] } },
  'admin.user_updated': { type: 'user.updated' },
  'admin.user_deleted': { type: 'user.deleted' },
  'organisation.created': { type: 'organisation.created' },
  'organisation.updated': { type: 'organisation.updated' },
  'organisation.deleted': { type: 'organisation.deleted' },
  'member.added': { type: 'member.added' },
  'member.removed': { type: 'member.removed', extra: { reason: 'removed' } },
  'member.left': { type: 'member.removed', extra: { reason: 'left' } },
  'member.role_changed': { type: 'member.role_changed' },
  'member.suspended': { type: 'member.suspended' },
  'member.reinstated': { type: 'member.reinstated' },
  'invitation.created': { type: 'invitation.created' },
  'invitation.accepted': { type: 'invitation.accepted' },
  'invitation.revoked': { type: 'invitation.revoked' },
  'role.created': { type: 'role.created' },
  'role.updated': { type: 'role.updated' },
  'role.deleted': { type: 'role.deleted' },
  'api_key.created': { type: 'api_key.created' },
  'api_key.revoked': { type: 'api_key.revoked' },
  'mfa.enabled': { type: 'mfa.enabled' },
  'mfa.disabled': { type: 'mfa.disabled' },
};

/** One event as receivers see it: `webhook-id` is its id, and `body` is what is signed. */
export interface WebhookMessage {
  id: string;
  type: string;
  organisationId: string | null;
  /** Deliveries about one subject reach an endpoint in the order they happened. */
  subjectId: string;
  body: string;
}

/** The message of a domain event, or null when receivers are not told of it. */
export function webhookMessageOf(event: DomainEvent, at: Date): WebhookMessage | null {
  const sent = SENT[event.type];
  if (!sent) return null;
  const organisationId = event.organisationId ?? null;
  const data = {
    organisationId,
    actor: event.actor,
    subject: event.subject,
    ...event.data,
    ...sent.extra,
    ...(event.before ? { before: event.before } : {}),
    ...(event.after ? { after: event.after } : {}),
  };
  return { id: randomUUID(), type: sent.type, organisationId, subjectId: event.subject.id, body: JSON.stringify({ type: sent.type, timestamp: at.toISOString(), data }) };
}

/** The test message for one endpoint. */
export function testMessage(endpoint: { id: string; organisationId: string | null }, actor: DomainEvent['actor'], at: Date): WebhookMessage {
  const data = { organisationId: endpoint.organisationId, actor, subject: { type: 'webhook', id: endpoint.id }, test: true };
  return { id: randomUUID(), type: TEST_EVENT_TYPE, organisationId: endpoint.organisationId, subjectId: endpoint.id, body: JSON.stringify({ type: TEST_EVENT_TYPE, timestamp: at.toISOString(), data }) };
}

/** Whether an endpoint of this scope may subscribe to the type. */
export const subscribable = (type: string, organisationEndpoint: boolean): boolean =>
  type === EVERY_EVENT || (WEBHOOK_EVENT_TYPES as readonly string[]).includes(type) && (!organisationEndpoint || !USER_TYPES.has(type as WebhookEventType));
