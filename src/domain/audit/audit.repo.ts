// The audit log's rows. Written only by the event stream (src/domain/events/event-stream.ts), in the
// transaction of the change it records, so the log never misses or invents one.
import type { Executor } from '../../db/database.ts';
import type { ActorType } from '../../db/schema.ts';
import type { AuditEntry } from './types.ts';

/** One audit row as the event stream writes it. Never a secret: no password, token or hash. */
export interface AuditRow {
  organisationId: string | null;
  actorType: ActorType;
  /** The acting person; null for an API key, a machine client or the system. */
  actorUserId: string | null;
  /** The acting user, API key or machine client. */
  actorId: string | null;
  action: string;
  targetType: string;
  targetId: string;
  ip: string | null;
  userAgent: string | null;
  data: Record<string, unknown>;
  before: Record<string, unknown> | null;
  after: Record<string, unknown> | null;
}

const COLUMNS = ['id', 'organisation_id', 'actor_user_id', 'actor_type', 'actor_id', 'action', 'target_type', 'target_id', 'ip', 'data', 'created_at'] as const;

const toEntry = (row: { id: number; organisation_id: string | null; actor_user_id: string | null; actor_type: ActorType; actor_id: string | null; action: string; target_type: string | null; target_id: string | null; ip: string | null; data: Record<string, unknown>; created_at: Date }): AuditEntry => ({
  id: row.id,
  organisationId: row.organisation_id,
  actorUserId: row.actor_user_id,
  actorType: row.actor_type,
  actorId: row.actor_id,
  action: row.action,
  targetType: row.target_type,
  targetId: row.target_id,
  ip: row.ip,
  data: row.data,
  createdAt: row.created_at,
});

export const auditRepo = {
  async insert(db: Executor, row: AuditRow): Promise<void> {
    await auditRepo.insertion(db, row).execute();
  },

  /** The insert of `insert`, unsent: for a repository statement that writes it with other rows. */
  insertion(db: Executor, row: AuditRow) {
    return db.insertInto('audit_events').values({
      organisation_id: row.organisationId,
      actor_type: row.actorType,
      actor_user_id: row.actorUserId,
      actor_id: row.actorId,
      action: row.action,
      target_type: row.targetType,
      target_id: row.targetId,
      ip: row.ip,
      user_agent: row.userAgent?.slice(0, 512) ?? null,
      data: JSON.stringify(row.data),
      before: row.before === null ? null : JSON.stringify(row.before),
      after: row.after === null ? null : JSON.stringify(row.after),
    });
  },

  /** An organisation's events, newest first, from before the event `beforeId` when given. */
  async listForOrganisation(db: Executor, organisationId: string, page: { limit: number; beforeId?: number }): Promise<AuditEntry[]> {
    let query = db.selectFrom('audit_events').select(COLUMNS).where('organisation_id', '=', organisationId);
    if (page.beforeId !== undefined) query = query.where('id', '<', page.beforeId);
    return (await query.orderBy('id', 'desc').limit(page.limit + 1).execute()).map(toEntry);
  },

  /** Every event, newest first (platform administration), optionally of one action. */
  async list(db: Executor, page: { limit: number; beforeId?: number; action?: string }): Promise<AuditEntry[]> {
    let query = db.selectFrom('audit_events').select(COLUMNS);
    if (page.beforeId !== undefined) query = query.where('id', '<', page.beforeId);
    if (page.action) query = query.where('action', '=', page.action);
    return (await query.orderBy('id', 'desc').limit(page.limit + 1).execute()).map(toEntry);
  },
};
