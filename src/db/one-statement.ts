// Several writes sent as one statement: each runs as a data-modifying CTE of one `with … select`, so
// together they cost one round trip, need no transaction of their own, and happen all or none.
// Every part sees the database as it was before the statement (one snapshot), so no part reads
// another's rows: the caller chooses the ids that tie them together. Foreign keys and AFTER triggers
// are checked at the statement's end, when every row exists.
import { sql, type InsertQueryBuilder, type QueryCreator } from 'kysely';
import type { Executor } from './database.ts';
import type { Database } from './schema.ts';

/** A write of one statement; its own `returning` is not read. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type Write = InsertQueryBuilder<Database, any, any>;

type Parts = QueryCreator<Record<string, Record<string, unknown>>>;

function withParts(db: Executor, writes: readonly Write[]): Parts {
  let query = db as unknown as Parts;
  writes.forEach((write, i) => {
    query = query.with(`write_${i}`, () => write as never) as unknown as Parts;
  });
  return query;
}

/** Runs the writes in one statement. */
export async function writeTogether(db: Executor, writes: readonly Write[]): Promise<void> {
  await withParts(db, writes).selectNoFrom(sql<number>`1`.as('done')).execute();
}

/** Runs the writes in one statement with `main`, and answers what `main` returns. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export async function writeTogetherReturning<O>(db: Executor, writes: readonly Write[], main: InsertQueryBuilder<Database, any, O>): Promise<O[]> {
  const rows = await withParts(db, writes)
    .with('main', () => main as never)
    .selectFrom('main')
    .selectAll()
    .execute();
  return rows as O[];
}
