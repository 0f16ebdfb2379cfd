// The webhook payloads in the OpenAPI document, as OpenAPI 3.1 `webhooks`: one operation per event
// type, each a POST Gatehouse makes to a subscribed endpoint with Standard Webhooks headers.
import { TEST_EVENT_TYPE, WEBHOOK_EVENT_TYPES } from '../domain/webhooks/catalogue.ts';

/** What each type's `data` carries beyond the common fields. */
const CARRIES: Record<(typeof WEBHOOK_EVENT_TYPES)[number] | typeof TEST_EVENT_TYPE, string> = {
  'user.created': 'An account was registered. `after`: `email`, `username`, `firstName`, `lastName`; `platformRole` and `via` when the command line made the first admin.',
  'user.updated': 'An account changed. `fields`: which; `before`/`after`: their values (status and platform role when an admin changed them).',
  'user.deleted': 'A platform admin deleted an account. `email`, `username`, `organisationsDeleted`.',
  'organisation.created': 'An organisation was created. `name`, `personal`.',
  'organisation.updated': 'An organisation was renamed or described. `fields`, `before`, `after`.',
  'organisation.deleted': 'An organisation was deleted, with its memberships, roles, invitations and its own webhook endpoints (so only the platform’s endpoints receive this). `name`.',
  'member.added': 'Someone joined. `subject`: the user; `role`; `via: "invitation"` when they accepted one.',
  'member.removed': 'Someone left or was removed. `subject`: the user; `role`; `reason`: `removed` or `left`.',
  'member.role_changed': 'A member’s role changed. `from`, `to`, `before.role`, `after.role`.',
  'member.suspended': 'A member was suspended. `role`, `before.status`, `after.status`.',
  'member.reinstated': 'A suspended member was reinstated. `role`, `before.status`, `after.status`.',
  'invitation.created': 'An invitation was sent. `subject`: the invitation; `email`, `role`.',
  'invitation.accepted': 'An invitation was accepted. `role`.',
  'invitation.revoked': 'An invitation was revoked. `email`.',
  'role.created': 'A custom role was created. `name`, `permissions`.',
  'role.updated': 'A custom role changed. `fields`, `before`, `after`.',
  'role.deleted': 'A custom role was deleted. `name`.',
  'api_key.created': 'An API key was created. `subject`: the key; `name`, `permissions`, `personal`, `expiresAt` (never the key). A personal key’s events have no organisation: the platform’s endpoints receive them.',
  'api_key.revoked': 'An API key was revoked. `name`, `personal`.',
  'mfa.enabled': 'A second factor was turned on (second factors).',
  'mfa.disabled': 'A second factor was turned off.',
  [TEST_EVENT_TYPE]: 'Sent by `POST …/webhooks/:webhookId/test` to that endpoint alone. `test: true`; `subject`: the webhook.',
};

const header = (name: string, description: string) => ({ name, in: 'header', required: true, schema: { type: 'string' }, description });

/** The schema every delivery's body follows; `type` is fixed per operation. */
export function webhookPayloadSchema(type: string) {
  return {
    type: 'object',
    required: ['type', 'timestamp', 'data'],
    additionalProperties: false,
    properties: {
      type: { const: type },
      timestamp: { type: 'string', format: 'date-time', description: 'When the change happened' },
      data: {
        type: 'object',
        required: ['organisationId', 'actor', 'subject'],
        additionalProperties: true,
        properties: {
          organisationId: { type: ['string', 'null'], format: 'uuid', description: 'The organisation the change belongs to; null for an account’s own events' },
          actor: {
            type: 'object',
            required: ['type', 'id'],
            properties: {
              type: { enum: ['user', 'api_key', 'application', 'system'] },
              id: { type: ['string', 'null'], description: 'null for the system' },
            },
          },
          subject: { type: 'object', required: ['type', 'id'], properties: { type: { type: 'string' }, id: { type: 'string' } } },
          before: { type: 'object', additionalProperties: true, description: 'For a change: the fields as they were' },
          after: { type: 'object', additionalProperties: true, description: 'For a change: the fields as they are now' },
        },
      },
    },
  };
}

export function webhookDocs(): Record<string, never> {
  return Object.fromEntries(
    [...WEBHOOK_EVENT_TYPES, TEST_EVENT_TYPE].map((type: keyof typeof CARRIES) => [
      type,
      {
        post: {
          operationId: `webhook:${type}`,
          tags: ['Webhooks'],
          summary: type,
          description: `${CARRIES[type]}\n\nVerify the signature before trusting the body (Standard Webhooks v1; any Standard Webhooks library does it with the endpoint's \`whsec_\` secret). Answer 2xx within 5 seconds; anything else, or no answer, is retried with back-off for more than 24 hours. The same \`webhook-id\` may arrive more than once: deduplicate on it.`,
          parameters: [
            header('webhook-id', 'The message id: the same on every attempt'),
            header('webhook-timestamp', 'Seconds since the epoch when this attempt was signed'),
            header('webhook-signature', 'Space-separated `v1,<base64 HMAC-SHA256 of "id.timestamp.body">`: two during a secret rotation'),
          ],
          requestBody: { required: true, content: { 'application/json': { schema: webhookPayloadSchema(type) } } },
          responses: { '200': { description: 'Any 2xx answer within 5 seconds: delivered' } },
        },
      },
    ]),
  ) as Record<string, never>;
}
