import { sql, type Expression, type SqlBool } from 'kysely';
import type { Executor } from '../../db/database.ts';
import { writeTogether, writeTogetherReturning } from '../../db/one-statement.ts';
import type { User } from '../accounts/types.ts';
import { refusedBy } from '../constraint-errors.ts';
import { toUser } from '../accounts/users.repo.ts';
import type { EventRows } from '../events/event-stream.ts';
import { eventWrites, mailWrite } from '../events/events.repo.ts';
import { hasSecondFactor } from '../mfa/mfa.repo.ts';
import type { SessionAuthentication } from '../principal.ts';
import type { SessionInfo } from './types.ts';

export interface NewSession {
  /** Chosen by the caller, so that the other rows of its statement can name it. */
  id: string;
  userId: string;
  userAgent: string | null;
  ip: string | null;
  expiresAt: Date;
  /** The active organisation its access tokens name, if any. */
  organisationId?: string | null;
  /** How it was authenticated (RFC 8176); a password only by default. */
  amr?: readonly string[];
  /** When its last strong check was: the sign-in. */
  authTime?: Date;
}


/** A session to open, with the hash of its first refresh token. */
export interface Opening {
  session: NewSession;
  refreshTokenHash: string;
}

/** A device is named by its user agent, as much of it as a session keeps. */
const deviceName = (userAgent: string | null) => userAgent?.slice(0, 512) ?? null;

/** True when the user already has a session from this device and address. */
function seenDevice(db: Executor, session: NewSession): Expression<SqlBool> {
  const seen = db
    .selectFrom('sessions')
    .select('id')
    .where('user_id', '=', session.userId)
    .where(sql<boolean>`user_agent is not distinct from ${deviceName(session.userAgent)}`)
    .where(sql<boolean>`ip is not distinct from ${session.ip}`);
  return sql<SqlBool>`exists (${seen})`;
}

/**
 * The live session `sessionId` of an active user – of `userId` when the caller names one (an access
 * token's subject): the rule every authenticated request passes. A query that needs more facts joins
 * onto it, so the check and the read are one statement.
 */
function live(db: Executor, { sessionId, userId, now }: { sessionId: string; userId: string | null; now: Date }) {
  let query = db.selectFrom('sessions').innerJoin('users', 'users.id', 'sessions.user_id').where('sessions.id', '=', sessionId);
  if (userId !== null) query = query.where('sessions.user_id', '=', userId);
  return query.where('sessions.revoked_at', 'is', null).where('sessions.expires_at', '>', now).where('users.status', '=', 'active');
}

/** The rule a sign-in's statement checks when it may open a session on the password alone. */
const SECOND_FACTOR_RULE = 'sessions_without_second_factor';

/** The session's row, inserted only while its user has no second factor; otherwise the statement fails by SECOND_FACTOR_RULE. */
function insertWithoutSecondFactor(db: Executor, row: Record<string, unknown>, userId: string) {
  const columns = Object.keys(row);
  const values = db
    .selectNoFrom(columns.map((column) => sql`${row[column]}`.as(column)))
    .where(sql<SqlBool>`gatehouse_check(not ${hasSecondFactor(db, sql.val(userId))}, ${SECOND_FACTOR_RULE})`);
  return db.insertInto('sessions').columns(columns as never).expression(values as never);
}

