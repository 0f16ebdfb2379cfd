// A person's own second factors: the authenticator app (TOTP) and recovery codes, and the step-up that
// refreshes a session's last strong check. Passkeys are ./passkeys.service.ts's.
//
// Adding the first factor ends the account's other sessions: they were opened with the password
// alone, and would otherwise keep refreshing past the new factor. The session that added it has just
// proved the factor, so it is marked so (`amr` gains it and `mfa`, `auth_time` is now).
import QRCode from 'qrcode';
import type { Db, Executor } from '../../db/database.ts';
import type { Clock } from '../clock.ts';
import { AppError, fieldError } from '../errors.ts';
import { userActor } from '../events/catalogue.ts';
import type { EventStream } from '../events/event-stream.ts';
import type { SecondFactorChange } from '../events/notices.ts';
import type { Policy } from '../policy/policy.ts';
import type { Principal, UserPrincipal } from '../principal.ts';
import { usersRepo } from '../accounts/users.repo.ts';
import { isUuid } from '../ids.ts';
import { sessionsRepo } from '../sessions/sessions.repo.ts';
import { passkeysRepo } from './passkeys.repo.ts';
import type { SessionsService } from '../sessions/sessions.service.ts';
import type { Throttles } from '../throttle/throttles.ts';
import { hasFactor, type AssertionCheck, type Factors } from './factors.ts';
import { mfaRepo } from './mfa.repo.ts';
import { hashRecoveryCode, newRecoveryCodes } from './recovery-codes.ts';
import type { SecretBox } from './secret-box.ts';
import { newTotpSecret, otpauthUrl } from './totp.ts';
import type { FactorProof, FactorSummary } from './types.ts';

interface Deps {
  db: Db;
  clock: Clock;
  policy: Policy;
  events: EventStream;
  sessions: SessionsService;
  factors: Factors;
  secrets: SecretBox;
  throttles: Throttles;
  /** What authenticator apps show above the account's name: the host of PUBLIC_URL. */
  issuer: string;
  passkeyAssertion?: AssertionCheck;
}

/** The methods a session has proved, with more added. */
export const withMethods = (amr: readonly string[], added: readonly string[]) => [...new Set([...amr, ...added, 'mfa'])];

/** The alert a change mails, to an account that has an email address. */
export const factorAlert = (me: UserPrincipal, change: SecondFactorChange, at: Date) =>
  me.user.email ? { kind: 'second_factor_changed' as const, to: me.user.email, name: me.user.firstName, change, at, ip: me.client.ip } : undefined;

/** A factor was added: the first of an account ends its other sessions, and this session counts as having passed it. */
export async function factorAdded(trx: Executor, { me, before, methods, now }: { me: UserPrincipal; before: FactorSummary; methods: readonly string[]; now: Date }): Promise<void> {
  if (!hasFactor(before)) await sessionsRepo.revokeAllForUser(trx, { userId: me.userId, now, reason: 'second_factor_added', except: me.sessionId });
  await sessionsRepo.markStrongCheck(trx, { sessionId: me.sessionId, amr: withMethods(me.authentication.amr, methods), now });
}

