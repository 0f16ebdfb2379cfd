// The OAuth 2.0 endpoints of machine clients: the client-credentials grant (RFC 6749 §4.4),
// introspection (RFC 7662) and revocation (RFC 7009). A client authenticates with its client id and
// secret on every call. Errors are RFC 6749 §5.2's (`{error, error_description}`), not the API's
// envelope: OAuth libraries read them.
import type { Db } from '../../db/database.ts';
import type { Clock } from '../clock.ts';
import { AppError } from '../errors.ts';
import type { ClientInfo } from '../principal.ts';
import { isClientToken, type AccessClaims, type AccessTokens } from '../sessions/access-tokens.ts';
import { hashOpaqueToken } from '../sessions/opaque-tokens.ts';
import { applicationsRepo } from './applications.repo.ts';
import type { ApplicationsService } from './applications.service.ts';
import type { Application } from './types.ts';

export type OAuthErrorCode = 'invalid_request' | 'invalid_client' | 'unsupported_grant_type' | 'invalid_scope';

/** An error in RFC 6749 §5.2's terms; invalid_client is a 401 (with WWW-Authenticate), the rest 400. */
export class OAuthError extends Error {
  readonly error: OAuthErrorCode;
  readonly status: number;

  constructor(error: OAuthErrorCode, description: string) {
    super(description);
    this.name = 'OAuthError';
    this.error = error;
    this.status = error === 'invalid_client' ? 401 : 400;
  }
}

export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
}

export interface TokenAnswer {
  access_token: string;
  token_type: 'Bearer';
  expires_in: number;
  scope: string;
}

export type Introspection = { active: false } | { active: true; scope: string; client_id: string; sub: string; org_id: string; token_type: 'Bearer'; exp: number; iat: number; iss: string; aud: string | string[]; jti: string };

/** The longest a client id or secret can be: longer is not one of ours, and not worth a digest. */
const MAX_CREDENTIAL_LENGTH = 200;

interface Deps {
  db: Db;
  clock: Clock;
  accessTokens: AccessTokens;
  applications: ApplicationsService;
}

export const oauthServiceFactory = ({ db, clock, accessTokens, applications }: Deps) => {
  async function authenticateClient(credentials: ClientCredentials | null): Promise<Application> {
    if (!credentials) throw new OAuthError('invalid_client', 'Client authentication is required (client_secret_basic or client_secret_post)');
    const { clientId, clientSecret } = credentials;
    const found =
      clientId.length <= MAX_CREDENTIAL_LENGTH && clientSecret.length <= MAX_CREDENTIAL_LENGTH
        ? await applicationsRepo.findByCredentials(db, { clientId, secretHash: hashOpaqueToken(clientSecret), now: clock.now() })
        : undefined;
    if (!found) throw new OAuthError('invalid_client', 'Client authentication failed');
    return found;
  }

  /** The claims of a valid access token, or null for anything else: these endpoints never say why. */
  async function claimsOf(token: string | undefined): Promise<AccessClaims | null> {
    if (!token) return null;
    try {
      return await accessTokens.verify(token);
    } catch (error) {
      if (error instanceof AppError) return null;
      throw error;
    }
  }

  return {
    /** The client-credentials grant: a token for the client's organisation, with its permissions or the part of them `scope` asks for. */
    async token(credentials: ClientCredentials | null, params: { grant_type?: string; scope?: string }): Promise<TokenAnswer> {
      if (!params.grant_type) throw new OAuthError('invalid_request', 'grant_type is required');
      const client = await authenticateClient(credentials);
      if (params.grant_type !== 'client_credentials') throw new OAuthError('unsupported_grant_type', 'Only the client_credentials grant is supported');
      const asked = (params.scope ?? '').split(' ').filter((scope) => scope !== '');
      const beyond = asked.filter((scope) => !client.permissions.includes(scope));
      if (beyond.length > 0) throw new OAuthError('invalid_scope', `The client does not hold: ${beyond.join(' ')}`);
      const scope = asked.length > 0 ? [...new Set(asked)] : client.permissions;
      const issued = await accessTokens.issueForClient({ clientId: client.clientId, organisationId: client.organisationId, scope });
      return { access_token: issued.token, token_type: 'Bearer', expires_in: issued.expiresIn, scope: scope.join(' ') };
    },

    /** RFC 7662: active only for a live machine token of the caller's own organisation; `{active: false}` for anything else. */
    async introspect(credentials: ClientCredentials | null, token: string | undefined, from: ClientInfo): Promise<Introspection> {
      const client = await authenticateClient(credentials);
      const claims = await claimsOf(token);
      if (!claims || !isClientToken(claims) || claims.org_id !== client.organisationId) return { active: false };
      try {
        const live = await applications.authenticate(claims, from);
        return { active: true, scope: live.permissions.join(' '), client_id: claims.client_id, sub: claims.sub, org_id: claims.org_id, token_type: 'Bearer', exp: claims.exp, iat: claims.iat, iss: claims.iss, aud: claims.aud, jti: claims.jti };
      } catch (error) {
        if (error instanceof AppError) return { active: false };
        throw error;
      }
    },

    /**
     * RFC 7009: revokes a token the caller was issued. Anything else (unknown, expired, another
     * client's) is answered the same and changes nothing: the caller learns nothing of others' tokens.
     */
    async revoke(credentials: ClientCredentials | null, token: string | undefined): Promise<void> {
      const client = await authenticateClient(credentials);
      const claims = await claimsOf(token);
      if (!claims || !isClientToken(claims) || claims.client_id !== client.clientId) return;
      await applicationsRepo.revokeToken(db, { jti: claims.jti, expiresAt: new Date(claims.exp * 1000), now: clock.now() });
      await applications.forget(claims.jti);
    },
  };
};

export type OAuthService = ReturnType<typeof oauthServiceFactory>;
