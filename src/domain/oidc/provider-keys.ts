// The OpenID Provider's keys: the RS256 keys in signing_keys (the active one signs ID tokens and the
// provider's JWT access tokens; those retired within the overlap are published and verify only), and
// the keys of its cookies and anti-forgery tokens, derived from them.
import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { JWK } from 'jose';
import type { Db } from '../../db/database.ts';
import { addSeconds, type Clock } from '../clock.ts';
import { signingKeysRepo } from '../sessions/signing-keys.repo.ts';
import { generateSigningKey } from '../sessions/signing-keys.service.ts';

/** Compares two texts in time that does not depend on where they differ. */
export function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** An RSA public key as published in the JWKS. */
export interface RsaPublicJwk {
  kty: string;
  n: string;
  e: string;
  kid: string;
  alg: string;
  use: string;
}

/** Clock skew tolerated between Gatehouse and the relying parties verifying its ID tokens. */
export const CLOCK_TOLERANCE_SECONDS = 30;
/** Every node rereads the RS256 keys this often, so that a rotation made elsewhere reaches it without a restart. */
export const KEY_REFRESH_INTERVAL_MS = 60_000;

/** The RS256 keys: the active one signs; those retired within the overlap are published and verify only. */
export interface ProviderKeys {
  /** Every usable key's kid, the active one first: a change (a rotation, a key past its overlap) rebuilds the provider. */
  kids: string;
  /** For the provider's keystore: the active key, then the retired ones marked verify-only (an old ID token as `id_token_hint`). */
  privateJwks: JWK[];
  publicJwks: RsaPublicJwk[];
  /** The cookies' keys, one per usable key, the active one's first (it signs; the others still verify during the overlap). */
  cookieKeys: Buffer[];
}

/**
 * The RS256 keys that sign ID tokens and the provider's JWT access tokens, kept in signing_keys like
 * the EdDSA ones; the first is generated on first start.
 */
export async function rs256Keys(db: Db, clock: Clock, overlapSeconds: number): Promise<ProviderKeys> {
  const load = () => signingKeysRepo.listUsable(db, 'RS256', addSeconds(clock.now(), -overlapSeconds));
  let rows = await load();
  if (!rows.some((row) => row.status === 'active')) {
    await signingKeysRepo.insertActiveIfNone(db, await generateSigningKey('RS256'));
    rows = await load();
  }
  const active = rows.find((row) => row.status === 'active');
  if (!active) throw new Error('No active RS256 key');
  const ordered = [active, ...rows.filter((row) => row !== active)];
  const privateJwks = ordered.map((row) => ({ ...(row.private_jwk as JWK), kid: row.kid, alg: 'RS256', use: 'sig', ...(row === active ? {} : { key_ops: ['verify'] }) }));
  const publicJwks = ordered.map((row) => {
    const { n = '', e = '' } = row.public_jwk as JWK;
    return { kty: 'RSA', n, e, kid: row.kid, alg: 'RS256', use: 'sig' };
  });
  // The cookies' keys follow the RS256 key: after a rotation, cookies and anti-forgery tokens signed
  // under the old key hold until the overlap ends, so that no sign-in under way breaks; after it, a
  // provider session from before the rotation (its sign-in cookie) asks for the password again.
  const cookieKeys = ordered.map((row) => Buffer.from(hkdfSync('sha256', Buffer.from((row.private_jwk as JWK).d ?? '', 'base64url'), 'gatehouse', 'oidc-provider cookies', 32)));
  return { kids: ordered.map((row) => row.kid).join(' '), privateJwks, publicJwks, cookieKeys };
}

/** The Gatehouse session a sign-in cookie names, when its signature holds under one of the keys. */
export function sessionOfCookie(cookieKeys: readonly Buffer[], value: string | undefined): string | null {
  if (!value) return null;
  const [sessionId = '', mac = ''] = value.split('.');
  return cookieKeys.some((key) => sameText(createHmac('sha256', key).update(`signin:${sessionId}`).digest('base64url'), mac)) ? sessionId : null;
}
