// Who is acting. Every service method takes the acting principal and asks the one policy
// (src/domain/policy/policy.ts) whether it may; the HTTP layer only builds principals from requests.
// A caller that skips HTTP (the command line, a job, a test) gets exactly what its principal allows:
// the system may do what the policy grants it by name, an anonymous caller only the public actions.
import type { PlatformRole } from '../db/schema.ts';
import type { User } from './accounts/types.ts';
import type { Membership } from './organisations/types.ts';
import type { Permission } from './policy/permissions.ts';

/** Where a request came from: for throttling, sign-in alerts and the audit log. */
export interface ClientInfo {
  ip: string | null;
  userAgent: string | null;
}

/** A person signed in with a live session (checked when the principal was made). */
export interface UserPrincipal {
  kind: 'user';
  userId: string;
  sessionId: string;
  platformRole: PlatformRole;
  /** The account as it stood when the request was authenticated, read in the same query as the session. */
  user: User;
  client: ClientInfo;
  /** How the session was authenticated and whether the account has a second factor, as read with it. */
  authentication: SessionAuthentication;
  /**
   * The memberships the policy has resolved for this principal, by organisation id (null: not a
   * member): the route hook's check and the service's are one query, not two.
   */
  readonly memberships: Map<string, Membership | null>;
}

/** How a session was authenticated (RFC 8176 `amr`), when its last strong check was, and whether its account has a second factor. */
export interface SessionAuthentication {
  amr: readonly string[];
  authTime: Date;
  secondFactor: boolean;
}

/**
 * The holder of an access token whose signature and lifetime were checked but whose session was not:
 * only for a read whose one statement checks the session itself (the hot listing).
 */
export interface TokenPrincipal {
  kind: 'token';
  userId: string;
  sessionId: string;
  client: ClientInfo;
}

/**
 * The holder of an API key (`gh_…`), checked against the key cache (src/domain/credentials/): an
 * organisation's key acts in that organisation only; a personal key (`organisationId` null) acts as
 * its owner in the organisations they are an active member of. Either reaches organisation routes
 * only, never a person's own routes (profile, password, sessions, keys).
 */
export interface ApiKeyPrincipal {
  kind: 'api_key';
  apiKeyId: string;
  organisationId: string | null;
  /** The person the key belongs to: its creator, who answers for it. */
  userId: string;
  /**
   * An organisation key: its permissions that its creator still holds (as of the cache entry's
   * filling). A personal key: its own, narrowed in each organisation to its owner's role there.
   */
  permissions: readonly Permission[];
  client: ClientInfo;
  /** A personal key's owner's memberships, resolved once per request, as for a person. */
  readonly memberships: Map<string, Membership | null>;
}

/** A machine client, with an access token from the client-credentials grant: its organisation only. */
export interface ApplicationPrincipal {
  kind: 'application';
  applicationId: string;
  clientId: string;
  organisationId: string;
  /** The token's scope, as far as the client still holds it. */
  permissions: readonly Permission[];
  client: ClientInfo;
}

/** Gatehouse itself: the command line and background jobs, for the actions the policy grants it. */
export interface SystemPrincipal {
  kind: 'system';
  /** What acts, for the audit log: 'command line'. */
  via: string;
  client: ClientInfo;
}

/** Someone not signed in: registration, sign-in, the mailed links. */
export interface AnonymousPrincipal {
  kind: 'anonymous';
  client: ClientInfo;
}

export type Principal = UserPrincipal | TokenPrincipal | ApiKeyPrincipal | ApplicationPrincipal | SystemPrincipal | AnonymousPrincipal;

/** Software acting with a credential of its own: an API key or a machine client. */
export type CredentialPrincipal = ApiKeyPrincipal | ApplicationPrincipal;

export const isCredential = (principal: Principal): principal is CredentialPrincipal => principal.kind === 'api_key' || principal.kind === 'application';

const NO_CLIENT: ClientInfo = { ip: null, userAgent: null };

export const anonymous = (client: ClientInfo): AnonymousPrincipal => ({ kind: 'anonymous', client });

export const system = (via: string): SystemPrincipal => ({ kind: 'system', via, client: NO_CLIENT });

export function userPrincipal(input: { user: User; sessionId: string; client: ClientInfo; authentication: SessionAuthentication }): UserPrincipal {
  return {
    kind: 'user',
    userId: input.user.id,
    sessionId: input.sessionId,
    platformRole: input.user.platformRole,
    user: input.user,
    client: input.client,
    authentication: input.authentication,
    memberships: new Map(),
  };
}
