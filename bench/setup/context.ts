// What the scenarios share: servers and fixtures, each made on first use (so BENCH_ONLY makes only
// what its scenarios need) and stopped at the end. With BENCH_BASELINE, a second context differs
// only in its everyday Gatehouse: the other build, on a copy of the everyday database of its own.
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchOptions } from '../lib/options.ts';
import { addressOf } from '../lib/http.ts';
import { createDatabase, databasesIdle } from '../lib/postgres.ts';
import { freePort, startServer, type Server } from '../lib/processes.ts';
import { SmtpSink } from '../lib/smtp-sink.ts';
import { PEER_DATABASE, prepareBetterAuth, type PeerFixtures } from './better-auth.ts';
import { createOrganisation, login, migrate, register, ROOT, startGatehouse } from './gatehouse.ts';
import { ensurePopulation, HUNDRED_THOUSAND_ORGANISATIONS, MILLION_MEMBERSHIPS, type Population } from './populations.ts';
import { BASELINE_DATABASE, prepareSmall, SMALL_DATABASE, type SmallFixtures, type SmallOptions } from './small.ts';

const MAIL_DATABASE = 'gatehouse_bench_mail';
/** The sender of Gatehouse's mail in the mail scenario, and of its reference's. */
export const MAIL_FROM = 'Gatehouse <no-reply@bench.test>';
const DATABASES = [MAIL_DATABASE, SMALL_DATABASE, BASELINE_DATABASE, MILLION_MEMBERSHIPS.database, HUNDRED_THOUSAND_ORGANISATIONS.database, PEER_DATABASE];

export interface SignedIn {
  server: Server;
  token: string;
}

export interface Populated {
  server: Server;
  /** Access tokens of the population's accounts, in the order it names them. */
  tokens: string[];
}

export interface Mailing {
  /** Gatehouse with SMTP_URL set to the sink (its default SMTP_MAX_CONNECTIONS), on a database of its own. */
  server: Server;
  databaseUrl: string;
  sink: SmtpSink;
}

export interface Context {
  readonly options: BenchOptions;
  /** The everyday database (see small.ts); in the baseline's context, the baseline's copy of it. */
  small(): Promise<SmallFixtures>;
  /** A platform admin, and an owner (stats:read in 10 organisations), among a million memberships. */
  million(): Promise<Populated>;
  /** The user in 1,000 of 100,000 organisations. */
  hundredThousand(): Promise<Populated>;
  /** Gatehouse on its embedded database (a data folder), with a user in five organisations. */
  embedded(): Promise<SignedIn & { copy: string }>;
  /** The hand-written reference app on PGlite, on a copy of that data folder. */
  embeddedMachine(): Promise<Server>;
  betterAuth(): Promise<PeerFixtures>;
  /** Gatehouse sending its mail to an SMTP server in this process (made afresh each run). */
  mailing(): Promise<Mailing>;
  /** The hand-written reference app (references/machine-app.ts), on this checkout's everyday database. */
  machine(): Promise<Server>;
  /** Waits until every server and database is idle again, so that one load's tail does not slow the next. */
  settle(): Promise<void>;
  close(): Promise<void>;
}

const once = <T>(make: () => Promise<T>) => {
  let made: Promise<T> | undefined;
  return () => (made ??= make());
};

export interface Contexts {
  context: Context;
  /** The same with BENCH_BASELINE's Gatehouse as `small()`; null without BENCH_BASELINE. */
  baseline: Context | null;
}

