// A throwaway PostgreSQL cluster the tests own: initdb into a temporary folder, its own port, so a
// test can stop and start the server under a running Gatehouse. PostgreSQL refuses to run as root,
// so under root every server command runs as the `postgres` system user.
import { execFile, execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, appendFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import pg from 'pg';
import { freePort } from './mailbox.ts';

const SERVER_PROGRAMS = ['initdb', 'pg_ctl', 'postgres'];
/** Debian and Ubuntu keep the server programs off PATH, one folder per major version. */
const DEBIAN_ROOT = '/usr/lib/postgresql';
const COMMAND_TIMEOUT_MS = 120_000;

const hasServerPrograms = (dir: string) => SERVER_PROGRAMS.every((name) => existsSync(join(dir, name)));

function serverBindir(): string | null {
  try {
    const dir = execFileSync('pg_config', ['--bindir'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    if (hasServerPrograms(dir)) return dir;
  } catch {
    // no pg_config on PATH: look where the distribution puts the server
  }
  if (!existsSync(DEBIAN_ROOT)) return null;
  const versions = readdirSync(DEBIAN_ROOT)
    .filter((name) => /^\d+(\.\d+)?$/.test(name))
    .sort((a, b) => Number(b) - Number(a));
  return versions.map((version) => join(DEBIAN_ROOT, version, 'bin')).find(hasServerPrograms) ?? null;
}

function onPath(name: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin'];
  return dirs.map((dir) => join(dir, name)).find((file) => existsSync(file)) ?? null;
}

interface RunAs {
  uid: number;
  gid: number;
  runuser: string;
}

/** Who runs the server: the `postgres` user when we are root, otherwise ourselves. */
function serverUser(): RunAs | null | 'unavailable' {
  if (process.getuid?.() !== 0) return null;
  const runuser = onPath('runuser');
  if (!runuser) return 'unavailable';
  try {
    const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return { uid: id('-u'), gid: id('-g'), runuser };
  } catch {
    return 'unavailable';
  }
}

/** Why a throwaway cluster cannot be started here, or null when it can. */
export function postgresServerUnavailable(): string | null {
  if (!serverBindir()) return 'the PostgreSQL server programs (initdb, pg_ctl, postgres) are not installed';
  if (serverUser() === 'unavailable') return 'running as root, and there is no `postgres` system user (or no runuser) to run PostgreSQL as';
  return null;
}

export interface PostgresServer {
  readonly port: number;
  /** A connection URL for one database of the cluster (`postgres` by default). */
  url(database?: string): string;
  createDatabase(name: string): Promise<string>;
  /** `immediate` is a crash: no checkpoint, every connection cut. Does nothing when stopped. */
  stop(mode?: 'immediate' | 'fast'): Promise<void>;
  /** Waits until the server accepts connections. Does nothing when it runs. */
  start(): Promise<void>;
  /** Stops the server when it runs and removes its folder. */
  destroy(): Promise<void>;
}

export async function startPostgresServer(): Promise<PostgresServer> {
  const bindir = serverBindir();
  const user = serverUser();
  if (!bindir || user === 'unavailable') throw new Error(`cannot start PostgreSQL: ${postgresServerUnavailable()}`);
  const folder = mkdtempSync(join(tmpdir(), 'gatehouse-pg-'));
  if (user) chownSync(folder, user.uid, user.gid);
  const dataDir = join(folder, 'data');
  const logFile = join(folder, 'server.log');
  const port = await freePort();
  let running = false;

  const run = (program: string, args: string[]) =>
    new Promise<string>((resolve, reject) => {
      const file = join(bindir, program);
      const [command, argv] = user ? [user.runuser, ['-u', 'postgres', '--', file, ...args]] : [file, args];
      execFile(command, argv, { cwd: folder, timeout: COMMAND_TIMEOUT_MS, encoding: 'utf8' }, (error, stdout, stderr) => {
        if (!error) return resolve(stdout);
        const log = existsSync(logFile) ? readFileSync(logFile, 'utf8').slice(-4000) : '';
        reject(new Error(`${program} ${args.join(' ')} failed: ${error.message}\n${stdout}${stderr}${log}`));
      });
    });

  const pgCtl = (...args: string[]) => run('pg_ctl', ['-D', dataDir, '-w', '-t', '60', ...args]);

  // A crash of this process must not leave a server behind; `after` normally does this first.
  const stopOnExit = () => {
    if (!running) return;
    try {
      const file = join(bindir, 'pg_ctl');
      const args = ['-D', dataDir, '-m', 'immediate', 'stop'];
      if (user) execFileSync(user.runuser, ['-u', 'postgres', '--', file, ...args], { stdio: 'ignore' });
      else execFileSync(file, args, { stdio: 'ignore' });
    } catch {
      // best effort on the way out
    }
  };
  process.once('exit', stopOnExit);

  // One server command at a time: a test that failed mid-outage may still be restarting the server
  // when `after` stops it.
  let queue: Promise<unknown> = Promise.resolve();
  const serially = <T>(work: () => Promise<T>): Promise<T> => {
    const next = queue.then(work, work);
    queue = next.catch(() => {});
    return next;
  };
  let destroyed = false;

  const server: PostgresServer = {
    port,
    url: (database = 'postgres') => `postgres://postgres@127.0.0.1:${port}/${database}`,
    async createDatabase(name) {
      const client = new pg.Client({ connectionString: server.url() });
      await client.connect();
      try {
        await client.query(`create database ${name}`);
      } finally {
        await client.end();
      }
      return server.url(name);
    },
    stop: (mode = 'immediate') =>
      serially(async () => {
        if (!running) return;
        await pgCtl('-m', mode, 'stop');
        running = false;
      }),
    start: () =>
      serially(async () => {
        if (destroyed) throw new Error('the PostgreSQL server was already destroyed');
        if (running) return;
        await pgCtl('-l', logFile, 'start');
        running = true;
      }),
    async destroy() {
      destroyed = true;
      try {
        await server.stop('immediate');
      } finally {
        process.removeListener('exit', stopOnExit);
        rmSync(folder, { recursive: true, force: true });
      }
    },
  };

  try {
    await run('initdb', ['-D', dataDir, '-U', 'postgres', '--auth=trust', '--encoding=UTF8', '--locale=C', '--no-sync']);
    // Only TCP on loopback and a socket in our own folder: nothing clashes with a system server.
    appendFileSync(
      join(dataDir, 'postgresql.conf'),
      [`port = ${port}`, `listen_addresses = '127.0.0.1'`, `unix_socket_directories = '${folder}'`, 'fsync = off', 'full_page_writes = off', 'shared_buffers = 32MB', 'max_connections = 60', ''].join('\n'),
    );
    await server.start();
  } catch (error) {
    await server.destroy();
    throw error;
  }
  return server;
}
