// A Kysely dialect for the embedded PGlite database.
//
// PGlite is a single PostgreSQL session. If two Kysely connections used it at once, the statements
// of one transaction would run inside the other's BEGIN…COMMIT, and a rollback in one would undo
// the other's writes. So the driver hands the session to one connection at a time: acquire waits
// until the previous holder has released it (the same shape as Kysely's own SQLite driver).
import type { PGlite } from '@electric-sql/pglite';
import {
  CompiledQuery,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
  type TransactionSettings,
} from 'kysely';

export class PGliteDialect implements Dialect {
  private readonly open: () => Promise<PGlite>;

  constructor(open: () => Promise<PGlite>) {
    this.open = open;
  }

  createAdapter() {
    return new PostgresAdapter();
  }
  createDriver(): Driver {
    return new PGliteDriver(this.open);
  }
  createIntrospector(db: Kysely<unknown>) {
    return new PostgresIntrospector(db);
  }
  createQueryCompiler() {
    return new PostgresQueryCompiler();
  }
}

class PGliteDriver implements Driver {
  private client: PGlite | null = null;
  private connection: PGliteConnection | null = null;
  private readonly mutex = new Mutex();
  private readonly open: () => Promise<PGlite>;

  constructor(open: () => Promise<PGlite>) {
    this.open = open;
  }

  async init(): Promise<void> {
    this.client = await this.open();
    this.connection = new PGliteConnection(this.client);
  }

  async acquireConnection(): Promise<DatabaseConnection> {
    await this.mutex.lock();
    return this.connection!;
  }

  async releaseConnection(): Promise<void> {
    this.mutex.unlock();
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const isolation = settings.isolationLevel ? ` isolation level ${settings.isolationLevel}` : '';
    await connection.executeQuery(CompiledQuery.raw(`begin${isolation}`));
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('commit'));
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'));
  }

  async destroy(): Promise<void> {
    await this.client?.close();
    this.client = null;
  }
}

class PGliteConnection implements DatabaseConnection {
  private readonly client: PGlite;

  constructor(client: PGlite) {
    this.client = client;
  }

  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    const result = await this.client.query<R>(compiled.sql, [...compiled.parameters]);
    const affected = result.affectedRows;
    return {
      rows: result.rows,
      ...(affected !== undefined && compiled.query.kind !== 'SelectQueryNode' ? { numAffectedRows: BigInt(affected) } : {}),
    };
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('The embedded database does not stream query results');
  }
}

/** A FIFO lock: each waiter is resumed in turn by the previous holder's unlock. */
class Mutex {
  private held = false;
  private readonly waiters: Array<() => void> = [];

  async lock(): Promise<void> {
    if (!this.held) {
      this.held = true;
      return;
    }
    await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  unlock(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.held = false;
  }
}
