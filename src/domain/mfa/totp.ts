// RFC 6238 with `otpauth`: SHA-1, 6 digits, 30-second steps, as every authenticator app reads them.
// A code of the step before or after the current one is accepted (clocks drift); the step a code was
// accepted for is remembered, so a code (or an older one) is never accepted twice.
import { Secret, TOTP } from 'otpauth';

export const TOTP_PERIOD_SECONDS = 30;
const DIGITS = 6;
const WINDOW = 1;

const totpOf = (secret: string, label = '', issuer = '') => new TOTP({ issuer, label, algorithm: 'SHA1', digits: DIGITS, period: TOTP_PERIOD_SECONDS, secret: Secret.fromBase32(secret) });

/** A new random secret (160 bits, RFC 4226's recommendation), base32 as apps take it. */
export const newTotpSecret = (): string => new Secret({ size: 20 }).base32;

/** The `otpauth://` URI an app scans: the issuer and the account's name label it. */
export const otpauthUrl = (secret: string, { issuer, label }: { issuer: string; label: string }): string => totpOf(secret, label, issuer).toString();

/** The time step of `now`. */
export const stepAt = (now: Date): number => Math.floor(now.getTime() / 1000 / TOTP_PERIOD_SECONDS);

/** The step a code matches within ±1 step of `now`, or null. Only six digits are ever compared. */
export function matchingStep(secret: string, code: string, now: Date): number | null {
  if (!/^\d{6}$/.test(code)) return null;
  const delta = totpOf(secret).validate({ token: code, timestamp: now.getTime(), window: WINDOW });
  return delta === null ? null : stepAt(now) + delta;
}
