// Access tokens: EdDSA (Ed25519) JWTs in the profile of RFC 9068 (`typ: at+jwt`, `aud`, `jti`,
// `client_id`, `scope` where one applies). Keys are generated on first start and kept in the
// database, so every node signs with the same key and any service can verify with the published key
// set. Two kinds: a person's (a session's: `sid`, optionally an active organisation) and a machine
// client's (the client-credentials grant: `sub` = `client_id`, `org_id`, `scope`, no session).
import { randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, importJWK, jwtVerify, type CryptoKey, type JWK } from 'jose';
import type { Db } from '../../db/database.ts';
import { addSeconds, type Clock } from '../clock.ts';
import { AppError } from '../errors.ts';
import { signingKeysRepo } from './signing-keys.repo.ts';

const ALG = 'EdDSA' as const;
/**
 * RFC 9068's media type. Required when verifying: a JWT of another kind signed with the same keys
 * (an ID token, once Gatehouse issues them) is never taken for an access token.
 */
const TYP = 'at+jwt';
/** The `client_id` of tokens issued to people through Gatehouse's own API (no OAuth client involved). */
export const FIRST_PARTY_CLIENT_ID = 'gatehouse';
/** Clock skew tolerated between Gatehouse and the services verifying its tokens. */
const CLOCK_TOLERANCE_SECONDS = 30;
/** An unknown kid reloads the keys (another node may have rotated), but at most this often. */
const RELOAD_INTERVAL_MS = 10_000;
/**
 * Every node rereads the keys this often, so a rotation made elsewhere reaches it. A retired key
 * stays published this much longer than its last token's lifetime, for tokens a node signed with it
 * before it noticed the rotation.
 */
const REFRESH_INTERVAL_MS = 60_000;
/**
 * Tokens whose signature was already checked, so that a client's next requests skip the signature
 * work. Keyed by the whole token, so a changed byte misses; an entry is good until the token's own
 * expiry (plus the tolerance). Revocation is not cached: every request still checks the session.
 */
const VERIFIED_CACHE_SIZE = 10_000;

/** A person's active organisation, as their token carries it. */
export interface ActiveOrganisation {
  id: string;
  role: string;
  permissions: readonly string[];
}

interface CommonClaims {
  iss: string;
  aud: string | string[];
  iat: number;
  exp: number;
  jti: string;
  client_id: string;
}

/** A person's token: tied to a live session. */
export interface UserClaims extends CommonClaims {
  sub: string;
  userId: string;
  email?: string;
  sid: string;
  org_id?: string;
  org_role?: string;
  org_permissions?: string[];
  /** How the session was authenticated (RFC 8176) and when its last strong check was (seconds). */
  amr?: string[];
  auth_time?: number;
}

/** A machine client's token: its organisation and the permissions granted, space-separated. */
export interface ClientClaims extends CommonClaims {
  sub: string;
  org_id: string;
  scope: string;
}

export type AccessClaims = UserClaims | ClientClaims;

export const isClientToken = (claims: AccessClaims): claims is ClientClaims => !('sid' in claims) || typeof (claims as UserClaims).sid !== 'string';

/** An Ed25519 public key as published in the JWKS. */
export interface PublicJwk {
  kty: string;
  crv: string;
  x: string;
  kid: string;
  alg: string;
  use: string;
}

interface KeyRing {
  signing: { kid: string; key: CryptoKey };
  verifying: Map<string, CryptoKey>;
  jwks: PublicJwk[];
  loadedAt: number;
}

interface Deps {
  db: Db;
  clock: Clock;
  issuer: string;
  /** The `aud` of every token; the issuer by default. */
  audience?: string;
  ttlSeconds: number;
}

