// Reading an organisation's audit log: newest first, in pages keyed by event id.
import type { Db } from '../../db/database.js';
import { fieldError } from '../errors.js';
import { DEFAULT_PAGE_SIZE, type PageRequest } from '../pagination.js';
import { auditRepo } from './audit.repo.js';

const encode = (id: number) => Buffer.from(String(id)).toString('base64url');

function decode(cursor: string | undefined): number | undefined {
  if (cursor === undefined) return undefined;
  const id = Number(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!Number.isSafeInteger(id) || id <= 0) throw fieldError('cursor', 'Cursor is invalid');
  return id;
}

export const auditServiceFactory = ({ db }: { db: Db }) => ({
  async listForOrganisation(organisationId: string, request: PageRequest) {
    const limit = request.limit ?? DEFAULT_PAGE_SIZE;
    const rows = await auditRepo.listForOrganisation(db, organisationId, { limit, beforeId: decode(request.cursor) });
    const items = rows.slice(0, limit);
    const last = items[items.length - 1];
    return { items, nextCursor: rows.length > limit && last ? encode(last.id) : null };
  },
});

export type AuditService = ReturnType<typeof auditServiceFactory>;
