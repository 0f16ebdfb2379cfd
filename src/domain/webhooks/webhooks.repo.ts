// Webhook endpoints, messages and deliveries. The fan-out of an event to the endpoints that take it
// is two inserts that run in the statement (or transaction) of the change; the delivery worker claims
// due deliveries with a lease, as the mail outbox does, taking only the earliest pending delivery of
// each subject to each endpoint so that a receiver sees one subject's events in the order they happened.
import { sql, type SqlBool } from 'kysely';
import type { Executor } from '../../db/database.ts';
import type { Write } from '../../db/one-statement.ts';
import { PLANNED_EACH_RUN } from '../../db/prepared-statements.ts';
import type { WebhookDeliveryStatus } from '../../db/schema.ts';
import { EVERY_EVENT, type WebhookMessage } from './catalogue.ts';
import type { Delivery, DueDelivery, Endpoint, EndpointScope } from './types.ts';

const ENDPOINT_COLUMNS = ['id', 'organisation_id', 'url', 'description', 'events', 'enabled', 'failing_since', 'disabled_reason', 'created_at', 'updated_at'] as const;

type EndpointRow = {
  id: string;
  organisation_id: string | null;
  url: string;
  description: string;
  events: string[];
  enabled: boolean;
  failing_since: Date | null;
  disabled_reason: string | null;
  created_at: Date;
  updated_at: Date;
};

