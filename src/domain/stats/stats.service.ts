// Statistics over memberships, filtered by when they were created (`from`, `to`: ISO 8601 or Unix
// seconds), by membership status and by organisation. Which organisations a caller counts is the
// policy's scope: all of them for a platform admin, otherwise those where they hold `stats:read`.
import type { Db } from '../../db/database.ts';
import { AppError, fieldError } from '../errors.ts';
import { isUuid } from '../ids.ts';
import type { Policy } from '../policy/policy.ts';
import type { Principal } from '../principal.ts';
import { statsRepo, type StatsFilter, type StatsPage, type StatsPosition } from './stats.repo.ts';

export interface StatsQuery {
  from?: string;
  to?: string;
  status?: string;
  organisationId?: string;
}

/** The per-organisation reports page when asked to: `limit` (1–1000), `cursor` from the previous page. */
export interface StatsPageQuery {
  limit?: number;
  cursor?: string;
}

export const STATS_DEFAULT_PAGE_SIZE = 100;

/** A cursor names the last row of its page: organisation name and id, and the role in the per-role report. */
const encodeStatsCursor = (position: StatsPosition) =>
  Buffer.from(JSON.stringify(position.role === undefined ? [position.organisation, position.organisationId] : [position.organisation, position.organisationId, position.role])).toString('base64url');

function decodeStatsCursor(cursor: string, byRole: boolean): StatsPosition {
  let parts: unknown;
  try {
    parts = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parts = undefined;
  }
  // A cursor of the other report, or of another list, is refused rather than read half right.
  const valid = Array.isArray(parts) && parts.length === (byRole ? 3 : 2) && parts.every((part) => typeof part === 'string') && isUuid(parts[1] as string);
  if (!valid) throw fieldError('cursor', 'Cursor is invalid');
  const [organisation, organisationId, role] = parts as string[];
  return { organisation: organisation!, organisationId: organisationId!, role };
}

function pageOf(query: StatsPageQuery, byRole: boolean): StatsPage | undefined {
  if (query.limit === undefined && query.cursor === undefined) return undefined;
  return { limit: query.limit ?? STATS_DEFAULT_PAGE_SIZE, after: query.cursor === undefined ? undefined : decodeStatsCursor(query.cursor, byRole) };
}

function paged<T extends { organisation: string; organisationId: string; role?: string }>(rows: T[], page: StatsPage) {
  const items = rows.slice(0, page.limit);
  const last = items[items.length - 1];
  return { rows: items, nextCursor: rows.length > page.limit && last ? encodeStatsCursor(last) : null };
}

const ISO_8601 = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/;

/** 2024-02-30 is no date: `new Date` would quietly make it 1 March. */
function isCalendarDate(ymd: string): boolean {
  const [y, m, d] = ymd.split('-').map(Number) as [number, number, number];
  const date = new Date(Date.UTC(y, m - 1, d));
  return date.getUTCMonth() === m - 1 && date.getUTCDate() === d;
}

/** `1700000000` (Unix seconds) or `2026-01-31`, `2026-01-31T12:00:00Z` … → a date; else a 422 naming the field. */
export function parseInstant(field: string, value: string | undefined): Date | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  let date: Date | null = null;
  if (/^\d{1,12}(\.\d+)?$/.test(trimmed)) date = new Date(Number(trimmed) * 1000);
  else if (ISO_8601.test(trimmed) && isCalendarDate(trimmed.slice(0, 10))) date = new Date(trimmed);
  if (!date || Number.isNaN(date.getTime()) || date.getUTCFullYear() > 9999) throw fieldError(field, `${field === 'from' ? 'From' : 'To'} must be an ISO 8601 date or Unix seconds`);
  return date;
}

export const statsServiceFactory = ({ db, policy }: { db: Db; policy: Policy }) => {
  async function filterFor(principal: Principal, query: StatsQuery): Promise<StatsFilter> {
    const scope = policy.statsScope(principal);
    const from = parseInstant('from', query.from);
    const to = parseInstant('to', query.to);
    if (query.organisationId !== undefined) {
      // An organisation the caller may not see is not found, the same as one that does not exist.
      const visible = isUuid(query.organisationId) && (await statsRepo.canRead(db, scope, query.organisationId));
      if (!visible) throw new AppError('ORGANISATION_NOT_FOUND');
    }
    return { scope, from, to, status: query.status, organisationId: query.organisationId };
  }

  return {
    usersByRole: async (principal: Principal, query: StatsQuery) => ({ rows: await statsRepo.usersByRole(db, await filterFor(principal, query)) }),

    /** Every row, or with `limit`/`cursor` one page of them and the cursor of the next. */
    async membersByOrganisation(principal: Principal, query: StatsQuery & StatsPageQuery) {
      const page = pageOf(query, false);
      const filter = await filterFor(principal, query);
      if (!page) return { rows: await statsRepo.membersByOrganisation(db, filter) };
      return paged(await statsRepo.membersByOrganisation(db, filter, page), page);
    },

    async usersByOrganisationRole(principal: Principal, query: StatsQuery & StatsPageQuery) {
      const page = pageOf(query, true);
      const filter = await filterFor(principal, query);
      if (!page) return { rows: await statsRepo.usersByOrganisationRole(db, filter) };
      return paged(await statsRepo.usersByOrganisationRole(db, filter, page), page);
    },
  };
};

export type StatsService = ReturnType<typeof statsServiceFactory>;
