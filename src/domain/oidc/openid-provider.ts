// Gatehouse as an OpenID Provider (SPEC §6.4). The protocol is oidc-provider's (a certified
// implementation); Gatehouse supplies its storage (./oidc-adapter.ts), its accounts (the users table),
// its keys (an RS256 key in signing_keys beside the EdDSA one) and its pages (given by the HTTP layer).
//
// Every endpoint of the provider lives under /oidc; its discovery document is the issuer's, at
// /.well-known/openid-configuration, and names Gatehouse's one key set, /.well-known/jwks.json.
// A sign-in through the hosted pages opens a Gatehouse session; the provider's session is bound to
// it by a cookie of its own (SIGNIN_COOKIE), so that signing out or revoking the Gatehouse session
// makes the next authorization request ask for a sign-in again.
import { createHmac } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { default as Provider, Configuration, KoaContextWithOIDC } from 'oidc-provider';
import type { Db } from '../../db/database.ts';
import type { Clock } from '../clock.ts';
import { usersRepo } from '../accounts/users.repo.ts';
import { AppError } from '../errors.ts';
import { isUuid } from '../ids.ts';
import { membersRepo } from '../organisations/members.repo.ts';
import { organisationsRepo } from '../organisations/organisations.repo.ts';
import { hashOpaqueToken } from '../sessions/opaque-tokens.ts';
import { sessionsRepo } from '../sessions/sessions.repo.ts';
import { adapterFactory } from './oidc-adapter.ts';
import { CLOCK_TOLERANCE_SECONDS, KEY_REFRESH_INTERVAL_MS, rs256Keys, sameText, sessionOfCookie, type ProviderKeys, type RsaPublicJwk } from './provider-keys.ts';
import { oidcPayloadsRepo } from './oidc-payloads.repo.ts';
import type { OidcClientsService } from './oidc-clients.service.ts';
import type { Policy } from '../policy/policy.ts';

/** Where the provider's own endpoints are mounted. */
export const OIDC_PREFIX = '/oidc';
/** Where the hosted pages of an interaction (sign in, consent) are. */
export const INTERACTION_PREFIX = '/interaction';
/** The step of a sign-in where the person chooses an organisation (the `organization` scope). */
export const ORGANISATION_PROMPT = 'organization';
/** The hosted pages' cookie naming the Gatehouse session behind the provider's session. */
export const SIGNIN_COOKIE = 'gatehouse_signin';
/** An authorization code is spent at once by a working client; a minute is plenty (RFC 6749 §4.1.2 says at most ten). */
export const CODE_TTL_SECONDS = 60;
const ID_TOKEN_TTL_SECONDS = 3600;
const INTERACTION_TTL_SECONDS = 3600;
export const SCOPES = ['openid', 'offline_access', 'profile', 'email', 'organization'] as const;
/** The claims of the organisation chosen in a sign-in (`organization` scope), named as in Gatehouse's own access tokens. */
const ORGANISATION_CLAIMS = ['org_id', 'org_role', 'org_permissions'];
/**
 * The grant (and so every code and token of one authorization) keeps the organisation chosen in it:
 * an extra field of the provider's Grant model, in the grant's one row.
 */
const GRANT_ORGANISATION = 'gatehouseOrganisationId';
/**
 * Whether the sign-in that chose the organisation passed a second factor (`amr` has `mfa`), kept
 * beside it: claims read later (userinfo, a refresh) drop the organisation if its rule asks for one.
 */
const GRANT_SECOND_FACTOR = 'gatehouseSecondFactor';
/** Organisations a person may choose from on the hosted page: more than anyone is in, in practice. */
const CHOOSABLE_MAX = 100;

/** The organisation a person chose in a sign-in, as the provider's tokens carry it. */
export interface ChoosableOrganisation {
  id: string;
  name: string;
  role: string;
  /** Why this sign-in may not choose it (its rule asks for a second factor the sign-in did not use). */
  unavailable?: string;
}

