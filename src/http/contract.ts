// Every API route declares its contract: an operationId, its auth mode and, for organisation routes,
// the permission it needs. Registration fails for a route that forgets, and the documented error
// answers (401, 403, 404, 422, …) are derived from that declaration so the OpenAPI document cannot
// drift from what the hooks really do.
//
// A query parameter the route does not declare is refused (422, naming it), never ignored: a client
// that misspells a filter must not get every row as if it had asked for them. A route that must take
// parameters it does not know (OAuth 2.0 endpoints ignore unrecognised ones, RFC 6749 §3.1) says so
// with `additionalProperties: true` on its querystring schema.
import type { FastifyInstance, FastifySchema } from 'fastify';
import { compatErrorBody } from './compat/compat-errors.ts';
import { OAuthErrorBody } from './routes/oauth.routes.ts';
import { ErrorBody, ValidationErrorBody } from './schemas.ts';

type Documented = FastifySchema & { security?: unknown[]; description?: string; operationId?: string; hide?: boolean; produces?: string[]; 'x-permission'?: string };

export function enforceContracts(api: FastifyInstance) {
  // A GET's automatic HEAD route shares its schema: each schema is completed once.
  const completed = new WeakSet<object>();
  api.addHook('onRoute', (route) => {
    const where = `${String(route.method)} ${route.url}`;
    const auth = route.config?.auth;
    if (!auth) throw new Error(`${where} declares no auth mode`);
    if (route.config?.sessionInQuery && (auth !== 'user' || route.config.permission)) throw new Error(`${where}: sessionInQuery is for auth 'user' without a permission`);
    const schema = (route.schema ??= {}) as Documented;
    if (completed.has(schema)) return;
    completed.add(schema);
    schema.querystring = strictQuery(schema.querystring);
    if (!schema.hide && !schema.operationId) throw new Error(`${where} declares no operationId`);
    const responses = (schema.response ??= {}) as Record<string, unknown>;
    // A route that answers text (`produces`) still answers its errors in JSON, and is documented so.
    const answersText = schema.produces !== undefined && !schema.produces.some((type) => type.endsWith('json'));
    const add = (status: number, body: object) => {
      responses[status] ??= answersText ? { description: (body as { description?: string }).description, content: { 'application/json': { schema: body } } } : body;
    };
    const permission = route.config?.permission;
    // A seed-compatible route answers its errors in the seed's own shape.
    // An OAuth 2.0 endpoint answers RFC 6749's, and refuses bad input as 400 invalid_request, never 422.
    const ErrorShape = route.config?.oauth ? OAuthErrorBody : route.config?.compat ? compatErrorBody(route.config.compat) : ErrorBody;
    const Invalid = route.config?.oauth ? null : route.config?.compat ? ErrorShape : ValidationErrorBody;
    if (auth !== 'public') {
      schema.security = auth === 'optional' ? [{}, { bearerAuth: [] }] : [{ bearerAuth: [] }];
      add(401, ErrorShape);
    }
    if (auth === 'admin') schema.description = `${schema.description ?? ''}\n\nPlatform admins only.`.trim();
    if (permission) {
      add(403, ErrorShape);
      add(404, ErrorShape);
      schema['x-permission'] = permission;
      const needs = permission === 'member' ? 'Any member of the organisation' : `Requires the \`${permission}\` permission in the organisation`;
      schema.description = `${schema.description ?? ''}\n\n${needs}; a non-member gets 404.`.trim();
    }
    if (auth === 'admin') add(403, ErrorShape);
    if (route.config?.throttled) {
      add(429, ErrorShape);
      schema.description = `${schema.description ?? ''}\n\nThrottled: too many attempts get 429 with \`Retry-After\` (SECURITY.md).`.trim();
    }
    if (schema.body) {
      add(400, ErrorShape);
      add(413, ErrorShape);
    }
    if (Invalid && (schema.body || schema.querystring || schema.params)) add(422, Invalid);
    add(500, ErrorShape);
    add(503, ErrorShape);
  });
}

/** The route's querystring schema, refusing parameters it does not name; none at all when it has none. */
function strictQuery(querystring: unknown): object {
  if (querystring === undefined) return { type: 'object', properties: {}, additionalProperties: false };
  const declared = querystring as { additionalProperties?: unknown };
  // A copy: the schema object may be shared with other routes, or with a body.
  return declared.additionalProperties === undefined ? { ...declared, additionalProperties: false } : declared;
}
