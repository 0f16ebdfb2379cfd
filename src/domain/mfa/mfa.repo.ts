// Second factors in SQL: TOTP secrets (sealed), recovery codes (digests), sign-in attempts waiting for
// their second factor, and what a person has set up. Every "use once" is one conditional update, so
// of any number of concurrent attempts exactly one succeeds.
import { sql, type Expression, type RawBuilder, type SqlBool } from 'kysely';
import type { Executor } from '../../db/database.ts';
import type { FirstFactor } from '../../db/schema.ts';
import { MAX_CHALLENGE_FAILURES, type FactorSummary, type PendingSignIn } from './types.ts';

/** True when the user (`users.id` of the enclosing query) has a confirmed second factor. */
export function hasSecondFactor(db: Executor, userId: Expression<string>): RawBuilder<SqlBool> {
  const totp = db.selectFrom('mfa_totp').select('user_id').where('user_id', '=', userId).where('confirmed_at', 'is not', null);
  const passkey = db.selectFrom('passkeys').select('user_id').where('user_id', '=', userId);
  return sql<SqlBool>`(exists (${totp}) or exists (${passkey}))`;
}

export const mfaRepo = {
  async summary(db: Executor, userId: string): Promise<FactorSummary> {
    const row = await db
      .selectNoFrom((eb) => [
        eb.exists(eb.selectFrom('mfa_totp').select('user_id').where('user_id', '=', userId).where('confirmed_at', 'is not', null)).as('totp'),
        eb.selectFrom('passkeys').select((p) => p.fn.countAll<number>().as('n')).where('user_id', '=', userId).as('passkeys'),
        eb.selectFrom('mfa_recovery_codes').select((r) => r.fn.countAll<number>().as('n')).where('user_id', '=', userId).where('used_at', 'is', null).as('codes'),
      ])
      .executeTakeFirstOrThrow();
    return { totp: Boolean(row.totp), passkeys: Number(row.passkeys ?? 0), recoveryCodesLeft: Number(row.codes ?? 0) };
  },

  async findTotp(db: Executor, userId: string): Promise<{ sealed: string; confirmed: boolean; lastUsedStep: number | null } | undefined> {
    const row = await db.selectFrom('mfa_totp').select(['secret_ciphertext', 'confirmed_at', 'last_used_step']).where('user_id', '=', userId).executeTakeFirst();
    return row && { sealed: row.secret_ciphertext, confirmed: row.confirmed_at !== null, lastUsedStep: row.last_used_step === null ? null : Number(row.last_used_step) };
  },

  /** A new pending secret, replacing a pending one; false when a confirmed one exists (nothing changes). */
  async putPendingTotp(db: Executor, userId: string, sealed: string): Promise<boolean> {
    const row = await db
      .insertInto('mfa_totp')
      .values({ user_id: userId, secret_ciphertext: sealed })
      .onConflict((oc) => oc.column('user_id').doUpdateSet({ secret_ciphertext: sealed, last_used_step: null }).where('mfa_totp.confirmed_at', 'is', null))
      .returning('user_id')
      .executeTakeFirst();
    return row !== undefined;
  },

  /** Confirms the pending secret with the step of the code that confirmed it; false when none is pending. */
  async confirmTotp(db: Executor, userId: string, step: number, now: Date): Promise<boolean> {
    const result = await db.updateTable('mfa_totp').set({ confirmed_at: now, last_used_step: step }).where('user_id', '=', userId).where('confirmed_at', 'is', null).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  },

  /** Spends a time step of a confirmed secret: false when it (or a later one) was used already. */
  async useTotpStep(db: Executor, userId: string, step: number): Promise<boolean> {
    const result = await db
      .updateTable('mfa_totp')
      .set({ last_used_step: step })
      .where('user_id', '=', userId)
      .where('confirmed_at', 'is not', null)
      .where((eb) => eb.or([eb('last_used_step', 'is', null), eb('last_used_step', '<', step)]))
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  },

  async deleteTotp(db: Executor, userId: string): Promise<boolean> {
    const result = await db.deleteFrom('mfa_totp').where('user_id', '=', userId).where('confirmed_at', 'is not', null).executeTakeFirst();
    return Number(result.numDeletedRows) > 0;
  },

  /** The app, confirmed or pending (an admin's reset). */
  async deleteAllTotp(db: Executor, userId: string): Promise<void> {
    await db.deleteFrom('mfa_totp').where('user_id', '=', userId).execute();
  },

  /** Every sealed secret, for a key rotation. */
  async listSealed(db: Executor): Promise<Array<{ userId: string; sealed: string }>> {
    const rows = await db.selectFrom('mfa_totp').select(['user_id', 'secret_ciphertext']).forUpdate().execute();
    return rows.map((row) => ({ userId: row.user_id, sealed: row.secret_ciphertext }));
  },

  async reseal(db: Executor, userId: string, sealed: string): Promise<void> {
    await db.updateTable('mfa_totp').set({ secret_ciphertext: sealed }).where('user_id', '=', userId).execute();
  },

  /** The user's recovery codes become these (the old set dies). */
  async replaceRecoveryCodes(db: Executor, userId: string, hashes: readonly string[]): Promise<void> {
    await db.deleteFrom('mfa_recovery_codes').where('user_id', '=', userId).execute();
    if (hashes.length > 0) await db.insertInto('mfa_recovery_codes').values(hashes.map((code_hash) => ({ user_id: userId, code_hash }))).execute();
  },

  /** Spends an unused recovery code; false when there is none with this digest. */
  async useRecoveryCode(db: Executor, userId: string, hash: string, now: Date): Promise<boolean> {
    const result = await db.updateTable('mfa_recovery_codes').set({ used_at: now }).where('user_id', '=', userId).where('code_hash', '=', hash).where('used_at', 'is', null).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  },

  async openChallenge(db: Executor, attempt: { tokenHash: string; userId: string; firstFactor: FirstFactor; organisationId: string | null; ip: string | null; userAgent: string | null; expiresAt: Date }): Promise<void> {
    await db
      .insertInto('mfa_challenges')
      .values({
        token_hash: attempt.tokenHash,
        user_id: attempt.userId,
        first_factor: attempt.firstFactor,
        organisation_id: attempt.organisationId,
        ip: attempt.ip,
        user_agent: attempt.userAgent?.slice(0, 512) ?? null,
        expires_at: attempt.expiresAt,
      })
      .execute();
  },

  /** A sign-in attempt still waiting: unused, unexpired, with fewer than five failures. */
  async findChallenge(db: Executor, tokenHash: string, now: Date): Promise<PendingSignIn | undefined> {
    const row = await db
      .selectFrom('mfa_challenges')
      .select(['id', 'user_id', 'first_factor', 'organisation_id'])
      .where('token_hash', '=', tokenHash)
      .where('used_at', 'is', null)
      .where('expires_at', '>', now)
      .where('failures', '<', MAX_CHALLENGE_FAILURES)
      .executeTakeFirst();
    return row && { id: row.id, userId: row.user_id, firstFactor: row.first_factor, organisationId: row.organisation_id };
  },

  /** Counts a wrong second factor against the attempt: the fifth ends it. */
  async failChallenge(db: Executor, id: string): Promise<void> {
    await db
      .updateTable('mfa_challenges')
      .set((eb) => ({ failures: eb('failures', '+', 1) }))
      .where('id', '=', id)
      .execute();
  },

  /** Spends the attempt: false when another request spent it first (or it died meanwhile). */
  async spendChallenge(db: Executor, id: string, now: Date): Promise<boolean> {
    const result = await db
      .updateTable('mfa_challenges')
      .set({ used_at: now })
      .where('id', '=', id)
      .where('used_at', 'is', null)
      .where('expires_at', '>', now)
      .where('failures', '<', MAX_CHALLENGE_FAILURES)
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  },

  /** Attempts past their time are of no use to anyone (their WebAuthn challenges go with them); answers how many. */
  async deleteExpiredChallenges(db: Executor, now: Date): Promise<number> {
    const result = await db.deleteFrom('mfa_challenges').where('expires_at', '<', now).executeTakeFirst();
    return Number(result.numDeletedRows);
  },
};
