// Access tokens (EdDSA JWTs) on a real migrated embedded database: claims, header, lifetime with a
// hand-moved clock, every forgery we can think of, key rotation and several nodes sharing one key.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { SignJWT, createLocalJWKSet, decodeJwt, decodeProtectedHeader, importJWK, jwtVerify, type CryptoKey, type JWK } from 'jose';
import { openDatabase, type DatabaseHandle, type Db } from '../../src/db/database.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';
import type { Clock } from '../../src/domain/clock.ts';
import { accessTokensFactory, type UserClaims } from '../../src/domain/sessions/access-tokens.ts';
import { algNone, tamper } from '../helpers/matrix.ts';

const ISSUER = 'https://gatehouse.test';
const TTL = 900;
const TOLERANCE = 30;

/** A clock standing still at a whole second, moved by hand. */
class HandClock implements Clock {
  seconds: number;

  constructor(seconds = Math.floor(Date.now() / 1000)) {
    this.seconds = seconds;
  }
  now() {
    return new Date(this.seconds * 1000);
  }
}

const subject = () => ({ userId: randomUUID(), email: 'ada@example.com', sessionId: randomUUID() });

async function migratedMemoryDatabase(): Promise<DatabaseHandle> {
  const database = openDatabase({ kind: 'embedded', dataDir: null });
  await migrateToLatest(database.db);
  return database;
}

/** The active key's private half, straight from the database: signs tokens with any claims we like. */
async function activePrivateKey(db: Db): Promise<{ kid: string; key: CryptoKey; publicJwk: JWK }> {
  const row = await db.selectFrom('signing_keys').select(['kid', 'private_jwk', 'public_jwk']).where('status', '=', 'active').executeTakeFirstOrThrow();
  return { kid: row.kid, key: (await importJWK(row.private_jwk as JWK, 'EdDSA')) as CryptoKey, publicJwk: row.public_jwk as JWK };
}

async function forge(db: Db, claims: Record<string, unknown>, header: Record<string, unknown> = {}) {
  const { kid, key } = await activePrivateKey(db);
  return new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA', kid, typ: 'at+jwt', ...header }).sign(key);
}

const refused = (promise: Promise<unknown>) => assert.rejects(promise, (error: Error & { code?: string }) => error.code === 'INVALID_TOKEN');

