import { sql } from 'kysely';
import type { Executor } from '../../db/database.ts';
import { hasSecondFactor } from '../mfa/mfa.repo.ts';
import type { Member, Membership, MembershipStatus } from './types.ts';

/** One user's membership of one organisation, joined to the role it carries. */
const withRole = (db: Executor, organisationId: string, userId: string) =>
  db
    .selectFrom('members')
    .innerJoin('roles', 'roles.id', 'members.role_id')
    .innerJoin('organisations', 'organisations.id', 'members.organisation_id')
    .select([
      'members.organisation_id',
      'members.user_id',
      'members.status',
      'roles.id as role_id',
      'roles.name as role_name',
      'roles.description as role_description',
      'roles.built_in',
      'roles.permissions',
      'organisations.require_mfa',
    ])
    .where('members.organisation_id', '=', organisationId)
    .where('members.user_id', '=', userId);

const toMembership = (row: {
  organisation_id: string;
  user_id: string;
  status: string;
  role_id: string;
  role_name: string;
  role_description: string;
  built_in: boolean;
  permissions: string[];
  require_mfa: boolean;
}): Membership => ({
  organisationId: row.organisation_id,
  userId: row.user_id,
  status: row.status as MembershipStatus,
  role: { id: row.role_id, name: row.role_name, description: row.role_description, builtIn: row.built_in, permissions: row.permissions },
  requireMfa: row.require_mfa,
});

export const membersRepo = {
  async insert(db: Executor, member: { organisationId: string; userId: string; roleId: string }): Promise<void> {
    await membersRepo.insertion(db, member).execute();
  },

  /** The insert of `insert`, unsent (src/db/one-statement.ts). */
  insertion(db: Executor, member: { organisationId: string; userId: string; roleId: string }) {
    return db.insertInto('members').values({ organisation_id: member.organisationId, user_id: member.userId, role_id: member.roleId });
  },

  /** A user's active membership of an organisation with the role it carries; undefined for a non-member. */
  async findActiveMembership(db: Executor, organisationId: string, userId: string): Promise<Membership | undefined> {
    const row = await withRole(db, organisationId, userId).where('members.status', '=', 'active').executeTakeFirst();
    return row && toMembership(row);
  },

  /** A member with the role they hold, whatever their status; undefined for a non-member. */
  async findMembership(db: Executor, organisationId: string, userId: string): Promise<Membership | undefined> {
    const row = await withRole(db, organisationId, userId).executeTakeFirst();
    return row && toMembership(row);
  },

  async list(db: Executor, organisationId: string, page: { limit: number; after?: { joinedAt: Date; userId: string } }): Promise<Member[]> {
    let query = db
      .selectFrom('members')
      .innerJoin('users', 'users.id', 'members.user_id')
      .innerJoin('roles', 'roles.id', 'members.role_id')
      .select((eb) => [
        'users.id as user_id',
        'users.first_name',
        'users.last_name',
        'users.email',
        'roles.name as role',
        'members.status',
        'members.created_at as joined_at',
        hasSecondFactor(db, eb.ref('members.user_id')).as('mfa'),
      ])
      .where('members.organisation_id', '=', organisationId);
    if (page.after) {
      const { joinedAt, userId } = page.after;
      query = query.where((eb) => eb(eb.refTuple('members.created_at', 'members.user_id'), '>', eb.tuple(joinedAt, userId)));
    }
    const rows = await query.orderBy('members.created_at').orderBy('members.user_id').limit(page.limit + 1).execute();
    return rows.map((row) => ({ userId: row.user_id, firstName: row.first_name, lastName: row.last_name, email: row.email, role: row.role, status: row.status as MembershipStatus, joinedAt: row.joined_at, mfa: Boolean(row.mfa) }));
  },

  async setRole(db: Executor, { organisationId, userId, roleId }: { organisationId: string; userId: string; roleId: string }): Promise<void> {
    await db.updateTable('members').set({ role_id: roleId }).where('organisation_id', '=', organisationId).where('user_id', '=', userId).execute();
  },

  async setStatus(db: Executor, { organisationId, userId, status }: { organisationId: string; userId: string; status: MembershipStatus }): Promise<void> {
    await db.updateTable('members').set({ status }).where('organisation_id', '=', organisationId).where('user_id', '=', userId).execute();
  },

  async remove(db: Executor, organisationId: string, userId: string): Promise<void> {
    await db.deleteFrom('members').where('organisation_id', '=', organisationId).where('user_id', '=', userId).execute();
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