/** What the hosted page says of an organisation whose rule asks for a second factor this sign-in did not use. */
export const NEEDS_SECOND_FACTOR = 'requires a second factor: add one in your account security settings';

/** A sign-in passed a second factor when its `amr` (RFC 8176) says `mfa`, as Gatehouse's own sign-ins record it. */
const usedSecondFactor = (amr: unknown) => Array.isArray(amr) && amr.includes('mfa');

/** The HTML the provider itself renders: its errors and the logout confirmation. */
export interface ProviderPages {
  error(details: { error: string; description: string | undefined }): string;
  logout(details: { form: string; clientName: string | null }): string;
  loggedOut(details: { clientName: string | null }): string;
  /** The Content-Security-Policy of a page; `formTargets` are the origins its form may end up at. */
  csp(formTargets: readonly string[]): string;
}

const TEXT_PAGES: ProviderPages = {
  error: ({ error, description }) => `${error}: ${description ?? ''}`,
  logout: ({ form }) => form,
  loggedOut: () => 'Signed out',
  csp: () => "default-src 'none'",
};

interface Deps {
  db: Db;
  clock: Clock;
  issuer: string;
  /** GATEHOUSE_AUDIENCE: the `aud` of the provider's access tokens for Gatehouse's API (see gatehouseResource). */
  audience: string;
  accessTokenTtlSeconds: number;
  refreshTokenTtlSeconds: number;
  oidcClients: OidcClientsService;
  policy: Pick<Policy, 'secondFactorRule' | 'signInMayActIn'>;
  /**
   * Back-channel logout may reach loopback, private and link-local addresses (GATEHOUSE_WEBHOOKS_ALLOW_PRIVATE).
   * Otherwise oidc-provider refuses them, so that a client's logout URI cannot probe Gatehouse's network.
   */
  allowPrivateAddresses?: boolean;
  pages?: ProviderPages;
  /** A request that failed inside the provider for a reason of Gatehouse's own (a 500). */
  onServerError?: (error: unknown) => void;
}

const originOf = (uri: unknown): string[] => {
  const url = typeof uri === 'string' ? URL.parse(uri) : null;
  return url ? [url.origin] : [];
};

/** The same URI however it is written (a trailing slash on an origin, the case of the host). */
const sameUri = (a: string, b: string) => {
  const [left, right] = [URL.parse(a)?.href, URL.parse(b)?.href];
  return left !== undefined && left === right;
};

/**
 * The scopes a token for Gatehouse's API names (RFC 9068 `scope`): those of the authorization that
 * say what the person allowed. `offline_access` is about the refresh token, not the API.
 */
const RESOURCE_SCOPES = SCOPES.filter((scope) => scope !== 'offline_access');

