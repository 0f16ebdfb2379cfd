// The databases every suite runs on: the embedded one always, and a real PostgreSQL server when
// TEST_DATABASE_URL is set. Each test file gets a fresh database of its own: on the server a new
// database, embedded a new data folder.
//
// Making a database from nothing is the slow part of a test file: PGlite runs initdb (seconds of
// CPU), then the migrations. So each is done once and kept as a template, then copied: embedded, a
// data folder copied file by file (a fraction of a second); on the server, a template database
// (`create database … template …`). Templates are named after what made them (the PGlite version,
// the migrations' SQL), so a changed migration makes a new one, and runs of the same code, even at
// once, share them.
import { createHash, randomBytes } from 'node:crypto';
import { cpSync, statfsSync } from 'node:fs';
import { access, mkdir, mkdtemp, readdir, readFile, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql, type Kysely } from 'kysely';
import { Migrator } from 'kysely/migration';
import pg from 'pg';
import type { Config } from '../../src/config/config.ts';
import { openDatabase } from '../../src/db/database.ts';
import { migrateToLatest } from '../../src/db/migrate.ts';
import { MIGRATIONS } from '../../src/db/migrations/index.ts';
import type { Database } from '../../src/db/schema.ts';

export type Target = 'embedded' | 'postgres';

export function targets(): Target[] {
  return process.env.TEST_DATABASE_URL ? ['embedded', 'postgres'] : ['embedded'];
}

export interface TestDatabase {
  config: Config['database'];
  drop(): Promise<void>;
}

export interface TestDatabaseOptions {
  /** Every migration already applied; by default the database is empty, as a first start finds it. */
  migrated?: boolean;
}

export async function createTestDatabase(target: Target, { migrated = false }: TestDatabaseOptions = {}): Promise<TestDatabase> {
  return target === 'embedded' ? copyEmbedded(migrated) : createOnServer(migrated);
}

// ---- embedded -------------------------------------------------------------------------------------

/**
 * Where data folders go: a memory file system when the machine has one with room (Linux's /dev/shm;
 * a container's is often too small), else the temporary folder. On a disk, every copy and every page
 * PGlite writes costs system time: a third more CPU for a file that starts six harnesses.
 */
const scratch = (() => {
  const shm = '/dev/shm';
  try {
    const { bavail, bsize } = statfsSync(shm);
    return bavail * bsize >= 2 ** 30 ? shm : tmpdir();
  } catch {
    return tmpdir();
  }
})();
const templatesFolder = join(scratch, 'gatehouse-test-templates');
const embeddedTemplates = new Map<boolean, Promise<string>>();

async function copyEmbedded(migrated: boolean): Promise<TestDatabase> {
  await (sweep ??= sweepAbandoned());
  let template = embeddedTemplates.get(migrated);
  if (!template) embeddedTemplates.set(migrated, (template = embeddedTemplate(migrated)));
  const dataDir = await mkdtemp(join(scratch, `gatehouse-test-${process.pid}-`));
  // Synchronous: less CPU than the promise version, in a before() hook that waits for it anyway.
  cpSync(await template, dataDir, { recursive: true });
  return { config: { kind: 'embedded', dataDir }, drop: () => rm(dataDir, { recursive: true, force: true }) };
}

let sweep: Promise<void> | undefined;

/**
 * Removes the data folders of test processes that are gone: a run stopped with Ctrl-C never reaches
 * its after() hooks, and in /dev/shm its folders would hold memory until the machine restarts.
 */
