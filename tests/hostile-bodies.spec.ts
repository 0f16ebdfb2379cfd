// Hostile JSON bodies, on every database target: too deep, too wide, too many keys or entries. Each is
// refused with 413 naming the limit it broke, before any route sees it, and changes nothing; no body
// of any shape gets a 500; a 422 lists at most 20 problems; NUL characters are still refused, however
// deep. The limits are configurable, and a body that keeps them is served as before.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import fc from 'fast-check';
import type { App } from '../src/app.ts';
import { assertErrorEnvelope, registerUser, uniqueEmail, type Answer } from './helpers/api.ts';
import { fingerprint, forEachDatabase } from './helpers/harness.ts';

/** Sends a raw JSON text, as a client would put it on the wire. */
async function send(app: App, method: 'POST' | 'PATCH', url: string, text: string, token?: string): Promise<Answer> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await app.inject({ method, url, headers, payload: text });
  let body: unknown = response.body;
  try {
    body = JSON.parse(response.body);
  } catch {
    // not JSON: the assertions below say so
  }
  return { status: response.statusCode, body, headers: response.headers };
}

const wideObject = (keys: number, prefix = 'k') => JSON.stringify(Object.fromEntries(Array.from({ length: keys }, (_, i) => [`${prefix}${i}`, 1])));
const deepArrays = (depth: number) => `${'['.repeat(depth)}${']'.repeat(depth)}`;
const deepObjects = (depth: number) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`;

/** The routes that take a body from anyone, and the profile, which takes one from its owner. */
const bodyRoutes = (accessToken: string) =>
  [
    ['POST', '/auth/login', undefined],
    ['POST', '/auth/register', undefined],
    ['PATCH', '/api/users/me', accessToken],
  ] as const;

forEachDatabase('hostile JSON bodies', (h) => {
  it('refuses 60,000 keys with 413 naming the per-object limit, on public routes and PATCH /api/users/me, changing nothing', async () => {
    const { app, db } = h();
    const user = await registerUser(app);
    const body = wideObject(60_000);
    const before = await fingerprint(db);
    for (const [method, url, token] of bodyRoutes(user.accessToken)) {
      const answer = await send(app, method, url, body, token);
      assertErrorEnvelope(answer, 413, 'JSON_OBJECT_TOO_LARGE');
      assert.match(answer.body.message, /more than 100 keys/);
      assert.ok(JSON.stringify(answer.body).length < 500, `${url}: a short answer, not a list of every key`);
    }
    assert.equal(await fingerprint(db), before);
  });

  it('refuses JSON nested 10,000 deep with 413, never a 500, on login, registration and the profile', async () => {
    const { app } = h();
    const user = await registerUser(app);
    for (const text of [deepArrays(10_000), deepObjects(10_000), `{"firstName":${deepArrays(10_000)}}`, `{"email":"a@b.c","password":${deepObjects(10_000)}}`]) {
      for (const [method, url, token] of bodyRoutes(user.accessToken)) {
        const answer = await send(app, method, url, text, token);
        assertErrorEnvelope(answer, 413, 'JSON_TOO_DEEP');
        assert.equal(answer.body.message, 'The JSON body nests deeper than 32 levels');
      }
    }
  });

  it('refuses too many keys in all and too long an array, each naming its limit', async () => {
    const { app } = h();
    // 20 objects of 60 keys: each object keeps its limit, the body breaks the total.
    const many = `[${Array.from({ length: 20 }, (_, i) => wideObject(60, `o${i}k`)).join(',')}]`;
    const total = await send(app, 'POST', '/auth/login', many);
    assertErrorEnvelope(total, 413, 'JSON_TOO_MANY_KEYS');
    assert.match(total.body.message, /more than 1000 keys in all/);

    const long = await send(app, 'POST', '/auth/login', JSON.stringify({ email: Array.from({ length: 1001 }, () => 0) }));
    assertErrorEnvelope(long, 413, 'JSON_ARRAY_TOO_LONG');
    assert.match(long.body.message, /more than 1000 entries/);

    // At the limits exactly, the body reaches the route, which says what is wrong with it.
    const atLimits = await send(app, 'POST', '/auth/login', JSON.stringify({ email: Array.from({ length: 1000 }, () => 0), password: JSON.parse(deepArrays(30)) }));
    assert.equal(atLimits.status, 422, JSON.stringify(atLimits.body));
    assert.deepEqual(
      atLimits.body.errors.map((e: { field: string }) => e.field),
      ['email', 'password'],
    );
  });

  it('counts only structure: brackets, colons, commas and escaped quotes inside strings are text', async () => {
    const { app } = h();
    const user = await registerUser(app);
    // As JSON text: \" [{[{…[{ :, \\ \" and 100 x: one string of 184 characters.
    const tricky = String.raw`\"` + '[{'.repeat(40) + String.raw`:,\\\"` + 'x'.repeat(100);
    const answer = await send(app, 'PATCH', '/api/users/me', `{"firstName":"${tricky}"}`, user.accessToken);
    assert.equal(answer.status, 422, JSON.stringify(answer.body));
    assert.deepEqual(
      answer.body.errors.map((e: { field: string }) => e.field),
      ['firstName'],
    );
    // Malformed JSON is still malformed JSON, whatever it nests.
    for (const text of ['{"email":', '[[[[', '{"a":"unterminated', ']]]}}}', '{"a":1,,}']) assertErrorEnvelope(await send(app, 'POST', '/auth/login', text), 400, 'MALFORMED_JSON');
  });

  it('lists at most the first 20 problems in a 422', async () => {
    const { app, db } = h();
    const user = await registerUser(app);
    const before = await fingerprint(db);
    const answer = await send(app, 'PATCH', '/api/users/me', wideObject(99, 'unknown'), user.accessToken);
    assert.equal(answer.status, 422, JSON.stringify(answer.body));
    assert.equal(answer.body.errors.length, 20);
    assert.deepEqual(answer.body.errors[0], { field: 'unknown0', message: 'Unknown0 is not allowed here' });
    assert.deepEqual(answer.body.errors[19], { field: 'unknown19', message: 'Unknown19 is not allowed here' });
    assert.equal(await fingerprint(db), before);
  });

  it('still refuses a NUL character, however deep it hides, naming the field', async () => {
    const { app } = h();
    const user = await registerUser(app);
    const flat = await send(app, 'PATCH', '/api/users/me', '{"lastName":"Smith","firstName":"a\\u0000b"}', user.accessToken);
    assert.equal(flat.status, 422, JSON.stringify(flat.body));
    assert.deepEqual(flat.body.errors, [{ field: 'firstName', message: 'First name must not contain a NUL character' }]);
    const deep = await send(app, 'PATCH', '/api/users/me', `{"phone":${'['.repeat(30)}"\\u0000"${']'.repeat(30)}}`, user.accessToken);
    assert.equal(deep.status, 422, JSON.stringify(deep.body));
    assert.deepEqual(deep.body.errors, [{ field: 'phone', message: 'Phone must not contain a NUL character' }]);
  });

  it('never answers a 5xx, whatever JSON-like text arrives', { timeout: 120_000 }, async () => {
    const { app } = h();
    const user = await registerUser(app);
    const jsonish = fc.oneof(
      fc.json({ depthSize: 'large' }),
      fc.string({ unit: fc.constantFrom('[', ']', '{', '}', '"', ':', ',', '\\', '0', 'a', ' ') }),
      fc.nat({ max: 5000 }).map((n) => deepArrays(n)),
      fc.constantFrom(10_000, 100_000).chain((n) => fc.constantFrom(deepArrays(n), deepObjects(n), `{"email":${deepArrays(n)}}`)),
      fc.nat({ max: 3000 }).map((n) => wideObject(n)),
    );
    const routes = [
      ['POST', '/auth/login', undefined],
      ['POST', '/auth/register', undefined],
      ['PATCH', '/api/users/me', user.accessToken],
    ] as const;
    await fc.assert(
      fc.asyncProperty(jsonish, fc.constantFrom(...routes), async (text, [method, url, token]) => {
        const answer = await send(app, method, url, text, token);
        assert.ok(answer.status < 500, `${method} ${url} ${text.slice(0, 200)} → ${answer.status} ${JSON.stringify(answer.body)}`);
        // Nothing was created from a random body: registration needs every field right.
        assert.notEqual(answer.status, 201, text.slice(0, 200));
      }),
      { seed: 14, numRuns: 150 },
    );
  });
});

