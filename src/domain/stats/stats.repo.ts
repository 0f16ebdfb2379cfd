// Membership statistics, aggregated by PostgreSQL. The visibility rule is part of the query: a
// platform admin counts every organisation; anyone else only those where they hold `stats:read`.
import { sql } from 'kysely';
import type { Executor } from '../../db/database.js';

export interface StatsFilter {
  viewerId: string;
  admin: boolean;
  from?: Date;
  to?: Date;
  status?: string;
  organisationId?: string;
}

/** The memberships counted, on `members` alone: names are joined after aggregating, onto few rows. */
function memberships(db: Executor, filter: StatsFilter) {
  let query = db.selectFrom('members as m');
  if (filter.from) query = query.where('m.created_at', '>=', filter.from);
  if (filter.to) query = query.where('m.created_at', '<=', filter.to);
  if (filter.status) query = query.where('m.status', '=', filter.status);
  if (filter.organisationId) query = query.where('m.organisation_id', '=', filter.organisationId);
  if (!filter.admin) {
    query = query.where('m.organisation_id', 'in', (eb) =>
      eb
        .selectFrom('members as v')
        .innerJoin('roles as vr', 'vr.id', 'v.role_id')
        .select('v.organisation_id')
        .where('v.user_id', '=', filter.viewerId)
        .where('v.status', '=', 'active')
        .where(sql<boolean>`'stats:read' = any(vr.permissions)`),
    );
  }
  return query;
}

// Within one organisation a user holds one membership (members_organisation_user_key), so counting
// memberships per organisation counts its users.
const count = sql<number>`count(*)::int`;

export const statsRepo = {
  /** Distinct users per role name: a user who is a member in two organisations counts once. */
  usersByRole(db: Executor, filter: StatsFilter) {
    const pairs = memberships(db, filter).innerJoin('roles as r', 'r.id', 'm.role_id').select(['r.name as role', 'm.user_id']).distinct();
    return db.selectFrom(pairs.as('t')).select(['t.role', count.as('user_count')]).groupBy('t.role').orderBy('t.role').execute();
  },

  membersByOrganisation(db: Executor, filter: StatsFilter) {
    const counts = memberships(db, filter).select(['m.organisation_id', count.as('n')]).groupBy('m.organisation_id');
    return db
      .selectFrom(counts.as('c'))
      .innerJoin('organisations as o', 'o.id', 'c.organisation_id')
      .select(['o.id as organisation_id', 'o.name as organisation', 'c.n as user_count'])
      .orderBy('o.name')
      .orderBy('o.id')
      .execute();
  },

  usersByOrganisationRole(db: Executor, filter: StatsFilter) {
    const counts = memberships(db, filter).select(['m.organisation_id', 'm.role_id', count.as('n')]).groupBy(['m.organisation_id', 'm.role_id']);
    return db
      .selectFrom(counts.as('c'))
      .innerJoin('organisations as o', 'o.id', 'c.organisation_id')
      .innerJoin('roles as r', 'r.id', 'c.role_id')
      .select(['o.id as organisation_id', 'o.name as organisation', 'r.name as role', 'c.n as user_count'])
      .orderBy('o.name')
      .orderBy('o.id')
      .orderBy('r.name')
      .execute();
  },

  /** Whether the viewer may see the organisation's statistics. */
  async canRead(db: Executor, viewerId: string, organisationId: string): Promise<boolean> {
    const row = await db
      .selectFrom('members as v')
      .innerJoin('roles as vr', 'vr.id', 'v.role_id')
      .select('v.id')
      .where('v.organisation_id', '=', organisationId)
      .where('v.user_id', '=', viewerId)
      .where('v.status', '=', 'active')
      .where(sql<boolean>`'stats:read' = any(vr.permissions)`)
      .executeTakeFirst();
    return row !== undefined;
  },
};