export const accessTokensFactory = ({ db, clock, issuer, audience = issuer, ttlSeconds }: Deps) => {
  let ring: Promise<KeyRing> | null = null;
  /** How long a retired key stays published and accepted: a token signed just before a node noticed the rotation lives this long. */
  const overlapSeconds = ttlSeconds + CLOCK_TOLERANCE_SECONDS + REFRESH_INTERVAL_MS / 1000;
  const verified = new Map<string, AccessClaims>();

  function remember(token: string, claims: AccessClaims) {
    if (verified.size >= VERIFIED_CACHE_SIZE) verified.delete(verified.keys().next().value as string);
    verified.set(token, claims);
  }

  async function load(): Promise<KeyRing> {
    const usableSince = () => addSeconds(clock.now(), -overlapSeconds);
    let rows = await signingKeysRepo.listUsable(db, ALG, usableSince());
    if (!rows.some((row) => row.status === 'active')) {
      await signingKeysRepo.insertActiveIfNone(db, await newKey());
      rows = await signingKeysRepo.listUsable(db, ALG, usableSince());
    }
    const active = rows.find((row) => row.status === 'active');
    if (!active) throw new Error('No active signing key');
    const verifying = new Map<string, CryptoKey>();
    const jwks: PublicJwk[] = [];
    for (const row of rows) {
      verifying.set(row.kid, (await importJWK(row.public_jwk as JWK, ALG)) as CryptoKey);
      const { kty = 'OKP', crv = 'Ed25519', x = '' } = row.public_jwk as JWK;
      jwks.push({ kty, crv, x, kid: row.kid, alg: ALG, use: 'sig' });
    }
    const signing = { kid: active.kid, key: (await importJWK(active.private_jwk as JWK, ALG)) as CryptoKey };
    return { signing, verifying, jwks, loadedAt: clock.now().getTime() };
  }

  async function keyRing(): Promise<KeyRing> {
    ring ??= load().catch((error: unknown) => {
      ring = null;
      throw error;
    });
    const current = await ring;
    if (clock.now().getTime() - current.loadedAt > REFRESH_INTERVAL_MS) {
      ring = null;
      return keyRing();
    }
    return current;
  }

  async function keyFor(kid: string | undefined): Promise<CryptoKey> {
    if (!kid) throw new AppError('INVALID_TOKEN');
    let current = await keyRing();
    if (!current.verifying.has(kid) && clock.now().getTime() - current.loadedAt > RELOAD_INTERVAL_MS) {
      ring = null;
      current = await keyRing();
    }
    const key = current.verifying.get(kid);
    if (!key) throw new AppError('INVALID_TOKEN');
    return key;
  }

  async function sign(subject: string, claims: Record<string, unknown>, jti: string = randomUUID()): Promise<{ token: string; expiresIn: number }> {
    const { signing } = await keyRing();
    const iat = Math.floor(clock.now().getTime() / 1000);
    const token = await new SignJWT(claims)
      .setProtectedHeader({ alg: ALG, kid: signing.kid, typ: TYP })
      .setIssuer(issuer)
      .setAudience(audience)
      .setSubject(subject)
      .setIssuedAt(iat)
      .setExpirationTime(iat + ttlSeconds)
      .setJti(jti)
      .sign(signing.key);
    return { token, expiresIn: ttlSeconds };
  }

  return {
    overlapSeconds,

    /** Makes sure a signing key exists (generating one on first start) and loads the key ring. */
    async ready(): Promise<void> {
      await keyRing();
    },

    async issue(subject: {
      userId: string;
      email: string | null;
      sessionId: string;
      organisation?: ActiveOrganisation | null;
      /** RFC 8176 methods and the time of the session's last strong check. */
      authentication?: { amr: readonly string[]; authTime: Date };
    }): Promise<{ token: string; expiresIn: number }> {
      const org = subject.organisation;
      const auth = subject.authentication;
      return sign(subject.userId, {
        client_id: FIRST_PARTY_CLIENT_ID,
        userId: subject.userId,
        sid: subject.sessionId,
        ...(auth ? { amr: [...auth.amr], auth_time: Math.floor(auth.authTime.getTime() / 1000) } : {}),
        ...(subject.email ? { email: subject.email } : {}),
        ...(org ? { org_id: org.id, org_role: org.role, org_permissions: [...org.permissions] } : {}),
      });
    },

    /** A machine client's token (the client-credentials grant): its `jti` is what revocation names. */
    async issueForClient(client: { clientId: string; organisationId: string; scope: readonly string[] }): Promise<{ token: string; expiresIn: number; jti: string; expiresAt: Date }> {
      const jti = randomUUID();
      const signed = await sign(client.clientId, { client_id: client.clientId, org_id: client.organisationId, scope: client.scope.join(' ') }, jti);
      return { ...signed, jti, expiresAt: addSeconds(clock.now(), ttlSeconds) };
    },

    /** Verifies signature, algorithm, issuer and lifetime. Only EdDSA with a known kid passes. */
    async verify(token: string): Promise<AccessClaims> {
      const known = verified.get(token);
      if (known && clock.now().getTime() <= (known.exp + CLOCK_TOLERANCE_SECONDS) * 1000) return known;
      verified.delete(token);
      try {
        const { payload } = await jwtVerify(token, (header) => keyFor(header.kid), {
          algorithms: [ALG],
          issuer,
          clockTolerance: CLOCK_TOLERANCE_SECONDS,
          // Also refuses a token issued in the future (beyond the tolerance): jose checks iat only with this set.
          maxTokenAge: ttlSeconds,
          currentDate: clock.now(),
          audience,
          typ: TYP,
          requiredClaims: ['sub', 'iat', 'exp', 'jti', 'client_id'],
        });
        const person = typeof payload.sid === 'string';
        const machine = payload.sid === undefined && typeof payload.org_id === 'string' && typeof payload.scope === 'string' && payload.sub === payload.client_id;
        if (typeof payload.sub !== 'string' || typeof payload.jti !== 'string' || (!person && !machine)) throw new AppError('INVALID_TOKEN');
        const claims = payload as unknown as AccessClaims;
        remember(token, claims);
        return claims;
      } catch (error) {
        if (error instanceof AppError) throw error;
        throw new AppError('INVALID_TOKEN');
      }
    },

    async jwks(): Promise<PublicJwk[]> {
      return (await keyRing()).jwks;
    },

    /** Generates a new active key; the old one keeps verifying until its last token has expired. */
    async rotate(): Promise<string> {
      const key = await newKey();
      await db.transaction().execute(async (trx) => {
        await signingKeysRepo.retireActive(trx, ALG, clock.now());
        await signingKeysRepo.insertActiveIfNone(trx, key);
      });
      ring = null;
      return key.kid;
    },
  };
};

export type AccessTokens = ReturnType<typeof accessTokensFactory>;

async function newKey() {
  const { publicKey, privateKey } = await generateKeyPair(ALG, { crv: 'Ed25519', extractable: true });
  return { kid: randomUUID(), algorithm: ALG, publicJwk: await exportJWK(publicKey), privateJwk: await exportJWK(privateKey) };
}