describe('access tokens', () => {
  let database: DatabaseHandle;
  let db: Db;
  const clock = new HandClock();
  const start = clock.seconds;
  const tokens = () => accessTokensFactory({ db, clock, issuer: ISSUER, ttlSeconds: TTL });
  let node: ReturnType<typeof tokens>;

  before(async () => {
    database = await migratedMemoryDatabase();
    db = database.db;
    node = tokens();
    await node.ready();
  });
  after(async () => {
    await database.close();
  });

  it('carries iss, sub, userId, email, sid, iat and exp = iat + ttl, and verify returns them', async () => {
    clock.seconds = start;
    const who = subject();
    const { token, expiresIn } = await node.issue(who);
    assert.equal(expiresIn, TTL);
    const claims = decodeJwt(token);
    assert.equal(claims.iss, ISSUER);
    assert.equal(claims.sub, who.userId);
    assert.equal(claims.userId, who.userId);
    assert.equal(claims.email, who.email);
    assert.equal(claims.sid, who.sessionId);
    assert.equal(claims.iat, start);
    assert.equal(claims.exp, start + TTL);
    const verified = await node.verify(token);
    assert.equal(verified.sub, who.userId);
    assert.equal((verified as UserClaims).sid, who.sessionId);
    assert.equal(verified.iss, ISSUER);
  });

  it('follows RFC 9068: typ at+jwt, aud, jti and client_id; an active organisation adds org_id, org_role and org_permissions', async () => {
    const who = subject();
    const { token } = await node.issue(who);
    assert.equal(decodeProtectedHeader(token).typ, 'at+jwt');
    const claims = decodeJwt(token);
    assert.equal(claims.aud, ISSUER);
    assert.equal(claims.client_id, 'gatehouse');
    assert.match(String(claims.jti), /^[0-9a-f-]{36}$/);
    assert.ok(!('org_id' in claims) && !('scope' in claims));
    const orgId = randomUUID();
    const withOrg = decodeJwt((await node.issue({ ...who, organisation: { id: orgId, role: 'admin', permissions: ['org:read', 'members:read'] } })).token);
    assert.deepEqual([withOrg.org_id, withOrg.org_role, withOrg.org_permissions], [orgId, 'admin', ['org:read', 'members:read']]);
    assert.notEqual(withOrg.jti, claims.jti);
  });

  it('issues a machine client’s token with sub = client_id, org_id and a space-separated scope, and verifies it as one', async () => {
    const orgId = randomUUID();
    const issued = await node.issueForClient({ clientId: 'ghc_test', organisationId: orgId, scope: ['org:read', 'members:read'] });
    const claims = decodeJwt(issued.token);
    assert.deepEqual([claims.sub, claims.client_id, claims.org_id, claims.scope, claims.jti, claims.aud], ['ghc_test', 'ghc_test', orgId, 'org:read members:read', issued.jti, ISSUER]);
    assert.ok(!('sid' in claims));
    assert.equal((await node.verify(issued.token)).sub, 'ghc_test');
    // A token with neither a session nor a client's organisation and scope is no access token of ours.
    await refused(node.verify(await forge(db, { sub: 'ghc_test', client_id: 'ghc_test', iss: ISSUER, aud: ISSUER, jti: randomUUID(), iat: clock.seconds, exp: clock.seconds + TTL })));
  });

  it('refuses a token for another audience, of another type, or without jti or client_id, signed with the real key', async () => {
    const claims = { sub: randomUUID(), userId: randomUUID(), sid: randomUUID(), iss: ISSUER, aud: ISSUER, jti: randomUUID(), client_id: 'gatehouse', iat: clock.seconds, exp: clock.seconds + TTL };
    await node.verify(await forge(db, claims));
    await refused(node.verify(await forge(db, { ...claims, aud: 'https://elsewhere.example' })));
    await refused(node.verify(await forge(db, claims, { typ: 'JWT' })));
    await refused(node.verify(await forge(db, claims, { typ: undefined })));
    const { jti: _jti, ...noJti } = claims;
    await refused(node.verify(await forge(db, noJti)));
    const { client_id: _client, ...noClient } = claims;
    await refused(node.verify(await forge(db, noClient)));
    const other = accessTokensFactory({ db, clock, issuer: ISSUER, audience: 'https://api.example', ttlSeconds: TTL });
    await refused(node.verify((await other.issue(subject())).token));
  });

  it('leaves the email claim out when the user has none', async () => {
    const { token } = await node.issue({ ...subject(), email: null });
    assert.ok(!('email' in decodeJwt(token)));
    assert.ok(!('email' in (await node.verify(token))));
  });

  it('signs with EdDSA under a kid that the published key set lists, with no private part', async () => {
    const { token } = await node.issue(subject());
    const header = decodeProtectedHeader(token);
    assert.equal(header.alg, 'EdDSA');
    const jwks = await node.jwks();
    assert.ok(jwks.some((key) => key.kid === header.kid), `kid ${header.kid} not in ${JSON.stringify(jwks)}`);
    for (const key of jwks) {
      assert.deepEqual(Object.keys(key).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x']);
      assert.equal(key.kty, 'OKP');
      assert.equal(key.crv, 'Ed25519');
    }
  });

  it('accepts a token until exp + 30 s of tolerance and refuses it after', async () => {
    clock.seconds = start;
    const { token } = await node.issue(subject());
    try {
      clock.seconds = start + TTL - 1;
      await node.verify(token);
      clock.seconds = start + TTL + TOLERANCE - 1;
      await node.verify(token);
      clock.seconds = start + TTL + TOLERANCE + 1;
      await refused(node.verify(token));
      clock.seconds = start + 10 * TTL;
      await refused(node.verify(token));
    } finally {
      clock.seconds = start;
    }
  });

  it('remembers a checked token as itself only: after it passed, a copy with a changed byte is still refused', async () => {
    const { token } = await node.issue(subject());
    await node.verify(token);
    await node.verify(token);
    await refused(node.verify(tamper(token)));
    const [header, payload, signature] = token.split('.') as [string, string, string];
    await refused(node.verify(`${header}.${payload}.${signature.slice(0, -2)}${signature.endsWith('AA') ? 'BB' : 'AA'}`));
    await refused(node.verify(`${header}.${payload}.`));
  });

  it('accepts a token from a node whose clock is a little ahead, but not one issued beyond 30 s in the future', async () => {
    clock.seconds = start;
    const slightlyAhead = accessTokensFactory({ db, clock: new HandClock(start + 20), issuer: ISSUER, ttlSeconds: TTL });
    await node.verify((await slightlyAhead.issue(subject())).token);
    const farAhead = accessTokensFactory({ db, clock: new HandClock(start + 120), issuer: ISSUER, ttlSeconds: TTL });
    const future = (await farAhead.issue(subject())).token;
    assert.equal(decodeJwt(future).iat, start + 120);
    await refused(node.verify(future));
  });

  it('refuses a token that is not yet valid (nbf beyond 30 s ahead)', async () => {
    clock.seconds = start;
    const claims = { sub: randomUUID(), userId: randomUUID(), sid: randomUUID(), iss: ISSUER, aud: ISSUER, jti: randomUUID(), client_id: 'gatehouse', iat: start, exp: start + TTL };
    await node.verify(await forge(db, { ...claims, nbf: start + 10 }));
    await refused(node.verify(await forge(db, { ...claims, nbf: start + 120 })));
  });

  it('refuses a tampered payload, a tampered signature and a token without its required claims', async () => {
    const { token } = await node.issue(subject());
    await refused(node.verify(tamper(token)));
    const [header, payload, signature] = token.split('.') as [string, string, string];
    const flipped = `${signature.startsWith('A') ? 'B' : 'A'}${signature.slice(1)}`;
    await refused(node.verify(`${header}.${payload}.${flipped}`));
    await refused(node.verify(await forge(db, { iss: ISSUER, iat: start, exp: start + TTL, userId: randomUUID() })));
    for (const garbage of ['', 'garbage', 'a.b.c', `${header}.${payload}`]) await refused(node.verify(garbage));
  });

  it('refuses alg none', async () => {
    const { token } = await node.issue(subject());
    await refused(node.verify(algNone(token)));
  });

  it('refuses an HS256 token keyed with the public key bytes (algorithm confusion)', async () => {
    const { token } = await node.issue(subject());
    const claims = decodeJwt(token);
    const { kid, publicJwk } = await activePrivateKey(db);
    const secrets = [Buffer.from(publicJwk.x!, 'base64url'), Buffer.from(JSON.stringify(publicJwk)), Buffer.from(publicJwk.x!)];
    for (const secret of secrets) {
      const confused = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid }).sign(new Uint8Array(secret));
      await refused(node.verify(confused));
    }
  });

  it('refuses an unknown kid and a missing kid, even when the signature is good', async () => {
    const claims = { sub: randomUUID(), userId: randomUUID(), sid: randomUUID(), iss: ISSUER, iat: clock.seconds, exp: clock.seconds + TTL };
    await refused(node.verify(await forge(db, claims, { kid: randomUUID() })));
    const { key } = await activePrivateKey(db);
    await refused(node.verify(await new SignJWT(claims).setProtectedHeader({ alg: 'EdDSA' }).sign(key)));
  });

  it('refuses a token of another issuer signed with the same key', async () => {
    const other = accessTokensFactory({ db, clock, issuer: 'https://evil.example', ttlSeconds: TTL });
    const { token } = await other.issue(subject());
    await refused(node.verify(token));
  });

  it('is verified by another service from the published key set alone', async () => {
    clock.seconds = Math.floor(Date.now() / 1000);
    try {
      const who = subject();
      const { token } = await node.issue(who);
      const keySet = createLocalJWKSet({ keys: JSON.parse(JSON.stringify(await node.jwks())) as JWK[] });
      const { payload, protectedHeader } = await jwtVerify(token, keySet, { issuer: ISSUER, algorithms: ['EdDSA'] });
      assert.equal(payload.sub, who.userId);
      assert.equal(protectedHeader.alg, 'EdDSA');
      await assert.rejects(jwtVerify(tamper(token), keySet, { issuer: ISSUER, algorithms: ['EdDSA'] }));
    } finally {
      clock.seconds = start;
    }
  });

  it('rotates: the new kid signs, tokens of the old kid still verify, and the key set lists both', async () => {
    clock.seconds = start;
    const old = (await node.issue(subject())).token;
    const oldKid = decodeProtectedHeader(old).kid;
    const newKid = await node.rotate();
    assert.notEqual(newKid, oldKid);
    const fresh = (await node.issue(subject())).token;
    assert.equal(decodeProtectedHeader(fresh).kid, newKid);
    await node.verify(old);
    await node.verify(fresh);
    const kids = (await node.jwks()).map((key) => key.kid);
    assert.ok(kids.includes(oldKid!) && kids.includes(newKid), JSON.stringify(kids));
    const active = await db.selectFrom('signing_keys').select('kid').where('status', '=', 'active').execute();
    assert.deepEqual(active, [{ kid: newKid }]);
    // A node started later still knows the old key while its tokens can be alive.
    await accessTokensFactory({ db, clock, issuer: ISSUER, ttlSeconds: TTL }).verify(old);
  });
});

