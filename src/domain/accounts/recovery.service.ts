// Everything a person does with the links Gatehouse mails: confirm an email address, reset a
// forgotten password; and changing a password while signed in. Each change and its mail are written
// in one transaction; the mail leaves through the outbox.
import type { Db, Executor } from '../../db/database.js';
import type { Write } from '../../db/one-statement.js';
import { auditRepo } from '../audit/audit.repo.js';
import { addSeconds, type Clock } from '../clock.js';
import { AppError, fieldError } from '../errors.js';
import { messages } from '../mail/messages.js';
import { outboxRepo, type OutgoingMail } from '../mail/outbox.repo.js';
import { hashOpaqueToken, newOpaqueToken } from '../sessions/opaque-tokens.js';
import { sessionsRepo } from '../sessions/sessions.repo.js';
import type { AuthContext, ClientInfo } from '../sessions/sessions.service.js';
import { oneTimeTokensRepo } from './one-time-tokens.repo.js';
import { hashPassword, verifyPassword } from './passwords.js';
import { usersRepo } from './users.repo.js';
import type { Throttles } from '../throttle/throttles.js';
import type { PasswordPolicy } from './password-policy.js';

const RESET_TTL_SECONDS = 30 * 60;
const VERIFICATION_TTL_SECONDS = 24 * 3600;
/** Mails of one kind a person can cause in an hour; past it the answer stays the same and no mail goes. */
export const MAILS_PER_HOUR = 3;

interface Deps {
  db: Db;
  clock: Clock;
  publicUrl: string;
  throttles: Throttles;
  passwordPolicy: PasswordPolicy;
  /** Tells the outbox worker that mail is waiting, once the transaction has committed. */
  mailQueued: () => void;
}

