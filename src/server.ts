// Runs Gatehouse: migrate, build, listen, and on SIGTERM finish in-flight requests and exit 0.
import { buildApp, type App } from './app.js';
import type { Config } from './config/config.js';
import { openDatabase } from './db/database.js';
import { migrateToLatest } from './db/migrate.js';
import { closeConnectionsGently } from './http/connections.js';
import { watchBodyRate } from './http/slow-bodies.js';

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
  let closing = false;
  // Once closing, every answer ends its connection: a kept-alive one would hold the exit for a minute.
  app.addHook('onSend', async (_request, reply) => {
    if (closing) reply.header('connection', 'close');
  });
  watchBodyRate(app.server, config.connections.minBodyBytesPerSecond);
  closeConnectionsGently(app.server, { graceMs: config.connections.headersTimeoutSeconds * 1000 });
  await app.listen({ port: config.port, host: config.host });
  app.log.info(`Gatehouse is listening on ${config.publicUrl} — API docs at ${config.publicUrl}/docs`);
  if (!config.smtpUrl) app.log.info('No SMTP_URL: mail is printed to this log, links included');

  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    app.log.info(`${signal} received: finishing in-flight requests`);
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        app.log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  return app;
}
