// The `gatehouse` command, run as a user runs it: a separate node process on an embedded database in
// a temporary folder. Each process pays PGlite's cold start, so the steps share one data folder.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { Secret, TOTP } from 'otpauth';
import { LOCK_FILE } from '../src/db/data-folder-lock.ts';
import type { Config } from '../src/config/config.ts';
import { openDatabase } from '../src/db/database.ts';
import { secretBox } from '../src/domain/mfa/secret-box.ts';
import { hashOpaqueToken } from '../src/domain/sessions/opaque-tokens.ts';
import { createTestDatabase } from './helpers/databases.ts';
import { startGatehouse, type GatehouseProcess } from './helpers/gatehouse-process.ts';

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
  for (const name of ['DATABASE_URL', 'PORT', 'PUBLIC_URL', 'SMTP_URL', 'REDIS_URL', 'LOG_FORMAT', 'NODE_TEST_CONTEXT', 'NODE_OPTIONS']) if (!(name in extra)) delete env[name];
  return env;
}

/** Runs `gatehouse <args>` to completion, optionally typing `input` on standard input. One that never ends (a server started by mistake) is killed after a minute. */
function gatehouse(args: string[], options: { env?: Record<string, string>; input?: string } = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { cwd: ROOT, env: environment(options.env), stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** `gatehouse serve` on this file's data folder (or the database `env` names), ready to answer; it stops without the readiness delay. */
const startServer = (env: Record<string, string> = {}) => startGatehouse({ GATEHOUSE_DATA_DIR: dataDir, GATEHOUSE_SHUTDOWN_DELAY: '0', ...env });

async function signingKeys() {
  const database = openDatabase({ kind: 'embedded', dataDir });
  try {
    return (await database.db.selectFrom('signing_keys').select('kid').orderBy('kid').execute()).map((row) => row.kid);
  } finally {
    await database.close();
  }
}

/** What a person is told: one line, no stack trace. */
function assertOneLine(run: Run, pattern: RegExp) {
  assert.equal(run.code, 1, output(run));
  const lines = run.stderr.trim().split('\n');
  assert.equal(lines.length, 1, `one line expected on standard error:\n${run.stderr}`);
  assert.match(lines[0]!, pattern);
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

/** The code an authenticator app shows for the secret one step from now: accepted (one step of drift) and never the one enrolment spent. */
const nextCode = (secret: string) => new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate({ timestamp: Date.now() + 30_000 });

async function post(url: string, body: unknown, token?: string) {
  const answer = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body ?? {}) });
  return { status: answer.status, body: (await answer.json()) as { data: Record<string, unknown> } };
}

/** A person registered on a running server, with an authenticator app set up and confirmed. */
async function withTotp(url: string) {
  const email = `totp.${randomBytes(4).toString('hex')}@example.com`;
  const registered = await post(`${url}/auth/register`, { firstName: 'Ada', lastName: 'L', email, password: PASSWORD });
  assert.equal(registered.status, 201, JSON.stringify(registered.body));
  const token = registered.body.data.accessToken as string;
  const started = await post(`${url}/api/users/me/mfa/totp`, {}, token);
  assert.equal(started.status, 201, JSON.stringify(started.body));
  const secret = started.body.data.secret as string;
  const code = new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate();
  const confirmed = await post(`${url}/api/users/me/mfa/totp/confirm`, { code }, token);
  assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body));
  return { email, secret, userId: (registered.body.data.user as { userId: string }).userId };
}

/** Password, then a code from the app: the tokens. */
async function signInWithApp(url: string, user: { email: string; secret: string }) {
  const first = await post(`${url}/auth/login`, { email: user.email, password: PASSWORD });
  assert.equal(first.body.data.mfaRequired, true, JSON.stringify(first.body));
  const second = await post(`${url}/auth/mfa/verify`, { mfaToken: first.body.data.mfaToken, method: 'totp', code: nextCode(user.secret) });
  assert.equal(second.status, 200, JSON.stringify(second.body));
  assert.equal(typeof second.body.data.accessToken, 'string');
}

