// Operations: health and readiness, the docs, an OpenAPI document that matches the routes the app
// really serves and the way it really guards them, request ids, caching headers and CORS.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import type { App } from '../src/app.ts';
import { PERMISSIONS } from '../src/domain/policy/permissions.ts';
import { call, registerUser } from './helpers/api.ts';
import { forEachDatabase, startHarness, type Harness } from './helpers/harness.ts';

type Method = 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE';
interface Operation {
  operationId?: string;
  security?: Array<Record<string, string[]>>;
  requestBody?: unknown;
  responses: Record<string, unknown>;
  'x-permission'?: string;
  tags?: string[];
}
const METHODS: Method[] = ['GET', 'POST', 'PATCH', 'PUT', 'DELETE'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Every method and path the router serves, read from Fastify's own route tree. */
function registeredRoutes(app: App): string[] {
  const segments: string[] = [];
  const routes: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const match = /^((?:[│ ] {3})*)[├└]── (.*) \(([A-Z, ]+)\)$/.exec(line);
    if (!match) continue;
    const depth = match[1]!.length / 4;
    segments.length = depth;
    segments.push(match[2]!);
    const path = segments.join('');
    for (const method of match[3]!.split(',').map((m) => m.trim())) routes.push(`${method} ${path}`);
  }
  return routes;
}

/**
 * The routes that are deliberately left out of the document: the docs themselves and `/`, and the
 * OpenID Provider's own endpoints under /oidc, which the discovery document describes (OpenID Connect
 * Discovery 1.0: /.well-known/openid-configuration, itself documented).
 */
const hidden = (route: string) => {
  const [method, path] = route.split(' ') as [string, string];
  return method === 'HEAD' || method === 'OPTIONS' || path === '/' || path === '/openapi.json' || path === '/docs' || path.startsWith('/docs/') || path.startsWith('/assets/') || path.startsWith('/oidc/');
};

function documentedOperations(document: { paths: Record<string, Record<string, Operation>> }) {
  const operations: Array<{ method: Method; path: string; operation: Operation }> = [];
  for (const [path, item] of Object.entries(document.paths)) {
    for (const method of METHODS) {
      const operation = item[method.toLowerCase()];
      if (operation) operations.push({ method, path, operation });
    }
  }
  return operations;
}

const fill = (path: string) => path.replace(/\{[^}]+\}/g, () => randomUUID());

