// Access tokens as other services see them: the published key set and discovery document, a token
// verified with any JWT library, and every token that must not open the API.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createLocalJWKSet, decodeProtectedHeader, jwtVerify, type JSONWebKeySet } from 'jose';
import { call, registerUser } from './helpers/api.ts';
import { PUBLIC_URL, forEachDatabase } from './helpers/harness.ts';

forEachDatabase('tokens', (h) => {
  it('publishes Ed25519 public keys (access tokens) and RSA ones (ID tokens) at /.well-known/jwks.json, never a private part', async () => {
    await registerUser(h().app); // makes sure a key exists
    const answer = await call(h().app, 'GET', '/.well-known/jwks.json');
    assert.equal(answer.status, 200);
    const { keys } = answer.body as JSONWebKeySet;
    assert.ok(Array.isArray(keys) && keys.length >= 1, JSON.stringify(answer.body));
    assert.ok(keys.some((key) => key.alg === 'RS256'), 'the ID token key is published beside the access token keys');
    for (const key of keys) {
      assert.equal(key.use, 'sig');
      assert.equal(typeof key.kid, 'string');
      if (key.alg === 'RS256') {
        assert.equal(key.kty, 'RSA');
        assert.ok((key.n ?? '').length >= 342, 'at least 2048 bits');
      } else {
        assert.equal(key.kty, 'OKP');
        assert.equal(key.crv, 'Ed25519');
        assert.equal(key.alg, 'EdDSA');
        assert.match(key.x ?? '', /^[\w-]{43}$/);
      }
      for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi', 'k']) assert.ok(!(secret in key), `the published key has "${secret}"`);
    }
    assert.equal(new Set(keys.map((k) => k.kid)).size, keys.length);
    const active = await h().db.selectFrom('signing_keys').select('kid').where('status', '=', 'active').execute();
    assert.equal(active.length, 2, 'one active key per algorithm');
    for (const { kid } of active) assert.ok(keys.some((k) => k.kid === kid));
  });

  it('describes the issuer and where its keys are at /.well-known/openid-configuration', async () => {
    const answer = await call(h().app, 'GET', '/.well-known/openid-configuration');
    assert.equal(answer.status, 200);
    assert.equal(answer.body.issuer, PUBLIC_URL);
    assert.equal(answer.body.jwks_uri, `${PUBLIC_URL}/.well-known/jwks.json`);
    const jwksPath = new URL(answer.body.jwks_uri).pathname;
    assert.equal((await call(h().app, 'GET', jwksPath)).status, 200);
  });

  it('issues access tokens that verify against the fetched key set, as any other service would check them', async () => {
    const user = await registerUser(h().app);
    const discovery = await call(h().app, 'GET', '/.well-known/openid-configuration');
    const jwks = await call(h().app, 'GET', new URL(discovery.body.jwks_uri).pathname);
    const keySet = createLocalJWKSet(jwks.body as JSONWebKeySet);
    const { payload, protectedHeader } = await jwtVerify(user.accessToken, keySet, { issuer: discovery.body.issuer, algorithms: ['EdDSA'] });
    assert.equal(protectedHeader.alg, 'EdDSA');
    assert.ok(protectedHeader.kid);
    assert.equal(payload.iss, PUBLIC_URL);
    assert.equal(payload.sub, user.userId);
    assert.equal(payload.userId, user.userId);
    assert.equal(payload.email, user.email);
    assert.equal(payload.exp! - payload.iat!, h().config.accessTokenTtlSeconds);
    const session = await h().db.selectFrom('sessions').select('id').where('user_id', '=', user.userId).executeTakeFirstOrThrow();
    assert.equal(payload.sid, session.id);

    const login = await call(h().app, 'POST', '/auth/login', { body: { email: user.email, password: user.password } });
    await jwtVerify(login.body.data.accessToken, keySet, { issuer: PUBLIC_URL, algorithms: ['EdDSA'] });
    const refreshed = await call(h().app, 'POST', '/auth/refresh', { body: { refreshToken: user.refreshToken } });
    assert.equal(refreshed.status, 200);
    const again = await jwtVerify(refreshed.body.data.accessToken, keySet, { issuer: PUBLIC_URL, algorithms: ['EdDSA'] });
    assert.equal(again.payload.sid, payload.sid);
  });

  it('refuses a refresh token presented as a Bearer', async () => {
    const user = await registerUser(h().app);
    const answer = await call(h().app, 'GET', '/api/users/me', { token: user.refreshToken });
    assert.equal(answer.status, 401);
    assert.equal(answer.body.statusCode, 401);
    assert.equal((await call(h().app, 'GET', '/api/users/me', { token: user.accessToken })).status, 200);
  });

  it('refuses the access token on the very next request after logout', async () => {
    const user = await registerUser(h().app);
    assert.equal((await call(h().app, 'GET', '/api/users/me', { token: user.accessToken })).status, 200);
    assert.equal((await call(h().app, 'POST', '/auth/logout', { token: user.accessToken })).status, 200);
    const after = await call(h().app, 'GET', '/api/users/me', { token: user.accessToken });
    assert.equal(after.status, 401);
    assert.equal(after.body.code, 'INVALID_TOKEN');
  });

  it('refuses an access token once it has expired by the clock', async () => {
    const user = await registerUser(h().app);
    const ttl = h().config.accessTokenTtlSeconds;
    try {
      h().clock.advance(ttl - 5);
      assert.equal((await call(h().app, 'GET', '/api/users/me', { token: user.accessToken })).status, 200);
      h().clock.advance(5 + 31);
      const expired = await call(h().app, 'GET', '/api/users/me', { token: user.accessToken });
      assert.equal(expired.status, 401);
      assert.equal(expired.body.code, 'INVALID_TOKEN');
    } finally {
      h().clock.reset();
    }
    // The session itself lives on: a refresh gives a working token again.
    const refreshed = await call(h().app, 'POST', '/auth/refresh', { body: { refreshToken: user.refreshToken } });
    assert.equal(refreshed.status, 200);
    assert.equal((await call(h().app, 'GET', '/api/users/me', { token: refreshed.body.data.accessToken })).status, 200);
  });

  it('names the kid of an active key in every token it issues', async () => {
    const user = await registerUser(h().app);
    const kid = decodeProtectedHeader(user.accessToken).kid;
    const row = await h().db.selectFrom('signing_keys').select('status').where('kid', '=', kid!).executeTakeFirstOrThrow();
    assert.equal(row.status, 'active');
  });
});
