import type { Executor } from '../../db/database.js';

export const sessionsRepo = {
  async create(db: Executor, session: { userId: string; userAgent: string | null; ip: string | null; expiresAt: Date }) {
    return db
      .insertInto('sessions')
      .values({ user_id: session.userId, user_agent: session.userAgent, ip: session.ip, expires_at: session.expiresAt })
      .returning(['id'])
      .executeTakeFirstOrThrow();
  },

  addRefreshToken(db: Executor, token: { sessionId: string; parentId: string | null; tokenHash: string; expiresAt: Date }) {
    return db
      .insertInto('refresh_tokens')
      .values({ session_id: token.sessionId, parent_id: token.parentId, token_hash: token.tokenHash, expires_at: token.expiresAt })
      .execute();
  },

  /**
   * Spends a live refresh token in one statement, so that of any number of concurrent attempts
   * exactly one gets the row back.
   */
  spendRefreshToken(db: Executor, tokenHash: string, now: Date) {
    return db
      .updateTable('refresh_tokens')
      .set({ spent_at: now })
      .where('token_hash', '=', tokenHash)
      .where('spent_at', 'is', null)
      .where('expires_at', '>', now)
      .returning(['id', 'session_id'])
      .executeTakeFirst();
  },

  findRefreshToken(db: Executor, tokenHash: string) {
    return db.selectFrom('refresh_tokens').select(['id', 'session_id', 'spent_at', 'expires_at']).where('token_hash', '=', tokenHash).executeTakeFirst();
  },

  /** The session with what is needed to decide whether its tokens still work. */
  findLive(db: Executor, sessionId: string, now: Date) {
    return db
      .selectFrom('sessions')
      .innerJoin('users', 'users.id', 'sessions.user_id')
      .select(['sessions.id', 'sessions.user_id', 'users.email', 'users.platform_role', 'users.status'])
      .where('sessions.id', '=', sessionId)
      .where('sessions.revoked_at', 'is', null)
      .where('sessions.expires_at', '>', now)
      .executeTakeFirst();
  },

  extend(db: Executor, sessionId: string, now: Date, expiresAt: Date) {
    return db.updateTable('sessions').set({ last_used_at: now, expires_at: expiresAt }).where('id', '=', sessionId).execute();
  },

  revoke(db: Executor, sessionId: string, now: Date, reason: string) {
    return db
      .updateTable('sessions')
      .set({ revoked_at: now, revoked_reason: reason })
      .where('id', '=', sessionId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
  },

  revokeAllForUser(db: Executor, userId: string, now: Date, reason: string) {
    return db
      .updateTable('sessions')
      .set({ revoked_at: now, revoked_reason: reason })
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .execute();
  },
};
