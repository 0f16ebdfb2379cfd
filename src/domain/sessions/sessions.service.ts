// Sessions: one per sign-in. A session holds a chain of refresh tokens (each rotation spends one and
// issues its successor); presenting a spent token again means it was stolen or replayed, so the whole
// session is revoked. Access tokens name their session (sid), and a request is only served while that
// session is live, so ending a session stops its access tokens from the next request on.
import { randomUUID } from 'node:crypto';
import type { UserProfile } from '../accounts/users.repo.js';
import type { Db } from '../../db/database.js';
import type { Write } from '../../db/one-statement.js';
import type { PlatformRole } from '../../db/schema.js';
import { addSeconds, type Clock } from '../clock.js';
import { AppError } from '../errors.js';
import type { AccessTokens } from './access-tokens.js';
import { hashOpaqueToken, newOpaqueToken } from './opaque-tokens.js';
import { sessionsRepo, type NewSession } from './sessions.repo.js';

export interface ClientInfo {
  ip: string | null;
  userAgent: string | null;
}

export interface AuthContext {
  userId: string;
  sessionId: string;
  email: string | null;
  platformRole: PlatformRole;
  /** The caller's profile as it stood when this request was authenticated. */
  profile: UserProfile;
}

/**
 * The holder of an access token whose signature and lifetime were checked, but not yet its session:
 * for a read that checks the session in its own statement (SessionBound routes in src/http/auth.ts).
 */
export interface TokenHolder {
  userId: string;
  sessionId: string;
}

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

interface Deps {
  db: Db;
  clock: Clock;
  accessTokens: AccessTokens;
  refreshTtlSeconds: number;
}

export const sessionsServiceFactory = ({ db, clock, accessTokens, refreshTtlSeconds }: Deps) => ({
  /**
   * The writes that open a session with its first refresh token, for the caller to send in one
   * statement with the other rows of its sign-in or registration (src/db/one-statement.ts). Sign the
   * access token once they are committed.
   */
  opening(userId: string, client: ClientInfo): { session: NewSession; refreshToken: string; writes: Write[] } {
    const session: NewSession = { id: randomUUID(), userId, userAgent: client.userAgent, ip: client.ip, expiresAt: addSeconds(clock.now(), refreshTtlSeconds) };
    const refreshToken = newOpaqueToken();
    return { session, refreshToken, writes: [sessionsRepo.insertion(db, session), sessionsRepo.firstRefreshTokenInsertion(db, session, hashOpaqueToken(refreshToken))] };
  },

  async accessTokenFor(user: { id: string; email: string | null }, sessionId: string): Promise<{ token: string; expiresIn: number }> {
    return accessTokens.issue({ userId: user.id, email: user.email, sessionId });
  },

  async refresh(refreshToken: string): Promise<TokenPair> {
    const tokenHash = hashOpaqueToken(refreshToken);
    const outcome = await db.transaction().execute(async (trx) => {
      const now = clock.now();
      const spent = await sessionsRepo.spendRefreshToken(trx, tokenHash, now);
      if (!spent) {
        const known = await sessionsRepo.findRefreshToken(trx, tokenHash);
        // Reuse of a spent token: whoever holds the chain now cannot be told from a thief.
        if (known?.spent_at) await sessionsRepo.revoke(trx, known.session_id, now, 'refresh_token_reuse');
        return null;
      }
      const session = await sessionsRepo.findLive(trx, spent.session_id, null, now);
      if (!session) return null;
      const next = newOpaqueToken();
      const expiresAt = addSeconds(now, refreshTtlSeconds);
      await sessionsRepo.addRefreshToken(trx, { sessionId: session.session_id, parentId: spent.id, tokenHash: hashOpaqueToken(next), expiresAt });
      await sessionsRepo.extend(trx, session.session_id, now, expiresAt);
      return { session, refreshToken: next };
    });
    if (!outcome) throw new AppError('INVALID_REFRESH_TOKEN');
    const access = await accessTokens.issue({ userId: outcome.session.id, email: outcome.session.email, sessionId: outcome.session.session_id });
    return { accessToken: access.token, refreshToken: outcome.refreshToken, expiresIn: access.expiresIn };
  },

  /** Ends the session of a refresh token, or the caller's own session. */
  async logout(input: { refreshToken?: string; sessionId?: string }): Promise<void> {
    let sessionId = input.sessionId;
    if (input.refreshToken) {
      const token = await sessionsRepo.findRefreshToken(db, hashOpaqueToken(input.refreshToken));
      if (!token || (sessionId && token.session_id !== sessionId)) throw new AppError('INVALID_REFRESH_TOKEN');
      sessionId = token.session_id;
    }
    if (!sessionId) throw new AppError('AUTHENTICATION_REQUIRED');
    await sessionsRepo.revoke(db, sessionId, clock.now(), 'logout');
  },

  async list(auth: AuthContext) {
    const rows = await sessionsRepo.listLive(db, auth.userId, clock.now());
    return rows.map((row) => ({ ...row, current: row.id === auth.sessionId }));
  },

  /** Ends one of the caller's own sessions; anyone else's is not found. */
  async end(auth: AuthContext, sessionId: string): Promise<void> {
    const result = await sessionsRepo.revokeOne(db, auth.userId, sessionId, clock.now(), 'ended_by_user');
    if (Number(result.numUpdatedRows) === 0) throw new AppError('NOT_FOUND', 'Session not found');
  },

  /** Signs the caller out everywhere else. */
  async endOthers(auth: AuthContext): Promise<number> {
    const [result] = await sessionsRepo.revokeAllForUser(db, auth.userId, clock.now(), 'ended_by_user', auth.sessionId);
    return Number(result?.numUpdatedRows ?? 0);
  },

  /** The caller behind an access token, as long as the token is valid and its session live. */
  async holderOf(accessToken: string): Promise<TokenHolder> {
    const claims = await accessTokens.verify(accessToken);
    return { userId: claims.sub, sessionId: claims.sid };
  },

  async authenticate(accessToken: string): Promise<AuthContext> {
    const claims = await accessTokens.verify(accessToken);
    const live = await sessionsRepo.findLive(db, claims.sid, claims.sub, clock.now());
    if (!live) throw new AppError('INVALID_TOKEN');
    const { session_id: sessionId, ...profile } = live;
    return { userId: profile.id, sessionId, email: profile.email, platformRole: profile.platform_role, profile };
  },
});

export type SessionsService = ReturnType<typeof sessionsServiceFactory>;
