// The `gatehouse` command, run as a user runs it: a separate node process on an embedded database in
// a temporary folder. Each process pays PGlite's cold start, so the steps share one data folder.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { openDatabase } from '../src/db/database.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MAIN = join('src', 'cli', 'main.ts');
const PASSWORD = 'correct horse battery';

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

let dataDir = '';

function environment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, GATEHOUSE_DATA_DIR: dataDir, LOG_LEVEL: 'warn', ...extra };
  for (const name of ['DATABASE_URL', 'PORT', 'PUBLIC_URL', 'SMTP_URL', 'REDIS_URL', 'NODE_TEST_CONTEXT', 'NODE_OPTIONS']) if (!(name in extra)) delete env[name];
  return env;
}

/** Runs `gatehouse <args>` to completion, optionally typing `input` on standard input. */
function gatehouse(args: string[], options: { env?: Record<string, string>; input?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], { cwd: ROOT, env: environment(options.env), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

async function userRow(email: string) {
  const database = openDatabase({ kind: 'embedded', dataDir });
  try {
    return await database.db.selectFrom('users').select(['id', 'email', 'platform_role', 'email_verified_at']).where('email', '=', email).execute();
  } finally {
    await database.close();
  }
}

async function setPlatformRole(email: string, role: 'user' | 'admin') {
  const database = openDatabase({ kind: 'embedded', dataDir });
  try {
    await database.db.updateTable('users').set({ platform_role: role }).where('email', '=', email).execute();
  } finally {
    await database.close();
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

const output = (run: Run) => `exit ${run.code}\nstdout: ${run.stdout}\nstderr: ${run.stderr}`;

describe('command line', () => {
  before(() => {
    dataDir = join(mkdtempSync(join(tmpdir(), 'gatehouse-cli-')), 'data');
  });
  after(() => {
    rmSync(join(dataDir, '..'), { recursive: true, force: true });
  });

  it('create-admin --email --password creates a platform admin', async () => {
    const email = 'root@example.com';
    const run = await gatehouse(['create-admin', '--email', email, '--password', PASSWORD]);
    assert.equal(run.code, 0, output(run));
    assert.match(run.stdout, /Created platform admin [0-9a-f-]{36}/);
    const rows = await userRow(email);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.platform_role, 'admin');
    assert.ok(run.stdout.includes(rows[0]!.id));
  });

  it('create-admin reads the password from standard input', async () => {
    const email = 'piped@example.com';
    const run = await gatehouse(['create-admin', '--email', email], { input: `${PASSWORD}\n` });
    assert.equal(run.code, 0, output(run));
    assert.ok(!run.stdout.includes(PASSWORD) && !run.stderr.includes(PASSWORD), 'the password was echoed');
    const rows = await userRow(email);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.platform_role, 'admin');
  });

  it('create-admin refuses too short a password with exit code 1 and a message, creating nobody', async () => {
    const email = 'short@example.com';
    const run = await gatehouse(['create-admin', '--email', email, '--password', 'short']);
    assert.equal(run.code, 1, output(run));
    assert.match(run.stderr, /password/i);
    assert.match(run.stderr, /8/);
    assert.doesNotMatch(run.stderr, /^\s+at /m, 'a stack trace instead of a message');
    assert.deepEqual(await userRow(email), []);
  });

  it('create-admin for an existing email promotes it instead of failing', async () => {
    const email = 'root@example.com';
    await setPlatformRole(email, 'user');
    const run = await gatehouse(['create-admin', '--email', email, '--password', PASSWORD]);
    assert.equal(run.code, 0, output(run));
    assert.match(run.stdout, /now a platform admin/);
    const rows = await userRow(email);
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.platform_role, 'admin');
  });

  it('migrate exits 0 on an up-to-date database', async () => {
    const run = await gatehouse(['migrate']);
    assert.equal(run.code, 0, output(run));
    assert.match(run.stdout, /up to date|Applied/);
  });

  it('openapi prints the OpenAPI 3.1 document', async () => {
    const run = await gatehouse(['openapi']);
    assert.equal(run.code, 0, output(run));
    const document = JSON.parse(run.stdout) as { openapi: string; paths: Record<string, unknown> };
    assert.equal(document.openapi, '3.1.0');
    assert.ok(document.paths['/auth/register']);
  });

  it('stops on a bad configuration with exit code 1 and a message naming the variable', async () => {
    const run = await gatehouse(['migrate'], { env: { PORT: 'abc' } });
    assert.equal(run.code, 1, output(run));
    assert.match(run.stderr, /\bPORT\b/);
    assert.doesNotMatch(run.stderr, /^\s+at /m, 'a stack trace instead of a message');
  });

  it('serve answers /healthz, and SIGTERM makes it exit with code 0', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, ['--import', 'tsx', MAIN, 'serve'], {
      cwd: ROOT,
      env: environment({ PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'info' }),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let logs = '';
    child.stdout.on('data', (chunk: Buffer) => (logs += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (logs += chunk.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    try {
      let health: Response | undefined;
      const deadline = Date.now() + 60_000;
      while (!health && Date.now() < deadline && child.exitCode === null) {
        health = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
        if (!health) await new Promise((resolve) => setTimeout(resolve, 200));
      }
      assert.ok(health, `the server never answered:\n${logs}`);
      assert.equal(health.status, 200);
      assert.deepEqual(await health.json(), { status: 'ok' });
      assert.match(logs, /docs/);
      child.kill('SIGTERM');
      const { code, signal } = await exited;
      assert.equal(signal, null, logs);
      assert.equal(code, 0, logs);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});
