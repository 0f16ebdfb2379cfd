// Statistics over memberships, filtered by when they were created (`from`, `to`: ISO 8601 or Unix
// seconds), by membership status and by organisation.
import type { Db } from '../../db/database.js';
import { AppError, fieldError } from '../errors.js';
import type { AuthContext } from '../sessions/sessions.service.js';
import { organisationsRepo } from '../organisations/organisations.repo.js';
import { statsRepo, type StatsFilter } from './stats.repo.js';

export interface StatsQuery {
  from?: string;
  to?: string;
  status?: string;
  organisationId?: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
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

export const statsServiceFactory = ({ db }: { db: Db }) => {
  async function filterFor(viewer: AuthContext, query: StatsQuery): Promise<StatsFilter> {
    const from = parseInstant('from', query.from);
    const to = parseInstant('to', query.to);
    const admin = viewer.platformRole === 'admin';
    if (query.organisationId !== undefined) {
      // An organisation the caller may not see is not found, the same as one that does not exist.
      const visible = UUID.test(query.organisationId) && (admin ? await organisationsRepo.findById(db, query.organisationId) : await statsRepo.canRead(db, viewer.userId, query.organisationId));
      if (!visible) throw new AppError('ORGANISATION_NOT_FOUND');
    }
    return { viewerId: viewer.userId, admin, from, to, status: query.status, organisationId: query.organisationId };
  }

  return {
    usersByRole: async (viewer: AuthContext, query: StatsQuery) => statsRepo.usersByRole(db, await filterFor(viewer, query)),
    membersByOrganisation: async (viewer: AuthContext, query: StatsQuery) => statsRepo.membersByOrganisation(db, await filterFor(viewer, query)),
    usersByOrganisationRole: async (viewer: AuthContext, query: StatsQuery) => statsRepo.usersByOrganisationRole(db, await filterFor(viewer, query)),
  };
};

export type StatsService = ReturnType<typeof statsServiceFactory>;
