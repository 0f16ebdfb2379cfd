// The composition root of the domain: the policy, the event stream and every service, built once
// from the database, the clock and the configuration, and handed to the HTTP layer and the command line.
//
// Where things go: a new service is a factory in src/domain/<area>/<area>.service.ts taking one
// dependencies object, built here; it takes the acting principal first and asks the policy
// (src/domain/policy/policy.ts) before acting; each change records one event from the catalogue
// (src/domain/events/catalogue.ts) in its transaction; SQL stays in the area's *.repo.ts.
import type { Config } from '../config/config.ts';
import type { SecretKeys } from '../config/secret-key.ts';
import type { Db } from '../db/database.ts';
import { accountsServiceFactory } from './accounts/accounts.service.ts';
import { passwordPolicyFactory } from './accounts/password-policy.ts';
import { passwordHasher, type PasswordHashing } from './accounts/passwords.ts';
import { recoveryServiceFactory } from './accounts/recovery.service.ts';
import { signUpServiceFactory } from './accounts/sign-up.service.ts';
import { adminServiceFactory } from './admin/admin.service.ts';
import { auditServiceFactory } from './audit/audit.service.ts';
import type { Clock } from './clock.ts';
import { apiKeysServiceFactory } from './credentials/api-keys.service.ts';
import { applicationsServiceFactory } from './credentials/applications.service.ts';
import { bearerServiceFactory } from './credentials/bearer.service.ts';
import { localRevocations, type RevocationChannel } from './credentials/credential-cache.ts';
import { oauthServiceFactory } from './credentials/oauth.service.ts';
import { eventStreamFactory } from './events/event-stream.ts';
import { healthServiceFactory } from './operations/health.service.ts';
import { factorsFactory } from './mfa/factors.ts';
import { mfaServiceFactory } from './mfa/mfa.service.ts';
import { passkeysServiceFactory } from './mfa/passkeys.service.ts';
import { secretBoxOf } from './mfa/secret-box.ts';
import { invitationsServiceFactory } from './organisations/invitations.service.ts';
import { membershipsServiceFactory } from './organisations/memberships.service.ts';
import { organisationsServiceFactory } from './organisations/organisations.service.ts';
import { rolesServiceFactory } from './organisations/roles.service.ts';
import { oidcClientsServiceFactory } from './oidc/oidc-clients.service.ts';
import { openIdProviderFactory, type ProviderPages } from './oidc/openid-provider.ts';
import { policyFactory } from './policy/policy.ts';
import { accessTokensFactory } from './sessions/access-tokens.ts';
import { signingKeysServiceFactory } from './sessions/signing-keys.service.ts';
import { sessionsServiceFactory } from './sessions/sessions.service.ts';
import { statsServiceFactory } from './stats/stats.service.ts';
import { webhooksServiceFactory } from './webhooks/webhooks.service.ts';
import type { ThrottleStore } from './throttle/throttle.ts';
import { throttlesFactory, type ThrottlePolicy } from './throttle/throttles.ts';

export interface ServiceDeps {
  db: Db;
  clock: Clock;
  config: Config;
  /** Wakes the outbox worker after an event queued mail; without one, mail waits for its poll. */
  mailQueued?: () => void;
  /** Wakes the webhook delivery worker likewise. */
  webhooksQueued?: () => void;
  /** Where the throttles keep their counters; in this process by default. */
  throttleStore?: ThrottleStore;
  throttlePolicy?: ThrottlePolicy;
  /** argon2id's parameters for new hashes; OWASP's (passwords.ts) unless a test makes them cheaper. */
  passwordHashing?: PasswordHashing;
  /** How revoked API keys and machine tokens reach every node's caches: Redis pub/sub, or this process only. */
  revocations?: RevocationChannel;
  /** The pages the OpenID Provider renders itself (errors, logout); plain text without them (the command line). */
  providerPages?: ProviderPages;
  /** Where the OpenID Provider reports a failure of its own. */
  onServerError?: (error: unknown) => void;
  /** The keys TOTP secrets are sealed under (src/config/secret-key.ts); none: no authenticator apps. */
  secretKeys?: SecretKeys;
}

