// Webhook endpoints: an organisation's under /api/organisations/:orgId/webhooks (`webhooks:manage`),
// and the platform's own under /api/admin/webhooks (platform admins), with one contract. Deliveries
// follow Standard Webhooks v1; the payloads are described under `webhooks` in the OpenAPI document.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import type { FastifyContextConfig } from 'fastify';
import Type from 'typebox';
import type { Services } from '../../domain/services.ts';
import { EVERY_EVENT, WEBHOOK_EVENT_TYPES } from '../../domain/webhooks/catalogue.ts';
import type { Delivery, Endpoint, EndpointScope } from '../../domain/webhooks/types.ts';
import { principalOf } from '../auth.ts';
import { NextCursor, ok, PageQuery, StringEnum, success } from '../schemas.ts';

const Nullable = <T extends ReturnType<typeof Type.String>>(schema: T) => Type.Union([schema, Type.Null()]);
const Url = Type.String({ minLength: 1, maxLength: 2048, description: 'Where deliveries are POSTed: an absolute http or https address' });
const Events = Type.Array(StringEnum([EVERY_EVENT, ...WEBHOOK_EVENT_TYPES]), {
  minItems: 1,
  maxItems: 100,
  description: `Event types to receive, or "${EVERY_EVENT}" for every one the endpoint can receive (an organisation's endpoint receives no user.* or mfa.* events)`,
});
const Description = Type.String({ maxLength: 500 });

const Webhook = Type.Object({
  webhookId: Type.String(),
  url: Type.String(),
  description: Type.String(),
  events: Type.Array(Type.String()),
  enabled: Type.Boolean(),
  failingSince: Nullable(Type.String({ format: 'date-time' })),
  disabledReason: Nullable(Type.String()),
  createdAt: Type.String({ format: 'date-time' }),
  updatedAt: Type.String({ format: 'date-time' }),
});

const WebhookDelivery = Type.Object({
  deliveryId: Type.Integer(),
  eventId: Type.String({ description: 'The message id: the `webhook-id` header' }),
  type: Type.String(),
  attempt: Type.Integer({ description: 'Attempts made so far' }),
  status: StringEnum(['pending', 'delivered', 'failed'] as const),
  responseStatus: Type.Union([Type.Integer(), Type.Null()]),
  responseBody: Nullable(Type.String({ description: 'The first KiB of the last answer' })),
  error: Nullable(Type.String()),
  durationMs: Type.Union([Type.Integer(), Type.Null()]),
  at: Type.String({ format: 'date-time', description: 'The last attempt, or when the delivery was queued' }),
  nextAttemptAt: Nullable(Type.String({ format: 'date-time' })),
});

const webhook = (e: Endpoint) => ({
  webhookId: e.id,
  url: e.url,
  description: e.description,
  events: e.events,
  enabled: e.enabled,
  failingSince: e.failingSince?.toISOString() ?? null,
  disabledReason: e.disabledReason,
  createdAt: e.createdAt.toISOString(),
  updatedAt: e.updatedAt.toISOString(),
});

const delivery = (d: Delivery) => ({
  deliveryId: d.id,
  eventId: d.eventId,
  type: d.type,
  attempt: d.attempts,
  status: d.status,
  responseStatus: d.responseStatus,
  responseBody: d.responseBody,
  error: d.error,
  durationMs: d.durationMs,
  at: (d.attemptedAt ?? d.createdAt).toISOString(),
  nextAttemptAt: d.nextAttemptAt?.toISOString() ?? null,
});

interface Mount {
  prefix: string;
  params: Record<string, ReturnType<typeof Type.String>>;
  config: FastifyContextConfig;
  scope: (params: Record<string, string>) => EndpointScope;
  /** Prefixes each operationId: `createWebhook`, `createPlatformWebhook`. */
  naming: (verb: string, noun: string) => string;
  tags: string[];
}

const MOUNTS: Mount[] = [
  {
    prefix: '/api/organisations/:orgId/webhooks',
    params: { orgId: Type.String() },
    config: { auth: 'user', permission: 'webhooks:manage' },
    scope: (params) => ({ organisationId: params.orgId! }),
    naming: (verb, noun) => `${verb}${noun}`,
    tags: ['Webhooks'],
  },
  {
    prefix: '/api/admin/webhooks',
    params: {},
    config: { auth: 'admin' },
    scope: () => ({ organisationId: null }),
    naming: (verb, noun) => `${verb}Platform${noun}`,
    tags: ['Webhooks', 'Admin'],
  },
];

