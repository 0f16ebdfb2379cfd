// The composition root of the domain: every service, built once from the database, the clock and
// the configuration, and handed to the HTTP layer and the command line.
import type { Config } from '../config/config.js';
import type { Db } from '../db/database.js';
import { accountsServiceFactory } from './accounts/accounts.service.js';
import { passwordPolicyFactory } from './accounts/password-policy.js';
import type { Clock } from './clock.js';
import { recoveryServiceFactory } from './accounts/recovery.service.js';
import { adminServiceFactory } from './admin/admin.service.js';
import { statsServiceFactory } from './stats/stats.service.js';
import { auditServiceFactory } from './audit/audit.service.js';
import { membershipsServiceFactory } from './organisations/memberships.service.js';
import { rolesServiceFactory } from './organisations/roles.service.js';
import { invitationsServiceFactory } from './organisations/invitations.service.js';
import { organisationsServiceFactory } from './organisations/organisations.service.js';
import { accessTokensFactory } from './sessions/access-tokens.js';
import { sessionsServiceFactory } from './sessions/sessions.service.js';
import { throttlesFactory, type ThrottlePolicy } from './throttle/throttles.js';
import type { ThrottleStore } from './throttle/throttle.js';

export interface ServiceDeps {
  db: Db;
  clock: Clock;
  config: Config;
  /** Wakes the outbox worker after a transaction queued mail; without one, mail waits for its poll. */
  mailQueued?: () => void;
  /** Where the throttles keep their counters; in this process by default. */
  throttleStore?: ThrottleStore;
  throttlePolicy?: ThrottlePolicy;
}

export function createServices({ db, clock, config, mailQueued = () => {}, throttleStore = { redis: null, keyPrefix: 'gatehouse' }, throttlePolicy }: ServiceDeps) {
  const throttles = throttlesFactory(throttleStore, throttlePolicy);
  const passwordPolicy = passwordPolicyFactory({ min: config.passwordMin, blocklist: config.passwordBlocklist });
  const accessTokens = accessTokensFactory({ db, clock, issuer: config.publicUrl, ttlSeconds: config.accessTokenTtlSeconds });
  const sessions = sessionsServiceFactory({ db, clock, accessTokens, refreshTtlSeconds: config.refreshTokenTtlSeconds });
  const organisations = organisationsServiceFactory({ db, clock, mailQueued });
  const recovery = recoveryServiceFactory({ db, clock, publicUrl: config.publicUrl, throttles, passwordPolicy, mailQueued });
  const invitations = invitationsServiceFactory({ db, clock, publicUrl: config.publicUrl, throttles, mailQueued });
  const accounts = accountsServiceFactory({
    db,
    clock,
    sessions,
    organisations,
    recovery,
    invitations,
    throttles,
    passwordPolicy,
    loginAlerts: config.loginAlerts,
    requireVerifiedEmail: config.requireVerifiedEmail,
    mailQueued,
  });
  const memberships = membershipsServiceFactory({ db });
  const roles = rolesServiceFactory({ db });
  const audit = auditServiceFactory({ db });
  const stats = statsServiceFactory({ db });
  const admin = adminServiceFactory({ db, clock });
  return { throttles, passwordPolicy, accessTokens, sessions, organisations, accounts, recovery, invitations, memberships, roles, audit, stats, admin };
}

export type Services = ReturnType<typeof createServices>;
