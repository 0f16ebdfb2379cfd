// Builds the Gatehouse HTTP application. It never listens: src/server.ts does, and tests inject.
import { randomUUID } from 'node:crypto';
import cors from '@fastify/cors';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Fastify, { LogController, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { DestinationStream } from 'pino';
import type { Config } from './config/config.ts';
import { resolveSecretKeys } from './config/secret-key.ts';
import type { DatabaseHandle } from './db/database.ts';
import { systemClock, type Clock } from './domain/clock.ts';
import { outboxWorkerFactory, type OutboxWorker } from './domain/mail/outbox-worker.ts';
import { logTransport, smtpTransport } from './domain/mail/transport.ts';
import { createServices, type Services } from './domain/services.ts';
import { system } from './domain/principal.ts';
import { deliveryWorkerFactory, type DeliveryWorker } from './domain/webhooks/delivery-worker.ts';
import { webhookSender } from './domain/webhooks/sender.ts';
import type { ThrottlePolicy } from './domain/throttle/throttles.ts';
import type { PasswordHashing } from './domain/accounts/passwords.ts';
import { openRedis, redisRevocations } from './db/redis.ts';
import { installAuth } from './http/auth.ts';
import { basicRoutes } from './http/compat/basic.routes.ts';
import { saasRoutes } from './http/compat/saas.routes.ts';
import { userApiRoutes } from './http/compat/user-api.routes.ts';
import { enforceContracts } from './http/contract.ts';
import { answerClientError, installErrorHandling, sendError } from './http/errors.ts';
import { AppError } from './domain/errors.ts';
import { loggerOptions } from './http/logging.ts';
import { installMetrics } from './http/metrics.ts';
import { securityHeaders, setHeaders } from './http/security-headers.ts';
import { authRoutes } from './http/routes/auth.routes.ts';
import { adminRoutes } from './http/routes/admin.routes.ts';
import { apiKeysRoutes } from './http/routes/api-keys.routes.ts';
import { applicationsRoutes } from './http/routes/applications.routes.ts';
import { oauthRoutes } from './http/routes/oauth.routes.ts';
import { oidcClientsRoutes } from './http/routes/oidc-clients.routes.ts';
import { openidRoutes } from './http/routes/openid.routes.ts';
import { openidSignUpRoutes } from './http/routes/openid-signup.routes.ts';
import { providerPages } from './pages/openid-pages.ts';
import { auditRoutes } from './http/routes/audit.routes.ts';
import { invitationsRoutes } from './http/routes/invitations.routes.ts';
import { membersRoutes } from './http/routes/members.routes.ts';
import { operationsRoutes } from './http/routes/operations.routes.ts';
import { organisationsRoutes } from './http/routes/organisations.routes.ts';
import { accountPagesRoutes } from './http/routes/account-pages.routes.ts';
import { pagesRoutes } from './http/routes/pages.routes.ts';
import { recoveryRoutes } from './http/routes/recovery.routes.ts';
import { passkeysRoutes } from './http/routes/passkeys.routes.ts';
import { secondFactorRoutes } from './http/routes/second-factor.routes.ts';
import { sessionsRoutes } from './http/routes/sessions.routes.ts';
import { statsRoutes } from './http/routes/stats.routes.ts';
import { usersRoutes } from './http/routes/users.routes.ts';
import { webhooksRoutes } from './http/routes/webhooks.routes.ts';
import { jsonLimitExceeded } from './http/json-limits.ts';
import { lazyValidatorCompiler } from './http/validation.ts';
import { LazyCompilers } from './http/lazy-compilers.ts';
import { openapiInfo } from './http/openapi.ts';

export const BODY_LIMIT = 1024 * 1024;
const CONNECTIONS_CHECK_MS = 1000;
/** How often expired rows are deleted: OpenID Provider rows (codes, sessions, tokens), sign-in attempts and WebAuthn challenges. */
const SWEEP_MS = 10 * 60 * 1000;
/** The schemas no request has needed yet are compiled this long after the node is ready, not while it starts. */
const COMPILE_AFTER_READY_MS = 1000;
const SECURITY_HEADERS = {
  contentSecurityPolicy: { useDefaults: false, directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"], baseUri: ["'none'"], formAction: ["'none'"] } },
} as const;
/** Swagger UI loads its own scripts and styles and nothing from elsewhere. */
const DOCS_CSP = "default-src 'self'; base-uri 'self'; object-src 'none'; frame-ancestors 'none'; img-src 'self' data:; font-src 'self' data:; script-src 'self'; style-src 'self' 'unsafe-inline'";

export interface AppDeps {
  config: Config;
  database: DatabaseHandle;
  clock?: Clock;
  /** false silences the log (tests); otherwise pino at the configured level. */
  logger?: boolean;
  /** Where log lines go; standard output by default. */
  logStream?: DestinationStream;
  /** Throttling rules; SECURITY.md's defaults otherwise. */
  throttlePolicy?: ThrottlePolicy;
  /** argon2id's costs for new hashes; OWASP's unless a test makes them cheaper. */
  passwordHashing?: PasswordHashing;
  /** How long a webhook receiver has to answer; 5 s unless a test is in a hurry. */
  webhookTimeoutMs?: number;
}

export type App = FastifyInstance & {
  services: Services;
  outbox: OutboxWorker;
  webhookDeliveries: DeliveryWorker;
  /** One round of the periodic housekeeping: deletes expired rows that lookups already treat as gone. */
  housekeeping: () => Promise<void>;
};

export async function buildApp({ config, database, clock = systemClock, logger = true, logStream, throttlePolicy, passwordHashing, webhookTimeoutMs }: AppDeps): Promise<App> {
  const compilers = new LazyCompilers();
  const app = Fastify({
    schemaController: { compilersFactory: { buildSerializer: compilers.serializerFactory() } },
    logger: logger ? { ...loggerOptions(config.logLevel, config.logFormat), ...(logStream ? { stream: logStream } : {}) } : false,
    genReqId: () => randomUUID(),
    requestIdHeader: false,
    logController: new LogController({ requestIdLogLabel: 'requestId' }),
    trustProxy: trustProxyOption(config.trustProxy),
    bodyLimit: BODY_LIMIT,
    ...connectionOptions(config.connections),
    // A path the router cannot even read (bad percent-encoding, an over-long segment) names nothing.
    // No hook runs for these: the answer carries its request id itself.
    frameworkErrors: (_error, request, reply) => sendError(reply.header('x-request-id', request.id).header('cache-control', 'no-store'), new AppError('ROUTE_NOT_FOUND')),
  }).withTypeProvider<TypeBoxTypeProvider>();

  const transport = config.smtpUrl ? await smtpTransport(config.smtpUrl, { maxConnections: config.smtpMaxConnections }) : logTransport(app.log);
  const outbox = outboxWorkerFactory({ db: database.db, clock, transport, from: config.mailFrom, logger: app.log });
  const redis = config.redisUrl ? await openRedis(config.redisUrl, app.log) : null;
  const sender = webhookSender({ allowPrivate: config.webhooksAllowPrivate, timeoutMs: webhookTimeoutMs });
  // The worker needs the service (to disable an endpoint that keeps failing), the service wakes the worker.
  let deliveries: DeliveryWorker | null = null;
  const revocations = redis ? redisRevocations(redis, `${config.redisKeyPrefix}:revocations`, app.log) : null;
  const services = createServices({
    db: database.db,
    clock,
    config,
    mailQueued: () => outbox.wake(),
    webhooksQueued: () => deliveries?.wake(),
    throttleStore: { redis, keyPrefix: `${config.redisKeyPrefix}:throttle` },
    throttlePolicy,
    passwordHashing,
    ...(revocations ? { revocations } : {}),
    providerPages: providerPages(config.brand),
    onServerError: (error) => app.log.error({ err: error }, 'the OpenID Provider failed'),
    secretKeys: resolveSecretKeys(config),
  });
  const webhookDeliveries = deliveryWorkerFactory({ db: database.db, clock, sender, logger: app.log, endpointFailing: (id, since) => services.webhooks.endpointFailing(id, since) });
  deliveries = webhookDeliveries;
  const housekeeping = async () => {
    // Each sweep on its own: one failing leaves the others to do their work.
    const sweeps = [
      services.openid.sweepExpired().catch((error: unknown) => app.log.error({ err: error }, 'sweeping expired OpenID Provider rows failed')),
      services.mfa.sweepExpired(system('housekeeping')).catch((error: unknown) => app.log.error({ err: error }, 'sweeping expired second-factor challenges failed')),
    ];
    await Promise.all(sweeps);
  };
  let sweep: NodeJS.Timeout | undefined;
  let compileLater: NodeJS.Timeout | undefined;
  app.addHook('onReady', async () => {
    // Unreachable at start is not fatal: the 'error' listener says so and the client keeps trying.
    await redis?.connect().catch(() => {});
    revocations?.start();
    await services.passwordPolicy.ready();
    if (!services.secrets.available) app.log.warn('Authenticator apps (TOTP) are off: set GATEHOUSE_SECRET_KEY (32 random bytes, base64) to turn them on');
    outbox.start();
    webhookDeliveries.start();
    sweep = setInterval(() => void housekeeping(), SWEEP_MS);
    sweep.unref();
    compileLater = setTimeout(() => void compilers.compileRemaining(), COMPILE_AFTER_READY_MS);
    compileLater.unref();
  });
  app.addHook('onClose', async () => {
    clearInterval(sweep);
    clearTimeout(compileLater);
    compilers.stop();
    await Promise.all([outbox.stop(), webhookDeliveries.stop()]);
    transport.close();
    sender.close();
    revocations?.close();
    redis?.disconnect();
  });

  app.setValidatorCompiler(lazyValidatorCompiler(compilers));
  installErrorHandling(app);
  installJsonBodies(app, config.jsonLimits);

  // Answers are JSON: they may load nothing and be framed by no one (helmet's headers, with a deny-all
  // policy; the pages and /docs set their own). Answers carry tokens and personal data: no cache may
  // keep them unless a route says otherwise. Each answer names its request id.
  const headers = securityHeaders(SECURITY_HEADERS);
  app.addHook('onRequest', (request, reply, done) => {
    setHeaders(reply.raw, headers);
    reply.header('x-request-id', request.id).header('cache-control', 'no-store');
    done();
  });
  if (config.corsOrigins.length > 0) {
    await app.register(cors, {
      origin: [...config.corsOrigins],
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      exposedHeaders: ['x-request-id', 'retry-after'],
      credentials: false,
    });
  }
  await app.register(swagger, openapiInfo(config));
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: DOCS_CSP, uiConfig: { validatorUrl: null } });

  const metrics = installMetrics(app, services.health, webhookDeliveries.counts);
  installAuth(app, services);
  // A new route goes in its resource's file under src/http/routes/ (or a new file registered here),
  // with its whole contract and its `auth` and `permission` in its config (enforceContracts refuses a
  // route without them); its handler passes principalOf(request) and the documented fields to one
  // service method, and shapes the answer from the domain object it returns.
  await app.register(async (api) => {
    enforceContracts(api);
    await api.register(operationsRoutes, { services, config, metrics });
    await api.register(authRoutes, { services, config });
    await api.register(secondFactorRoutes, { services });
    await api.register(passkeysRoutes, { services });
    await api.register(recoveryRoutes, { services, config });
    await api.register(usersRoutes, { services });
    await api.register(sessionsRoutes, { services });
    await api.register(pagesRoutes, { services, config });
    await api.register(accountPagesRoutes, { config });
    if (config.compat.includes('saas')) await api.register(saasRoutes, { services, config });
    if (config.compat.includes('user-api')) await api.register(userApiRoutes, { services, config });
    if (config.compat.includes('basic')) await api.register(basicRoutes, { services, config });
    await api.register(organisationsRoutes, { services });
    await api.register(membersRoutes, { services });
    await api.register(invitationsRoutes, { services });
    await api.register(auditRoutes, { services });
    await api.register(statsRoutes, { services });
    await api.register(adminRoutes, { services });
    await api.register(webhooksRoutes, { services });
    await api.register(apiKeysRoutes, { services });
    await api.register(applicationsRoutes, { services, config });
    await api.register(oauthRoutes, { services });
    await api.register(oidcClientsRoutes, { services });
    await api.register(openidRoutes, { services, config });
    await api.register(openidSignUpRoutes, { services, config });
  });

  app.decorate('services', services);
  app.decorate('outbox', outbox);
  app.decorate('webhookDeliveries', webhookDeliveries);
  app.decorate('housekeeping', housekeeping);
  return app as unknown as App;
}

