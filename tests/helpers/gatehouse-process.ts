// A Gatehouse server in a process of its own, as production runs it (`gatehouse serve`), for the tests
// that need several nodes or a real signal.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTestDatabase } from './databases.ts';
import { freePort } from './mailbox.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MAIN = join('src', 'cli', 'main.ts');

export interface GatehouseProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Everything the process wrote, for failure messages. */
  output(): string;
  /** Sends SIGTERM and resolves with the exit code. */
  stop(): Promise<number | null>;
}

/**
 * Starts `gatehouse serve` with `env`. Without a database in `env` (DATABASE_URL or
 * GATEHOUSE_DATA_DIR), it runs on a copy of the migrated embedded template, removed when it stops: a
 * server in memory would pay initdb and the migrations at every start.
 */
export async function startGatehouse(env: Record<string, string>, readyTimeoutMs = 60_000): Promise<GatehouseProcess> {
  const copy = env.DATABASE_URL || env.GATEHOUSE_DATA_DIR ? undefined : await createTestDatabase('embedded', { migrated: true });
  if (copy?.config.kind === 'embedded' && copy.config.dataDir) env = { ...env, GATEHOUSE_DATA_DIR: copy.config.dataDir };
  // A port given in `env` (so that PUBLIC_URL can name it), else a free one.
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const base: NodeJS.ProcessEnv = { ...process.env };
  for (const name of ['DATABASE_URL', 'REDIS_URL', 'SMTP_URL', 'NODE_TEST_CONTEXT', 'NODE_OPTIONS']) delete base[name];
  const child = spawn(process.execPath, [MAIN, 'serve'], {
    cwd: ROOT,
    env: { ...base, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  void exited.then(() => copy?.drop());
  const url = `http://127.0.0.1:${port}`;

  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`gatehouse exited with ${child.exitCode}:\n${output}`);
    const ready = await fetch(`${url}/readyz`).then(
      (answer) => answer.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`gatehouse did not become ready:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }

  return {
    url,
    child,
    output: () => output,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
