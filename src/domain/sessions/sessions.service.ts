// Sessions: one per sign-in. A session holds a chain of refresh tokens (each rotation spends one and
// issues its successor); presenting a spent token again means it was stolen or replayed, so the whole
// session is revoked. Access tokens name their session (sid), and a request is only served while that
// session is live, so ending a session stops its access tokens from the next request on.
import { randomUUID } from 'node:crypto';
import type { Db, Executor } from '../../db/database.ts';
import { addSeconds, type Clock } from '../clock.ts';
import { AppError } from '../errors.ts';
import { isUuid } from '../ids.ts';
import type { Policy } from '../policy/policy.ts';
import { userPrincipal, type ClientInfo, type Principal, type TokenPrincipal, type UserPrincipal } from '../principal.ts';
import { membersRepo } from '../organisations/members.repo.ts';
import { isClientToken, type AccessTokens, type ActiveOrganisation, type UserClaims } from './access-tokens.ts';
import { API_KEY_PREFIX } from '../credentials/types.ts';
import { hashOpaqueToken, newOpaqueToken } from './opaque-tokens.ts';
import { sessionsRepo, type Opening } from './sessions.repo.ts';
import type { SessionInfo } from './types.ts';

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

interface Deps {
  db: Db;
  clock: Clock;
  policy: Policy;
  accessTokens: AccessTokens;
  refreshTtlSeconds: number;
}

/**
 * The active organisation a session's tokens name: the user's active membership of it, with the role
 * they hold today. Undefined when they are not (or no longer) an active member.
 */
async function activeOrganisation(db: Executor, organisationId: string, userId: string): Promise<ActiveOrganisation | undefined> {
  if (!isUuid(organisationId)) return undefined;
  const membership = await membersRepo.findActiveMembership(db, organisationId, userId);
  return membership && { id: organisationId, role: membership.role.name, permissions: membership.role.permissions };
}

