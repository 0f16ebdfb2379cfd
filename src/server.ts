// Runs Gatehouse: migrate, build, listen, and on SIGTERM drain: /readyz answers 503 at once while
// requests are still served for GATEHOUSE_SHUTDOWN_DELAY, so a load balancer stops sending new ones;
// then the listener closes (new connections are refused), every accepted connection is answered, the
// outbox worker stops and the process exits 0.
import { buildApp, type App } from './app.ts';
import type { Config } from './config/config.ts';
import { openDatabase } from './db/database.ts';
import { migrateToLatest } from './db/migrate.ts';
import { closeConnectionsGently } from './http/connections.ts';
import { watchBodyRate } from './http/slow-bodies.ts';

export async function serve(config: Config): Promise<App> {
  const database = openDatabase(config.database);
  await migrateToLatest(database.db);
  const app = await buildApp({ config, database });
  app.addHook('onClose', () => database.close());
  await app.services.accessTokens.ready();

  if (database.kind === 'embedded') {
    app.log.warn(
      config.database.kind === 'embedded' && config.database.dataDir
        ? `Embedded database in ${config.database.dataDir}: for trying Gatehouse and development. It runs inside this process and does not flush each commit to disk; set DATABASE_URL=postgres://… in production.`
        : 'Embedded in-memory database: everything is gone when the process stops.',
    );
  }
  // Once draining, every answer ends its connection: a kept-alive one would hold the exit for a minute.
  app.addHook('onSend', async (_request, reply) => {
    if (app.services.health.isDraining()) reply.header('connection', 'close');
  });
  watchBodyRate(app.server, config.connections.minBodyBytesPerSecond);
  const connections = closeConnectionsGently(app.server, { graceMs: config.connections.headersTimeoutSeconds * 1000 });
  // Runs as app.close() begins, right before the listener closes.
  app.addHook('preClose', async () => connections.stopListening());
  await app.listen({ port: config.port, host: config.host });
  app.log.info(`Gatehouse is listening on ${config.publicUrl} — API docs at ${config.publicUrl}/docs`);
  if (!config.smtpUrl) app.log.info('No SMTP_URL: mail is printed to this log, links included');

  const shutdown = async (signal: string, delaySeconds: number) => {
    if (app.services.health.isDraining()) return;
    app.services.health.startDraining();
    app.log.info(`${signal} received: /readyz answers 503; ${delaySeconds > 0 ? `serving for ${delaySeconds} s more, then ` : ''}finishing in-flight requests`);
    await new Promise((resolve) => setTimeout(resolve, delaySeconds * 1000));
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        app.log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  // An orchestrator sends SIGTERM and keeps routing for a moment; a person pressing Ctrl-C waits for nothing.
  process.once('SIGTERM', () => void shutdown('SIGTERM', config.connections.shutdownDelaySeconds));
  process.once('SIGINT', () => void shutdown('SIGINT', 0));
  return app;
}
