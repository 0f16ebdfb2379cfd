// Schemas compiled when first needed: each once, on first use or in the background pass, whichever
// comes first; the background pass stops when the app closes; a real Fastify app validates and
// serializes through them exactly as it did when everything compiled at start.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Fastify from 'fastify';
import { LazyCompilers } from '../../src/http/lazy-compilers.ts';
import { lazyValidatorCompiler } from '../../src/http/validation.ts';

describe('lazy compilers', () => {
  it('compiles each function once: on its first call, or in the background pass when no call came first', async () => {
    const lazy = new LazyCompilers();
    const compiled: string[] = [];
    const double = lazy.wrap(() => (compiled.push('double'), (n: number) => n * 2));
    const negate = lazy.wrap(() => (compiled.push('negate'), (n: number) => -n));
    assert.deepEqual(compiled, []);
    assert.equal(double(4), 8);
    assert.equal(double(5), 10);
    assert.deepEqual(compiled, ['double']);
    await lazy.compileRemaining();
    assert.deepEqual(compiled, ['double', 'negate']);
    assert.equal(negate(3), -3);
    assert.deepEqual(compiled, ['double', 'negate']);
  });

  it('stops the background pass when told, leaving the rest to compile on demand', async () => {
    const lazy = new LazyCompilers();
    let count = 0;
    const getters = Array.from({ length: 5 }, (_, i) => lazy.later(() => (count++, i)));
    const pass = lazy.compileRemaining();
    lazy.stop();
    await pass;
    assert.ok(count < 5, `compiled ${count} of 5 after stop`);
    assert.deepEqual(getters.map((get) => get()), [0, 1, 2, 3, 4]);
    assert.equal(count, 5);
  });

  it('validates and serializes a route of a real app through them, errors included', async () => {
    const lazy = new LazyCompilers();
    const app = Fastify({ schemaController: { compilersFactory: { buildSerializer: lazy.serializerFactory() } } });
    app.setValidatorCompiler(lazyValidatorCompiler(lazy));
    app.post(
      '/echo',
      {
        schema: {
          body: { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 2 } } },
          response: { 200: { type: 'object', properties: { name: { type: 'string' } } } },
        },
      },
      async (request) => ({ ...(request.body as object), secret: 'dropped by the serializer' }),
    );
    await app.ready();
    const good = await app.inject({ method: 'POST', url: '/echo', payload: { name: 'Ada' } });
    assert.equal(good.statusCode, 200);
    assert.deepEqual(good.json(), { name: 'Ada' });
    const bad = await app.inject({ method: 'POST', url: '/echo', payload: { name: 'A' } });
    assert.equal(bad.statusCode, 400);
    assert.match(bad.json().message, /name/);
    const nul = await app.inject({ method: 'POST', url: '/echo', payload: { name: 'A\u0000b' } });
    assert.equal(nul.statusCode, 400);
    await app.close();
  });
});
