import { sql, type RawBuilder } from 'kysely';
import { nothingToChange } from '../../db/changes.js';
import type { Executor } from '../../db/database.js';
import { sessionsRepo } from '../sessions/sessions.repo.js';

const COLUMNS = ['id', 'name', 'description', 'personal', 'created_at'] as const;

export const organisationsRepo = {
  /** The insert of an organisation whose id the caller chose, unsent (src/db/one-statement.ts). */
  insertion(db: Executor, org: { id: string; name: string; description: string; personal: boolean; createdBy: string }) {
    return db
      .insertInto('organisations')
      .values({ id: org.id, name: org.name, description: org.description, personal: org.personal, created_by: org.createdBy })
      .returning(COLUMNS);
  },

  findById(db: Executor, id: string) {
    return db.selectFrom('organisations').select(COLUMNS).where('id', '=', id).executeTakeFirst();
  },

  update(db: Executor, id: string, changes: { name?: string; description?: string }) {
    if (nothingToChange(changes)) return organisationsRepo.findById(db, id);
    return db.updateTable('organisations').set(changes).where('id', '=', id).returning(COLUMNS).executeTakeFirst();
  },

  delete(db: Executor, id: string) {
    return db.deleteFrom('organisations').where('id', '=', id).executeTakeFirst();
  },

  /**
   * The organisations a user is an active member of, with their role, in the order they joined, joined
   * onto their live session: no row when the session is not live, one row of nulls when it is and the
   * list is empty.
   */
  listForSession(db: Executor, session: { sessionId: string; userId: string; now: Date }, page: ListPage) {
    return sessionsRepo
      .live(db, session.sessionId, session.userId, session.now)
      .leftJoinLateral(organisationsOf(db, sql.ref<string>('sessions.user_id'), page).as('listed'), (join) => join.onTrue())
      .select(['listed.id', 'listed.name', 'listed.description', 'listed.role', 'listed.joined_at'])
      .orderBy('listed.joined_at')
      .orderBy('listed.id')
      .execute();
  },
};

type ListPage = { limit: number; after?: { joinedAt: Date; orgId: string } };

/** One page of a user's active memberships with organisation and role, in the order they joined. */
function organisationsOf(db: Executor, userId: string | RawBuilder<string>, page: ListPage) {
  let query = db
    .selectFrom('members')
    .innerJoin('organisations', 'organisations.id', 'members.organisation_id')
    .innerJoin('roles', 'roles.id', 'members.role_id')
    .select(['organisations.id', 'organisations.name', 'organisations.description', 'roles.name as role', 'members.created_at as joined_at'])
    .where('members.user_id', '=', userId)
    .where('members.status', '=', 'active');
  if (page.after) {
    const { joinedAt, orgId } = page.after;
    query = query.where((eb) => eb(eb.refTuple('members.created_at', 'members.organisation_id'), '>', eb.tuple(joinedAt, orgId)));
  }
  return query.orderBy('members.created_at').orderBy('members.organisation_id').limit(page.limit + 1);
}