export const openIdProviderFactory = ({ db, clock, issuer, audience, accessTokenTtlSeconds, refreshTokenTtlSeconds, oidcClients, policy, allowPrivateAddresses = false, pages = TEXT_PAGES, onServerError = () => {} }: Deps) => {
  /**
   * How long a retired RS256 key stays published: the longest lifetime of what it signs (ID tokens, the
   * provider's JWT access tokens), the clock tolerance, and the interval at which nodes reread the keys.
   */
  const overlapSeconds = Math.max(ID_TOKEN_TTL_SECONDS, accessTokenTtlSeconds) + CLOCK_TOLERANCE_SECONDS + KEY_REFRESH_INTERVAL_MS / 1000;
  let built: Promise<{ provider: Provider; keys: ProviderKeys; loadedAt: number }> | null = null;

  /**
   * The claims of the organisation chosen in a grant, read live: a member suspended or removed since
   * (or an organisation deleted) gets none, as Gatehouse's own tokens would name none. Only for a
   * code or token whose scope has `organization`: a later authorization without it, which the same
   * grant serves, names no organisation; nor does one whose organisation now asks for a second
   * factor (its `requireMfa`, or the platform's rule) that the sign-in behind the grant did not use.
   */
  async function organisationClaims(token: { grantId?: unknown; scope?: unknown } | undefined, userId: string): Promise<Record<string, unknown>> {
    const { grantId, scope } = token ?? {};
    if (typeof grantId !== 'string' || typeof scope !== 'string' || !scope.split(' ').includes('organization') || !built) return {};
    const grant = await (await built).provider.Grant.find(grantId);
    const kept = grant as unknown as Record<string, unknown> | undefined;
    const organisationId = kept?.[GRANT_ORGANISATION];
    if (typeof organisationId !== 'string') return {};
    const membership = await membersRepo.findActiveMembership(db, organisationId, userId);
    if (membership && policy.secondFactorRule(membership) && kept?.[GRANT_SECOND_FACTOR] !== true) return {};
    return membership ? { org_id: organisationId, org_role: membership.role.name, org_permissions: [...membership.role.permissions] } : {};
  }

  async function build(keys: ProviderKeys) {
    // Loaded with the first provider, not when Gatehouse starts: a node that never serves OpenID Connect never loads it.
    const { default: Provider, errors, interactionPolicy } = await import('oidc-provider');
    const { cookieKeys } = keys;

    const policy = interactionPolicy.base();
    // A sign-in lasts as long as its Gatehouse session: signed out or revoked there, sign in again.
    policy.get('login')?.checks.add(
      new interactionPolicy.Check('gatehouse_session_ended', 'the Gatehouse session of this sign-in has ended', 'login_required', async (ctx: KoaContextWithOIDC) => {
        const accountId = ctx.oidc.session?.accountId;
        if (!accountId) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
        const sessionId = sessionOfCookie(cookieKeys, ctx.cookies.get(SIGNIN_COOKIE, { signed: false }));
        const live = sessionId && (await sessionsRepo.findLive(db, { sessionId, userId: accountId, now: clock.now() }));
        return live ? interactionPolicy.Check.NO_NEED_TO_PROMPT : interactionPolicy.Check.REQUEST_PROMPT;
      }),
    );

    // The `organization` scope: after sign-in and consent, the person chooses the organisation this
    // authorization acts in, every time (the hosted page skips itself when there is one to choose).
    policy.add(
      new interactionPolicy.Prompt(
        { name: ORGANISATION_PROMPT, requestable: false },
        new interactionPolicy.Check('organization_not_chosen', 'the application asks for an organisation', 'interaction_required', (ctx: KoaContextWithOIDC) => {
          const scopes = String(ctx.oidc.params?.scope ?? '').split(' ');
          if (!scopes.includes('organization')) return interactionPolicy.Check.NO_NEED_TO_PROMPT;
          return (ctx.oidc.result as { organization?: unknown } | undefined)?.organization ? interactionPolicy.Check.NO_NEED_TO_PROMPT : interactionPolicy.Check.REQUEST_PROMPT;
        }),
      ),
    );

    const configuration: Configuration = {
      adapter: adapterFactory({ db, clock, findClient: (clientId) => oidcClients.forProvider(clientId) }),
      clients: [],
      async findAccount(_ctx, sub, token) {
        const user = await usersRepo.findById(db, sub);
        if (!user || user.status !== 'active') return undefined;
        return {
          accountId: user.id,
          async claims() {
            const name = [user.firstName, user.lastName].filter(Boolean).join(' ');
            return {
              sub: user.id,
              ...(await organisationClaims(token, user.id)),
              ...(user.email ? { email: user.email, email_verified: user.emailVerifiedAt !== null } : {}),
              ...(name ? { name } : {}),
              ...(user.firstName ? { given_name: user.firstName } : {}),
              ...(user.lastName ? { family_name: user.lastName } : {}),
              ...(user.username ? { preferred_username: user.username } : {}),
            };
          },
        };
      },
      claims: {
        // How and when the person signed in (RFC 8176 `amr`; `auth_time`), in every ID token. The
        // organisation's claims are there only when one was chosen (the `organization` scope); they
        // are listed under `openid` too because ID tokens carry the `openid` scope's claims only.
        openid: ['sub', 'amr', 'auth_time', ...ORGANISATION_CLAIMS],
        organization: ORGANISATION_CLAIMS,
        email: ['email', 'email_verified'],
        profile: ['name', 'given_name', 'family_name', 'preferred_username'],
      },
      scopes: [...SCOPES],
      responseTypes: ['code'],
      // OpenID Connect Core §3.1.2.1: redirect_uri is required, even for a client with only one.
      allowOmittingSingleRegisteredRedirectUri: false,
      subjectTypes: ['public'],
      clientAuthMethods: ['client_secret_basic', 'client_secret_post', 'none'],
      enabledJWA: { idTokenSigningAlgValues: ['RS256'] },
      extraClientMetadata: { properties: ['gatehouse_first_party'] },
      // PKCE with S256 for every client, public or confidential (OAuth 2.0 Security BCP §2.1.1).
      pkce: { required: () => true },
      features: {
        devInteractions: { enabled: false },
        registration: { enabled: false },
        introspection: { enabled: false },
        revocation: { enabled: true },
        userinfo: { enabled: true },
        pushedAuthorizationRequests: { enabled: false },
        backchannelLogout: { enabled: true },
        // RFC 8707: a relying party that names Gatehouse's API as the `resource` (GATEHOUSE_AUDIENCE,
        // or PUBLIC_URL when the audience is not a URI) at the token endpoint gets an RFC 9068 JWT for
        // it, which a resource server verifies on its own against the published key set. Without it
        // (the default, for every client) the access token stays opaque and is the one userinfo takes:
        // oidc-provider keeps a token with an audience away from userinfo, and a JWT is not stored.
        resourceIndicators: {
          enabled: true,
          useGrantedResource: () => false,
          async getResourceServerInfo(_ctx, indicator) {
            if (!sameUri(indicator, audience) && !sameUri(indicator, issuer)) throw new errors.InvalidTarget('the only resource is Gatehouse’s API');
            return {
              audience,
              scope: RESOURCE_SCOPES.join(' '),
              accessTokenFormat: 'jwt',
              accessTokenTTL: accessTokenTtlSeconds,
              // The provider's RS256 key, published in /.well-known/jwks.json with the ID tokens'. Not
              // the EdDSA key of Gatehouse's own tokens: the provider signs with the keys it was built
              // with, and is rebuilt when the RS256 key rotates, not when the EdDSA one does.
              jwt: { sign: { alg: 'RS256' } },
            };
          },
        },
        rpInitiatedLogout: {
          enabled: true,
          async logoutSource(ctx, form) {
            ctx.set('content-security-policy', pages.csp(originOf(ctx.oidc.params?.post_logout_redirect_uri)));
            ctx.type = 'html';
            ctx.body = pages.logout({ form, clientName: ctx.oidc.client?.clientName ?? null });
          },
          async postLogoutSuccessSource(ctx) {
            ctx.set('content-security-policy', pages.csp([]));
            ctx.type = 'html';
            ctx.body = pages.loggedOut({ clientName: ctx.oidc.client?.clientName ?? null });
          },
        },
      },
      async renderError(ctx, out, error) {
        if (!(error instanceof Error && 'expose' in error && error.expose)) onServerError(error);
        ctx.set('content-security-policy', pages.csp([]));
        ctx.type = 'html';
        ctx.body = pages.error({ error: out.error, description: out.error_description });
      },
      interactions: {
        policy,
        url: (_ctx, interaction) => `${INTERACTION_PREFIX}/${interaction.uid}`,
      },
      cookies: {
        keys: cookieKeys,
        long: { httpOnly: true, sameSite: 'lax', signed: true },
        short: { httpOnly: true, sameSite: 'lax', signed: true },
      },
      jwks: { keys: keys.privateJwks },
      routes: {
        authorization: `${OIDC_PREFIX}/auth`,
        token: `${OIDC_PREFIX}/token`,
        userinfo: `${OIDC_PREFIX}/me`,
        end_session: `${OIDC_PREFIX}/session/end`,
        revocation: `${OIDC_PREFIX}/token/revocation`,
        // Gatehouse publishes one key set, its access-token keys and this ID-token key together.
        jwks: '/.well-known/jwks.json',
        introspection: `${OIDC_PREFIX}/token/introspection`,
        pushed_authorization_request: `${OIDC_PREFIX}/request`,
        code_verification: `${OIDC_PREFIX}/device`,
        device_authorization: `${OIDC_PREFIX}/device/auth`,
        backchannel_authentication: `${OIDC_PREFIX}/backchannel`,
        registration: `${OIDC_PREFIX}/reg`,
        challenge: `${OIDC_PREFIX}/challenge`,
      },
      ttl: {
        AccessToken: accessTokenTtlSeconds,
        AuthorizationCode: CODE_TTL_SECONDS,
        IdToken: ID_TOKEN_TTL_SECONDS,
        Interaction: INTERACTION_TTL_SECONDS,
        Session: refreshTokenTtlSeconds,
        Grant: refreshTokenTtlSeconds,
        RefreshToken: refreshTokenTtlSeconds,
      },
      // Without the provider's own dispatcher, which refuses special-use addresses.
      ...(allowPrivateAddresses
        ? {
            fetch: (input: string | URL | Request, init: RequestInit = {}) => {
              const { dispatcher: _dispatcher, ...options } = init as RequestInit & { dispatcher?: unknown };
              return globalThis.fetch(input, options);
            },
          }
        : {}),
      // The provider's access tokens (opaque: their payload stays in oidc_payloads) name the chosen organisation too.
      async extraTokenClaims(_ctx, token) {
        return 'accountId' in token && typeof token.accountId === 'string' ? organisationClaims(token, token.accountId) : undefined;
      },
      // Refresh tokens rotate: each use spends one and issues its successor.
      rotateRefreshToken: true,
      conformIdTokenClaims: true,
    };

    const provider = new Provider(issuer, configuration);
    // The Grant model keeps only the fields it lists; the chosen organisation is one more (GRANT_ORGANISATION).
    const grantFields = provider.Grant.IN_PAYLOAD;
    Object.defineProperty(provider.Grant, 'IN_PAYLOAD', { get: () => [...grantFields, GRANT_ORGANISATION, GRANT_SECOND_FACTOR] });
    // Gatehouse tells the provider the public address (PUBLIC_URL) on every request it hands over.
    provider.proxy = true;
    // A confidential client's secret is stored as its SHA-256 digest (oidc-clients.service.ts), so
    // the provider compares digests. HMAC-signed tokens, which would need the secret itself, are off.
    // The secret before the last rotation works too, until its overlap ends (read afresh: the
    // provider's client may be a cached one).
    provider.Client.prototype.compareClientSecret = async function compareDigest(this: { clientId: string; clientSecret?: string }, actual: string) {
      const digest = hashOpaqueToken(actual);
      if (typeof this.clientSecret === 'string' && sameText(this.clientSecret, digest)) return true;
      const row = await oidcClients.forProvider(this.clientId);
      const { previousSecretHash: previous, previousSecretExpiresAt: until } = row ?? {};
      return typeof previous === 'string' && until instanceof Date && until > clock.now() && sameText(previous, digest);
    };
    provider.on('server_error', (_ctx: unknown, error: unknown) => onServerError(error));
    provider.on('backchannel.error', (_ctx: unknown, error: unknown) => onServerError(error));
    // Signing out at the provider (RP-initiated logout, "Sign out") ends the Gatehouse session too,
    // before the answer leaves.
    provider.use(async (ctx, next) => {
      await next();
      const params = ctx.oidc?.params as { logout?: unknown } | undefined;
      if (ctx.oidc?.route !== 'end_session_confirm' || !params?.logout || ctx.status >= 400) return;
      const sessionId = sessionOfCookie(cookieKeys, ctx.cookies.get(SIGNIN_COOKIE, { signed: false }));
      ctx.cookies.set(SIGNIN_COOKIE, null, { path: '/', signed: false });
      if (sessionId) await sessionsRepo.revoke(db, { sessionId, now: clock.now(), reason: 'logout' });
    });
    return { provider, keys, loadedAt: clock.now().getTime() };
  }

  const settle = <T>(promise: Promise<T>) =>
    promise.catch((error: unknown) => {
      built = null;
      throw error;
    });

  /**
   * The provider, built on first use. At most every KEY_REFRESH_INTERVAL_MS the keys are read again
   * (another node, or the command line, may have rotated them): when they changed, the provider is
   * rebuilt on them; requests under way finish on the one they started with.
   */
  async function ready() {
    const current = (built ??= settle(rs256Keys(db, clock, overlapSeconds).then(build)));
    const was = await current;
    if (clock.now().getTime() - was.loadedAt <= KEY_REFRESH_INTERVAL_MS || built !== current) return built ?? current;
    built = settle(
      rs256Keys(db, clock, overlapSeconds).then((keys) => (keys.kids === was.keys.kids ? { ...was, keys, loadedAt: clock.now().getTime() } : build(keys))),
    );
    return built;
  }

  return {
    /** The provider, built (and its RS256 key generated) on first use. */
    async provider(): Promise<Provider> {
      return (await ready()).provider;
    },

    overlapSeconds,

    /** The public RS256 keys (the active one and those retired within the overlap), for Gatehouse's one key set. */
    async publicJwks(): Promise<RsaPublicJwk[]> {
      return (await ready()).keys.publicJwks;
    },

    /** Hands a request to the provider, which answers it on `res`. */
    async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
      const { provider } = await ready();
      await (provider.callback() as (req: IncomingMessage, res: ServerResponse) => Promise<void>)(req, res);
    },

    /** Deletes what the provider kept past its expiry (lookups already treat it as gone); answers how many rows. */
    async sweepExpired(): Promise<number> {
      return oidcPayloadsRepo.sweep(db, clock.now());
    },

    /** The email the consent page shows the person as signed in with. */
    async accountEmail(accountId: string): Promise<string | null> {
      return (await usersRepo.findById(db, accountId))?.email ?? null;
    },

    /** The value of the sign-in cookie for a Gatehouse session. */
    async signinCookie(sessionId: string): Promise<string> {
      const [cookieKey = Buffer.alloc(0)] = (await ready()).keys.cookieKeys;
      return `${sessionId}.${createHmac('sha256', cookieKey).update(`signin:${sessionId}`).digest('base64url')}`;
    },

    /** A form's anti-forgery token, bound to its interaction. */
    async csrfToken(uid: string): Promise<string> {
      const [cookieKey = Buffer.alloc(0)] = (await ready()).keys.cookieKeys;
      return createHmac('sha256', cookieKey).update(`csrf:${uid}`).digest('base64url');
    },

    /** A page shown before a rotation still posts: the tokens of the keys within the overlap hold too. */
    async csrfValid(uid: string, token: string | undefined): Promise<boolean> {
      if (typeof token !== 'string') return false;
      const { cookieKeys } = (await ready()).keys;
      return cookieKeys.some((key) => sameText(createHmac('sha256', key).update(`csrf:${uid}`).digest('base64url'), token));
    },

    /**
     * The organisations a person is an active member of, for the choice in a sign-in; those whose rule
     * asks for a second factor the sign-in (its `amr`) did not use say why they cannot be chosen.
     */
    async choosableOrganisations(session: { accountId: string; amr?: unknown }): Promise<ChoosableOrganisation[]> {
      const mine = await organisationsRepo.listForUser(db, session.accountId, { limit: CHOOSABLE_MAX });
      const secondFactor = usedSecondFactor(session.amr);
      return mine.map((org) => ({ id: org.id, name: org.name, role: org.role, ...(!secondFactor && policy.secondFactorRule(org) ? { unavailable: NEEDS_SECOND_FACTOR } : {}) }));
    },

    /**
     * The organisation chosen in a sign-in: one the person is an active member of (else not found,
     * whether it exists or not), whose second-factor rule the sign-in meets (else ORG_REQUIRES_MFA or
     * PLATFORM_REQUIRES_MFA). It goes in a new grant, a copy of what the person granted the client,
     * so that the codes and tokens of this authorization, and only they, carry it; answers its id.
     */
    async chooseOrganisation(interaction: { grantId?: string; session?: { accountId: string; amr?: unknown }; params: Record<string, unknown> }, organisationId: string): Promise<string> {
      const { provider } = await ready();
      const accountId = interaction.session?.accountId;
      const clientId = interaction.params.client_id;
      if (!accountId || typeof clientId !== 'string') throw new Error('an organisation chosen without a signed-in account');
      const membership = isUuid(organisationId) ? await membersRepo.findActiveMembership(db, organisationId, accountId) : undefined;
      if (!membership) throw new AppError('ORGANISATION_NOT_FOUND');
      const secondFactor = usedSecondFactor(interaction.session?.amr);
      policy.signInMayActIn({ secondFactor }, membership);
      const granted = interaction.grantId ? await provider.Grant.find(interaction.grantId) : undefined;
      const grant = new provider.Grant({ accountId, clientId });
      if (granted) {
        grant.addOIDCScope(granted.getOIDCScope());
        grant.addOIDCClaims(granted.getOIDCClaims());
        const rejectedScope = granted.getRejectedOIDCScope();
        if (rejectedScope) grant.rejectOIDCScope(rejectedScope);
        const rejectedClaims = granted.getRejectedOIDCClaims();
        if (rejectedClaims.length > 0) grant.rejectOIDCClaims(rejectedClaims);
        for (const [indicator, scope] of Object.entries(granted.resources ?? {})) grant.addResourceScope(indicator, scope);
      }
      Object.assign(grant, { [GRANT_ORGANISATION]: organisationId, [GRANT_SECOND_FACTOR]: secondFactor });
      return grant.save();
    },

    /**
     * Records the person's consent: what the interaction found missing is granted, in a grant the
     * provider keeps. A first-party client gets this without a page.
     */
    async grantConsent(interaction: { grantId?: string; session?: { accountId: string }; params: Record<string, unknown>; prompt: { details: Record<string, unknown> } }): Promise<string> {
      const { provider } = await ready();
      const accountId = interaction.session?.accountId;
      const clientId = interaction.params.client_id;
      if (!accountId || typeof clientId !== 'string') throw new Error('consent without a signed-in account');
      const grant = (interaction.grantId ? await provider.Grant.find(interaction.grantId) : undefined) ?? new provider.Grant({ accountId, clientId });
      const details = interaction.prompt.details as { missingOIDCScope?: string[]; missingOIDCClaims?: string[]; missingResourceScopes?: Record<string, string[]> };
      if (details.missingOIDCScope) grant.addOIDCScope(details.missingOIDCScope.join(' '));
      if (details.missingOIDCClaims) grant.addOIDCClaims(details.missingOIDCClaims);
      for (const [indicator, scopes] of Object.entries(details.missingResourceScopes ?? {})) grant.addResourceScope(indicator, scopes.join(' '));
      return grant.save();
    },
  };
};

export type OpenIdProvider = ReturnType<typeof openIdProviderFactory>;
