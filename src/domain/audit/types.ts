/** One event as the audit log shows it. */
export interface AuditEntry {
  id: number;
  organisationId: string | null;
  actorUserId: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  ip: string | null;
  data: Record<string, unknown>;
  createdAt: Date;
}
