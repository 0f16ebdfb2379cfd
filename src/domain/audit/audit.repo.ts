import type { Executor } from '../../db/database.js';

export interface AuditEvent {
  organisationId?: string | null;
  actorUserId: string | null;
  action: string;
  targetType?: string;
  targetId?: string;
  ip?: string | null;
  userAgent?: string | null;
  /** Never a secret: no password, token or hash goes in here. */
  data?: Record<string, unknown>;
}

export const auditRepo = {
  /** Written in the transaction of the change it records, so the log never misses or invents one. */
  record(db: Executor, event: AuditEvent) {
    return auditRepo.insertion(db, event).execute();
  },

  /** The insert of `record`, unsent: for a statement that writes it along with other rows. */
  insertion(db: Executor, event: AuditEvent) {
    return db
      .insertInto('audit_events')
      .values({
        organisation_id: event.organisationId ?? null,
        actor_user_id: event.actorUserId,
        action: event.action,
        target_type: event.targetType ?? null,
        target_id: event.targetId ?? null,
        ip: event.ip ?? null,
        user_agent: event.userAgent?.slice(0, 512) ?? null,
        data: JSON.stringify(event.data ?? {}),
      });
  },

  /** An organisation's events, newest first, from before the event `beforeId` when given. */
  listForOrganisation(db: Executor, organisationId: string, page: { limit: number; beforeId?: number }) {
    let query = db
      .selectFrom('audit_events')
      .select(['id', 'organisation_id', 'actor_user_id', 'action', 'target_type', 'target_id', 'ip', 'data', 'created_at'])
      .where('organisation_id', '=', organisationId);
    if (page.beforeId !== undefined) query = query.where('id', '<', page.beforeId);
    return query.orderBy('id', 'desc').limit(page.limit + 1).execute();
  },
};
