import { sql } from 'kysely';
import type { Executor } from '../../db/database.js';
import { nothingToChange } from '../../db/changes.js';
import type { NewUser } from '../../db/schema.js';

const PUBLIC_COLUMNS = ['id', 'email', 'username', 'first_name', 'last_name', 'phone', 'platform_role', 'status', 'email_verified_at', 'created_at'] as const;

export type UserProfile = Awaited<ReturnType<typeof usersRepo.findById>> & {};

export const usersRepo = {
  insert(db: Executor, user: NewUser) {
    return usersRepo.insertion(db, user).executeTakeFirstOrThrow();
  },

  /** The insert of `insert`, unsent (src/db/one-statement.ts). */
  insertion(db: Executor, user: NewUser) {
    return db.insertInto('users').values(user).returning(PUBLIC_COLUMNS);
  },

  findById(db: Executor, id: string) {
    return db.selectFrom('users').select(PUBLIC_COLUMNS).where('id', '=', id).executeTakeFirst();
  },

  findByUsername(db: Executor, username: string) {
    return db.selectFrom('users').select(PUBLIC_COLUMNS).where(sql`lower(username)`, '=', username.toLowerCase()).executeTakeFirst();
  },

  /** Looks an account up by email or username, whatever the letter case. */
  findCredentials(db: Executor, by: { email?: string; username?: string }) {
    let query = db.selectFrom('users').select([...PUBLIC_COLUMNS, 'password_hash']);
    query = by.email !== undefined ? query.where(sql`lower(email)`, '=', by.email.toLowerCase()) : query.where(sql`lower(username)`, '=', (by.username ?? '').toLowerCase());
    return query.executeTakeFirst();
  },

  async emailTaken(db: Executor, email: string): Promise<boolean> {
    const row = await db.selectFrom('users').select('id').where(sql`lower(email)`, '=', email.toLowerCase()).executeTakeFirst();
    return row !== undefined;
  },

  async usernameTaken(db: Executor, username: string, exceptUserId?: string): Promise<boolean> {
    let query = db.selectFrom('users').select('id').where(sql`lower(username)`, '=', username.toLowerCase());
    if (exceptUserId) query = query.where('id', '!=', exceptUserId);
    return (await query.executeTakeFirst()) !== undefined;
  },

  update(db: Executor, id: string, changes: { first_name?: string; last_name?: string; phone?: string | null; username?: string | null; platform_role?: 'user' | 'admin'; status?: 'active' | 'disabled' }) {
    if (nothingToChange(changes)) return usersRepo.findById(db, id);
    return db.updateTable('users').set(changes).where('id', '=', id).returning(PUBLIC_COLUMNS).executeTakeFirst();
  },

  /** Makes concurrent transactions about one user take turns (read-then-write rules such as the mail cap). */
  async lock(db: Executor, id: string): Promise<void> {
    await db.selectFrom('users').select('id').where('id', '=', id).forUpdate().execute();
  },

  setPasswordHash(db: Executor, id: string, passwordHash: string) {
    return db.updateTable('users').set({ password_hash: passwordHash }).where('id', '=', id).execute();
  },

  findPasswordHash(db: Executor, id: string) {
    return db.selectFrom('users').select(['password_hash', 'status']).where('id', '=', id).executeTakeFirst();
  },

  /** Marks the email verified, as long as it is still the address the token was sent to. */
  async markEmailVerified(db: Executor, id: string, email: string, at: Date): Promise<boolean> {
    const result = await db
      .updateTable('users')
      .set({ email_verified_at: at })
      .where('id', '=', id)
      .where(sql`lower(email)`, '=', email.toLowerCase())
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  },

  /** True when the two users share an organisation in which both are active members. */
  async shareAnOrganisation(db: Executor, a: string, b: string): Promise<boolean> {
    const row = await db
      .selectFrom('members as mine')
      .innerJoin('members as theirs', 'theirs.organisation_id', 'mine.organisation_id')
      .select('mine.organisation_id')
      .where('mine.user_id', '=', a)
      .where('theirs.user_id', '=', b)
      .where('mine.status', '=', 'active')
      .where('theirs.status', '=', 'active')
      .limit(1)
      .executeTakeFirst();
    return row !== undefined;
  },
};
