import { randomUUID } from 'node:crypto';
import { sql, type RawBuilder } from 'kysely';
import { nothingToChange } from '../../db/changes.ts';
import type { Executor } from '../../db/database.ts';
import { writeTogetherReturning, type Write } from '../../db/one-statement.ts';
import type { EventRows } from '../events/event-stream.ts';
import { eventWrites } from '../events/events.repo.ts';
import { BUILT_IN_ROLES, OWNER_ROLE } from '../policy/permissions.ts';
import { sessionsRepo } from '../sessions/sessions.repo.ts';
import { membersRepo } from './members.repo.ts';
import { rolesRepo } from './roles.repo.ts';
import type { MyOrganisation, Organisation } from './types.ts';

const COLUMNS = ['id', 'name', 'description', 'personal', 'require_mfa', 'created_at'] as const;

const toOrganisation = (row: { id: string; name: string; description: string; personal: boolean; require_mfa: boolean; created_at: Date }): Organisation => ({
  id: row.id,
  name: row.name,
  description: row.description,
  personal: row.personal,
  requireMfa: row.require_mfa,
  createdAt: row.created_at,
});

/** A new organisation, its id chosen by the caller so that the other rows of a statement can name it. */
export interface NewOrganisation {
  id: string;
  name: string;
  description: string;
  personal: boolean;
  ownerId: string;
}

type ListPage = { limit: number; after?: { joinedAt: Date; orgId: string } };

export const organisationsRepo = {
  /**
   * The writes that create an organisation with its built-in roles and its owner's membership, for a
   * statement that writes them with other rows (src/db/one-statement.ts); `main` returns the organisation.
   */
  creationWrites(db: Executor, org: NewOrganisation) {
    const roleIds = Object.fromEntries(BUILT_IN_ROLES.map((role) => [role.name, randomUUID()]));
    const ownerRoleId = roleIds[OWNER_ROLE];
    if (!ownerRoleId) throw new Error('The built-in roles have no owner role');
    const writes: Write[] = [rolesRepo.builtInsInsertion(db, { organisationId: org.id, ids: roleIds }), membersRepo.insertion(db, { organisationId: org.id, userId: org.ownerId, roleId: ownerRoleId })];
    const main = db
      .insertInto('organisations')
      .values({ id: org.id, name: org.name, description: org.description, personal: org.personal, created_by: org.ownerId })
      .returning(COLUMNS);
    return { main, writes };
  },

  /** Creates an organisation with its built-in roles, its owner and its event's rows, in one statement. */
  async create(db: Executor, org: NewOrganisation, events: readonly EventRows[]): Promise<Organisation> {
    const { main, writes } = organisationsRepo.creationWrites(db, org);
    const [row] = await writeTogetherReturning(db, [...writes, ...eventWrites(db, events)], main);
    if (!row) throw new Error('The organisation was not created');
    return toOrganisation(row);
  },

  toOrganisation,

  async findById(db: Executor, id: string): Promise<Organisation | undefined> {
    const row = await db.selectFrom('organisations').select(COLUMNS).where('id', '=', id).executeTakeFirst();
    return row && toOrganisation(row);
  },

  async update(db: Executor, id: string, { requireMfa, ...changes }: { name?: string; description?: string; requireMfa?: boolean }): Promise<Organisation | undefined> {
    const set = { ...changes, ...(requireMfa !== undefined ? { require_mfa: requireMfa } : {}) };
    if (nothingToChange(set)) return organisationsRepo.findById(db, id);
    const row = await db.updateTable('organisations').set(set).where('id', '=', id).returning(COLUMNS).executeTakeFirst();
    return row && toOrganisation(row);
  },

  async delete(db: Executor, id: string): Promise<void> {
    await db.deleteFrom('organisations').where('id', '=', id).executeTakeFirst();
  },

  /**
   * The organisations a user is an active member of, with their role, in the order they joined, joined
   * onto their live session: null when the session is not live. The session check and the read are
   * one statement: the most frequent read of every product behind Gatehouse costs one round trip.
   */
  async listForSession(db: Executor, session: { sessionId: string; userId: string; now: Date }, page: ListPage): Promise<MyOrganisation[] | null> {
    const rows = await sessionsRepo
      .live(db, session)
      .leftJoinLateral(organisationsOf(db, sql.ref<string>('sessions.user_id'), page).as('listed'), (join) => join.onTrue())
      .select(['listed.id', 'listed.name', 'listed.description', 'listed.require_mfa', 'listed.role', 'listed.joined_at'])
      .orderBy('listed.joined_at')
      .orderBy('listed.id')
      .execute();
    if (rows.length === 0) return null;
    return rows.flatMap((row) => (row.id === null ? [] : [toMine(row as typeof row & { id: string })]));
  },

  /** The same list for a caller whose session was checked already. */
  async listForUser(db: Executor, userId: string, page: ListPage): Promise<MyOrganisation[]> {
    return (await organisationsOf(db, userId, page).execute()).map(toMine);
  },
};

const toMine = (row: { id: string; name: string | null; description: string | null; require_mfa: boolean | null; role: string | null; joined_at: Date | null }): MyOrganisation => ({
  id: row.id,
  name: row.name ?? '',
  description: row.description ?? '',
  requireMfa: row.require_mfa ?? false,
  role: row.role ?? '',
  joinedAt: row.joined_at ?? new Date(0),
});

/** One page of a user's active memberships with organisation and role, in the order they joined. */
function organisationsOf(db: Executor, userId: string | RawBuilder<string>, page: ListPage) {
  let query = db
    .selectFrom('members')
    .innerJoin('organisations', 'organisations.id', 'members.organisation_id')
    .innerJoin('roles', 'roles.id', 'members.role_id')
    .select(['organisations.id', 'organisations.name', 'organisations.description', 'organisations.require_mfa', 'roles.name as role', 'members.created_at as joined_at'])
    .where('members.user_id', '=', userId)
    .where('members.status', '=', 'active');
  if (page.after) {
    const { joinedAt, orgId } = page.after;
    query = query.where((eb) => eb(eb.refTuple('members.created_at', 'members.organisation_id'), '>', eb.tuple(joinedAt, orgId)));
  }
  return query.orderBy('members.created_at').orderBy('members.organisation_id').limit(page.limit + 1);
}
