// Everything a person does with the links Gatehouse mails: confirm an email address, reset a
// forgotten password; and changing a password while signed in. Each change records its event, which
// queues its mail, in one transaction; the mail leaves through the outbox.
import type { Db, Executor } from '../../db/database.ts';
import { addSeconds, type Clock } from '../clock.ts';
import { userActor } from '../events/catalogue.ts';
import type { EventStream } from '../events/event-stream.ts';
import { AppError, fieldError } from '../errors.ts';
import { EMAIL_VERIFICATION_TTL_SECONDS, PASSWORD_RESET_TTL_SECONDS } from '../lifetimes.ts';
import type { Policy } from '../policy/policy.ts';
import type { ClientInfo, Principal } from '../principal.ts';
import { hashOpaqueToken, newOpaqueToken } from '../sessions/opaque-tokens.ts';
import { sessionsRepo } from '../sessions/sessions.repo.ts';
import type { Throttles } from '../throttle/throttles.ts';
import { oneTimeTokensRepo, type TokenPurpose } from './one-time-tokens.repo.ts';
import type { PasswordPolicy } from './password-policy.ts';
import type { PasswordHasher } from './passwords.ts';
import type { User } from './types.ts';
import { usersRepo } from './users.repo.ts';

interface Deps {
  db: Db;
  clock: Clock;
  policy: Policy;
  events: EventStream;
  throttles: Throttles;
  passwordPolicy: PasswordPolicy;
  passwords: PasswordHasher;
}

/** What the password policy compares a new password with: the person's own details. */
const ownDetails = (user: User) => ({ email: user.email, firstName: user.firstName, lastName: user.lastName, username: user.username });

