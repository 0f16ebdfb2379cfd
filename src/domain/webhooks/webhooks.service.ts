// Webhook endpoints: an organisation's (`webhooks:manage`) and the platform's own (platform admins),
// their secrets, test messages and delivery logs. Messages themselves come only from the event stream
// (src/domain/events/event-stream.ts), in the transaction of each change.
import { randomBytes } from 'node:crypto';
import type { Db } from '../../db/database.ts';
import { addSeconds, type Clock } from '../clock.ts';
import { AppError, fieldError } from '../errors.ts';
import { SYSTEM_ACTOR, userActor, type Actor } from '../events/catalogue.ts';
import type { EventStream } from '../events/event-stream.ts';
import type { Notice } from '../events/notices.ts';
import { isUuid } from '../ids.ts';
import { DEFAULT_PAGE_SIZE, decodeIdCursor, pageById, type PageRequest } from '../pagination.ts';
import { OWNER, PLATFORM_ADMIN, type Policy } from '../policy/policy.ts';
import { system, type Principal } from '../principal.ts';
import { checkLiteralHost } from './address-guard.ts';
import { EVERY_EVENT, subscribable, testMessage } from './catalogue.ts';
import type { Delivery, Endpoint, EndpointScope } from './types.ts';
import { webhooksRepo } from './webhooks.repo.ts';

/** How long a rotated-out secret goes on signing beside the new one. */
export const SECRET_OVERLAP_SECONDS = 24 * 3600;

interface Deps {
  db: Db;
  clock: Clock;
  policy: Policy;
  events: EventStream;
  /** GATEHOUSE_WEBHOOKS_ALLOW_PRIVATE: endpoints may be on private, loopback and link-local addresses. */
  allowPrivate: boolean;
  /** Wakes the delivery worker after a test message or a retry. */
  webhooksQueued?: () => void;
}

export interface EndpointInput {
  url: string;
  events: string[];
  description?: string;
}

export type EndpointChanges = Partial<EndpointInput> & { enabled?: boolean };

/** A new signing secret in Standard Webhooks' form: `whsec_` and 32 random bytes in base64. */
const newSecret = () => `whsec_${randomBytes(32).toString('base64')}`;