/**
 * How long a client may take. Node checks the headers and request timeouts every
 * CONNECTIONS_CHECK_MS, so a slow client is cut within that much of its timeout (its default, 30 s,
 * would double a short timeout). The minimum body rate is watched by src/http/slow-bodies.ts.
 */
function connectionOptions(limits: Config['connections']) {
  return {
    requestTimeout: limits.requestTimeoutSeconds * 1000,
    keepAliveTimeout: limits.keepAliveTimeoutSeconds * 1000,
    http: { headersTimeout: limits.headersTimeoutSeconds * 1000, connectionsCheckingInterval: CONNECTIONS_CHECK_MS },
    clientErrorHandler: answerClientError,
    // A request that reaches a server already closing is served, not refused: its connection was
    // accepted before the listener closed (src/server.ts).
    return503OnClosing: false,
  };
}

/** Fastify's form of TRUST_PROXY: a hop count becomes "trust the nearest n hops". */
function trustProxyOption(trust: Config['trustProxy']) {
  if (typeof trust === 'number') return (_address: string, hop: number) => hop < trust;
  return typeof trust === 'boolean' ? trust : [...trust];
}

/**
 * JSON in, nothing else (415). A POST with no body (or an empty one) validates as `{}`, so a missing
 * body is reported field by field ("Email is required") rather than as a malformed document.
 */
function installJsonBodies(app: FastifyInstance, limits: Config['jsonLimits']) {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string', bodyLimit: BODY_LIMIT }, (request, body, done) => {
    if (typeof body === 'string' && body.trim() === '') return done(null, {});
    // Counted on the text, before parsing: nothing after this sees a body over the limits.
    const exceeded = jsonLimitExceeded(body as string, limits);
    if (exceeded) return done(exceeded, undefined);
    return parseJson(request, body as string, done);
  });
  // Only on the routes that take a body.
  const emptyBody = (request: FastifyRequest, _reply: FastifyReply, done: () => void) => {
    if (request.body === undefined) request.body = {};
    done();
  };
  app.addHook('onRoute', (route) => {
    if (!route.schema?.body) return;
    route.preValidation = [emptyBody, ...(route.preValidation === undefined ? [] : Array.isArray(route.preValidation) ? route.preValidation : [route.preValidation])];
  });
}