export const recoveryServiceFactory = ({ db, clock, policy, events, throttles, passwordPolicy, passwords }: Deps) => {
  /** Ends a user's sessions and reset links after a new password, and records the change, whose alert is mailed. */
  async function passwordReplaced(trx: Executor, input: { user: User; passwordHash: string; client: ClientInfo; type: 'user.password_reset' | 'user.password_changed'; keepSession?: string }) {
    const { user, client } = input;
    const now = clock.now();
    await usersRepo.setPasswordHash(trx, user.id, input.passwordHash);
    await oneTimeTokensRepo.revokeLive(trx, { userId: user.id, purpose: 'password_reset', now });
    await sessionsRepo.revokeAllForUser(trx, { userId: user.id, now, reason: input.type === 'user.password_reset' ? 'password_reset' : 'password_changed', except: input.keepSession });
    await events.record(trx, {
      type: input.type,
      actor: userActor(user.id),
      client,
      subject: { type: 'user', id: user.id },
      data: {},
      notify: user.email ? { kind: 'password_changed', to: user.email, name: user.firstName, at: now, ip: client.ip } : undefined,
    });
  }

  return {
    /** Whether a mailed link's token can still be used: the pages say so before offering a form. */
    async linkIsLive(token: string, purpose: TokenPurpose): Promise<boolean> {
      if (!token) return false;
      return (await oneTimeTokensRepo.findLive(db, { tokenHash: hashOpaqueToken(token), purpose, now: clock.now() })) !== undefined;
    },

    /** Mails the signed-in caller a new verification link (at most MAILS_PER_HOUR an hour; past it, nothing changes). */
    async resendVerification(principal: Principal): Promise<void> {
      const me = policy.signedIn(principal);
      await throttles.resendVerification(me.userId, me.client.ip);
      const user = await usersRepo.findById(db, me.userId);
      if (!user) throw new AppError('USER_NOT_FOUND');
      const email = user.email;
      if (!email) throw new AppError('NO_EMAIL');
      if (user.emailVerifiedAt) return;
      await db.transaction().execute(async (trx) => {
        // Requests for one user take turns, so that the cap counts every mail queued before this one.
        await usersRepo.lock(trx, user.id);
        const token = newOpaqueToken();
        const { recorded } = await events.record(trx, {
          type: 'user.verification_requested',
          actor: userActor(user.id),
          client: me.client,
          subject: { type: 'user', id: user.id },
          data: {},
          notify: { kind: 'email_verification', to: email, name: user.firstName, token },
        });
        if (!recorded) return;
        const now = clock.now();
        await oneTimeTokensRepo.revokeLive(trx, { userId: user.id, purpose: 'email_verification', now });
        await oneTimeTokensRepo.insert(trx, { userId: user.id, purpose: 'email_verification', tokenHash: hashOpaqueToken(token), email, expiresAt: addSeconds(now, EMAIL_VERIFICATION_TTL_SECONDS) });
      });
    },

    async verifyEmail(principal: Principal, token: string): Promise<void> {
      await throttles.linkRequest(principal.client.ip);
      const verified = await db.transaction().execute(async (trx) => {
        const now = clock.now();
        const used = await oneTimeTokensRepo.consume(trx, { tokenHash: hashOpaqueToken(token), purpose: 'email_verification', now });
        // A token for an address the user has since changed verifies nothing.
        if (!used?.email || !(await usersRepo.markEmailVerified(trx, { id: used.userId, email: used.email, at: now }))) return false;
        await events.record(trx, { type: 'user.email_verified', actor: userActor(used.userId), client: principal.client, subject: { type: 'user', id: used.userId }, data: {} });
        return true;
      });
      if (!verified) throw new AppError('INVALID_LINK_TOKEN');
    },

    /**
     * Admits the request (or refuses it, 429, when the address asked too often), then mails a reset
     * link in the background when the email belongs to an active account. The caller answers at
     * once and the same either way, so that neither the answer nor its timing tells whether the
     * account exists. A failure of the background work goes to `onError`.
     */
    async forgotPassword(principal: Principal, { onError, ...input }: { email: string; username?: string; onError: (error: unknown) => void }): Promise<void> {
      await throttles.linkRequest(principal.client.ip);
      this.requestPasswordReset(principal, input).catch(onError);
    },

    async requestPasswordReset(principal: Principal, input: { email: string; username?: string }): Promise<void> {
      const user = await usersRepo.findCredentials(db, { email: input.email });
      const email = user?.email;
      if (!user || !email || user.status !== 'active') return;
      // The `user-api` set names both: they must be the same account's.
      if (input.username !== undefined && user.username?.toLowerCase() !== input.username.toLowerCase()) return;
      await db.transaction().execute(async (trx) => {
        await usersRepo.lock(trx, user.id);
        const now = clock.now();
        const token = newOpaqueToken();
        const { recorded } = await events.record(trx, {
          type: 'user.password_reset_requested',
          actor: userActor(user.id),
          client: principal.client,
          subject: { type: 'user', id: user.id },
          data: {},
          notify: { kind: 'password_reset', to: email, name: user.firstName, token },
        });
        if (!recorded) return;
        await oneTimeTokensRepo.revokeLive(trx, { userId: user.id, purpose: 'password_reset', now });
        await oneTimeTokensRepo.insert(trx, { userId: user.id, purpose: 'password_reset', tokenHash: hashOpaqueToken(token), email, expiresAt: addSeconds(now, PASSWORD_RESET_TTL_SECONDS) });
      });
    },

    /** Single use; ends every session of the user and mails the "password changed" alert. */
    async resetPassword(principal: Principal, input: { token: string; password: string }): Promise<void> {
      await throttles.linkRequest(principal.client.ip);
      const tokenHash = hashOpaqueToken(input.token);
      // Look before hashing, so a bogus token costs no argon2 work; the consume below decides.
      const live = await oneTimeTokensRepo.findLive(db, { tokenHash, purpose: 'password_reset', now: clock.now() });
      const owner = live ? await usersRepo.findById(db, live.userId) : undefined;
      if (!owner) throw new AppError('INVALID_LINK_TOKEN');
      await passwordPolicy.check(input.password, ownDetails(owner));
      const passwordHash = await passwords.hash(input.password);
      const userId = await db.transaction().execute(async (trx) => {
        const used = await oneTimeTokensRepo.consume(trx, { tokenHash, purpose: 'password_reset', now: clock.now() });
        if (!used) return null;
        const user = await usersRepo.findById(trx, used.userId);
        if (!user || user.status !== 'active') return null;
        await passwordReplaced(trx, { user, passwordHash, client: principal.client, type: 'user.password_reset' });
        return user.id;
      });
      if (!userId) throw new AppError('INVALID_LINK_TOKEN');
      await throttles.passwordReplaced(userId);
    },

    /** Ends the caller's other sessions, supersedes reset links and mails the alert. */
    async changePassword(principal: Principal, input: { currentPassword: string; newPassword: string }): Promise<void> {
      // Step-up: a stolen session of an account with a second factor must not lock its owner out.
      const me = policy.recentlyVerified(principal);
      // A stolen access token must not become a way to guess the password: counted like a sign-in.
      await throttles.signIn(me.userId, me.client.ip);
      const stored = await usersRepo.findPasswordHash(db, me.userId);
      if (!stored || !(await passwords.verify(stored, input.currentPassword))) throw fieldError('currentPassword', 'Current password is incorrect');
      await throttles.signedIn(me.userId, me.client.ip);
      await passwordPolicy.check(input.newPassword, ownDetails(me.user), 'newPassword');
      const passwordHash = await passwords.hash(input.newPassword);
      await db.transaction().execute(async (trx) => {
        const user = await usersRepo.findById(trx, me.userId);
        if (!user) throw new AppError('USER_NOT_FOUND');
        await passwordReplaced(trx, { user, passwordHash, client: me.client, type: 'user.password_changed', keepSession: me.sessionId });
      });
    },
  };
};

export type RecoveryService = ReturnType<typeof recoveryServiceFactory>;
