// Property-based fuzzing of every operation in the OpenAPI document, on every database target, with
// fixed seeds: valid and invalid requests (path, query, body, content type, token) must never get a
// 5xx, must get the documented media type and schema when their status is documented, and errors in
// the envelope of the API they belong to. After each operation the service must still be healthy.
import assert from 'node:assert/strict';
import { before, it } from 'node:test';
import fc from 'fast-check';
import { forEachDatabase } from './helpers/harness.ts';
import { checkAnswer, operationsOf, type Operation } from './helpers/fuzz/openapi.ts';
import { requestsFor } from './helpers/fuzz/requests.ts';
import { accepts, validValue } from './helpers/fuzz/schema-values.ts';
import { assertHealthy, buildWorld, intact, register, send, someAddress, type Person, type World } from './helpers/fuzz/world.ts';

const SEED = 4242;
/** Runs per operation: enough to cover each kind of request, few enough for a busy 2-core machine. */
const RUNS = 20;
/** Requests replayed to shrink a failure before the smallest one found so far is reported. */
const SHRINK_BUDGET = 150;

/** A seed per operation, stable when operations are added or reordered. */
const seedOf = (op: Operation) => [...op.operationId].reduce((hash, char) => (hash * 31 + char.charCodeAt(0)) | 0, SEED);

forEachDatabase('fuzz', (h) => {
  let operations: Operation[] = [];
  let sentinel: Person;
  let world: World | null = null;

  /** The world as built, or a new one when a fuzzed request changed it (signed out, deleted, …). */
  async function freshWorld(): Promise<World> {
    if (!world || !(await intact(h().db, world))) world = await buildWorld(h().app, h().db);
    return world;
  }

  before(async () => {
    const answer = await send(h().app, { method: 'GET', url: '/openapi.json' });
    assert.equal(answer.status, 200, answer.text);
    operations = operationsOf(JSON.parse(answer.text));
    // Never named in a fuzzed request: whatever they do to the world, this person must still get in.
    sentinel = await register(h().app, h().db, 'sentinel');
  });

  it('finds every operation of the core API and the seed-compatible sets in the document', () => {
    assert.ok(operations.length > 40, `only ${operations.length} operations in the document`);
    assert.equal(new Set(operations.map((op) => op.operationId)).size, operations.length, 'operationIds are unique');
    for (const set of ['saas', 'user-api', 'basic'] as const) assert.ok(operations.some((op) => op.compat === set), `no ${set} operation`);
    for (const op of operations) assert.ok(Object.keys(op.responses).some((status) => status.startsWith('2')), `${op.operationId} documents no success`);
  });

  it('refuses answers the contract forbids, so that the fuzzing below can fail', () => {
    const getMe = operations.find((op) => op.method === 'GET' && op.path === '/api/users/me');
    assert.ok(getMe, 'GET /api/users/me is documented');
    const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => ({
      status,
      headers: { 'content-type': 'application/json; charset=utf-8', 'x-request-id': 'r-1', ...headers },
      text: JSON.stringify(body),
    });
    const envelope = (status: number, code: string) => ({ status: 'Bad request', message: 'No', statusCode: status, code, requestId: 'r-1' });
    assert.doesNotThrow(() => checkAnswer(getMe, answer(401, envelope(401, 'AUTHENTICATION_REQUIRED'))));
    assert.doesNotThrow(() => checkAnswer(getMe, answer(429, envelope(429, 'TOO_MANY_REQUESTS'), { 'retry-after': '5' })));
    assert.throws(() => checkAnswer(getMe, answer(500, envelope(500, 'INTERNAL'))), /a 5xx/);
    assert.throws(() => checkAnswer(getMe, answer(429, envelope(429, 'TOO_MANY_REQUESTS'))), /Retry-After/);
    assert.throws(() => checkAnswer(getMe, answer(200, { status: 'success', message: 'Yes', data: {} })), /documented schema/);
    assert.throws(() => checkAnswer(getMe, answer(201, { status: 'success', message: 'Yes', data: {} })), /does not list/);
    assert.throws(() => checkAnswer(getMe, answer(404, { error: 'Not Found', statusCode: 404 })), /envelope/);
    assert.throws(() => checkAnswer(getMe, answer(403, { ...envelope(403, 'FORBIDDEN'), requestId: 'another' })), /requestId/);
    assert.throws(() => checkAnswer(getMe, answer(422, { errors: [] })), /at least one field/);
    assert.throws(() => checkAnswer(getMe, { ...answer(401, {}), text: 'not json' }), /not JSON/);
    const seedUser = operations.find((op) => op.method === 'GET' && op.path === '/api/user/{username}');
    assert.ok(seedUser, 'GET /api/user/{username} is documented');
    assert.doesNotThrow(() => checkAnswer(seedUser, answer(404, { msg: 'User not found' })));
    assert.throws(() => checkAnswer(seedUser, answer(404, { error: 'Not Found', message: 'No', statusCode: 404 })), /neither \{msg\}/);
  });

  it('generates request bodies that the documented request schema accepts', async () => {
    const bodies = operations.filter((op) => op.body);
    assert.ok(bodies.length > 20, `only ${bodies.length} operations take a body`);
    const current = await freshWorld();
    for (const op of bodies) {
      const generated = fc.sample(requestsFor(op, current), { seed: seedOf(op), numRuns: 100 });
      const valid = generated.filter((request) => request.headers?.['content-type'] === 'application/json' && request.payload !== undefined && accepts(op.body!, safeParse(String(request.payload))));
      assert.ok(valid.length >= 15, `${op.operationId}: only ${valid.length} of 100 generated requests carry a valid body`);
      for (const value of fc.sample(validValue(op.body!), { seed: SEED, numRuns: 30 })) assert.ok(accepts(op.body!, value), `${op.operationId}: generated ${JSON.stringify(value)}`);
    }
  });

  it('never answers 5xx, answers as documented, and stays healthy, for every operation', async (t) => {
    assert.ok(operations.length > 40);
    for (const op of operations) {
      await t.test(`${op.method} ${op.path}`, async () => {
        const { app } = h();
        const current = await freshWorld();
        // One address per operation: what it gets throttled for stays with it.
        const address = someAddress();
        let shrinks = -1;
        await fc.assert(
          fc.asyncProperty(requestsFor(op, current), async (request) => {
            // Shrinking replays requests (a sign-up hashes a password each time): past the budget the
            // remaining candidates pass untried, and fast-check reports the smallest failure found.
            if (shrinks >= 0 && ++shrinks > SHRINK_BUDGET) return;
            try {
              checkAnswer(op, await send(app, { ...request, remoteAddress: address }));
            } catch (error) {
              shrinks = Math.max(shrinks, 0);
              throw error;
            }
          }),
          { seed: seedOf(op), numRuns: RUNS, includeErrorInReport: true },
        );
        await assertHealthy(app, sentinel);
      });
    }
  });
});

function safeParse(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
