import type { ExpressionBuilder } from 'kysely';
import type { Executor } from '../../db/database.ts';
import type { Database } from '../../db/schema.ts';

export type TokenPurpose = 'password_reset' | 'email_verification';

/** The token of that purpose, neither used, superseded nor expired. */
const isLive = (tokenHash: string, purpose: TokenPurpose, now: Date) => (eb: ExpressionBuilder<Database, 'one_time_tokens'>) =>
  eb.and([eb('token_hash', '=', tokenHash), eb('purpose', '=', purpose), eb('used_at', 'is', null), eb('revoked_at', 'is', null), eb('expires_at', '>', now)]);

/** A live token of a purpose, as of `now`. */
interface LiveToken {
  tokenHash: string;
  purpose: TokenPurpose;
  now: Date;
}

export interface NewOneTimeToken {
  userId: string;
  purpose: TokenPurpose;
  tokenHash: string;
  email: string | null;
  expiresAt: Date;
}

export const oneTimeTokensRepo = {
  async insert(db: Executor, token: NewOneTimeToken): Promise<void> {
    await oneTimeTokensRepo.insertion(db, token).execute();
  },

  /** The insert of `insert`, unsent (src/db/one-statement.ts). */
  insertion(db: Executor, token: NewOneTimeToken) {
    return db
      .insertInto('one_time_tokens')
      .values({ user_id: token.userId, purpose: token.purpose, token_hash: token.tokenHash, email: token.email, expires_at: token.expiresAt });
  },

  /** A newer token, or a password change, supersedes every older one of the purpose. */
  async revokeLive(db: Executor, { userId, purpose, now }: { userId: string; purpose: TokenPurpose; now: Date }): Promise<void> {
    await db
      .updateTable('one_time_tokens')
      .set({ revoked_at: now })
      .where('user_id', '=', userId)
      .where('purpose', '=', purpose)
      .where('used_at', 'is', null)
      .where('revoked_at', 'is', null)
      .execute();
  },

  async findLive(db: Executor, { tokenHash, purpose, now }: LiveToken): Promise<{ userId: string; email: string | null } | undefined> {
    const row = await db.selectFrom('one_time_tokens').select(['user_id', 'email']).where(isLive(tokenHash, purpose, now)).executeTakeFirst();
    return row && { userId: row.user_id, email: row.email };
  },

  /** Uses a live token in one statement: of any number of concurrent attempts, one gets the row. */
  async consume(db: Executor, { tokenHash, purpose, now }: LiveToken): Promise<{ userId: string; email: string | null } | undefined> {
    const row = await db.updateTable('one_time_tokens').set({ used_at: now }).where(isLive(tokenHash, purpose, now)).returning(['user_id', 'email']).executeTakeFirst();
    return row && { userId: row.user_id, email: row.email };
  },
};