async function sweepAbandoned(): Promise<void> {
  for (const name of await readdir(scratch)) {
    const pid = Number(/^gatehouse-test-(\d+)-/.exec(name)?.[1]);
    if (pid && !isRunning(pid)) await rm(join(scratch, name), { recursive: true, force: true });
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: running, as another user.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The template's folder, made by the first run that needs it (two at once may both make it). */
async function embeddedTemplate(migrated: boolean): Promise<string> {
  // PGlite's data folder format follows its version.
  const key = hashOf(await pgliteVersion(), ...(migrated ? [migrationsText] : []));
  const folder = join(templatesFolder, `${migrated ? 'migrated' : 'empty'}-${key}`);
  if (await exists(join(folder, 'PG_VERSION'))) return folder;
  await mkdir(templatesFolder, { recursive: true });
  const building = await mkdtemp(join(templatesFolder, '.building-'));
  const database = openDatabase({ kind: 'embedded', dataDir: building });
  try {
    if (migrated) await migrateToLatest(database.db);
    else await sql`select 1`.execute(database.db);
  } finally {
    // Closed before it is published: a copy of a cleanly stopped cluster opens without recovery.
    await database.close();
  }
  // A rename is atomic: a half-made template is never seen. If another process published first,
  // its template is the same as ours.
  await rename(building, folder).catch(async (error: NodeJS.ErrnoException) => {
    await rm(building, { recursive: true, force: true });
    if (error.code !== 'EEXIST' && error.code !== 'ENOTEMPTY') throw error;
  });
  return folder;
}

const migrationsText = JSON.stringify(MIGRATIONS);
const hashOf = (...parts: string[]) => createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 16);

async function pgliteVersion(): Promise<string> {
  const packageJson = new URL('../package.json', import.meta.resolve('@electric-sql/pglite'));
  return (JSON.parse(await readFile(packageJson, 'utf8')) as { version: string }).version;
}

const exists = (path: string) => access(path).then(
  () => true,
  () => false,
);

// ---- PostgreSQL server ----------------------------------------------------------------------------

let serverTemplate: Promise<string> | undefined;

async function createOnServer(migrated: boolean): Promise<TestDatabase> {
  const serverUrl = process.env.TEST_DATABASE_URL;
  if (!serverUrl) throw new Error('TEST_DATABASE_URL is not set');
  const template = migrated ? await (serverTemplate ??= migratedServerTemplate(serverUrl)) : undefined;
  const name = uniqueName('gatehouse_test');
  await adminQuery(serverUrl, template ? `create database ${name} template ${template}` : `create database ${name}`);
  return {
    config: { kind: 'postgres', url: databaseUrl(serverUrl, name) },
    drop: async () => {
      await adminQuery(serverUrl, `drop database if exists ${name} with (force)`);
    },
  };
}

/** A migrated database that test databases are copied from; nobody connects to it once it has its name. */
async function migratedServerTemplate(serverUrl: string): Promise<string> {
  const template = `gatehouse_test_template_${hashOf(migrationsText)}`;
  const found = await adminQuery(serverUrl, `select 1 from pg_database where datname = '${template}'`);
  if (found.rowCount) return template;
  const building = uniqueName('gatehouse_test_building');
  await adminQuery(serverUrl, `create database ${building}`);
  const database = openDatabase({ kind: 'postgres', url: databaseUrl(serverUrl, building) });
  try {
    await migrateToLatest(database.db);
  } finally {
    await database.close();
  }
  try {
    await adminQuery(serverUrl, `alter database ${building} rename to ${template}`);
  } catch (error) {
    // Another process named its template first: the same migrations, so use that one.
    await adminQuery(serverUrl, `drop database if exists ${building}`);
    if ((error as { code?: string }).code !== '42P04') throw error;
  }
  return template;
}

const uniqueName = (prefix: string) => `${prefix}_${process.pid}_${randomBytes(4).toString('hex')}`;

function databaseUrl(serverUrl: string, name: string) {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function adminQuery(serverUrl: string, statement: string) {
  const client = new pg.Client({ connectionString: serverUrl });
  await client.connect();
  try {
    return await client.query(statement);
  } finally {
    await client.end();
  }
}

// ---- a database as an earlier release left it ----------------------------------------------------------

/**
 * Applies the migrations before the named one, as an earlier release would have: a test then writes
 * what that release wrote and checks what `migrateToLatest` makes of it.
 */
export async function migrateBefore(db: Kysely<Database>, name: string): Promise<void> {
  const index = MIGRATIONS.findIndex((m) => m.name === name);
  if (index < 0) throw new Error(`No migration named ${name}`);
  const migrator = new Migrator({
    db,
    migrationTableName: 'gatehouse_migrations',
    migrationLockTableName: 'gatehouse_migrations_lock',
    provider: {
      getMigrations: async () =>
        Object.fromEntries(
          MIGRATIONS.slice(0, index).map((m) => [
            m.name,
            {
              async up(trx: Kysely<unknown>) {
                for (const statement of m.statements) await sql.raw(statement).execute(trx);
              },
            },
          ]),
        ),
    },
  });
  const { error } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
}
