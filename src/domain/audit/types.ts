import type { ActorType } from '../../db/schema.ts';

/** One event as the audit log shows it. */
export interface AuditEntry {
  id: number;
  organisationId: string | null;
  actorUserId: string | null;
  actorType: ActorType;
  /** The acting user, API key or machine client; null for the system (and for rows older than migration 0009). */
  actorId: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  ip: string | null;
  data: Record<string, unknown>;
  createdAt: Date;
}