export const webhooksRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const { webhooks } = services;
  for (const { prefix, params, config, scope, naming, tags } of MOUNTS) {
    const Params = Type.Object(params);
    const OneParams = Type.Object({ ...params, webhookId: Type.String() });
    const DeliveryParams = Type.Object({ ...params, webhookId: Type.String(), deliveryId: Type.String() });
    const whose = prefix.startsWith('/api/admin') ? 'the platform’s' : 'the organisation’s';

    app.post(
      prefix,
      {
        config,
        schema: {
          operationId: naming('create', 'Webhook'),
          tags,
          summary: `Add a webhook endpoint to ${whose}; its signing secret is shown once`,
          params: Params,
          body: Type.Object({ url: Url, events: Events, description: Type.Optional(Description) }, { additionalProperties: false }),
          response: { 201: success(Type.Intersect([Webhook, Type.Object({ secret: Type.String({ description: '`whsec_…`: verify deliveries with it; shown only now' }) })]), 'Created') },
        },
      },
      async (request, reply) => {
        const { endpoint, secret } = await webhooks.create(principalOf(request), scope(request.params), request.body);
        return reply.code(201).send(ok('Webhook created successfully', { ...webhook(endpoint), secret }));
      },
    );

    app.get(
      prefix,
      {
        config,
        schema: { operationId: naming('list', 'Webhooks'), tags, summary: `${whose.replace(/^t/, 'T')} webhook endpoints`, params: Params, response: { 200: success(Type.Object({ webhooks: Type.Array(Webhook) })) } },
      },
      async (request) => ok('Webhooks retrieved successfully', { webhooks: (await webhooks.list(principalOf(request), scope(request.params))).map(webhook) }),
    );

    app.get(
      `${prefix}/:webhookId`,
      { config, schema: { operationId: naming('get', 'Webhook'), tags, summary: 'One webhook endpoint', params: OneParams, response: { 200: success(Webhook) } } },
      async (request) => ok('Webhook retrieved successfully', webhook(await webhooks.get(principalOf(request), scope(request.params), request.params.webhookId))),
    );

    app.patch(
      `${prefix}/:webhookId`,
      {
        config,
        schema: {
          operationId: naming('update', 'Webhook'),
          tags,
          summary: 'Change a webhook endpoint’s address, events or description, or disable and enable it',
          description: 'Enabling an endpoint that Gatehouse disabled (after three days of failures) clears its failure; retry what it missed from its delivery log.',
          params: OneParams,
          body: Type.Object({ url: Type.Optional(Url), events: Type.Optional(Events), description: Type.Optional(Description), enabled: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
          response: { 200: success(Webhook) },
        },
      },
      async (request) => ok('Webhook updated successfully', webhook(await webhooks.update(principalOf(request), scope(request.params), request.params.webhookId, request.body))),
    );

    app.delete(
      `${prefix}/:webhookId`,
      { config, schema: { operationId: naming('delete', 'Webhook'), tags, summary: 'Delete a webhook endpoint and its delivery log', params: OneParams, response: { 200: success(Type.Object({})) } } },
      async (request) => {
        await webhooks.remove(principalOf(request), scope(request.params), request.params.webhookId);
        return ok('Webhook deleted successfully', {});
      },
    );

    app.post(
      `${prefix}/:webhookId/test`,
      {
        config,
        schema: { operationId: naming('test', 'Webhook'), tags, summary: 'Send a `webhook.test` message to this endpoint alone', params: OneParams, response: { 202: success(WebhookDelivery, 'Queued') } },
      },
      async (request, reply) => reply.code(202).send(ok('Test message queued', delivery(await webhooks.sendTest(principalOf(request), scope(request.params), request.params.webhookId)))),
    );

    app.post(
      `${prefix}/:webhookId/rotate-secret`,
      {
        config,
        schema: {
          operationId: naming('rotate', 'WebhookSecret'),
          tags,
          summary: 'A new signing secret, shown once; the old one also signs for 24 hours',
          params: OneParams,
          response: { 200: success(Type.Object({ secret: Type.String(), previousSecretValidUntil: Type.String({ format: 'date-time' }) })) },
        },
      },
      async (request) => {
        const { secret, previousValidUntil } = await webhooks.rotateSecret(principalOf(request), scope(request.params), request.params.webhookId);
        return ok('Webhook secret rotated successfully', { secret, previousSecretValidUntil: previousValidUntil.toISOString() });
      },
    );

    app.get(
      `${prefix}/:webhookId/deliveries`,
      {
        config,
        schema: {
          operationId: naming('list', 'WebhookDeliveries'),
          tags,
          summary: 'The endpoint’s delivery log, newest first',
          params: OneParams,
          querystring: PageQuery,
          response: { 200: success(Type.Object({ deliveries: Type.Array(WebhookDelivery), nextCursor: NextCursor })) },
        },
      },
      async (request) => {
        const { items, nextCursor } = await webhooks.deliveries(principalOf(request), scope(request.params), request.params.webhookId, request.query);
        return ok('Deliveries retrieved successfully', { deliveries: items.map(delivery), nextCursor });
      },
    );

    app.post(
      `${prefix}/:webhookId/deliveries/:deliveryId/retry`,
      {
        config,
        schema: { operationId: naming('retry', 'WebhookDelivery'), tags, summary: 'Send a delivery again now', params: DeliveryParams, response: { 202: success(WebhookDelivery, 'Queued') } },
      },
      async (request, reply) =>
        reply.code(202).send(ok('Delivery queued', delivery(await webhooks.retry(principalOf(request), scope(request.params), request.params.webhookId, request.params.deliveryId)))),
    );
  }
};