export function createServices({
  db,
  clock,
  config,
  mailQueued = () => {},
  webhooksQueued = () => {},
  throttleStore = { redis: null, keyPrefix: 'gatehouse' },
  throttlePolicy,
  passwordHashing,
  revocations = localRevocations(),
  providerPages,
  onServerError,
  secretKeys = { current: null, reason: 'no key was given' },
}: ServiceDeps) {
  const policy = policyFactory({ db, clock, requireMfa: config.requireMfa });
  const events = eventStreamFactory({ clock, publicUrl: config.publicUrl, mailQueued, webhooksQueued });
  const throttles = throttlesFactory(throttleStore, throttlePolicy);
  const passwords = passwordHasher(passwordHashing);
  const passwordPolicy = passwordPolicyFactory({ min: config.passwordMin, blocklist: config.passwordBlocklist });
  const accessTokens = accessTokensFactory({ db, clock, issuer: config.publicUrl, audience: config.audience, ttlSeconds: config.accessTokenTtlSeconds });
  const sessions = sessionsServiceFactory({ db, clock, policy, accessTokens, refreshTtlSeconds: config.refreshTokenTtlSeconds });
  const organisations = organisationsServiceFactory({ db, clock, policy, events });
  const recovery = recoveryServiceFactory({ db, clock, policy, events, throttles, passwordPolicy, passwords });
  const invitations = invitationsServiceFactory({ db, clock, policy, events, throttles });
  const secrets = secretBoxOf(secretKeys);
  const factors = factorsFactory({ db, clock, secrets, throttles });
  const publicUrl = new URL(config.publicUrl);
  const passkeys = passkeysServiceFactory({ db, clock, policy, events, rp: { id: publicUrl.hostname, name: 'Gatehouse', origin: publicUrl.origin } });
  const accounts = accountsServiceFactory({
    db,
    clock,
    policy,
    events,
    sessions,
    invitations,
    throttles,
    passwordPolicy,
    passwords,
    loginAlerts: config.loginAlerts,
    requireVerifiedEmail: config.requireVerifiedEmail,
    factors,
    passkeys,
  });
  const signUp = signUpServiceFactory({ db, accounts, throttles, passwordPolicy, passwords, requireVerifiedEmail: config.requireVerifiedEmail });
  const mfa = mfaServiceFactory({ db, clock, policy, events, sessions, factors, secrets, throttles, issuer: publicUrl.host, passkeyAssertion: passkeys.secondFactor });
  const memberships = membershipsServiceFactory({ db, policy, events });
  const roles = rolesServiceFactory({ db, policy, events });
  const audit = auditServiceFactory({ db, policy });
  const stats = statsServiceFactory({ db, policy });
  const admin = adminServiceFactory({ db, clock, policy, events });
  const health = healthServiceFactory({ db, clock });
  const webhooks = webhooksServiceFactory({ db, clock, policy, events, allowPrivate: config.webhooksAllowPrivate, webhooksQueued });
  const apiKeys = apiKeysServiceFactory({ db, clock, policy, events, revocations });
  const applications = applicationsServiceFactory({ db, clock, policy, events, revocations, secretOverlapSeconds: config.secretOverlapSeconds });
  const oauth = oauthServiceFactory({ db, clock, accessTokens, applications });
  const bearer = bearerServiceFactory({ accessTokens, sessions, apiKeys, applications });
  const oidcClients = oidcClientsServiceFactory({ db, clock, policy, events, secretOverlapSeconds: config.secretOverlapSeconds });
  const openid = openIdProviderFactory({
    db,
    clock,
    issuer: config.publicUrl,
    audience: config.audience,
    accessTokenTtlSeconds: config.accessTokenTtlSeconds,
    refreshTokenTtlSeconds: config.refreshTokenTtlSeconds,
    oidcClients,
    policy,
    allowPrivateAddresses: config.webhooksAllowPrivate,
    pages: providerPages,
    onServerError,
  });
  const signingKeys = signingKeysServiceFactory({ db, clock, policy, events, overlapSeconds: { EdDSA: accessTokens.overlapSeconds, RS256: openid.overlapSeconds } });
  return { policy, oidcClients, openid, signingKeys, secrets, factors, mfa, passkeys, apiKeys, applications, oauth, bearer, events, health, throttles, passwordPolicy, accessTokens, sessions, organisations, accounts, signUp, recovery, invitations, memberships, roles, audit, stats, admin, webhooks };
}

export type Services = ReturnType<typeof createServices>;
