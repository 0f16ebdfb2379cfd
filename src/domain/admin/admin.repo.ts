// What platform administration reads: users across the platform, organisations, the whole audit log.
import { sql } from 'kysely';
import type { Executor } from '../../db/database.ts';
import type { PlatformRole, User, UserStatus } from '../accounts/types.ts';
import { toUser } from '../accounts/users.repo.ts';

const USER_COLUMNS = ['id', 'email', 'username', 'first_name', 'last_name', 'phone', 'platform_role', 'status', 'email_verified_at', 'created_at'] as const;

/** An organisation as platform administration lists it. */
export interface AdminOrganisation {
  id: string;
  name: string;
  description: string;
  personal: boolean;
  createdBy: string | null;
  createdAt: Date;
  memberCount: number;
}

/** `%` and `_` typed by a person are letters, not wildcards. */
const contains = (text: string) => `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;

export const adminRepo = {
  async searchUsers(db: Executor, filter: { search?: string; status?: UserStatus; role?: PlatformRole; limit: number; after?: { at: Date; id: string } }): Promise<User[]> {
    let query = db.selectFrom('users').select(USER_COLUMNS);
    if (filter.search) {
      const pattern = contains(filter.search);
      query = query.where((eb) =>
        eb.or([
          eb(sql`lower(email)`, 'like', pattern),
          eb(sql`lower(username)`, 'like', pattern),
          eb(sql`lower(first_name || ' ' || last_name)`, 'like', pattern),
        ]),
      );
    }
    if (filter.status) query = query.where('status', '=', filter.status);
    if (filter.role) query = query.where('platform_role', '=', filter.role);
    if (filter.after) {
      const { at, id } = filter.after;
      query = query.where((eb) => eb(eb.refTuple('created_at', 'id'), '>', eb.tuple(at, id)));
    }
    return (await query.orderBy('created_at').orderBy('id').limit(filter.limit + 1).execute()).map(toUser);
  },

  async listOrganisations(db: Executor, filter: { search?: string; limit: number; after?: { at: Date; id: string } }): Promise<AdminOrganisation[]> {
    let query = db
      .selectFrom('organisations as o')
      .select((eb) => [
        'o.id',
        'o.name',
        'o.description',
        'o.personal',
        'o.created_by',
        'o.created_at',
        eb.selectFrom('members as m').select(sql<number>`count(*)::int`.as('n')).whereRef('m.organisation_id', '=', 'o.id').as('member_count'),
      ]);
    if (filter.search) query = query.where(sql`lower(o.name)`, 'like', contains(filter.search));
    if (filter.after) {
      const { at, id } = filter.after;
      query = query.where((eb) => eb(eb.refTuple('o.created_at', 'o.id'), '>', eb.tuple(at, id)));
    }
    const rows = await query.orderBy('o.created_at').orderBy('o.id').limit(filter.limit + 1).execute();
    return rows.map((row) => ({ id: row.id, name: row.name, description: row.description, personal: row.personal, createdBy: row.created_by, createdAt: row.created_at, memberCount: Number(row.member_count ?? 0) }));
  },

  /** Takes every admin row's lock, then counts the active admins: two admins stepping down take turns. */
  async lockAndCountActiveAdmins(db: Executor, adminRole: PlatformRole): Promise<number> {
    const rows = await db.selectFrom('users').select(['id', 'status']).where('platform_role', '=', adminRole).forUpdate().execute();
    return rows.filter((row) => row.status === 'active').length;
  },

  /**
   * Organisations (not the personal one) the user alone owns while others are members: deleting the
   * user would leave them without an owner.
   */
  soleOwnerWithOthers(db: Executor, userId: string, owner: { name: string; builtIn: boolean }) {
    return db
      .selectFrom('members as m')
      .innerJoin('roles as r', 'r.id', 'm.role_id')
      .innerJoin('organisations as o', 'o.id', 'm.organisation_id')
      .select(['o.id', 'o.name'])
      .where('m.user_id', '=', userId)
      .where('o.personal', '=', false)
      .where('r.built_in', '=', owner.builtIn)
      .where('r.name', '=', owner.name)
      .where(({ not, exists, selectFrom }) =>
        not(
          exists(
            selectFrom('members as other')
              .innerJoin('roles as orole', 'orole.id', 'other.role_id')
              .select('other.id')
              .whereRef('other.organisation_id', '=', 'm.organisation_id')
              .where('other.user_id', '!=', userId)
              .where('other.status', '=', 'active')
              .where('orole.built_in', '=', owner.builtIn)
              .where('orole.name', '=', owner.name),
          ),
        ),
      )
      .where(({ exists, selectFrom }) =>
        exists(selectFrom('members as anyone').select('anyone.id').whereRef('anyone.organisation_id', '=', 'm.organisation_id').where('anyone.user_id', '!=', userId)),
      )
      .execute();
  },

  /** Organisations that go with the user: their personal one, and any where nobody else is a member. */
  goingWith(db: Executor, userId: string) {
    return db
      .selectFrom('organisations as o')
      .select('o.id')
      .where((eb) =>
        eb.or([
          eb.and([eb('o.personal', '=', true), eb('o.created_by', '=', userId)]),
          eb.and([
            eb.exists(eb.selectFrom('members as m').select('m.id').whereRef('m.organisation_id', '=', 'o.id').where('m.user_id', '=', userId)),
            eb.not(eb.exists(eb.selectFrom('members as other').select('other.id').whereRef('other.organisation_id', '=', 'o.id').where('other.user_id', '!=', userId))),
          ]),
        ]),
      )
      .execute();
  },
};
