// Authentication and authorization, declared by every route in its config:
//   auth: 'public'   – anyone
//         'optional' – a Bearer token is used when sent (and refused when invalid)
//         'user'     – a valid access token of a live session; on a route with a permission, also an
//                      API key or a machine client's token (SPEC §6.2), as the policy allows
//         'admin'    – the same, held by a platform admin
//   permission       – a permission of the catalogue in the organisation named by :orgId
//   sessionInQuery   – with auth 'user': the hook checks the token and the service's one statement
//                      checks the session while it reads (the hot reads: one round trip, not two)
// The hook asks the policy (src/domain/policy/policy.ts) the same question the service will ask, and
// runs before the body is even parsed, so an unauthenticated caller learns nothing from validation,
// and a non-member learns nothing about an organisation: it is simply not found. The service asks
// again (the answer is remembered on the principal, so it costs no second query): a caller that
// skips this hook is refused all the same.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../domain/errors.ts';
import type { Permission } from '../domain/policy/permissions.ts';
import { anonymous, type ClientInfo, type Principal } from '../domain/principal.ts';
import type { Services } from '../domain/services.ts';

export type AuthMode = 'public' | 'optional' | 'user' | 'admin';

declare module 'fastify' {
  interface FastifyContextConfig {
    auth?: AuthMode;
    /** A permission of the catalogue, or 'member': any member of the organisation, whatever their role. */
    permission?: Permission | 'member';
    /** For a permission route: the caller may act on themselves without the permission (leaving). */
    selfParam?: string;
    /** A seed-compatible route: its errors are `{message}` or `{msg}`. */
    compat?: 'message' | 'msg';
    /** Counted by a throttle (SECURITY.md): may answer 429 with Retry-After. */
    throttled?: boolean;
    /** An OAuth 2.0 endpoint: form bodies, and errors in RFC 6749 §5.2's shape (src/http/routes/oauth.routes.ts). */
    oauth?: boolean;
    /** With auth 'user': the service's query checks the session (the principal is a token holder). */
    sessionInQuery?: boolean;
  }
  interface FastifyRequest {
    principal: Principal | null;
  }
}

const BEARER = /^Bearer[ ]+([A-Za-z0-9._~+/=-]+)$/i;

export function bearerToken(request: FastifyRequest): string | null {
  const header = request.headers.authorization;
  if (!header) return null;
  const match = BEARER.exec(header.trim());
  if (!match?.[1]) throw new AppError('INVALID_TOKEN');
  return match[1];
}

export function clientInfo(request: FastifyRequest): ClientInfo {
  return { ip: request.ip ?? null, userAgent: request.headers['user-agent'] ?? null };
}

/** Who is acting: the principal the hook authenticated, or an anonymous one from this client. */
export function principalOf(request: FastifyRequest): Principal {
  return request.principal ?? anonymous(clientInfo(request));
}

export function installAuth(app: FastifyInstance, services: Services) {
  app.decorateRequest('principal', null);
  const { policy, sessions, bearer } = services;

  // Refusals are thrown, so that each route set's error handler renders them in its own shape.
  const authenticate = async (request: FastifyRequest) => {
    const { auth, permission, selfParam, sessionInQuery } = request.routeOptions.config;
    const token = bearerToken(request);
    if (token === null) {
      if (auth === 'optional') return;
      throw new AppError('AUTHENTICATION_REQUIRED');
    }
    if (sessionInQuery) {
      request.principal = await sessions.tokenHolder(token, clientInfo(request));
      return;
    }
    const principal = await bearer.authenticate(token, clientInfo(request));
    request.principal = principal;
    // API keys and machine clients reach organisation routes (those that declare a permission) only.
    policy.credentialReaches(principal, permission !== undefined);
    if (auth === 'admin') policy.platformAdmin(principal);
    if (permission) {
      const params = request.params as Record<string, string | undefined>;
      await policy.member(principal, params.orgId, permission, { actingOn: selfParam ? params[selfParam] : undefined });
    }
  };
  // Only the routes that authenticate carry the hook, first among their own: a public route pays nothing.
  app.addHook('onRoute', (route) => {
    const auth = (route.config as { auth?: string } | undefined)?.auth;
    if (auth === undefined || auth === 'public') return;
    route.onRequest = [authenticate, ...(route.onRequest === undefined ? [] : Array.isArray(route.onRequest) ? route.onRequest : [route.onRequest])];
  });
}