export const webhooksServiceFactory = ({ db, clock, policy, events, allowPrivate, webhooksQueued = () => {} }: Deps) => {
  /** The caller may manage the scope's endpoints: who acts, and for which organisation. */
  async function manager(principal: Principal, scope: EndpointScope): Promise<{ actor: Actor; userId: string | null; organisationId: string | null }> {
    if (scope.organisationId === null) {
      const admin = policy.platformAdmin(principal);
      return { actor: userActor(admin.userId), userId: admin.userId, organisationId: null };
    }
    // A person, or an API key or machine client holding the permission in this organisation.
    const membership = await policy.member(principal, scope.organisationId, 'webhooks:manage');
    const { actor, userId } = policy.acting(principal);
    return { actor, userId, organisationId: membership.organisationId };
  }

  async function endpointOf(scope: EndpointScope, webhookId: string, options?: { forUpdate?: boolean }, executor = db): Promise<Endpoint> {
    const endpoint = isUuid(webhookId) ? await webhooksRepo.find(executor, scope, webhookId, options) : undefined;
    if (!endpoint) throw new AppError('WEBHOOK_NOT_FOUND');
    return endpoint;
  }

  function checkUrl(value: string): string {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw fieldError('url', 'Url must be an absolute http or https address');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw fieldError('url', 'Url must be an absolute http or https address');
    if (url.username || url.password) throw fieldError('url', 'Url must not carry a user name or password');
    if (url.hash) throw fieldError('url', 'Url must not have a fragment');
    try {
      checkLiteralHost(url, allowPrivate);
    } catch {
      throw fieldError('url', 'Url must not point at a private, loopback or link-local address');
    }
    return url.href;
  }

  function checkEvents(types: string[], organisationEndpoint: boolean): string[] {
    if (types.length === 0) throw fieldError('events', 'Events must name at least one event type');
    const refused = types.find((type) => !subscribable(type, organisationEndpoint));
    if (refused !== undefined) throw fieldError('events', `Events: ${JSON.stringify(refused).slice(0, 80)} is not an event type ${organisationEndpoint ? 'an organisation’s endpoint can receive' : 'of the catalogue'}`);
    return types.includes(EVERY_EVENT) ? [EVERY_EVENT] : [...new Set(types)];
  }

  const service = {
    async create(principal: Principal, scope: EndpointScope, input: EndpointInput): Promise<{ endpoint: Endpoint; secret: string }> {
      const { actor, userId, organisationId } = await manager(principal, scope);
      const url = checkUrl(input.url);
      const types = checkEvents(input.events, organisationId !== null);
      const secret = newSecret();
      return db.transaction().execute(async (trx) => {
        const endpoint = await webhooksRepo.insertEndpoint(trx, { organisationId, url, description: input.description ?? '', events: types, secret, createdBy: userId });
        await events.record(trx, { type: 'webhook.created', actor, client: principal.client, organisationId, subject: { type: 'webhook', id: endpoint.id }, data: { url, events: types } });
        return { endpoint, secret };
      });
    },

    async list(principal: Principal, scope: EndpointScope): Promise<Endpoint[]> {
      const { organisationId } = await manager(principal, scope);
      return webhooksRepo.list(db, { organisationId });
    },

    async get(principal: Principal, scope: EndpointScope, webhookId: string): Promise<Endpoint> {
      const { organisationId } = await manager(principal, scope);
      return endpointOf({ organisationId }, webhookId);
    },

    async update(principal: Principal, scope: EndpointScope, webhookId: string, changes: EndpointChanges): Promise<Endpoint> {
      const { actor, organisationId } = await manager(principal, scope);
      const checked: EndpointChanges = { ...changes };
      if (changes.url !== undefined) checked.url = checkUrl(changes.url);
      if (changes.events !== undefined) checked.events = checkEvents(changes.events, organisationId !== null);
      return db.transaction().execute(async (trx) => {
        const before = await endpointOf({ organisationId }, webhookId, { forUpdate: true }, trx);
        const fields = (Object.keys(checked) as Array<keyof EndpointChanges>).filter((field) => checked[field] !== undefined && JSON.stringify(checked[field]) !== JSON.stringify(before[field]));
        if (fields.length === 0) return before;
        const after = await webhooksRepo.update(trx, before.id, Object.fromEntries(fields.map((field) => [field, checked[field]])));
        await events.record(trx, {
          type: 'webhook.updated',
          actor,
          client: principal.client,
          organisationId,
          subject: { type: 'webhook', id: before.id },
          data: { fields },
          before: Object.fromEntries(fields.map((field) => [field, before[field]])),
          after: Object.fromEntries(fields.map((field) => [field, after[field]])),
        });
        if (changes.enabled === true) webhooksQueued();
        return after;
      });
    },

    async remove(principal: Principal, scope: EndpointScope, webhookId: string): Promise<void> {
      const { actor, organisationId } = await manager(principal, scope);
      await db.transaction().execute(async (trx) => {
        const endpoint = await endpointOf({ organisationId }, webhookId, { forUpdate: true }, trx);
        await webhooksRepo.remove(trx, endpoint.id);
        await events.record(trx, { type: 'webhook.deleted', actor, client: principal.client, organisationId, subject: { type: 'webhook', id: endpoint.id }, data: { url: endpoint.url } });
      });
    },

    /** A new secret, shown once; the old one signs beside it for SECRET_OVERLAP_SECONDS. */
    async rotateSecret(principal: Principal, scope: EndpointScope, webhookId: string): Promise<{ secret: string; previousValidUntil: Date }> {
      const { actor, organisationId } = await manager(principal, scope);
      const secret = newSecret();
      const previousValidUntil = addSeconds(clock.now(), SECRET_OVERLAP_SECONDS);
      await db.transaction().execute(async (trx) => {
        const endpoint = await endpointOf({ organisationId }, webhookId, { forUpdate: true }, trx);
        await webhooksRepo.rotateSecret(trx, endpoint.id, secret, previousValidUntil);
        await events.record(trx, {
          type: 'webhook.secret_rotated',
          actor,
          client: principal.client,
          organisationId,
          subject: { type: 'webhook', id: endpoint.id },
          data: { previousValidUntil: previousValidUntil.toISOString() },
        });
      });
      return { secret, previousValidUntil };
    },

    /** Queues a `webhook.test` message to this endpoint alone; answers its delivery. */
    async sendTest(principal: Principal, scope: EndpointScope, webhookId: string): Promise<Delivery> {
      const { actor, organisationId } = await manager(principal, scope);
      const endpoint = await endpointOf({ organisationId }, webhookId);
      const message = testMessage(endpoint, actor, clock.now());
      // Answered as queued: the worker may have claimed it by the time a second look were taken.
      const delivery = await db.transaction().execute((trx) => webhooksRepo.enqueueTo(trx, message, endpoint.id));
      webhooksQueued();
      return delivery;
    },

    async deliveries(principal: Principal, scope: EndpointScope, webhookId: string, request: PageRequest): Promise<{ items: Delivery[]; nextCursor: string | null }> {
      const { organisationId } = await manager(principal, scope);
      const endpoint = await endpointOf({ organisationId }, webhookId);
      const limit = request.limit ?? DEFAULT_PAGE_SIZE;
      return pageById(await webhooksRepo.listDeliveries(db, endpoint.id, { limit, beforeId: decodeIdCursor(request.cursor) }), limit);
    },

    /** Sends a delivery again now (a delivered one too: the receiver asked for it). */
    async retry(principal: Principal, scope: EndpointScope, webhookId: string, deliveryId: string): Promise<Delivery> {
      const { organisationId } = await manager(principal, scope);
      const endpoint = await endpointOf({ organisationId }, webhookId);
      const id = /^[1-9][0-9]{0,15}$/.test(deliveryId) ? Number(deliveryId) : NaN;
      const delivery = Number.isSafeInteger(id) ? await webhooksRepo.retry(db, endpoint.id, id, clock.now()) : undefined;
      if (!delivery) throw new AppError('DELIVERY_NOT_FOUND');
      webhooksQueued();
      return delivery;
    },

    /**
     * The delivery worker's report: an endpoint has failed every attempt since `since`. Gatehouse
     * disables it, records why, and mails the organisation's owners (the platform's admins for a
     * platform endpoint).
     */
    async endpointFailing(endpointId: string, since: Date): Promise<void> {
      const acting = policy.system(system('webhook delivery'));
      const described = await webhooksRepo.describe(db, endpointId);
      if (!described) return;
      const reason = `Every delivery failed since ${since.toISOString()}`;
      await db.transaction().execute(async (trx) => {
        if (!(await webhooksRepo.disable(trx, endpointId, reason))) return;
        const contacts = await webhooksRepo.contacts(trx, described, { role: OWNER, platformRole: PLATFORM_ADMIN });
        const notices: Notice[] = contacts.map((contact) => ({ kind: 'webhook_disabled', to: contact.email, name: contact.firstName, url: described.url, organisation: described.organisationName, since }));
        await events.record(trx, {
          type: 'webhook.disabled',
          actor: SYSTEM_ACTOR,
          client: acting.client,
          organisationId: described.organisationId,
          subject: { type: 'webhook', id: endpointId },
          data: { url: described.url, reason },
          notify: notices,
        });
      });
    },
  };
  return service;
};

export type WebhooksService = ReturnType<typeof webhooksServiceFactory>;
