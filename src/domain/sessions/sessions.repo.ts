import { sql, type Expression, type SqlBool } from 'kysely';
import type { Executor } from '../../db/database.js';

export interface NewSession {
  /** Chosen by the caller, so that the other rows of its statement can name it. */
  id: string;
  userId: string;
  userAgent: string | null;
  ip: string | null;
  expiresAt: Date;
}

/** A device is named by its user agent, as much of it as a session keeps. */
const deviceName = (userAgent: string | null) => userAgent?.slice(0, 512) ?? null;

export const sessionsRepo = {
  /** The insert of a session, unsent (src/db/one-statement.ts): its id is the caller's, so the other rows can name it. */
  insertion(db: Executor, session: NewSession) {
    return db.insertInto('sessions').values({ id: session.id, user_id: session.userId, user_agent: deviceName(session.userAgent), ip: session.ip, expires_at: session.expiresAt });
  },

  /** The insert of a session's first refresh token, unsent. */
  firstRefreshTokenInsertion(db: Executor, session: NewSession, tokenHash: string) {
    return db.insertInto('refresh_tokens').values({ session_id: session.id, parent_id: null, token_hash: tokenHash, expires_at: session.expiresAt });
  },

  /** True when the user already has a session from this device and address. */
  seenDevice(db: Executor, session: NewSession): Expression<SqlBool> {
    const seen = db
      .selectFrom('sessions')
      .select('id')
      .where('user_id', '=', session.userId)
      .where(sql<boolean>`user_agent is not distinct from ${deviceName(session.userAgent)}`)
      .where(sql<boolean>`ip is not distinct from ${session.ip}`);
    return sql<SqlBool>`exists (${seen})`;
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

  /**
   * The live session `sessionId` of an active user – of `userId` when the caller names one (an access
   * token's subject): the rule every authenticated request passes. A query that needs more facts joins
   * onto it, so the check and the read are one statement.
   */
  live(db: Executor, sessionId: string, userId: string | null, now: Date) {
    let query = db.selectFrom('sessions').innerJoin('users', 'users.id', 'sessions.user_id').where('sessions.id', '=', sessionId);
    if (userId !== null) query = query.where('sessions.user_id', '=', userId);
    return query
      .where('sessions.revoked_at', 'is', null)
      .where('sessions.expires_at', '>', now)
      .where('users.status', '=', 'active');
  },

  /** A live session with its user's profile: one query answers "who is calling" and "who are they". */
  findLive(db: Executor, sessionId: string, userId: string | null, now: Date) {
    return sessionsRepo
      .live(db, sessionId, userId, now)
      .select([
        'sessions.id as session_id',
        'users.id',
        'users.email',
        'users.username',
        'users.first_name',
        'users.last_name',
        'users.phone',
        'users.platform_role',
        'users.status',
        'users.email_verified_at',
        'users.created_at',
      ])
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

  /** Ends every live session of the user, but the one named in `except` (the caller's own). */
  revokeAllForUser(db: Executor, userId: string, now: Date, reason: string, except?: string) {
    let query = db.updateTable('sessions').set({ revoked_at: now, revoked_reason: reason }).where('user_id', '=', userId).where('revoked_at', 'is', null);
    if (except) query = query.where('id', '!=', except);
    return query.execute();
  },

  listLive(db: Executor, userId: string, now: Date) {
    return db
      .selectFrom('sessions')
      .select(['id', 'ip', 'user_agent', 'created_at', 'last_used_at', 'expires_at'])
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', now)
      .orderBy('created_at', 'desc')
      .limit(200)
      .execute();
  },

  revokeOne(db: Executor, userId: string, sessionId: string, now: Date, reason: string) {
    return db
      .updateTable('sessions')
      .set({ revoked_at: now, revoked_reason: reason })
      .where('id', '=', sessionId)
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
  },
};
