// Opens the database named by the configuration: a PostgreSQL server through `pg`, or the embedded
// PGlite (in a folder, or in memory). Both speak PostgreSQL, so the rest of the code cannot tell.
import { mkdirSync } from 'node:fs';
import { Kysely, PGliteDialect, PostgresDialect, type Transaction } from 'kysely';
import pg from 'pg';
import type { Config } from '../config/config.ts';
import { lockDataFolder } from './data-folder-lock.ts';
import { preparingPool } from './prepared-statements.ts';
import type { Database } from './schema.ts';

export type Db = Kysely<Database>;
/** A repository method takes either the database or a transaction, so a service can compose several in one. */
export type Executor = Kysely<Database> | Transaction<Database>;

export interface DatabaseHandle {
  readonly db: Db;
  readonly kind: 'postgres' | 'embedded';
  /** Pool of the PostgreSQL server; null for the embedded database. */
  readonly pool: pg.Pool | null;
  close(): Promise<void>;
}

const INT8_OID = 20;
const toNumber = (value: string) => Number(value);

export interface OpenOptions {
  /** Largest number of server connections one process holds. */
  poolSize?: number;
  /** How long a query waits for a free connection before it fails (and the request answers 503). */
  acquireTimeoutMs?: number;
}

/**
 * PostgreSQL's own buffers inside the embedded database. Its default (128 MB, in WebAssembly memory)
 * was most of an idle node's memory; the embedded database's files are read through the operating
 * system, whose cache keeps them too, so 16 MB costs its queries little (bench/README.md).
 */
const EMBEDDED_SETTINGS = ['-c', 'shared_buffers=16MB'];

export function openDatabase(database: Config['database'], options: OpenOptions = {}): DatabaseHandle {
  if (database.kind === 'postgres') {
    const pool = new pg.Pool({
      connectionString: database.url,
      max: options.poolSize ?? 10,
      connectionTimeoutMillis: options.acquireTimeoutMs ?? 5000,
      // Counts and identities fit in a double; answer them as numbers, not strings.
      types: { getTypeParser: ((oid: number, format?: 'text' | 'binary') => (oid === INT8_OID ? toNumber : pg.types.getTypeParser(oid, format))) as typeof pg.types.getTypeParser },
    });
    // A client losing its server (a restart) must not crash the process, idle or busy: the query in
    // flight is rejected (and answered 503), and the pool drops the broken client when it comes back.
    pool.on('error', () => {});
    pool.on('connect', (client) => client.on('error', () => {}));
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool: preparingPool(pool) }) });
    return { db, kind: 'postgres', pool, close: () => db.destroy() };
  }

  const dataDir = database.dataDir;
  // Refuses at once, before anything is read or written, when another process holds the folder.
  if (dataDir) mkdirSync(dataDir, { recursive: true });
  const unlock = dataDir ? lockDataFolder(dataDir) : () => {};
  const db = new Kysely<Database>({
    // PGlite is one PostgreSQL session: Kysely hands it to one connection at a time, and runs a
    // transaction in PGlite's own exclusive transaction, so no other statement lands inside it.
    dialect: new PGliteDialect({
      pglite: async () => {
        const { PGlite } = await import('@electric-sql/pglite');
        return PGlite.create(dataDir ?? undefined, { parsers: { [INT8_OID]: toNumber }, startParams: [...PGlite.defaultStartParams, ...EMBEDDED_SETTINGS] });
      },
    }),
  });
  return { db, kind: 'embedded', pool: null, close: () => db.destroy().finally(unlock) };
}