export const mfaServiceFactory = ({ db, clock, policy, events, sessions, factors, secrets, throttles, issuer, passkeyAssertion }: Deps) => {
  const alert = (me: UserPrincipal, change: SecondFactorChange) => factorAlert(me, change, clock.now());

  const service = {
    async status(principal: Principal): Promise<FactorSummary> {
      return factors.summary(policy.person(principal).userId);
    },

    /**
     * A new pending secret (replacing a pending one), with its `otpauth://` URI and a QR code of it.
     * An account that has a factor already proves it again first: a stolen session must not add its own.
     */
    async startTotp(principal: Principal): Promise<{ secret: string; otpauthUrl: string; qrSvg: string }> {
      const me = policy.recentlyVerified(principal);
      const secret = newTotpSecret();
      if (!(await mfaRepo.putPendingTotp(db, me.userId, secrets.seal(secret, me.userId)))) throw new AppError('TOTP_ALREADY_ENABLED');
      const url = otpauthUrl(secret, { issuer, label: me.user.email ?? me.user.username ?? me.userId });
      const qrSvg = await QRCode.toString(url, { type: 'svg', margin: 1, errorCorrectionLevel: 'M' });
      return { secret, otpauthUrl: url, qrSvg };
    },

    /** A code from the app turns the pending secret on; the answer holds ten new recovery codes, shown once. */
    async confirmTotp(principal: Principal, code: string): Promise<{ recoveryCodes: string[] }> {
      const me = policy.recentlyVerified(principal);
      const totp = await mfaRepo.findTotp(db, me.userId);
      if (!totp) throw new AppError('TOTP_NOT_PENDING');
      if (totp.confirmed) throw new AppError('TOTP_ALREADY_ENABLED');
      await throttles.factor(me.userId, me.client.ip);
      const step = factors.pendingStep(totp.sealed, me.userId, code);
      if (step === null) throw fieldError('code', 'The code is not valid: enter the six digits the app shows now');
      await throttles.factorPassed(me.userId, me.client.ip);
      const recoveryCodes = newRecoveryCodes();
      await db.transaction().execute(async (trx) => {
        const before = await mfaRepo.summary(trx, me.userId);
        if (!(await mfaRepo.confirmTotp(trx, me.userId, step, clock.now()))) throw new AppError('TOTP_NOT_PENDING');
        await mfaRepo.replaceRecoveryCodes(trx, me.userId, recoveryCodes.map(hashRecoveryCode));
        await factorAdded(trx, { me, before, methods: ['otp'], now: clock.now() });
        await events.record(trx, { type: 'mfa.enabled', actor: userActor(me.userId), client: me.client, subject: { type: 'user', id: me.userId }, data: { method: 'totp' }, notify: alert(me, 'totp_added') });
      });
      return { recoveryCodes };
    },

    /** Turns the app off (step-up). With no passkey left, the recovery codes go too: they stood in for a factor that is gone. */
    async disableTotp(principal: Principal): Promise<void> {
      const me = policy.recentlyVerified(principal);
      await db.transaction().execute(async (trx) => {
        if (!(await mfaRepo.deleteTotp(trx, me.userId))) throw new AppError('TOTP_NOT_ENABLED');
        if (!hasFactor(await mfaRepo.summary(trx, me.userId))) await mfaRepo.replaceRecoveryCodes(trx, me.userId, []);
        await events.record(trx, { type: 'mfa.disabled', actor: userActor(me.userId), client: me.client, subject: { type: 'user', id: me.userId }, data: { method: 'totp' }, notify: alert(me, 'totp_removed') });
      });
    },

    /** A new set of ten recovery codes (step-up); the old set dies. */
    async renewRecoveryCodes(principal: Principal): Promise<{ recoveryCodes: string[] }> {
      const me = policy.recentlyVerified(principal);
      const recoveryCodes = newRecoveryCodes();
      await db.transaction().execute(async (trx) => {
        if (!hasFactor(await mfaRepo.summary(trx, me.userId))) throw new AppError('NO_SECOND_FACTOR');
        await mfaRepo.replaceRecoveryCodes(trx, me.userId, recoveryCodes.map(hashRecoveryCode));
        await events.record(trx, {
          type: 'mfa.recovery_codes_renewed',
          actor: userActor(me.userId),
          client: me.client,
          subject: { type: 'user', id: me.userId },
          data: { count: recoveryCodes.length },
          notify: alert(me, 'recovery_codes_renewed'),
        });
      });
      return { recoveryCodes };
    },

    /**
     * A platform admin removes every second factor of an account (its owner lost them all and proved
     * who they are some other way): the app, pending or on, its passkeys and recovery codes. Audited as
     * `mfa.disabled` with `via: admin`, and mailed to the account.
     */
    async adminReset(principal: Principal, userId: string): Promise<void> {
      const target = isUuid(userId) ? await usersRepo.findById(db, userId) : undefined;
      if (!target) throw new AppError('USER_NOT_FOUND');
      const admin = policy.adminMayChange(principal, target);
      // Step-up: turning factors off is what a stolen admin session would do first to take an account over.
      policy.recentlyVerified(admin);
      await db.transaction().execute(async (trx) => {
        if (!hasFactor(await mfaRepo.summary(trx, target.id))) throw new AppError('NO_SECOND_FACTOR');
        await mfaRepo.deleteAllTotp(trx, target.id);
        await passkeysRepo.deleteAllForUser(trx, target.id);
        await mfaRepo.replaceRecoveryCodes(trx, target.id, []);
        await events.record(trx, {
          type: 'mfa.disabled',
          actor: userActor(admin.userId),
          client: admin.client,
          subject: { type: 'user', id: target.id },
          data: { method: 'all', via: 'admin' },
          notify: target.email ? { kind: 'second_factor_changed', to: target.email, name: target.firstName, change: 'reset_by_admin', at: clock.now(), ip: admin.client.ip } : undefined,
        });
      });
    },

    /**
     * The command line's `rotate-secret-key`: every TOTP secret not yet sealed by `target`'s key is
     * opened (with the current or the previous key) and sealed again under it, in one transaction.
     */
    async reseal(principal: Principal, target: SecretBox): Promise<number> {
      policy.system(principal);
      return db.transaction().execute(async (trx) => {
        let count = 0;
        for (const { userId, sealed } of await mfaRepo.listSealed(trx)) {
          if (target.isCurrent(sealed)) continue;
          await mfaRepo.reseal(trx, userId, target.seal(secrets.open(sealed, userId), userId));
          count++;
        }
        return count;
      });
    },

    /**
     * Housekeeping (Gatehouse itself, every few minutes): deletes sign-in attempts and WebAuthn
     * challenges past their expiry, which every lookup already treats as gone. Not an event: nothing
     * anyone could still use changes.
     */
    async sweepExpired(principal: Principal): Promise<{ mfaChallenges: number; webauthnChallenges: number }> {
      policy.system(principal);
      const now = clock.now();
      return db.transaction().execute(async (trx) => {
        // WebAuthn challenges first: those of an expired attempt would otherwise go uncounted by its cascade.
        const webauthnChallenges = await passkeysRepo.deleteExpiredChallenges(trx, now);
        const mfaChallenges = await mfaRepo.deleteExpiredChallenges(trx, now);
        return { mfaChallenges, webauthnChallenges };
      });
    },

    /** Proves a second factor again in this session: its `auth_time` is now, and a new access token says so. */
    async stepUp(principal: Principal, proof: FactorProof): Promise<{ accessToken: string; expiresIn: number }> {
      const me = policy.person(principal);
      if (!hasFactor(await factors.summary(me.userId))) throw new AppError('NO_SECOND_FACTOR');
      const methods = await factors.check(me.userId, me.client, proof, passkeyAssertion);
      await sessionsRepo.markStrongCheck(db, { sessionId: me.sessionId, amr: withMethods(me.authentication.amr, methods), now: clock.now() });
      const access = await sessions.reissue(me);
      return { accessToken: access.token, expiresIn: access.expiresIn };
    },
  };
  return service;
};

export type MfaService = ReturnType<typeof mfaServiceFactory>;
