import { sql } from 'kysely';
import type { Executor } from '../../db/database.js';

/** One user's membership of one organisation, joined to the role it carries. */
const withRole = (db: Executor, organisationId: string, userId: string) =>
  db
    .selectFrom('members')
    .innerJoin('roles', 'roles.id', 'members.role_id')
    .select(['members.organisation_id', 'members.user_id', 'members.status', 'roles.id as role_id', 'roles.name as role_name', 'roles.built_in', 'roles.permissions'])
    .where('members.organisation_id', '=', organisationId)
    .where('members.user_id', '=', userId);

export const membersRepo = {
  insert(db: Executor, member: { organisationId: string; userId: string; roleId: string }) {
    return membersRepo.insertion(db, member).returning(['id', 'created_at']).executeTakeFirstOrThrow();
  },

  /** The insert of `insert`, unsent (src/db/one-statement.ts). */
  insertion(db: Executor, member: { organisationId: string; userId: string; roleId: string }) {
    return db.insertInto('members').values({ organisation_id: member.organisationId, user_id: member.userId, role_id: member.roleId });
  },

  /** A user's active membership of an organisation with the role it carries; undefined for a non-member. */
  findMembership(db: Executor, organisationId: string, userId: string) {
    return withRole(db, organisationId, userId).where('members.status', '=', 'active').executeTakeFirst();
  },

  list(db: Executor, organisationId: string, page: { limit: number; after?: { joinedAt: Date; userId: string } }) {
    let query = db
      .selectFrom('members')
      .innerJoin('users', 'users.id', 'members.user_id')
      .innerJoin('roles', 'roles.id', 'members.role_id')
      .select(['users.id as user_id', 'users.first_name', 'users.last_name', 'users.email', 'roles.name as role', 'members.status', 'members.created_at as joined_at'])
      .where('members.organisation_id', '=', organisationId);
    if (page.after) {
      const { joinedAt, userId } = page.after;
      query = query.where((eb) => eb(eb.refTuple('members.created_at', 'members.user_id'), '>', eb.tuple(joinedAt, userId)));
    }
    return query.orderBy('members.created_at').orderBy('members.user_id').limit(page.limit + 1).execute();
  },

  /** A member with the role they hold, whatever their status; undefined for a non-member. */
  findWithRole(db: Executor, organisationId: string, userId: string) {
    return withRole(db, organisationId, userId).executeTakeFirst();
  },

  setRole(db: Executor, organisationId: string, userId: string, roleId: string) {
    return db.updateTable('members').set({ role_id: roleId }).where('organisation_id', '=', organisationId).where('user_id', '=', userId).execute();
  },

  remove(db: Executor, organisationId: string, userId: string) {
    return db.deleteFrom('members').where('organisation_id', '=', organisationId).where('user_id', '=', userId).execute();
  },

  /** True when a user with this email (any letter case) is a member of the organisation. */
  async isMemberByEmail(db: Executor, organisationId: string, email: string): Promise<boolean> {
    const row = await db
      .selectFrom('members')
      .innerJoin('users', 'users.id', 'members.user_id')
      .select('members.id')
      .where('members.organisation_id', '=', organisationId)
      .where(sql`lower(users.email)`, '=', email.toLowerCase())
      .executeTakeFirst();
    return row !== undefined;
  },
};
