import { sql } from 'kysely';
import type { Executor } from '../../db/database.ts';
import { nothingToChange } from '../../db/changes.ts';
import type { PlatformRole, UserStatus } from '../../db/schema.ts';
import type { Credentials, User } from './types.ts';

const COLUMNS = ['id', 'email', 'username', 'first_name', 'last_name', 'phone', 'platform_role', 'status', 'email_verified_at', 'created_at'] as const;

interface UserRow {
  id: string;
  email: string | null;
  username: string | null;
  first_name: string;
  last_name: string;
  phone: string | null;
  platform_role: PlatformRole;
  status: UserStatus;
  email_verified_at: Date | null;
  created_at: Date;
}

/** The one mapping of a user row to the domain's user. */
export const toUser = (row: UserRow): User => ({
  id: row.id,
  email: row.email,
  username: row.username,
  firstName: row.first_name,
  lastName: row.last_name,
  phone: row.phone,
  platformRole: row.platform_role,
  status: row.status,
  emailVerifiedAt: row.email_verified_at,
  createdAt: row.created_at,
});

/** A new account's row, with the id its caller chose (the other rows of its statement name it). */
export interface NewAccount {
  id: string;
  email: string | null;
  username: string | null;
  firstName: string;
  lastName: string;
  phone: string | null;
  passwordHash: string;
  platformRole?: PlatformRole;
  emailVerifiedAt?: Date | null;
}

export interface UserChanges {
  firstName?: string;
  lastName?: string;
  phone?: string | null;
  username?: string | null;
  platformRole?: PlatformRole;
  status?: UserStatus;
}

export const usersRepo = {
  async insert(db: Executor, account: NewAccount): Promise<User> {
    return toUser(await usersRepo.insertion(db, account).executeTakeFirstOrThrow());
  },

  /** The insert of `insert`, unsent, for a repository statement that writes it with other rows. */
  insertion(db: Executor, account: NewAccount) {
    return db
      .insertInto('users')
      .values({
        id: account.id,
        email: account.email,
        username: account.username,
        first_name: account.firstName,
        last_name: account.lastName,
        phone: account.phone,
        password_hash: account.passwordHash,
        platform_role: account.platformRole,
        email_verified_at: account.emailVerifiedAt ?? null,
      })
      .returning(COLUMNS);
  },

  async findById(db: Executor, id: string): Promise<User | undefined> {
    const row = await db.selectFrom('users').select(COLUMNS).where('id', '=', id).executeTakeFirst();
    return row && toUser(row);
  },

  async findByUsername(db: Executor, username: string): Promise<User | undefined> {
    const row = await db.selectFrom('users').select(COLUMNS).where(sql`lower(username)`, '=', username.toLowerCase()).executeTakeFirst();
    return row && toUser(row);
  },

  /** Looks an account up by email or username, whatever the letter case, with its password hash. */
  async findCredentials(db: Executor, by: { email?: string; username?: string }): Promise<Credentials | undefined> {
    let query = db.selectFrom('users').select([...COLUMNS, 'password_hash']);
    query = by.email !== undefined ? query.where(sql`lower(email)`, '=', by.email.toLowerCase()) : query.where(sql`lower(username)`, '=', (by.username ?? '').toLowerCase());
    const row = await query.executeTakeFirst();
    return row && { ...toUser(row), passwordHash: row.password_hash };
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

  async update(db: Executor, id: string, changes: UserChanges): Promise<User | undefined> {
    const set = { first_name: changes.firstName, last_name: changes.lastName, phone: changes.phone, username: changes.username, platform_role: changes.platformRole, status: changes.status };
    if (nothingToChange(set)) return usersRepo.findById(db, id);
    const row = await db.updateTable('users').set(set).where('id', '=', id).returning(COLUMNS).executeTakeFirst();
    return row && toUser(row);
  },

  /** Makes concurrent transactions about one user take turns (read-then-write rules such as the mail cap). */
  async lock(db: Executor, id: string): Promise<void> {
    await db.selectFrom('users').select('id').where('id', '=', id).forUpdate().execute();
  },

  async setPasswordHash(db: Executor, id: string, passwordHash: string): Promise<void> {
    await db.updateTable('users').set({ password_hash: passwordHash }).where('id', '=', id).execute();
  },

  async findPasswordHash(db: Executor, id: string): Promise<string | undefined> {
    const row = await db.selectFrom('users').select('password_hash').where('id', '=', id).executeTakeFirst();
    return row?.password_hash;
  },

  /** Marks the email verified, as long as it is still the address the token was sent to. */
  async markEmailVerified(db: Executor, { id, email, at }: { id: string; email: string; at: Date }): Promise<boolean> {
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

  /** Deletes the account row; its memberships, sessions and tokens go with it (foreign keys). */
  async delete(db: Executor, id: string): Promise<void> {
    await db.deleteFrom('users').where('id', '=', id).execute();
  },
};
