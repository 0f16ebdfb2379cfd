// Named prepared statements for the PostgreSQL pool. Kysely sends each query as text; given a name,
// `pg` parses it once per connection and PostgreSQL keeps its plan, so a repeated query skips the
// parse and (after its fifth run, once PostgreSQL settles on a generic plan) the planning. Planning a
// join of four tables costs about as much as running it for one user's rows.
import { createHash } from 'node:crypto';
import type { PostgresPool, PostgresPoolClient } from 'kysely';
import type pg from 'pg';

/**
 * Distinct statements given a name. Queries are built by code, so their texts are few; one that grows
 * with its input (a list of n values) could not exhaust the server's memory: past this many, the rest
 * run unnamed, as before.
 */
export const MAX_NAMED_STATEMENTS = 500;

/** Only these can be prepared; transaction control and the rest run as they are. */
const PREPARABLE = /^\s*(select|insert|update|delete|with)\b/i;

/**
 * Starts a statement that must be planned for its values every time it runs: one whose best plan
 * depends on how many rows match now (a queue's claim), where a generic plan can be a thousand times
 * slower. It is never named, so PostgreSQL never settles on a generic plan for it.
 */
export const PLANNED_EACH_RUN = '/* planned each run */';

export function statementNamer(limit = MAX_NAMED_STATEMENTS) {
  const names = new Map<string, string>();
  return (text: string): string | undefined => {
    const known = names.get(text);
    if (known !== undefined || names.size >= limit || !PREPARABLE.test(text)) return known;
    const name = `gh_${createHash('sha256').update(text).digest('base64url').slice(0, 22)}`;
    names.set(text, name);
    return name;
  };
}

/** The pool as Kysely sees it, every preparable query named by its text. */
export function preparingPool(pool: pg.Pool, nameOf = statementNamer()): PostgresPool {
  return {
    async connect() {
      const client = await pool.connect();
      const query = (text: unknown, values?: readonly unknown[]) => {
        const name = typeof text === 'string' ? nameOf(text) : undefined;
        if (name === undefined) return (client.query as (...args: unknown[]) => unknown)(text, values);
        return client.query({ name, text: text as string, values: values as unknown[] });
      };
      // Kysely asks for a connection to be destroyed (`release(true)`) when its rollback failed.
      return { query, release: (destroy?: boolean) => client.release(destroy) } as PostgresPoolClient;
    },
    end: () => pool.end(),
    options: pool.options,
  };
}
