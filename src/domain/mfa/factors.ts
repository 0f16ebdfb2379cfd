// Checking a second factor, wherever one is asked for: the second step of a sign-in, a step-up, the
// removal of a factor. Every check is throttled like a password (per account and per address), and
// whatever it accepts is spent: a TOTP time step, a recovery code, a WebAuthn challenge.
import type { Db } from '../../db/database.ts';
import type { Clock } from '../clock.ts';
import { AppError, fieldError } from '../errors.ts';
import type { ClientInfo } from '../principal.ts';
import type { Throttles } from '../throttle/throttles.ts';
import { mfaRepo } from './mfa.repo.ts';
import { hashRecoveryCode } from './recovery-codes.ts';
import type { SecretBox } from './secret-box.ts';
import { matchingStep } from './totp.ts';
import type { FactorProof, FactorSummary, SecondFactorMethod } from './types.ts';

/** Checks a WebAuthn assertion of one of the user's passkeys for a purpose; answers its RFC 8176 method. */
export type AssertionCheck = (userId: string, response: unknown) => Promise<'hwk' | 'swk'>;

interface Deps {
  db: Db;
  clock: Clock;
  secrets: SecretBox;
  throttles: Throttles;
}

/** The methods a summary offers for a second step, in the order a client should offer them. */
export const methodsOf = (summary: FactorSummary): SecondFactorMethod[] => [
  ...(summary.passkeys > 0 ? (['webauthn'] as const) : []),
  ...(summary.totp ? (['totp'] as const) : []),
  ...(summary.recoveryCodesLeft > 0 && (summary.totp || summary.passkeys > 0) ? (['recovery_code'] as const) : []),
];

export const hasFactor = (summary: FactorSummary) => summary.totp || summary.passkeys > 0;

export const factorsFactory = ({ db, clock, secrets, throttles }: Deps) => {
  /** The step of a valid, unused code of the user's confirmed secret, spent; null otherwise. */
  async function spendTotp(userId: string, code: string): Promise<boolean> {
    const totp = await mfaRepo.findTotp(db, userId);
    if (!totp?.confirmed) return false;
    const step = matchingStep(secrets.open(totp.sealed, userId), code, clock.now());
    if (step === null || (totp.lastUsedStep !== null && step <= totp.lastUsedStep)) return false;
    // The conditional update decides between concurrent uses of one code.
    return mfaRepo.useTotpStep(db, userId, step);
  }

  const factors = {
    summary: (userId: string) => mfaRepo.summary(db, userId),

    /**
     * Checks a proof of a second factor of the user and spends it; answers the RFC 8176 methods it
     * adds (`otp`, `hwk`, `swk`). Anything wrong is one answer, INVALID_SECOND_FACTOR.
     */
    async check(userId: string, client: ClientInfo, proof: FactorProof, assertion?: AssertionCheck): Promise<string[]> {
      if (proof.method === 'webauthn') {
        if (proof.response === undefined) throw fieldError('response', 'Response is required');
      } else if (typeof proof.code !== 'string' || proof.code.trim() === '') {
        throw fieldError('code', 'Code is required');
      }
      await throttles.factor(userId, client.ip);
      let methods: string[] | null = null;
      if (proof.method === 'totp') {
        if (await spendTotp(userId, (proof.code ?? '').replace(/\s/g, ''))) methods = ['otp'];
      } else if (proof.method === 'recovery_code') {
        if (await mfaRepo.useRecoveryCode(db, userId, hashRecoveryCode(proof.code ?? ''), clock.now())) methods = ['otp'];
      } else {
        if (!assertion) throw new AppError('INVALID_SECOND_FACTOR');
        methods = [await assertion(userId, proof.response)];
      }
      if (!methods) throw new AppError('INVALID_SECOND_FACTOR');
      await throttles.factorPassed(userId, client.ip);
      return methods;
    },

    /** A code of a pending secret, for its confirmation: the step it matched, or null. */
    pendingStep(sealed: string, userId: string, code: string): number | null {
      return matchingStep(secrets.open(sealed, userId), code.replace(/\s/g, ''), clock.now());
    },
  };
  return factors;
};

export type Factors = ReturnType<typeof factorsFactory>;
