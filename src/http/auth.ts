// Authentication and authorization, declared by every route in its config:
//   auth: 'public'   – anyone
//         'optional' – a Bearer token is used when sent (and refused when invalid)
//         'user'     – a valid access token of a live session
//         'admin'    – the same, held by a platform admin
//   permission       – a permission of the catalogue in the organisation named by :orgId
//   sessionInQuery   – with auth 'user': the hook checks the token and the handler's one statement
//                      checks the session while it reads (the hot reads: one round trip, not two)
// The hook runs before the body is even parsed, so an unauthenticated caller learns nothing from
// validation, and a non-member learns nothing about an organisation: it is simply not found.
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { AppError } from '../domain/errors.js';
import type { Membership } from '../domain/organisations/organisations.service.js';
import type { Permission } from '../domain/permissions.js';
import type { Services } from '../domain/services.js';
import type { AuthContext, ClientInfo, TokenHolder } from '../domain/sessions/sessions.service.js';

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
    /** With auth 'user': the handler reads through `tokenHolder` and its query checks the session. */
    sessionInQuery?: boolean;
  }
  interface FastifyRequest {
    auth: AuthContext | null;
    holder: TokenHolder | null;
    membership: Membership | null;
  }
}

const BEARER = /^Bearer[ ]+([A-Za-z0-9._~+/=-]+)$/i;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Ids are UUIDs; anything else names nothing, and is answered as not found rather than invalid. */
export const isUuid = (value: string | undefined): value is string => value !== undefined && UUID.test(value);

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

/** The authenticated caller; only call from a route whose auth mode guarantees one. */
export function caller(request: FastifyRequest): AuthContext {
  if (!request.auth) throw new AppError('AUTHENTICATION_REQUIRED');
  return request.auth;
}

/** The caller as the actor of a change: who, and from where, for the rules and the audit log. */
export function actorOf(request: FastifyRequest) {
  return { userId: caller(request).userId, ...clientInfo(request) };
}

/** The holder of a checked token, for a `sessionInQuery` route: its query must check the session. */
export function tokenHolder(request: FastifyRequest): TokenHolder {
  if (!request.holder) throw new AppError('AUTHENTICATION_REQUIRED');
  return request.holder;
}

export function callerMembership(request: FastifyRequest): Membership {
  if (!request.membership) throw new AppError('ORGANISATION_NOT_FOUND');
  return request.membership;
}

export function installAuth(app: FastifyInstance, services: Services) {
  app.decorateRequest('auth', null);
  app.decorateRequest('membership', null);
  app.decorateRequest('holder', null);

  // Refusals are thrown, so that each route set's error handler renders them in its own shape.
  app.addHook('onRequest', async (request) => {
    const { auth, permission, selfParam, sessionInQuery } = request.routeOptions.config;
    if (auth === undefined || auth === 'public') return;
    const token = bearerToken(request);
    if (token === null) {
      if (auth === 'optional') return;
      throw new AppError('AUTHENTICATION_REQUIRED');
    }
    if (sessionInQuery) {
      request.holder = await services.sessions.holderOf(token);
      return;
    }
    request.auth = await services.sessions.authenticate(token);
    if (auth === 'admin' && request.auth.platformRole !== 'admin') throw new AppError('FORBIDDEN');
    if (permission) await authorize(request, services, permission, selfParam);
  });
}

async function authorize(request: FastifyRequest, services: Services, permission: Permission | 'member', selfParam: string | undefined) {
  const params = request.params as Record<string, string | undefined>;
  const actingOnSelf = selfParam !== undefined && params[selfParam] === request.auth!.userId;
  request.membership = await requireMembership(services, request.auth!, params.orgId, actingOnSelf || permission === 'member' ? null : permission);
}

/**
 * The caller's membership of an organisation holding the permission (null: any member will do).
 * A non-member, or an id that names nothing, is not found; a member without the permission is refused.
 */
export async function requireMembership(services: Services, auth: AuthContext, orgId: string | undefined, permission: Permission | null): Promise<Membership> {
  if (!isUuid(orgId)) throw new AppError('ORGANISATION_NOT_FOUND');
  const membership = await services.organisations.membership(orgId, auth.userId);
  if (!membership) throw new AppError('ORGANISATION_NOT_FOUND');
  if (permission && !membership.permissions.includes(permission)) throw new AppError('FORBIDDEN');
  return membership;
}