describe('access tokens on several nodes', () => {
  let database: DatabaseHandle;
  before(async () => {
    database = await migratedMemoryDatabase();
  });
  after(async () => {
    await database.close();
  });

  it('two nodes starting together on an empty database agree on one active key', async () => {
    const clock = new HandClock();
    const [a, b] = [0, 1].map(() => accessTokensFactory({ db: database.db, clock, issuer: ISSUER, ttlSeconds: TTL })) as [ReturnType<typeof accessTokensFactory>, ReturnType<typeof accessTokensFactory>];
    await Promise.all([a.ready(), b.ready()]);
    const rows = await database.db.selectFrom('signing_keys').select(['kid', 'status']).execute();
    assert.equal(rows.filter((row) => row.status === 'active').length, 1, JSON.stringify(rows));
    const fromA = (await a.issue(subject())).token;
    const fromB = (await b.issue(subject())).token;
    assert.equal(decodeProtectedHeader(fromA).kid, decodeProtectedHeader(fromB).kid);
    assert.equal(decodeProtectedHeader(fromA).kid, rows.find((row) => row.status === 'active')!.kid);
    await a.verify(fromB);
    await b.verify(fromA);
  });

  it('a node that did not rotate moves to the new key, so its tokens outlive the old key', async () => {
    const clock = new HandClock();
    const make = () => accessTokensFactory({ db: database.db, clock, issuer: ISSUER, ttlSeconds: TTL });
    const [a, b] = [make(), make()];
    await Promise.all([a.ready(), b.ready()]);
    const newKid = await a.rotate();
    // An hour later the old key's last token has long expired and nodes started now no longer load it.
    clock.seconds += 3600;
    const { token } = await b.issue(subject());
    assert.equal(decodeProtectedHeader(token).kid, newKid, 'node B still signs with the retired key');
    await make().verify(token);
  });
});