async function sealedTotp(config: Config['database'], userId: string): Promise<string> {
  const database = openDatabase(config);
  try {
    return (await database.db.selectFrom('mfa_totp').select('secret_ciphertext').where('user_id', '=', userId).executeTakeFirstOrThrow()).secret_ciphertext;
  } finally {
    await database.close();
  }
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

  it('create-client registers an OpenID client and prints its id and secret once, keeping the digest', async () => {
    const run = await gatehouse(['create-client', '--name', 'Notes', '--redirect-uri', 'https://notes.example/callback', '--redirect-uri', 'http://localhost:3001/callback', '--first-party']);
    assert.equal(run.code, 0, output(run));
    const clientId = /client_id: (gho_\S+)/.exec(run.stdout)?.[1];
    const secret = /client_secret: (ghos_\S+)/.exec(run.stdout)?.[1];
    assert.ok(clientId && secret, run.stdout);
    const database = openDatabase({ kind: 'embedded', dataDir });
    try {
      const row = await database.db.selectFrom('oidc_clients').selectAll().where('client_id', '=', clientId).executeTakeFirstOrThrow();
      assert.deepEqual(row.redirect_uris, ['https://notes.example/callback', 'http://localhost:3001/callback']);
      assert.equal(row.first_party, true);
      assert.equal(row.type, 'confidential');
      assert.equal(row.secret_hash, hashOpaqueToken(secret));
      const audit = await database.db.selectFrom('audit_events').select(['action', 'actor_type']).where('target_id', '=', row.id).execute();
      assert.deepEqual(audit, [{ action: 'oidc_client.created', actor_type: 'system' }]);
    } finally {
      await database.close();
    }
    const refused = await gatehouse(['create-client', '--name', 'Bad', '--redirect-uri', 'https://x.example/cb', '--type', 'secret']);
    assert.equal(refused.code, 1, output(refused));
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
    const child = spawn(process.execPath, [MAIN, 'serve'], {
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

  it('--help on every command prints its usage, exits 0 and opens no database', async () => {
    // A folder that does not exist yet: any command that ran would create it.
    const untouched = join(dataDir, '..', 'never-opened');
    const helps = [['--help'], ['help'], ['serve', '--help'], ['migrate', '--help'], ['create-admin', '--help'], ['create-client', '--help'], ['rotate-keys', '--help'], ['openapi', '--help'], ['help', 'rotate-keys']];
    for (const args of helps) {
      const run = await gatehouse(args, { env: { GATEHOUSE_DATA_DIR: untouched } });
      assert.equal(run.code, 0, `${args.join(' ')}: ${output(run)}`);
      assert.match(run.stdout, /^Usage: gatehouse/, `${args.join(' ')}: ${output(run)}`);
    }
    assert.equal(existsSync(untouched), false, 'a --help opened the data folder');
  });

  it('rotate-keys --help does not rotate the signing key', async () => {
    await gatehouse(['migrate']);
    const before = await signingKeys();
    const run = await gatehouse(['rotate-keys', '--help']);
    assert.equal(run.code, 0, output(run));
    assert.match(run.stdout, /rotate-keys/);
    assert.deepEqual(await signingKeys(), before);
  });

  it('create-admin --help lists its options and creates nobody', async () => {
    const run = await gatehouse(['create-admin', '--email', 'helped@example.com', '--password', PASSWORD, '--help']);
    assert.equal(run.code, 0, output(run));
    for (const option of ['--email', '--username', '--password', '--first-name', '--last-name']) assert.ok(run.stdout.includes(option), `${option} missing:\n${run.stdout}`);
    assert.deepEqual(await userRow('helped@example.com'), []);
  });

  it('--version prints the version of the package', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const run = await gatehouse(['--version']);
    assert.equal(run.code, 0, output(run));
    assert.equal(run.stdout.trim(), version);
  });

  it('refuses an unknown option, an unknown command and a missing --email, creating nobody', async () => {
    const flag = await gatehouse(['create-admin', '--email', 'flagged@example.com', '--password', PASSWORD, '--admin-level', '9']);
    assert.equal(flag.code, 1, output(flag));
    assert.match(flag.stderr, /unknown option '--admin-level'/);
    assert.deepEqual(await userRow('flagged@example.com'), []);

    const topFlag = await gatehouse(['--port', '4000']);
    assert.equal(topFlag.code, 1, output(topFlag));
    assert.match(topFlag.stderr, /unknown option '--port'/);

    const command = await gatehouse(['rotate-key']);
    assert.equal(command.code, 1, output(command));
    assert.match(command.stderr, /unknown command 'rotate-key'/);

    const missing = await gatehouse(['create-admin', '--password', PASSWORD]);
    assert.equal(missing.code, 1, output(missing));
    assert.match(missing.stderr, /--email/);
  });

  it('while serve runs, create-admin, rotate-keys, migrate and a second serve refuse the data folder and write nothing', async () => {
    const keysBefore = await signingKeys();
    const server = await startServer();
    try {
      const held = /in use by a running Gatehouse process \(pid \d+\): stop that server first, or make the change through its API/;
      assertOneLine(await gatehouse(['create-admin', '--email', 'racing@example.com', '--password', PASSWORD]), held);
      assertOneLine(await gatehouse(['rotate-keys']), held);
      assertOneLine(await gatehouse(['migrate']), held);
      assertOneLine(await gatehouse(['serve'], { env: { PORT: String(await freePort()), HOST: '127.0.0.1' } }), held);
      // The first server is still there and answering.
      assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    } finally {
      assert.equal(await server.stop(), 0, server.output());
    }
    assert.equal(existsSync(join(dataDir, LOCK_FILE)), false, 'the lock outlived the server');
    assert.deepEqual(await userRow('racing@example.com'), []);
    assert.deepEqual(await signingKeys(), keysBefore);
  });

  it('a lock left by a process that died does not block the folder', async () => {
    const dead = spawn(process.execPath, ['-e', '']);
    await new Promise((resolve) => dead.on('exit', resolve));
    writeFileSync(join(dataDir, LOCK_FILE), `${dead.pid}\n`);
    const run = await gatehouse(['create-admin', '--email', 'after-crash@example.com', '--password', PASSWORD]);
    assert.equal(run.code, 0, output(run));
    assert.equal((await userRow('after-crash@example.com')).length, 1);
    assert.equal(existsSync(join(dataDir, LOCK_FILE)), false);
  });

  it('a busy port is one line naming the port, with exit code 1', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const { port } = busy.address() as { port: number };
    try {
      const run = await gatehouse(['serve'], { env: { PORT: String(port), HOST: '127.0.0.1' } });
      assertOneLine(run, new RegExp(`Cannot listen on 127\\.0\\.0\\.1:${port}: another process uses that port.*PORT`));
    } finally {
      busy.close();
    }
  });

  it('a bad configuration is one line naming the variable, with exit code 1', async () => {
    assertOneLine(await gatehouse(['serve'], { env: { LOG_FORMAT: 'xml' } }), /LOG_FORMAT must be one of pretty, json, got "xml"/);
    assertOneLine(await gatehouse(['create-admin', '--email', 'config@example.com', '--password', PASSWORD], { env: { ACCESS_TOKEN_TTL: 'soon' } }), /ACCESS_TOKEN_TTL/);
  });

  it('without SMTP_URL, LOG_FORMAT=pretty prints a mail as a readable block with its link on a line of its own', async () => {
    const server = await startServer({ LOG_FORMAT: 'pretty', LOG_LEVEL: 'info' });
    try {
      const email = 'reader@example.com';
      const registered = await fetch(`${server.url}/auth/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ firstName: 'Ada', lastName: 'Reader', email, password: PASSWORD }),
      });
      assert.equal(registered.status, 201);
      const deadline = Date.now() + 30_000;
      while (!server.output().includes('Links:') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      const lines = server.output().split('\n');
      assert.ok(lines.includes(`To: ${email}`), server.output());
      assert.ok(lines.includes('Subject: Confirm your email address'), server.output());
      assert.ok(lines.includes('Hello Ada,'), server.output());
      assert.ok(
        lines.some((line) => /^https?:\/\/\S+\/verify-email\?token=[\w-]+$/.test(line)),
        `no line holding just the link:\n${server.output()}`,
      );
      assert.ok(!server.output().includes('{"level"'), 'JSON lines in the pretty log');
      assert.ok(!server.output().includes('\\n'), 'escaped line breaks in the pretty log');
    } finally {
      assert.equal(await server.stop(), 0, server.output());
    }
  });

  it('logs JSON lines when standard output is not a terminal and LOG_FORMAT is unset', async () => {
    // Empty is unset, whatever the shell running the tests exports.
    const server = await startServer({ LOG_LEVEL: 'info', LOG_FORMAT: '' });
    try {
      assert.equal((await fetch(`${server.url}/healthz`)).status, 200);
    } finally {
      assert.equal(await server.stop(), 0, server.output());
    }
    const lines = server.output().trim().split('\n');
    assert.ok(lines.length > 2, server.output());
    for (const line of lines) assert.equal(typeof (JSON.parse(line) as { msg: unknown }).msg, 'string', line);
  });

  it('rotate-secret-key on the embedded database: a new key file, the secrets sealed under it, and sign-in with the app still works', async () => {
    let server = await startServer();
    let user: Awaited<ReturnType<typeof withTotp>>;
    try {
      user = await withTotp(server.url);
    } finally {
      assert.equal(await server.stop(), 0, server.output());
    }
    const file = join(dataDir, 'secret-key');
    const oldKey = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
    assert.equal(secretBox(oldKey).open(await sealedTotp({ kind: 'embedded', dataDir }, user.userId), user.userId), user.secret);

    const run = await gatehouse(['rotate-secret-key']);
    assert.equal(run.code, 0, output(run));
    assert.match(run.stdout, /^Generated a new key in .*secret-key and re-encrypted 1 secret under it\n$/);
    assert.ok(!existsSync(`${file}.next`));
    const newKey = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
    assert.equal(newKey.length, 32);
    assert.notDeepEqual(newKey, oldKey);
    const sealed = await sealedTotp({ kind: 'embedded', dataDir }, user.userId);
    assert.equal(secretBox(newKey).open(sealed, user.userId), user.secret);
    assert.throws(() => secretBox(oldKey).open(sealed, user.userId), 'the old key opens nothing any more');

    server = await startServer();
    try {
      await signInWithApp(server.url, user);
    } finally {
      assert.equal(await server.stop(), 0, server.output());
    }
  });

  it('rotate-secret-key on PostgreSQL: what GATEHOUSE_PREVIOUS_SECRET_KEY sealed is sealed again under GATEHOUSE_SECRET_KEY', { skip: !process.env.TEST_DATABASE_URL && 'TEST_DATABASE_URL is not set' }, async () => {
    const testDb = await createTestDatabase('postgres');
    const url = testDb.config.kind === 'postgres' ? testDb.config.url : '';
    const [oldKey, newKey] = [randomBytes(32), randomBytes(32)];
    try {
      let server = await startServer({ DATABASE_URL: url, GATEHOUSE_SECRET_KEY: oldKey.toString('base64') });
      let user: Awaited<ReturnType<typeof withTotp>>;
      try {
        user = await withTotp(server.url);
      } finally {
        assert.equal(await server.stop(), 0, server.output());
      }
      const keys = { DATABASE_URL: url, GATEHOUSE_SECRET_KEY: newKey.toString('base64') };
      const noKey = await gatehouse(['rotate-secret-key'], { env: { DATABASE_URL: url } });
      assertOneLine(noKey, /^error: Invalid configuration: GATEHOUSE_SECRET_KEY is not set/);
      // The new key without the old: one line saying what to set, and every secret left as it was.
      const before = await sealedTotp({ kind: 'postgres', url }, user.userId);
      assertOneLine(await gatehouse(['rotate-secret-key'], { env: keys }), /^error: Invalid configuration: GATEHOUSE_PREVIOUS_SECRET_KEY does not open every TOTP secret/);
      assert.equal(await sealedTotp({ kind: 'postgres', url }, user.userId), before);
      const run = await gatehouse(['rotate-secret-key'], { env: { ...keys, GATEHOUSE_PREVIOUS_SECRET_KEY: oldKey.toString('base64') } });
      assert.equal(run.code, 0, output(run));
      assert.equal(run.stdout, 'Re-encrypted 1 secret under the current key: GATEHOUSE_PREVIOUS_SECRET_KEY can go\n');
      const sealed = await sealedTotp({ kind: 'postgres', url }, user.userId);
      assert.equal(secretBox(newKey).open(sealed, user.userId), user.secret);
      assert.throws(() => secretBox(oldKey).open(sealed, user.userId), 'the old key opens nothing any more');
      const again = await gatehouse(['rotate-secret-key'], { env: keys });
      assert.equal(again.stdout, 'Re-encrypted 0 secrets under the current key\n', output(again));

      // The new key alone, as the operator runs next.
      server = await startServer(keys);
      try {
        await signInWithApp(server.url, user);
      } finally {
        assert.equal(await server.stop(), 0, server.output());
      }
    } finally {
      await testDb.drop();
    }
  });

  it('create-admin works on PostgreSQL while a server runs on it', { skip: !process.env.TEST_DATABASE_URL && 'TEST_DATABASE_URL is not set' }, async () => {
    const testDb = await createTestDatabase('postgres');
    assert.equal(testDb.config.kind, 'postgres');
    const url = testDb.config.kind === 'postgres' ? testDb.config.url : '';
    let server: GatehouseProcess | undefined;
    try {
      server = await startServer({ DATABASE_URL: url });
      const email = 'pg-admin@example.com';
      const run = await gatehouse(['create-admin', '--email', email, '--password', PASSWORD], { env: { DATABASE_URL: url } });
      assert.equal(run.code, 0, output(run));
      const database = openDatabase({ kind: 'postgres', url });
      try {
        const row = await database.db.selectFrom('users').select('platform_role').where('email', '=', email).executeTakeFirst();
        assert.equal(row?.platform_role, 'admin');
      } finally {
        await database.close();
      }
    } finally {
      if (server) assert.equal(await server.stop(), 0, server.output());
      await testDb.drop();
    }
  });
});