export function createContexts(options: BenchOptions): Contexts {
  const servers: Server[] = [];
  const sinks: SmtpSink[] = [];
  const started = (server: Server) => {
    servers.push(server);
    return server;
  };

  const everyday = (build: Omit<SmallOptions, 'refreshPool'>) =>
    once(async () => {
      // Every round of the refresh load may strand a session per connection (see scenarios/accounts.ts).
      const fixtures = await prepareSmall(options.serverUrl, { ...build, refreshPool: options.connections * (options.rounds + 2) + 32 });
      started(fixtures.server);
      return fixtures;
    });
  const small = everyday({});

  const populated = (population: Population, name: string) =>
    once(async () => {
      const url = await ensurePopulation(options.serverUrl, population, { reseed: options.reseed });
      const server = started(await startGatehouse({ name, databaseUrl: url }));
      const tokens: string[] = [];
      for (const [i, email] of population.emails.entries()) tokens.push((await login(server, email, addressOf(i))).accessToken);
      return { server, tokens };
    });

  // The embedded default: a data folder, as `npm start` makes one. Seeded, then copied while no
  // process holds it, so that the hand-written app on PGlite reads the same rows from a copy of its own.
  const folders: string[] = [];
  const embedded = once(async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'gatehouse-bench-embedded-'));
    const copy = `${dataDir}-copy`;
    folders.push(dataDir, copy);
    const env = { GATEHOUSE_DATA_DIR: dataDir };
    const seeding = await startGatehouse({ name: 'Gatehouse (embedded, seeding)', databaseUrl: '', env });
    const { accessToken } = await register(seeding, 'owner@bench.test', 'Owner');
    for (let k = 1; k < 5; k++) await createOrganisation(seeding, accessToken, `Bench Org ${k}`);
    await seeding.stop();
    cpSync(dataDir, copy, { recursive: true, filter: (source) => !source.endsWith('gatehouse.lock') });
    // A new port is a new issuer: the token comes from the server that will answer the load.
    const server = started(await startGatehouse({ name: 'Gatehouse (embedded)', databaseUrl: '', env }));
    const { accessToken: token } = await login(server, 'owner@bench.test', addressOf(0));
    return { server, token, copy };
  });

  const context: Context = {
    options,
    small,
    million: populated(MILLION_MEMBERSHIPS, 'Gatehouse (1M memberships)'),
    hundredThousand: populated(HUNDRED_THOUSAND_ORGANISATIONS, 'Gatehouse (100k organisations)'),
    embedded,
    embeddedMachine: once(async () => {
      const { server: gatehouse, copy } = await embedded();
      const port = await freePort();
      return started(
        await startServer({
          name: 'hand-written Fastify+jose+PGlite',
          args: ['bench/references/machine-app.ts'],
          cwd: ROOT,
          url: `http://127.0.0.1:${port}`,
          readyPath: '/json',
          env: { PGLITE_DIR: copy, ISSUER: gatehouse.url, PORT: String(port) },
        }),
      );
    }),
    betterAuth: once(async () => {
      const fixtures = await prepareBetterAuth(options.serverUrl);
      started(fixtures.server);
      return fixtures;
    }),
    mailing: once(async () => {
      const sink = new SmtpSink();
      await sink.start();
      sinks.push(sink);
      const databaseUrl = await createDatabase(options.serverUrl, MAIL_DATABASE, { replace: true });
      await migrate(databaseUrl);
      const server = started(await startGatehouse({ name: 'Gatehouse (SMTP)', databaseUrl, env: { SMTP_URL: sink.url, MAIL_FROM } }));
      return { server, databaseUrl, sink };
    }),
    machine: once(async () => {
      // Gatehouse makes its signing key on first start: the reference reads it from the database.
      const { databaseUrl, server: gatehouse } = await small();
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      return started(
        await startServer({
          name: 'hand-written Fastify+jose+pg',
          args: ['bench/references/machine-app.ts'],
          cwd: ROOT,
          url,
          readyPath: '/json',
          env: { DATABASE_URL: databaseUrl, ISSUER: gatehouse.url, PORT: String(port) },
        }),
      );
    }),
    async settle() {
      await Promise.all(servers.map((server) => server.settle()));
      await databasesIdle(options.serverUrl, DATABASES);
    },
    async close() {
      await Promise.all(servers.map((server) => server.stop()));
      for (const folder of folders) rmSync(folder, { recursive: true, force: true });
      await Promise.all(sinks.map((sink) => sink.stop()));
    },
  };
  const baseline = options.baseline ? { ...context, small: everyday({ root: options.baseline, database: BASELINE_DATABASE, name: 'Gatehouse before' }) } : null;
  return { context, baseline };
}
