// The benchmark's own databases on the PostgreSQL server it is given.
import pg from 'pg';

export async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** The URL of another database on the same server. */
export function databaseUrl(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

const NAME = /^[a-z_][a-z0-9_]*$/;

export async function databaseExists(serverUrl: string, name: string): Promise<boolean> {
  const { rows } = await withClient(serverUrl, (client) => client.query('select 1 from pg_database where datname = $1', [name]));
  return rows.length > 0;
}

export async function createDatabase(serverUrl: string, name: string, { replace }: { replace: boolean }): Promise<string> {
  if (!NAME.test(name)) throw new Error(`Not a plain database name: ${name}`);
  await withClient(serverUrl, async (client) => {
    if (replace) await client.query(`drop database if exists ${name} with (force)`);
    await client.query(`create database ${name}`);
  });
  return databaseUrl(serverUrl, name);
}

export async function serverVersion(serverUrl: string): Promise<string> {
  const { rows } = await withClient(serverUrl, (client) => client.query<{ v: string }>(`select current_setting('server_version') as v`));
  return rows[0]?.v ?? 'unknown';
}

/** Resolves once no query runs in the named databases (a load's last aggregations may outlive it); at most a minute's wait. */
export async function databasesIdle(serverUrl: string, names: string[]): Promise<void> {
  await withClient(serverUrl, async (client) => {
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline) {
      const { rows } = await client.query<{ n: number }>(
        `select count(*)::int as n from pg_stat_activity where state = 'active' and pid <> pg_backend_pid() and datname = any($1)`,
        [names],
      );
      if (!rows[0]?.n) return;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });
}
