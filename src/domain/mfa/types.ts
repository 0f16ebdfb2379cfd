// Second factors as the domain sees them.
import type { FirstFactor } from '../../db/schema.ts';

export type SecondFactorMethod = 'totp' | 'recovery_code' | 'webauthn';

/** What a person has set up: `GET /api/users/me/mfa`. */
export interface FactorSummary {
  totp: boolean;
  passkeys: number;
  recoveryCodesLeft: number;
}

/** A sign-in attempt that passed its first factor and waits for its second (`mfaToken`). */
export interface PendingSignIn {
  id: string;
  userId: string;
  firstFactor: FirstFactor;
  /** The active organisation the sign-in asked for. */
  organisationId: string | null;
}

/** What a person answers a second-factor check with. */
export interface FactorProof {
  method: SecondFactorMethod;
  code?: string;
  /** A WebAuthn authentication response, in `@simplewebauthn`'s JSON shape. */
  response?: unknown;
}

/** An `mfaToken` lives this long. */
export const MFA_TOKEN_TTL_SECONDS = 5 * 60;
/** Wrong second factors that end a sign-in attempt. */
export const MAX_CHALLENGE_FAILURES = 5;
/** How recent the last strong check of a session must be for the step-up routes (SPEC §6.1). */
export const STEP_UP_MAX_AGE_SECONDS = 10 * 60;

export type { FirstFactor };
