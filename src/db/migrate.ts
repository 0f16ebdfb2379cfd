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

/** Applies every pending migration. Several nodes may call this at once: Kysely takes a lock. */
export async function migrateToLatest(db: Kysely<Database>): Promise<string[]> {
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
