// Membership statistics, aggregated by PostgreSQL. The visibility rule is part of the query, as the
// policy scopes it (src/domain/policy/policy.ts): every organisation, or those where the viewer holds
// the permission the scope names.
//
// Counting a million memberships takes hundreds of milliseconds, so a question without dates reads the
// counts the database keeps current instead (membership_counts, role_holders: migration 0004). Those
// do not know when a membership was created: with `from` or `to`, the memberships themselves are counted.
import { sql } from 'kysely';
import type { Executor } from '../../db/database.ts';
import type { StatsScope } from '../policy/policy.ts';

export interface StatsFilter {
  scope: StatsScope;
  from?: Date;
  to?: Date;
  status?: string;
  organisationId?: string;
}

const undated = (filter: StatsFilter) => filter.from === undefined && filter.to === undefined;

/** The organisations where the viewer holds the scope's permission in an active membership. */
function readableOrganisations(db: Executor, scope: { userId: string; permission: string }) {
  return db
    .selectFrom('members as v')
    .innerJoin('roles as vr', 'vr.id', 'v.role_id')
    .select('v.organisation_id')
    .where('v.user_id', '=', scope.userId)
    .where('v.status', '=', 'active')
    .where(sql<boolean>`${scope.permission} = any(vr.permissions)`);
}

/** The memberships counted, on `members` alone: names are joined after aggregating, onto few rows. */
function memberships(db: Executor, filter: StatsFilter) {
  let query = db.selectFrom('members as m');
  if (filter.from) query = query.where('m.created_at', '>=', filter.from);
  if (filter.to) query = query.where('m.created_at', '<=', filter.to);
  if (filter.status) query = query.where('m.status', '=', filter.status);
  if (filter.organisationId) query = query.where('m.organisation_id', '=', filter.organisationId);
  if (!filter.scope.all) query = query.where('m.organisation_id', 'in', readableOrganisations(db, filter.scope));
  return query;
}

/** The kept counts of the memberships an undated filter counts. */
function keptCounts(db: Executor, filter: StatsFilter) {
  let query = db.selectFrom('membership_counts as k');
  if (filter.status) query = query.where('k.status', '=', filter.status);
  if (filter.organisationId) query = query.where('k.organisation_id', '=', filter.organisationId);
  if (!filter.scope.all) query = query.where('k.organisation_id', 'in', readableOrganisations(db, filter.scope));
  return query;
}

// Within one organisation a user holds one membership (members_organisation_user_key), so counting
// memberships per organisation counts its users.
const count = sql<number>`count(*)::int`;
const total = sql<number>`sum(k.members)::int`;

function countsPerOrganisation(db: Executor, filter: StatsFilter) {
  if (undated(filter)) {
    return keptCounts(db, filter).select(['k.organisation_id', total.as('n')]).groupBy('k.organisation_id').having(total, '>', 0).as('c');
  }
  return memberships(db, filter).select(['m.organisation_id', count.as('n')]).groupBy('m.organisation_id').as('c');
}

function countsPerOrganisationRole(db: Executor, filter: StatsFilter) {
  if (undated(filter)) {
    return keptCounts(db, filter).select(['k.organisation_id', 'k.role_id', total.as('n')]).groupBy(['k.organisation_id', 'k.role_id']).having(total, '>', 0).as('c');
  }
  return memberships(db, filter).select(['m.organisation_id', 'm.role_id', count.as('n')]).groupBy(['m.organisation_id', 'm.role_id']).as('c');
}

/** Distinct users per role name over every organisation, from the kept role holders. */
function holdersByRole(db: Executor, status: 'active' | 'suspended' | undefined) {
  let query = db.selectFrom('role_holders as h');
  if (status === 'active') query = query.where('h.active', '>', 0);
  if (status === 'suspended') query = query.where('h.suspended', '>', 0);
  return query.select(['h.role_name as role', count.as('userCount')]).groupBy('h.role_name').orderBy('h.role_name').execute();
}

// The role holders mix every organisation's memberships, so they answer only a platform admin's
// question about the whole platform; a few organisations' memberships are quick to count anyway.
const platformWide = (filter: StatsFilter) => filter.scope.all && filter.organisationId === undefined && undated(filter);

export const statsRepo = {
  /** Distinct users per role name: a user who is a member in two organisations counts once. */
  usersByRole(db: Executor, filter: StatsFilter) {
    const { status } = filter;
    if (platformWide(filter) && (status === undefined || status === 'active' || status === 'suspended')) return holdersByRole(db, status);
    const pairs = memberships(db, filter).innerJoin('roles as r', 'r.id', 'm.role_id').select(['r.name as role', 'm.user_id']).distinct();
    return db.selectFrom(pairs.as('t')).select(['t.role', count.as('userCount')]).groupBy('t.role').orderBy('t.role').execute();
  },

  membersByOrganisation(db: Executor, filter: StatsFilter) {
    return db
      .selectFrom(countsPerOrganisation(db, filter))
      .innerJoin('organisations as o', 'o.id', 'c.organisation_id')
      .select(['o.id as organisationId', 'o.name as organisation', 'c.n as userCount'])
      .orderBy('o.name')
      .orderBy('o.id')
      .execute();
  },

  usersByOrganisationRole(db: Executor, filter: StatsFilter) {
    return db
      .selectFrom(countsPerOrganisationRole(db, filter))
      .innerJoin('organisations as o', 'o.id', 'c.organisation_id')
      .innerJoin('roles as r', 'r.id', 'c.role_id')
      .select(['o.id as organisationId', 'o.name as organisation', 'r.name as role', 'c.n as userCount'])
      .orderBy('o.name')
      .orderBy('o.id')
      .orderBy('r.name')
      .execute();
  },

  /** Whether the scope covers the organisation (which exists). */
  async canRead(db: Executor, scope: StatsScope, organisationId: string): Promise<boolean> {
    const row = scope.all
      ? await db.selectFrom('organisations').select('id').where('id', '=', organisationId).executeTakeFirst()
      : await readableOrganisations(db, scope).where('v.organisation_id', '=', organisationId).executeTakeFirst();
    return row !== undefined;
  },
};
