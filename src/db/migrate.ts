import { sql, type Kysely } from 'kysely';
import { Migrator, type MigrationProvider } from 'kysely/migration';
import { MIGRATIONS } from './migrations/index.ts';
import type { Database } from './schema.ts';

const provider: MigrationProvider = {
  async getMigrations() {
    return Object.fromEntries(
      MIGRATIONS.map((migration) => [
        migration.name,
        {
          async up(db: Kysely<unknown>) {
            for (const statement of migration.statements) await sql.raw(statement).execute(db);
          },
        },
      ]),
    );
  },
};

/**
 * Whether every migration is applied, read in two small queries. Kysely's migrator checks its tables
 * through the catalogue and takes its lock first, which is most of an embedded database's start.
 */
async function upToDate(db: Kysely<Database>): Promise<boolean> {
  const table = await sql<{ exists: boolean }>`select to_regclass('gatehouse_migrations') is not null as exists`.execute(db);
  if (!table.rows[0]?.exists) return false;
  const applied = await sql<{ name: string }>`select name from gatehouse_migrations`.execute(db);
  // Exactly ours: a database a newer Gatehouse migrated goes to the migrator, which refuses it as before.
  const names = new Set(applied.rows.map((row) => row.name));
  return names.size === MIGRATIONS.length && MIGRATIONS.every((migration) => names.has(migration.name));
}

/** Applies every pending migration. Several nodes may call this at once: Kysely takes a lock. */
export async function migrateToLatest(db: Kysely<Database>): Promise<string[]> {
  if (await upToDate(db)) return [];
  const migrator = new Migrator({
    db,
    provider,
    migrationTableName: 'gatehouse_migrations',
    migrationLockTableName: 'gatehouse_migrations_lock',
  });
  const { error, results } = await migrator.migrateToLatest();
  if (error) throw error instanceof Error ? error : new Error(String(error));
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
