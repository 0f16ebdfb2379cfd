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

/** Where a page of a per-organisation report starts: after this organisation (and role), in the report's order. */
export interface StatsPosition {
  organisation: string;
  organisationId: string;
  role?: string;
}

export interface StatsPage {
  /** Rows wanted; the repository reads one more, to know whether another page follows. */
  limit: number;
  after?: StatsPosition;
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

// A page walks the organisations in the report's order (organisations_name_idx, migration 0012) and
// counts each one's memberships as it goes, stopping once the page is full: a hundred rows cost a
// hundred organisations' counts, however many organisations there are.

const enclosingOrganisation = sql.ref<string>('o.id');

/** The counted rows of the organisation `o` of the enclosing query: kept counts, or memberships when dated. */
function keptCountsOfOrganisation(db: Executor, filter: StatsFilter) {
  let query = db.selectFrom('membership_counts as k').where('k.organisation_id', '=', enclosingOrganisation);
  if (filter.status) query = query.where('k.status', '=', filter.status);
  return query;
}

function membershipsOfOrganisation(db: Executor, filter: StatsFilter) {
  let query = db.selectFrom('members as m').where('m.organisation_id', '=', enclosingOrganisation);
  if (filter.from) query = query.where('m.created_at', '>=', filter.from);
  if (filter.to) query = query.where('m.created_at', '<=', filter.to);
  if (filter.status) query = query.where('m.status', '=', filter.status);
  return query;
}

/** One organisation's count, for the organisation `o` of the enclosing query; no row when it is zero. */
function countOfOrganisation(db: Executor, filter: StatsFilter) {
  if (undated(filter)) return keptCountsOfOrganisation(db, filter).select(total.as('n')).having(total, '>', 0).as('c');
  return membershipsOfOrganisation(db, filter).select(count.as('n')).having(count, '>', 0).as('c');
}

/** The same per role. */
function countsOfOrganisationRoles(db: Executor, filter: StatsFilter) {
  if (undated(filter)) return keptCountsOfOrganisation(db, filter).select(['k.role_id', total.as('n')]).groupBy('k.role_id').having(total, '>', 0).as('c');
  return membershipsOfOrganisation(db, filter).select(['m.role_id', count.as('n')]).groupBy('m.role_id').as('c');
}

/** The visible organisations from a page's start, in the reports' order. */
function organisationsFrom(db: Executor, filter: StatsFilter, after: StatsPosition | undefined) {
  let query = db.selectFrom('organisations as o');
  if (filter.organisationId) query = query.where('o.id', '=', filter.organisationId);
  if (!filter.scope.all) query = query.where('o.id', 'in', readableOrganisations(db, filter.scope));
  // Row comparison: the index's range starts at the cursor's organisation.
  if (after) query = query.where(sql<boolean>`(o.name, o.id) ${sql.raw(after.role === undefined ? '>' : '>=')} (${after.organisation}, ${after.organisationId}::uuid)`);
  return query;
}

function membersByOrganisationPage(db: Executor, filter: StatsFilter, page: StatsPage) {
  return organisationsFrom(db, filter, page.after)
    .innerJoinLateral(countOfOrganisation(db, filter), (join) => join.onTrue())
    .select(['o.id as organisationId', 'o.name as organisation', 'c.n as userCount'])
    .orderBy('o.name')
    .orderBy('o.id')
    .limit(page.limit + 1)
    .execute();
}

function usersByOrganisationRolePage(db: Executor, filter: StatsFilter, page: StatsPage) {
  let query = organisationsFrom(db, filter, page.after)
    .innerJoinLateral(countsOfOrganisationRoles(db, filter), (join) => join.onTrue())
    .innerJoin('roles as r', 'r.id', 'c.role_id');
  const { after } = page;
  if (after?.role !== undefined) query = query.where(sql<boolean>`(o.name, o.id, r.name) > (${after.organisation}, ${after.organisationId}::uuid, ${after.role})`);
  return query
    .select(['o.id as organisationId', 'o.name as organisation', 'r.name as role', 'c.n as userCount'])
    .orderBy('o.name')
    .orderBy('o.id')
    .orderBy('r.name')
    .limit(page.limit + 1)
    .execute();
}

export const statsRepo = {
  /** Distinct users per role name: a user who is a member in two organisations counts once. */
  usersByRole(db: Executor, filter: StatsFilter) {
    const { status } = filter;
    if (platformWide(filter) && (status === undefined || status === 'active' || status === 'suspended')) return holdersByRole(db, status);
    const pairs = memberships(db, filter).innerJoin('roles as r', 'r.id', 'm.role_id').select(['r.name as role', 'm.user_id']).distinct();
    return db.selectFrom(pairs.as('t')).select(['t.role', count.as('userCount')]).groupBy('t.role').orderBy('t.role').execute();
  },

  membersByOrganisation(db: Executor, filter: StatsFilter, page?: StatsPage) {
    if (page) return membersByOrganisationPage(db, filter, page);
    return db
      .selectFrom(countsPerOrganisation(db, filter))
      .innerJoin('organisations as o', 'o.id', 'c.organisation_id')
      .select(['o.id as organisationId', 'o.name as organisation', 'c.n as userCount'])
      .orderBy('o.name')
      .orderBy('o.id')
      .execute();
  },

  usersByOrganisationRole(db: Executor, filter: StatsFilter, page?: StatsPage) {
    if (page) return usersByOrganisationRolePage(db, filter, page);
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
