// Reading an organisation's audit log: newest first, in pages keyed by event id.
import type { Db } from '../../db/database.js';
import { DEFAULT_PAGE_SIZE, decodeIdCursor, encodeIdCursor, type PageRequest } from '../pagination.js';
import { auditRepo } from './audit.repo.js';

/** The page of events and the cursor of the next, from rows fetched one past the limit. */
export function eventPage<T extends { id: number }>(rows: T[], limit: number) {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last ? encodeIdCursor(last.id) : null };
}

export const auditServiceFactory = ({ db }: { db: Db }) => ({
  async listForOrganisation(organisationId: string, request: PageRequest) {
    const limit = request.limit ?? DEFAULT_PAGE_SIZE;
    return eventPage(await auditRepo.listForOrganisation(db, organisationId, { limit, beforeId: decodeIdCursor(request.cursor) }), limit);
  },
});

export type AuditService = ReturnType<typeof auditServiceFactory>;
