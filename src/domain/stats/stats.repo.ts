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

function memberships(db: Executor, filter: StatsFilter) {
  let query = db
    .selectFrom('members as m')
    .innerJoin('roles as r', 'r.id', 'm.role_id')
    .innerJoin('organisations as o', 'o.id', 'm.organisation_id');
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

const userCount = sql<number>`count(distinct m.user_id)::int`;

export const statsRepo = {
  usersByRole(db: Executor, filter: StatsFilter) {
    return memberships(db, filter).select(['r.name as role', userCount.as('user_count')]).groupBy('r.name').orderBy('r.name').execute();
  },

  membersByOrganisation(db: Executor, filter: StatsFilter) {
    return memberships(db, filter)
      .select(['o.id as organisation_id', 'o.name as organisation', userCount.as('user_count')])
      .groupBy(['o.id', 'o.name'])
      .orderBy('o.name')
      .orderBy('o.id')
      .execute();
  },

  usersByOrganisationRole(db: Executor, filter: StatsFilter) {
    return memberships(db, filter)
      .select(['o.id as organisation_id', 'o.name as organisation', 'r.name as role', userCount.as('user_count')])
      .groupBy(['o.id', 'o.name', 'r.name'])
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
