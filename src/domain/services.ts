// The composition root of the domain: every service, built once from the database, the clock and
// the configuration, and handed to the HTTP layer and the command line.
import type { Config } from '../config/config.js';
import type { Db } from '../db/database.js';
import { accountsServiceFactory } from './accounts/accounts.service.js';
import type { Clock } from './clock.js';
import { organisationsServiceFactory } from './organisations/organisations.service.js';
import { accessTokensFactory } from './sessions/access-tokens.js';
import { sessionsServiceFactory } from './sessions/sessions.service.js';

export interface ServiceDeps {
  db: Db;
  clock: Clock;
  config: Config;
}

export function createServices({ db, clock, config }: ServiceDeps) {
  const accessTokens = accessTokensFactory({ db, clock, issuer: config.publicUrl, ttlSeconds: config.accessTokenTtlSeconds });
  const sessions = sessionsServiceFactory({ db, clock, accessTokens, refreshTtlSeconds: config.refreshTokenTtlSeconds });
  const organisations = organisationsServiceFactory({ db });
  const accounts = accountsServiceFactory({ db, clock, sessions, organisations, passwordMin: config.passwordMin });
  return { accessTokens, sessions, organisations, accounts };
}

export type Services = ReturnType<typeof createServices>;