const toEndpoint = (row: EndpointRow): Endpoint => ({
  id: row.id,
  organisationId: row.organisation_id,
  url: row.url,
  description: row.description,
  events: row.events,
  enabled: row.enabled,
  failingSince: row.failing_since,
  disabledReason: row.disabled_reason,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

const DELIVERY_COLUMNS = ['d.id', 'd.message_id', 'm.type', 'd.status', 'd.attempts', 'd.response_status', 'd.response_body', 'd.error', 'd.duration_ms', 'd.attempted_at', 'd.next_attempt_at', 'd.delivered_at', 'd.created_at'] as const;

type DeliveryRow = {
  id: number;
  message_id: string;
  type: string;
  status: WebhookDeliveryStatus;
  attempts: number;
  response_status: number | null;
  response_body: string | null;
  error: string | null;
  duration_ms: number | null;
  attempted_at: Date | null;
  next_attempt_at: Date;
  delivered_at: Date | null;
  created_at: Date;
};

const toDelivery = (row: DeliveryRow): Delivery => ({
  id: row.id,
  eventId: row.message_id,
  type: row.type,
  status: row.status,
  attempts: row.attempts,
  responseStatus: row.response_status,
  responseBody: row.response_body,
  error: row.error,
  durationMs: row.duration_ms,
  attemptedAt: row.attempted_at,
  nextAttemptAt: row.status === 'pending' ? row.next_attempt_at : null,
  deliveredAt: row.delivered_at,
  createdAt: row.created_at,
});

/** How many of the oldest due deliveries a claim looks at, per delivery it may claim. */
const CLAIM_WINDOW_FACTOR = 20;

const inScope = (scope: EndpointScope) => (scope.organisationId === null ? sql<SqlBool>`organisation_id is null` : sql<SqlBool>`organisation_id = ${scope.organisationId}`);

export const webhooksRepo = {
  /**
   * The writes that hand a message to every enabled endpoint taking it: the organisation's own and the
   * platform's (a user event, with no organisation, only the platform's). Both read the endpoints in
   * the statement's one snapshot; the message is written only when some endpoint takes it.
   */
  fanoutWrites(db: Executor, message: WebhookMessage): Write[] {
    const takers = (eb: Executor) => {
      const query = eb
        .selectFrom('webhook_endpoints as e')
        .where('e.enabled', '=', true)
        .where(sql<SqlBool>`e.events && array[${message.type}, ${EVERY_EVENT}]::text[]`);
      return message.organisationId === null
        ? query.where('e.organisation_id', 'is', null)
        : query.where((w) => w.or([w('e.organisation_id', 'is', null), w('e.organisation_id', '=', message.organisationId)]));
    };
    const messageInsert = db
      .insertInto('webhook_messages')
      .columns(['id', 'type', 'organisation_id', 'subject_id', 'body'])
      .expression(
        db
          .selectNoFrom((eb) => [
            sql<string>`${message.id}::uuid`.as('id'),
            eb.val(message.type).as('type'),
            sql<string | null>`${message.organisationId}::uuid`.as('organisation_id'),
            eb.val(message.subjectId).as('subject_id'),
            eb.val(message.body).as('body'),
          ])
          .where(sql<SqlBool>`exists (${takers(db).select('e.id')})`),
      );
    const deliveriesInsert = db
      .insertInto('webhook_deliveries')
      .columns(['message_id', 'endpoint_id', 'subject_id'])
      .expression(takers(db).select([sql<string>`${message.id}::uuid`.as('message_id'), 'e.id', sql<string>`${message.subjectId}`.as('subject_id')]));
    return [messageInsert, deliveriesInsert];
  },

  /** A message to one endpoint only (the test message). */
  async enqueueTo(db: Executor, message: WebhookMessage, endpointId: string): Promise<Delivery> {
    await db.insertInto('webhook_messages').values({ id: message.id, type: message.type, organisation_id: message.organisationId, subject_id: message.subjectId, body: message.body }).execute();
    const row = await db
      .insertInto('webhook_deliveries')
      .values({ message_id: message.id, endpoint_id: endpointId, subject_id: message.subjectId })
      .returning(['id', 'message_id', 'status', 'attempts', 'response_status', 'response_body', 'error', 'duration_ms', 'attempted_at', 'next_attempt_at', 'delivered_at', 'created_at'])
      .executeTakeFirstOrThrow();
    return toDelivery({ ...row, type: message.type });
  },

  async insertEndpoint(db: Executor, endpoint: { organisationId: string | null; url: string; description: string; events: string[]; secret: string; createdBy: string | null }): Promise<Endpoint> {
    const row = await db
      .insertInto('webhook_endpoints')
      .values({ organisation_id: endpoint.organisationId, url: endpoint.url, description: endpoint.description, events: endpoint.events, secret: endpoint.secret, created_by: endpoint.createdBy })
      .returning(ENDPOINT_COLUMNS)
      .executeTakeFirstOrThrow();
    return toEndpoint(row);
  },

  async list(db: Executor, scope: EndpointScope): Promise<Endpoint[]> {
    const rows = await db.selectFrom('webhook_endpoints').select(ENDPOINT_COLUMNS).where(inScope(scope)).orderBy('created_at').orderBy('id').execute();
    return rows.map(toEndpoint);
  },

  /** One endpoint of the scope, locked for the rest of the transaction when `forUpdate`. */
  async find(db: Executor, scope: EndpointScope, id: string, { forUpdate = false } = {}): Promise<Endpoint | undefined> {
    let query = db.selectFrom('webhook_endpoints').select(ENDPOINT_COLUMNS).where('id', '=', id).where(inScope(scope));
    if (forUpdate) query = query.forUpdate();
    const row = await query.executeTakeFirst();
    return row ? toEndpoint(row) : undefined;
  },

  async update(db: Executor, id: string, changes: { url?: string; description?: string; events?: string[]; enabled?: boolean }): Promise<Endpoint> {
    const reenabled = changes.enabled === true ? { failing_since: null, disabled_reason: null } : {};
    const row = await db
      .updateTable('webhook_endpoints')
      .set({ ...changes, ...reenabled })
      .where('id', '=', id)
      .returning(ENDPOINT_COLUMNS)
      .executeTakeFirstOrThrow();
    return toEndpoint(row);
  },

  async remove(db: Executor, id: string): Promise<void> {
    await db.deleteFrom('webhook_endpoints').where('id', '=', id).execute();
  },

  /** A new secret; the current one goes on signing until `previousUntil`. */
  async rotateSecret(db: Executor, id: string, secret: string, previousUntil: Date): Promise<void> {
    await db
      .updateTable('webhook_endpoints')
      .set({ previous_secret: sql`secret`, previous_secret_until: previousUntil, secret })
      .where('id', '=', id)
      .execute();
  },

  async listDeliveries(db: Executor, endpointId: string, { limit, beforeId }: { limit: number; beforeId?: number }): Promise<Delivery[]> {
    let query = db
      .selectFrom('webhook_deliveries as d')
      .innerJoin('webhook_messages as m', 'm.id', 'd.message_id')
      .select(DELIVERY_COLUMNS)
      .where('d.endpoint_id', '=', endpointId)
      .orderBy('d.id', 'desc')
      .limit(limit + 1);
    if (beforeId !== undefined) query = query.where('d.id', '<', beforeId);
    return (await query.execute()).map(toDelivery);
  },

  /** Puts a delivery back in the queue, due now, unless it is pending already; answers it as it is now. */
  async retry(db: Executor, endpointId: string, deliveryId: number, now: Date): Promise<Delivery | undefined> {
    await db
      .updateTable('webhook_deliveries')
      .set({ status: 'pending', next_attempt_at: now, locked_until: null })
      .where('id', '=', deliveryId)
      .where('endpoint_id', '=', endpointId)
      .where('status', '<>', 'pending')
      .execute();
    return webhooksRepo.findDelivery(db, endpointId, deliveryId);
  },

  async findDelivery(db: Executor, endpointId: string, deliveryId: number): Promise<Delivery | undefined> {
    const row = await db
      .selectFrom('webhook_deliveries as d')
      .innerJoin('webhook_messages as m', 'm.id', 'd.message_id')
      .select(DELIVERY_COLUMNS)
      .where('d.id', '=', deliveryId)
      .where('d.endpoint_id', '=', endpointId)
      .executeTakeFirst();
    return row ? toDelivery(row) : undefined;
  },

  /**
   * Claims due deliveries for one sender, each leased until `leaseUntil` (FOR UPDATE SKIP LOCKED: no
   * delivery goes to two senders at once; a sender that dies lets its lease run out). A delivery waits
   * while an earlier one of its subject to its endpoint is pending, and while its endpoint is disabled.
   */
  async claimDue(db: Executor, { now, leaseUntil, limit }: { now: Date; leaseUntil: Date; limit: number }): Promise<DueDelivery[]> {
    // The oldest due deliveries first: a bounded window of them is read by the index on
    // (next_attempt_at, id) before anything else is looked at (MATERIALIZED), so a claim costs the same
    // however long the queue. Deliveries that wait behind a failing one were moved to its next attempt
    // (recordFailure), so they are not due and take no room in the window. Planned each run: with a
    // generic plan, PostgreSQL may join the whole table first and a claim takes seconds, not milliseconds.
    const { rows } = await sql<{
      id: number;
      message_id: string;
      endpoint_id: string;
      subject_id: string;
      attempts: number;
      body: string;
      url: string;
      secret: string;
      previous_secret: string | null;
      previous_secret_until: Date | null;
      failing_since: Date | null;
      organisation_id: string | null;
    }>`${sql.raw(PLANNED_EACH_RUN)}
      with candidates as materialized (
        select id from webhook_deliveries
         where status = 'pending' and next_attempt_at <= ${now} and (locked_until is null or locked_until < ${now})
         order by next_attempt_at, id
         limit ${limit * CLAIM_WINDOW_FACTOR}
      ),
      due as (
        select d.id
          from candidates c
          join webhook_deliveries d on d.id = c.id
          join webhook_endpoints e on e.id = d.endpoint_id and e.enabled
         where d.status = 'pending'
           and not exists (
                 select 1 from webhook_deliveries p
                  where p.endpoint_id = d.endpoint_id and p.subject_id = d.subject_id and p.status = 'pending' and p.id < d.id)
         order by d.next_attempt_at, d.id
         limit ${limit}
         for update of d skip locked
      ),
      claimed as (
        update webhook_deliveries w set locked_until = ${leaseUntil}, attempts = w.attempts + 1
          from due where w.id = due.id
        returning w.id, w.message_id, w.endpoint_id, w.subject_id, w.attempts
      )
      select c.id, c.message_id, c.endpoint_id, c.subject_id, c.attempts, m.body, e.url, e.secret, e.previous_secret, e.previous_secret_until, e.failing_since, e.organisation_id
        from claimed c
        join webhook_messages m on m.id = c.message_id
        join webhook_endpoints e on e.id = c.endpoint_id
       order by c.id`.execute(db);
    return rows.map((row) => ({
      id: Number(row.id),
      messageId: row.message_id,
      endpointId: row.endpoint_id,
      subjectId: row.subject_id,
      organisationId: row.organisation_id,
      attempts: row.attempts,
      body: row.body,
      url: row.url,
      endpointFailing: row.failing_since !== null,
      secrets: row.previous_secret && row.previous_secret_until && new Date(row.previous_secret_until) > now ? [row.secret, row.previous_secret] : [row.secret],
    }));
  },

  /** Marks a batch of deliveries delivered, each with its answer, in one statement. */
  async markDelivered(db: Executor, rows: ReadonlyArray<{ id: number; status: number; body: string; durationMs: number }>, at: Date): Promise<void> {
    const ids = rows.map((row) => row.id);
    // `d.id = any(…)` as well as the join: the planner then finds the rows by key, however long the log.
    await sql`
      update webhook_deliveries d
         set status = 'delivered', delivered_at = ${at}, attempted_at = ${at}, locked_until = null, error = null,
             response_status = v.status, response_body = v.body, duration_ms = v.duration_ms
        from unnest(${ids}::bigint[], ${rows.map((row) => row.status)}::int[], ${rows.map((row) => row.body)}::text[], ${rows.map((row) => row.durationMs)}::int[]) as v(id, status, body, duration_ms)
       where d.id = v.id and d.id = any(${ids}::bigint[])`.execute(db);
  },


  /**
   * Records a failed attempt: due again at `nextAttemptAt` (the deliveries of its subject that wait
   * behind it move there too, so that claims do not keep looking at them), or failed for good.
   */
  async recordFailure(
    db: Executor,
    delivery: { id: number; endpointId: string; subjectId: string },
    outcome: { at: Date; nextAttemptAt: Date | null; responseStatus: number | null; responseBody: string | null; error: string },
    durationMs: number,
  ): Promise<void> {
    await db
      .updateTable('webhook_deliveries')
      .set({
        status: outcome.nextAttemptAt ? 'pending' : 'failed',
        locked_until: null,
        attempted_at: outcome.at,
        ...(outcome.nextAttemptAt ? { next_attempt_at: outcome.nextAttemptAt } : {}),
        response_status: outcome.responseStatus,
        response_body: outcome.responseBody,
        error: outcome.error.slice(0, 1000),
        duration_ms: durationMs,
      })
      .where('id', '=', delivery.id)
      .execute();
    if (outcome.nextAttemptAt) {
      await db
        .updateTable('webhook_deliveries')
        .set({ next_attempt_at: sql`greatest(next_attempt_at, ${outcome.nextAttemptAt})` })
        .where('endpoint_id', '=', delivery.endpointId)
        .where('subject_id', '=', delivery.subjectId)
        .where('status', '=', 'pending')
        .where('id', '>', delivery.id)
        .execute();
    }
  },

  /** An endpoint answered: it is no longer failing. */
  async markAnswering(db: Executor, endpointIds: readonly string[]): Promise<void> {
    if (endpointIds.length === 0) return;
    await db.updateTable('webhook_endpoints').set({ failing_since: null }).where('id', 'in', endpointIds).where('failing_since', 'is not', null).execute();
  },

  /** An endpoint failed: since when it has been failing (now, if it was not). */
  async markFailing(db: Executor, endpointId: string, now: Date): Promise<Date | undefined> {
    const row = await db
      .updateTable('webhook_endpoints')
      .set({ failing_since: sql`coalesce(failing_since, ${now})` })
      .where('id', '=', endpointId)
      .returning('failing_since')
      .executeTakeFirst();
    return row?.failing_since ?? undefined;
  },

  /** Disables an endpoint that is still enabled; true when this call disabled it. */
  async disable(db: Executor, endpointId: string, reason: string): Promise<boolean> {
    const result = await db.updateTable('webhook_endpoints').set({ enabled: false, disabled_reason: reason }).where('id', '=', endpointId).where('enabled', '=', true).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  },

  /**
   * Whom to tell about an endpoint: the active holders of a role of its organisation (the policy names
   * which), or the active users of a platform role for the platform's endpoints.
   */
  async contacts(db: Executor, endpoint: { organisationId: string | null }, who: { role: { name: string; builtIn: boolean }; platformRole: string }): Promise<Array<{ email: string; firstName: string }>> {
    const rows =
      endpoint.organisationId === null
        ? await db.selectFrom('users').select(['email', 'first_name']).where('platform_role', '=', who.platformRole as 'admin').where('status', '=', 'active').where('email', 'is not', null).execute()
        : await db
            .selectFrom('members as m')
            .innerJoin('roles as r', 'r.id', 'm.role_id')
            .innerJoin('users as u', 'u.id', 'm.user_id')
            .select(['u.email', 'u.first_name'])
            .where('m.organisation_id', '=', endpoint.organisationId)
            .where('m.status', '=', 'active')
            .where('u.status', '=', 'active')
            .where('r.name', '=', who.role.name)
            .where('r.built_in', '=', who.role.builtIn)
            .where('u.email', 'is not', null)
            .execute();
    return rows.map((row) => ({ email: row.email!, firstName: row.first_name }));
  },

  /** The url and organisation name of an endpoint, for its notices. */
  async describe(db: Executor, endpointId: string): Promise<{ url: string; organisationId: string | null; organisationName: string | null } | undefined> {
    return db
      .selectFrom('webhook_endpoints as e')
      .leftJoin('organisations as o', 'o.id', 'e.organisation_id')
      .select(['e.url', 'e.organisation_id as organisationId', 'o.name as organisationName'])
      .where('e.id', '=', endpointId)
      .executeTakeFirst();
  },

  /** Pending deliveries, those failed for good, and the age of the oldest pending one. */
  async backlog(db: Executor, now: Date): Promise<{ pending: number; failed: number; oldestPendingSeconds: number }> {
    const row = await db
      .selectFrom('webhook_deliveries')
      .select([
        sql<number>`count(*) filter (where status = 'pending')::int`.as('pending'),
        sql<number>`count(*) filter (where status = 'failed')::int`.as('failed'),
        sql<Date | null>`min(created_at) filter (where status = 'pending')`.as('oldest'),
      ])
      .where('status', '<>', 'delivered')
      .executeTakeFirstOrThrow();
    const oldest = row.oldest ? new Date(row.oldest) : null;
    return { pending: row.pending, failed: row.failed, oldestPendingSeconds: oldest ? Math.max(0, (now.getTime() - oldest.getTime()) / 1000) : 0 };
  },
};
