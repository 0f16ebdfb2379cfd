#!/usr/bin/env node
// The `gatehouse` command: serve, migrate, create-admin, rotate-keys, openapi.
import { parseArgs } from 'node:util';
import { buildApp } from '../app.js';
import { ConfigError, loadConfig, type Config } from '../config/config.js';
import { openDatabase } from '../db/database.js';
import { migrateToLatest } from '../db/migrate.js';
import { systemClock } from '../domain/clock.js';
import { ValidationError } from '../domain/errors.js';
import { system } from '../domain/principal.js';
import { createServices } from '../domain/services.js';
import { serve } from '../server.js';
import { readSecret } from './read-secret.js';

const USAGE = `Usage: gatehouse <command>

  serve                      run the service (the default; what npm start runs)
  migrate                    apply pending database migrations and exit
  create-admin --email E [--username U] [--password P] [--first-name F] [--last-name L]
                             create a platform admin, or make an existing account one;
                             without --password the password is read from standard input
  rotate-keys                start signing with a new key (the old one keeps verifying)
  openapi                    print the OpenAPI document
`;

async function withDatabase<T>(config: Config, work: (db: ReturnType<typeof openDatabase>) => Promise<T>): Promise<T> {
  const database = openDatabase(config.database, { poolSize: 2 });
  try {
    await migrateToLatest(database.db);
    return await work(database);
  } finally {
    await database.close();
  }
}

async function main(argv: string[]): Promise<number> {
  const [command = 'serve', ...rest] = argv;
  if (command === 'help' || command === '--help' || command === '-h') {
    process.stdout.write(USAGE);
    return 0;
  }
  const config = loadConfig();
  switch (command) {
    case 'serve':
      await serve(config);
      return -1; // keeps running until a signal
    case 'migrate': {
      const database = openDatabase(config.database, { poolSize: 2 });
      const applied = await migrateToLatest(database.db).finally(() => database.close());
      console.log(applied.length ? `Applied ${applied.join(', ')}` : 'The database is up to date');
      return 0;
    }
    case 'create-admin': {
      const { values } = parseArgs({
        args: rest,
        options: { email: { type: 'string' }, username: { type: 'string' }, password: { type: 'string' }, 'first-name': { type: 'string' }, 'last-name': { type: 'string' } },
      });
      if (!values.email && !values.username) throw new UsageError('create-admin needs --email (or --username)');
      return withDatabase(config, async ({ db }) => {
        const services = createServices({ db, clock: systemClock, config });
        const result = await services.accounts.createAdmin(
          system('command line'),
          {
            email: values.email,
            username: values.username,
            firstName: values['first-name'],
            lastName: values['last-name'],
            readPassword: () => (values.password !== undefined ? Promise.resolve(values.password) : readSecret('Password: ')),
          },
        );
        console.log(result.created ? `Created platform admin ${result.userId}` : `${result.userId} is now a platform admin`);
        return 0;
      });
    }
    case 'rotate-keys':
      return withDatabase(config, async ({ db }) => {
        const kid = await createServices({ db, clock: systemClock, config }).accessTokens.rotate();
        console.log(`Now signing with key ${kid}`);
        return 0;
      });
    case 'openapi': {
      // The document only needs the routes: the database is never opened.
      const app = await buildApp({ config: { ...config, database: { kind: 'embedded', dataDir: null } }, database: openDatabase({ kind: 'embedded', dataDir: null }), logger: false });
      await app.ready();
      // Wait until the document has left: process.exit would cut a pipe's unwritten tail.
      const document = `${JSON.stringify(app.swagger(), null, 2)}\n`;
      await new Promise<void>((resolve, reject) => process.stdout.write(document, (error) => (error ? reject(error) : resolve())));
      await app.close();
      return 0;
    }
    default:
      throw new UsageError(`Unknown command "${command}"`);
  }
}

class UsageError extends Error {}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (error: unknown) => {
    if (error instanceof ConfigError || error instanceof UsageError || error instanceof ValidationError) {
      console.error(error.message);
      if (error instanceof UsageError) console.error(`\n${USAGE}`);
    } else {
      console.error(error instanceof Error ? (error.stack ?? error.message) : error);
    }
    process.exit(1);
  },
);