export const sessionsServiceFactory = ({ db, clock, policy, accessTokens, refreshTtlSeconds }: Deps) => {
  const service = {
    /**
     * The organisation a sign-in asks to act in: the user must be an active member of it, or it is not
     * found (whether it exists or not). Null or absent: none.
     */
    async chosenOrganisation(userId: string, organisationId: string | null | undefined): Promise<ActiveOrganisation | null> {
      if (organisationId === undefined || organisationId === null) return null;
      const active = await activeOrganisation(db, organisationId, userId);
      if (!active) throw new AppError('ORGANISATION_NOT_FOUND');
      return active;
    },

    /**
     * A session to open for a user and its first refresh token, as data: the sign-in or registration
     * writes it in its one statement. Sign the access token once that statement has committed.
     */
    opening(userId: string, client: ClientInfo, organisationId: string | null = null, amr: readonly string[] = ['pwd']): Opening & { refreshToken: string; session: { amr: readonly string[]; authTime: Date } } {
      const refreshToken = newOpaqueToken();
      const now = clock.now();
      const session = { id: randomUUID(), userId, userAgent: client.userAgent, ip: client.ip, expiresAt: addSeconds(now, refreshTtlSeconds), organisationId, amr, authTime: now };
      return { session, refreshToken, refreshTokenHash: hashOpaqueToken(refreshToken) };
    },

    async accessTokenFor(
      user: { id: string; email: string | null },
      sessionId: string,
      organisation: ActiveOrganisation | null,
      authentication: { amr: readonly string[]; authTime: Date },
    ): Promise<{ token: string; expiresIn: number }> {
      return accessTokens.issue({ userId: user.id, email: user.email, sessionId, organisation, authentication });
    },

    /**
     * Spends a refresh token for a new pair; anyone holding one may (the token is the credential).
     * `organisationId` chooses the active organisation (null: none; absent: the session's). The session's
     * one is kept while its membership lasts, with the role of the day: a member removed or suspended
     * gets tokens without it (the session forgets it), a demoted one the new role. Choosing one the user
     * is not an active member of is not found, and spends nothing.
     */
    async refresh(_principal: Principal, refreshToken: string, organisationId?: string | null): Promise<TokenPair> {
      const tokenHash = hashOpaqueToken(refreshToken);
      const outcome = await db.transaction().execute(async (trx) => {
        const now = clock.now();
        const spent = await sessionsRepo.spendRefreshToken(trx, tokenHash, now);
        if (!spent) {
          const known = await sessionsRepo.findRefreshToken(trx, tokenHash);
          // Reuse of a spent token: whoever holds the chain now cannot be told from a thief.
          if (known?.spentAt) await sessionsRepo.revoke(trx, { sessionId: known.sessionId, now, reason: 'refresh_token_reuse' });
          return null;
        }
        const live = await sessionsRepo.findLive(trx, { sessionId: spent.sessionId, userId: null, now });
        if (!live) return null;
        // A session that never passed the second factor its account has now (one opened before the
        // factor was added, on a node that had not yet ended it) does not get new tokens: it ends.
        const { amr, secondFactor } = live.authentication;
        if (secondFactor && !amr.includes('mfa')) {
          await sessionsRepo.revoke(trx, { sessionId: live.sessionId, now, reason: 'second_factor_required' });
          return null;
        }
        const wanted = organisationId === undefined ? live.organisationId : organisationId;
        const organisation = wanted === null ? undefined : await activeOrganisation(trx, wanted, live.user.id);
        // Thrown inside the transaction: the refresh token stays unspent.
        if (organisationId && !organisation) throw new AppError('ORGANISATION_NOT_FOUND');
        const next = newOpaqueToken();
        const expiresAt = addSeconds(now, refreshTtlSeconds);
        await sessionsRepo.addRefreshToken(trx, { sessionId: live.sessionId, parentId: spent.id, tokenHash: hashOpaqueToken(next), expiresAt });
        await sessionsRepo.extend(trx, { sessionId: live.sessionId, now, expiresAt, organisationId: organisation?.id ?? null });
        return { live, organisation: organisation ?? null, refreshToken: next };
      });
      if (!outcome) throw new AppError('INVALID_REFRESH_TOKEN');
      const access = await accessTokens.issue({
        userId: outcome.live.user.id,
        email: outcome.live.user.email,
        sessionId: outcome.live.sessionId,
        organisation: outcome.organisation,
        authentication: outcome.live.authentication,
      });
      return { accessToken: access.token, refreshToken: outcome.refreshToken, expiresIn: access.expiresIn };
    },

    /**
     * A new access token for the caller's own session after its last strong check moved (a step-up):
     * the session's active organisation as the membership stands today, the session's `amr` and `auth_time`.
     */
    async reissue(principal: UserPrincipal): Promise<{ token: string; expiresIn: number }> {
      const live = await sessionsRepo.findLive(db, { sessionId: principal.sessionId, userId: principal.userId, now: clock.now() });
      if (!live) throw new AppError('INVALID_TOKEN');
      const organisation = live.organisationId === null ? null : ((await activeOrganisation(db, live.organisationId, live.user.id)) ?? null);
      return accessTokens.issue({ userId: live.user.id, email: live.user.email, sessionId: live.sessionId, organisation, authentication: live.authentication });
    },

    /** Ends the session of a refresh token, or the signed-in caller's own session. */
    async logout(principal: Principal, input: { refreshToken?: string }): Promise<void> {
      let sessionId = principal.kind === 'user' ? principal.sessionId : undefined;
      if (input.refreshToken) {
        const token = await sessionsRepo.findRefreshToken(db, hashOpaqueToken(input.refreshToken));
        if (!token || (sessionId && token.sessionId !== sessionId)) throw new AppError('INVALID_REFRESH_TOKEN');
        sessionId = token.sessionId;
      }
      if (!sessionId) throw new AppError('AUTHENTICATION_REQUIRED');
      await sessionsRepo.revoke(db, { sessionId, now: clock.now(), reason: 'logout' });
    },

    async list(principal: Principal): Promise<Array<SessionInfo & { current: boolean }>> {
      const user = policy.signedIn(principal);
      const sessions = await sessionsRepo.listLive(db, user.userId, clock.now());
      return sessions.map((session) => ({ ...session, current: session.id === user.sessionId }));
    },

    /** Ends one of the caller's own sessions; anyone else's is not found. */
    async end(principal: Principal, sessionId: string): Promise<void> {
      const user = policy.signedIn(principal);
      if (!isUuid(sessionId) || !(await sessionsRepo.revokeOne(db, { userId: user.userId, sessionId, now: clock.now(), reason: 'ended_by_user' }))) throw new AppError('SESSION_NOT_FOUND');
    },

    /** Signs the caller out everywhere else. */
    async endOthers(principal: Principal): Promise<number> {
      const user = policy.signedIn(principal);
      return sessionsRepo.revokeAllForUser(db, { userId: user.userId, now: clock.now(), reason: 'ended_by_user', except: user.sessionId });
    },

    /** The holder of a valid access token, whose session the caller's own statement will check. */
    async tokenHolder(accessToken: string, client: ClientInfo): Promise<TokenPrincipal> {
      if (accessToken.startsWith(API_KEY_PREFIX)) throw new AppError('CREDENTIAL_NOT_ACCEPTED');
      const claims = await accessTokens.verify(accessToken);
      if (isClientToken(claims)) throw new AppError('CREDENTIAL_NOT_ACCEPTED');
      return { kind: 'token', userId: claims.sub, sessionId: claims.sid, client };
    },

    /** The person behind an access token, as long as the token is valid and its session live. */
    async authenticate(accessToken: string, client: ClientInfo): Promise<UserPrincipal> {
      const claims = await accessTokens.verify(accessToken);
      if (isClientToken(claims)) throw new AppError('CREDENTIAL_NOT_ACCEPTED');
      return service.authenticateClaims(claims, client);
    },

    /** The person behind a person's access token whose signature and lifetime were checked, while its session is live. */
    async authenticateClaims(claims: UserClaims, client: ClientInfo): Promise<UserPrincipal> {
      const live = await sessionsRepo.findLive(db, { sessionId: claims.sid, userId: claims.sub, now: clock.now() });
      if (!live) throw new AppError('INVALID_TOKEN');
      return userPrincipal({ user: live.user, sessionId: live.sessionId, client, authentication: live.authentication });
    },
  };
  return service;
};

export type SessionsService = ReturnType<typeof sessionsServiceFactory>;