export const sessionsRepo = {
  live,

  /**
   * The writes that open a session with its first refresh token, for a statement that writes them
   * with other rows (src/db/one-statement.ts): the ids are the caller's, so the rows can name each other.
   */
  openingWrites(db: Executor, { session, refreshTokenHash }: Opening, { withoutSecondFactor = false } = {}) {
    const row = {
      id: session.id,
      user_id: session.userId,
      user_agent: deviceName(session.userAgent),
      ip: session.ip,
      expires_at: session.expiresAt,
      organisation_id: session.organisationId ?? null,
      amr: [...(session.amr ?? ['pwd'])],
      ...(session.authTime ? { auth_time: session.authTime } : {}),
    };
    return [
      withoutSecondFactor ? insertWithoutSecondFactor(db, row, session.userId) : db.insertInto('sessions').values(row),
      db.insertInto('refresh_tokens').values({ session_id: session.id, parent_id: null, token_hash: refreshTokenHash, expires_at: session.expiresAt }),
    ];
  },

  /**
   * A sign-in's rows in one statement: the session, its refresh token and the sign-in's event, whose
   * alert goes only where the user had no session from this device and address before (each part of
   * the statement sees the sessions as they were before it). Answers whether an alert was queued.
   * With `withoutSecondFactor`, the statement writes nothing and answers `opened: false` when the
   * account has a second factor by then: the check and the session are one statement, so a factor
   * confirmed while the password was being checked is not passed by.
   */
  async openForSignIn(db: Executor, opening: Opening, event: EventRows, options: { withoutSecondFactor?: boolean } = {}): Promise<{ opened: boolean; mailed: boolean }> {
    const writes = [...sessionsRepo.openingWrites(db, opening, options), ...eventWrites(db, [event])];
    const alert = mailWrite(db, event, event.mail?.newDeviceOnly ? sql<SqlBool>`not ${seenDevice(db, opening.session)}` : undefined);
    try {
      if (!alert) {
        await writeTogether(db, writes);
        return { opened: true, mailed: false };
      }
      return { opened: true, mailed: (await writeTogetherReturning(db, writes, alert)).length > 0 };
    } catch (error) {
      if (refusedBy(error, SECOND_FACTOR_RULE)) return { opened: false, mailed: false };
      throw error;
    }
  },

  async addRefreshToken(db: Executor, token: { sessionId: string; parentId: string | null; tokenHash: string; expiresAt: Date }): Promise<void> {
    await db.insertInto('refresh_tokens').values({ session_id: token.sessionId, parent_id: token.parentId, token_hash: token.tokenHash, expires_at: token.expiresAt }).execute();
  },

  /**
   * Spends a live refresh token in one statement, so that of any number of concurrent attempts
   * exactly one gets the row back.
   */
  async spendRefreshToken(db: Executor, tokenHash: string, now: Date): Promise<{ id: string; sessionId: string } | undefined> {
    const row = await db
      .updateTable('refresh_tokens')
      .set({ spent_at: now })
      .where('token_hash', '=', tokenHash)
      .where('spent_at', 'is', null)
      .where('expires_at', '>', now)
      .returning(['id', 'session_id'])
      .executeTakeFirst();
    return row && { id: row.id, sessionId: row.session_id };
  },

  async findRefreshToken(db: Executor, tokenHash: string): Promise<{ id: string; sessionId: string; spentAt: Date | null } | undefined> {
    const row = await db.selectFrom('refresh_tokens').select(['id', 'session_id', 'spent_at']).where('token_hash', '=', tokenHash).executeTakeFirst();
    return row && { id: row.id, sessionId: row.session_id, spentAt: row.spent_at };
  },

  /** A live session with its user: one query answers "who is calling" and "who are they". */
  async findLive(db: Executor, by: { sessionId: string; userId: string | null; now: Date }): Promise<{ sessionId: string; organisationId: string | null; user: User; authentication: SessionAuthentication } | undefined> {
    const row = await live(db, by)
      .select((eb) => [
        'sessions.id as session_id',
        'sessions.organisation_id as session_organisation_id',
        'sessions.amr',
        'sessions.auth_time',
        hasSecondFactor(db, eb.ref('users.id')).as('second_factor'),
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
    return (
      row && {
        sessionId: row.session_id,
        organisationId: row.session_organisation_id,
        user: toUser(row),
        authentication: { amr: row.amr, authTime: row.auth_time, secondFactor: Boolean(row.second_factor) },
      }
    );
  },

  /** Keeps a session going after a refresh, with the active organisation its new tokens name. */
  async extend(db: Executor, { sessionId, now, expiresAt, organisationId }: { sessionId: string; now: Date; expiresAt: Date; organisationId: string | null }): Promise<void> {
    await db.updateTable('sessions').set({ last_used_at: now, expires_at: expiresAt, organisation_id: organisationId }).where('id', '=', sessionId).execute();
  },

  /** A second factor was checked again in this session (a step-up, or enrolling one): its strong check is now. */
  async markStrongCheck(db: Executor, { sessionId, amr, now }: { sessionId: string; amr: readonly string[]; now: Date }): Promise<void> {
    await db.updateTable('sessions').set({ amr: [...amr], auth_time: now }).where('id', '=', sessionId).execute();
  },

  async revoke(db: Executor, { sessionId, now, reason }: { sessionId: string; now: Date; reason: string }): Promise<void> {
    await db.updateTable('sessions').set({ revoked_at: now, revoked_reason: reason }).where('id', '=', sessionId).where('revoked_at', 'is', null).executeTakeFirst();
  },

  /** Ends every live session of the user, but the one named in `except` (the caller's own); answers how many. */
  async revokeAllForUser(db: Executor, { userId, now, reason, except }: { userId: string; now: Date; reason: string; except?: string }): Promise<number> {
    let query = db.updateTable('sessions').set({ revoked_at: now, revoked_reason: reason }).where('user_id', '=', userId).where('revoked_at', 'is', null);
    if (except) query = query.where('id', '!=', except);
    const [result] = await query.execute();
    return Number(result?.numUpdatedRows ?? 0);
  },

  async listLive(db: Executor, userId: string, now: Date): Promise<SessionInfo[]> {
    const rows = await db
      .selectFrom('sessions')
      .select(['id', 'ip', 'user_agent', 'created_at', 'last_used_at', 'expires_at'])
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .where('expires_at', '>', now)
      .orderBy('created_at', 'desc')
      .limit(200)
      .execute();
    return rows.map((row) => ({ id: row.id, ip: row.ip, userAgent: row.user_agent, createdAt: row.created_at, lastUsedAt: row.last_used_at, expiresAt: row.expires_at }));
  },

  /** Ends one of the user's own sessions; false when they have no such live session. */
  async revokeOne(db: Executor, { userId, sessionId, now, reason }: { userId: string; sessionId: string; now: Date; reason: string }): Promise<boolean> {
    const result = await db
      .updateTable('sessions')
      .set({ revoked_at: now, revoked_reason: reason })
      .where('id', '=', sessionId)
      .where('user_id', '=', userId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  },
};