forEachDatabase('operations', (h) => {
  it('answers /healthz and /readyz', async () => {
    const health = await call(h().app, 'GET', '/healthz');
    assert.equal(health.status, 200);
    assert.deepEqual(health.body, { status: 'ok' });
    const ready = await call(h().app, 'GET', '/readyz');
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body, { status: 'ready' });
  });

  it('redirects / to the docs, which are an HTML page', async () => {
    const root = await call(h().app, 'GET', '/');
    assert.ok(root.status >= 301 && root.status <= 308, String(root.status));
    assert.equal(root.headers.location, '/docs');
    const docs = await call(h().app, 'GET', '/docs/');
    assert.equal(docs.status, 200);
    assert.match(String(docs.headers['content-type']), /^text\/html/);
    assert.match(docs.body, /<html/i);
  });

  it('serves an OpenAPI 3.1 document that lists exactly the routes the app serves', async () => {
    const answer = await call(h().app, 'GET', '/openapi.json');
    assert.equal(answer.status, 200);
    assert.equal(answer.body.openapi, '3.1.0');
    assert.deepEqual({ ...answer.body.components.securitySchemes.bearerAuth, description: undefined }, { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: undefined });
    const documented = documentedOperations(answer.body).map(({ method, path }) => `${method} ${path}`);
    const served = registeredRoutes(h().app)
      .filter((route) => !hidden(route))
      .map((route) => route.replace(/:(\w+)/g, '{$1}'));
    assert.ok(served.length >= 10, `only ${served.length} routes read from the router`);
    assert.deepEqual([...new Set(documented)].sort(), [...new Set(served)].sort());
    assert.equal(documented.length, new Set(documented).size);
  });

  it('gives every operation a unique operationId and documents its errors the way the hooks enforce them', async () => {
    const user = await registerUser(h().app);
    const operations = documentedOperations((await call(h().app, 'GET', '/openapi.json')).body);
    const ids = operations.map(({ operation }) => operation.operationId);
    assert.ok(ids.every((id) => typeof id === 'string' && id.length > 0), JSON.stringify(ids));
    assert.equal(new Set(ids).size, ids.length);

    for (const { method, path, operation } of operations) {
      const where = `${method} ${path}`;
      const security = operation.security ?? [];
      const bearerRequired = security.length > 0 && security.every((s) => 'bearerAuth' in s);
      const bearerAccepted = security.some((s) => 'bearerAuth' in s);
      const body = operation.requestBody || method !== 'GET' ? {} : undefined;
      const anonymous = await call(h().app, method, fill(path), { body });
      if (bearerRequired) assert.equal(anonymous.status, 401, `${where} is documented as protected but answered ${anonymous.status}`);
      if (anonymous.status === 401) {
        assert.ok(bearerAccepted, `${where} refuses anonymous callers but documents no bearerAuth`);
        assert.ok(operation.responses['401'], `${where} documents no 401`);
      }
      if (operation['x-permission'] !== undefined) {
        assert.ok([...PERMISSIONS, 'member'].includes(operation['x-permission']), `${where}: unknown permission ${operation['x-permission']}`);
        assert.ok(bearerRequired, `${where} needs a permission but no token`);
        assert.ok(operation.responses['403'] && operation.responses['404'], `${where} documents no 403/404`);
      }
      if (path.startsWith('/api/organisations/{orgId}')) {
        assert.ok(operation['x-permission'], `${where} is an organisation route without x-permission`);
        const stranger = await call(h().app, method, fill(path), { body, token: user.accessToken });
        assert.equal(stranger.status, 404, `${where} for an organisation the caller is not in answered ${stranger.status}`);
      }
      // OAuth 2.0 endpoints refuse bad input as RFC 6749's 400 invalid_request, never 422.
      const oauth = (operation.tags ?? []).includes('OAuth 2.0');
      if (operation.requestBody && !oauth) assert.ok(operation.responses['422'], `${where} takes a body but documents no 422`);
      assert.ok(Object.keys(operation.responses).some((status) => /^2\d\d$/.test(status)), `${where} documents no success answer`);
    }
  });

  it('puts an x-request-id on every answer, and the error body names the same id', async () => {
    const user = await registerUser(h().app);
    const answers = await Promise.all([
      call(h().app, 'GET', '/healthz'),
      call(h().app, 'GET', '/'),
      call(h().app, 'GET', '/docs/'),
      call(h().app, 'GET', '/openapi.json'),
      call(h().app, 'GET', '/.well-known/jwks.json'),
      call(h().app, 'GET', '/api/users/me', { token: user.accessToken }),
      call(h().app, 'GET', '/api/users/me'),
      call(h().app, 'POST', '/auth/login', { body: {} }),
      call(h().app, 'GET', '/no/such/route'),
    ]);
    const ids = answers.map((answer) => String(answer.headers['x-request-id']));
    for (const id of ids) assert.match(id, UUID);
    assert.equal(new Set(ids).size, ids.length);
    for (const answer of answers.filter((a) => a.status === 401 || a.status === 404)) assert.equal(answer.body.requestId, answer.headers['x-request-id']);
  });

  it('tells caches not to keep API answers', async () => {
    const user = await registerUser(h().app);
    const answers = await Promise.all([
      call(h().app, 'GET', '/healthz'),
      call(h().app, 'GET', '/readyz'),
      call(h().app, 'GET', '/api/users/me', { token: user.accessToken }),
      call(h().app, 'GET', '/api/organisations', { token: user.accessToken }),
      call(h().app, 'GET', '/api/users/me'),
      call(h().app, 'POST', '/auth/login', { body: { email: user.email, password: user.password } }),
      call(h().app, 'POST', '/auth/login', { body: {} }),
      call(h().app, 'GET', '/no/such/route'),
    ]);
    for (const answer of answers) assert.equal(answer.headers['cache-control'], 'no-store', `${answer.status} ${JSON.stringify(answer.body)}`);
  });
});

describe('CORS', () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness('embedded', { CORS_ORIGINS: 'https://app.example' });
  });
  after(async () => {
    await harness?.close();
  });

  const preflight = (origin: string, method: Method, url: string, requestHeaders = 'content-type') =>
    harness.app.inject({ method: 'OPTIONS', url, headers: { origin, 'access-control-request-method': method, 'access-control-request-headers': requestHeaders } });

  it('answers a preflight from a listed origin, and not from another one', async () => {
    const allowed = await preflight('https://app.example', 'POST', '/auth/login');
    assert.ok(allowed.statusCode < 300, String(allowed.statusCode));
    assert.equal(allowed.headers['access-control-allow-origin'], 'https://app.example');
    const evil = await preflight('https://evil.example', 'POST', '/auth/login');
    assert.equal(evil.headers['access-control-allow-origin'], undefined);

    const simple = await harness.app.inject({ method: 'GET', url: '/healthz', headers: { origin: 'https://app.example' } });
    assert.equal(simple.headers['access-control-allow-origin'], 'https://app.example');
    const simpleEvil = await harness.app.inject({ method: 'GET', url: '/healthz', headers: { origin: 'https://evil.example' } });
    assert.equal(simpleEvil.headers['access-control-allow-origin'], undefined);
  });

  it('lets the listed origin send PATCH and DELETE with an Authorization header', async () => {
    for (const [method, url] of [
      ['PATCH', '/api/users/me'],
      ['DELETE', `/api/organisations/${randomUUID()}`],
    ] as const) {
      const answer = await preflight('https://app.example', method, url, 'authorization,content-type');
      assert.equal(answer.headers['access-control-allow-origin'], 'https://app.example');
      const methods = String(answer.headers['access-control-allow-methods'] ?? '').split(',').map((m) => m.trim());
      assert.ok(methods.includes(method), `preflight for ${method} ${url} allows only ${methods.join(',')}`);
      assert.match(String(answer.headers['access-control-allow-headers'] ?? ''), /authorization/i);
    }
  });
});
