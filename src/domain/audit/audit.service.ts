// Reading an organisation's audit log: newest first, in pages keyed by event id. The log is written
// by the event stream (src/domain/events/event-stream.ts) only.
import type { Db } from '../../db/database.ts';
import { DEFAULT_PAGE_SIZE, decodeIdCursor, pageById, type PageRequest } from '../pagination.ts';
import type { Policy } from '../policy/policy.ts';
import type { Principal } from '../principal.ts';
import { auditRepo } from './audit.repo.ts';
import type { AuditEntry } from './types.ts';

export const auditServiceFactory = ({ db, policy }: { db: Db; policy: Policy }) => ({
  async listForOrganisation(principal: Principal, { organisationId, ...request }: PageRequest & { organisationId: string }): Promise<{ items: AuditEntry[]; nextCursor: string | null }> {
    const { organisationId: org } = await policy.member(principal, organisationId, 'audit:read');
    const limit = request.limit ?? DEFAULT_PAGE_SIZE;
    return pageById(await auditRepo.listForOrganisation(db, org, { limit, beforeId: decodeIdCursor(request.cursor) }), limit);
  },
});

export type AuditService = ReturnType<typeof auditServiceFactory>;