export const recoveryServiceFactory = ({ db, clock, publicUrl, throttles, passwordPolicy, mailQueued }: Deps) => {
  /** Queues a mail unless the person already had MAILS_PER_HOUR of its kind this hour. */
  async function queueCapped(trx: Executor, mail: OutgoingMail): Promise<boolean> {
    const recent = await outboxRepo.countRecent(trx, mail.recipient, mail.kind, addSeconds(clock.now(), -3600));
    if (recent >= MAILS_PER_HOUR) return false;
    await outboxRepo.enqueue(trx, mail);
    return true;
  }

  const link = (path: string, token: string) => `${publicUrl}${path}?token=${encodeURIComponent(token)}`;

  /** A new verification link for the user's email: the row of its token and the mail that carries it. */
  function newVerification(user: { id: string; email: string; first_name: string }) {
    const token = newOpaqueToken();
    return {
      token: { userId: user.id, purpose: 'email_verification' as const, tokenHash: hashOpaqueToken(token), email: user.email, expiresAt: addSeconds(clock.now(), VERIFICATION_TTL_SECONDS) },
      mail: messages.verification(user.email, user.first_name, link('/verify-email', token)),
    };
  }

  return {
    /** Whether a mailed link's token can still be used: the pages say so before offering a form. */
    async linkIsLive(token: string, purpose: 'password_reset' | 'email_verification'): Promise<boolean> {
      if (!token) return false;
      return (await oneTimeTokensRepo.findLive(db, hashOpaqueToken(token), purpose, clock.now())) !== undefined;
    },

    /** Issues a verification link for the user's email, inside the caller's transaction. */
    async issueVerification(trx: Executor, user: { id: string; email: string; first_name: string }): Promise<boolean> {
      // Requests for one user take turns, so that the cap counts every mail queued before this one.
      await usersRepo.lock(trx, user.id);
      const { token, mail } = newVerification(user);
      if (!(await queueCapped(trx, mail))) return false;
      await oneTimeTokensRepo.revokeLive(trx, user.id, 'email_verification', clock.now());
      await oneTimeTokensRepo.insert(trx, token);
      return true;
    },

    /**
     * The writes that mail a new account its first verification link, for the statement that creates
     * the account (src/db/one-statement.ts): the account is new, so no older link is live, but the
     * address may have had mails under an account since deleted, so the hourly cap still holds.
     */
    firstVerification(user: { id: string; email: string; first_name: string }): Write[] {
      const { token, mail } = newVerification(user);
      return [oneTimeTokensRepo.insertion(db, token), outboxRepo.insertion(db, mail, outboxRepo.underCap(db, mail.recipient, mail.kind, addSeconds(clock.now(), -3600), MAILS_PER_HOUR))];
    },

    async resendVerification(auth: AuthContext, client: ClientInfo): Promise<void> {
      await throttles.resendVerification(auth.userId, client.ip);
      const user = await usersRepo.findById(db, auth.userId);
      if (!user) throw new AppError('USER_NOT_FOUND');
      if (!user.email) throw new AppError('NO_EMAIL');
      if (user.email_verified_at) return;
      const email = user.email;
      const queued = await db.transaction().execute((trx) => this.issueVerification(trx, { ...user, email }));
      if (queued) mailQueued();
    },

    async verifyEmail(token: string, client: ClientInfo): Promise<void> {
      await throttles.linkRequest(client.ip);
      const verified = await db.transaction().execute(async (trx) => {
        const now = clock.now();
        const used = await oneTimeTokensRepo.consume(trx, hashOpaqueToken(token), 'email_verification', now);
        // A token for an address the user has since changed verifies nothing.
        if (!used?.email || !(await usersRepo.markEmailVerified(trx, used.user_id, used.email, now))) return false;
        await auditRepo.record(trx, { actorUserId: used.user_id, action: 'user.email_verified', targetType: 'user', targetId: used.user_id, ...client });
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
    async forgotPassword(email: string, client: ClientInfo, onError: (error: unknown) => void, username?: string): Promise<void> {
      await throttles.linkRequest(client.ip);
      this.requestPasswordReset(email, client, username).catch(onError);
    },

    async requestPasswordReset(email: string, client: ClientInfo, username?: string): Promise<void> {
      const user = await usersRepo.findCredentials(db, { email });
      if (!user?.email || user.status !== 'active') return;
      // The `user-api` set names both: they must be the same account's.
      if (username !== undefined && user.username?.toLowerCase() !== username.toLowerCase()) return;
      const userEmail = user.email;
      const queued = await db.transaction().execute(async (trx) => {
        await usersRepo.lock(trx, user.id);
        const now = clock.now();
        const token = newOpaqueToken();
        if (!(await queueCapped(trx, messages.passwordReset(userEmail, user.first_name, link('/reset-password', token))))) return false;
        await oneTimeTokensRepo.revokeLive(trx, user.id, 'password_reset', now);
        await oneTimeTokensRepo.insert(trx, { userId: user.id, purpose: 'password_reset', tokenHash: hashOpaqueToken(token), email: userEmail, expiresAt: addSeconds(now, RESET_TTL_SECONDS) });
        await auditRepo.record(trx, { actorUserId: user.id, action: 'user.password_reset_requested', targetType: 'user', targetId: user.id, ...client });
        return true;
      });
      if (queued) mailQueued();
    },

    /** Single use; ends every session of the user and mails the "password changed" alert. */
    async resetPassword(token: string, password: string, client: ClientInfo): Promise<void> {
      await throttles.linkRequest(client.ip);
      const tokenHash = hashOpaqueToken(token);
      // Look before hashing, so a bogus token costs no argon2 work; the consume below decides.
      const live = await oneTimeTokensRepo.findLive(db, tokenHash, 'password_reset', clock.now());
      const owner = live ? await usersRepo.findById(db, live.user_id) : undefined;
      if (!owner) throw new AppError('INVALID_LINK_TOKEN');
      await passwordPolicy.check(password, { email: owner.email, firstName: owner.first_name, lastName: owner.last_name, username: owner.username });
      const passwordHash = await hashPassword(password);
      const userId = await db.transaction().execute(async (trx) => {
        const now = clock.now();
        const used = await oneTimeTokensRepo.consume(trx, tokenHash, 'password_reset', now);
        if (!used) return null;
        const user = await usersRepo.findById(trx, used.user_id);
        if (!user || user.status !== 'active') return null;
        await usersRepo.setPasswordHash(trx, user.id, passwordHash);
        await oneTimeTokensRepo.revokeLive(trx, user.id, 'password_reset', now);
        await sessionsRepo.revokeAllForUser(trx, user.id, now, 'password_reset');
        await auditRepo.record(trx, { actorUserId: user.id, action: 'user.password_reset', targetType: 'user', targetId: user.id, ...client });
        if (user.email) await outboxRepo.enqueue(trx, messages.passwordChanged(user.email, user.first_name, now, client.ip));
        return user.id;
      });
      if (!userId) throw new AppError('INVALID_LINK_TOKEN');
      mailQueued();
      await throttles.passwordReplaced(userId);
    },

    /** Ends the caller's other sessions, supersedes reset links and mails the alert. */
    async changePassword(auth: AuthContext, input: { currentPassword: string; newPassword: string }, client: ClientInfo): Promise<void> {
      // A stolen access token must not become a way to guess the password: counted like a sign-in.
      await throttles.signIn(auth.userId, client.ip);
      const stored = await usersRepo.findPasswordHash(db, auth.userId);
      if (!stored || !(await verifyPassword(stored.password_hash, input.currentPassword))) throw fieldError('currentPassword', 'Current password is incorrect');
      await throttles.signedIn(auth.userId, client.ip);
      const owner = auth.profile;
      await passwordPolicy.check(input.newPassword, { email: owner.email, firstName: owner.first_name, lastName: owner.last_name, username: owner.username }, 'newPassword');
      const passwordHash = await hashPassword(input.newPassword);
      await db.transaction().execute(async (trx) => {
        const now = clock.now();
        const user = await usersRepo.findById(trx, auth.userId);
        if (!user) throw new AppError('USER_NOT_FOUND');
        await usersRepo.setPasswordHash(trx, user.id, passwordHash);
        await oneTimeTokensRepo.revokeLive(trx, user.id, 'password_reset', now);
        await sessionsRepo.revokeAllForUser(trx, user.id, now, 'password_changed', auth.sessionId);
        await auditRepo.record(trx, { actorUserId: user.id, action: 'user.password_changed', targetType: 'user', targetId: user.id, ...client });
        if (user.email) await outboxRepo.enqueue(trx, messages.passwordChanged(user.email, user.first_name, now, client.ip));
      });
      mailQueued();
    },
  };
};

export type RecoveryService = ReturnType<typeof recoveryServiceFactory>;