forEachDatabase(
  'hostile JSON bodies, with the limits configured',
  (h) => {
    it('applies the configured limits instead of the defaults', async () => {
      const { app } = h();
      assertErrorEnvelope(await send(app, 'POST', '/auth/login', deepArrays(4)), 413, 'JSON_TOO_DEEP');
      assertErrorEnvelope(await send(app, 'POST', '/auth/login', wideObject(6)), 413, 'JSON_OBJECT_TOO_LARGE');
      assertErrorEnvelope(await send(app, 'POST', '/auth/login', `[${wideObject(5, 'a')},${wideObject(4, 'b')}]`), 413, 'JSON_TOO_MANY_KEYS');
      assertErrorEnvelope(await send(app, 'POST', '/auth/login', '[1,2,3,4]'), 413, 'JSON_ARRAY_TOO_LONG');
      const message = (await send(app, 'POST', '/auth/login', deepArrays(4))).body.message;
      assert.equal(message, 'The JSON body nests deeper than 3 levels');
      // Within them, a real request goes through.
      const email = uniqueEmail('limits');
      const registered = await send(app, 'POST', '/auth/register', JSON.stringify({ firstName: 'Lim', lastName: 'Its', email, password: 'correct horse battery' }));
      assert.equal(registered.status, 201, JSON.stringify(registered.body));
    });
  },
  { GATEHOUSE_JSON_MAX_DEPTH: '3', GATEHOUSE_JSON_MAX_OBJECT_KEYS: '5', GATEHOUSE_JSON_MAX_KEYS: '8', GATEHOUSE_JSON_MAX_ARRAY_LENGTH: '3' },
);
