// Faults on a PostgreSQL server these tests start and stop themselves: a crash and restart under
// load, an exhausted connection pool, and SIGTERM with requests in flight. Gatehouse runs over a real
// socket; what it answered is checked against what the database holds afterwards.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import pg from 'pg';
import { buildApp } from '../src/app.ts';
import { openDatabase, type Db, type OpenOptions } from '../src/db/database.ts';
import { migrateToLatest } from '../src/db/migrate.ts';
import { PASSWORD, uniqueEmail } from './helpers/api.ts';
import { PUBLIC_URL, TestClock, testConfig } from './helpers/harness.ts';
import { freePort } from './helpers/mailbox.ts';
import { postgresServerUnavailable, startPostgresServer, type PostgresServer } from './helpers/postgres-server.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MAIN = join('src', 'cli', 'main.ts');
const ACQUIRE_TIMEOUT_MS = 1000;
/** Liveness, not speed: a request that has not answered by then is hanging. */
const ANSWER_BOUND_MS = ACQUIRE_TIMEOUT_MS + 9000;
/** Liveness again: how long a process may take to exit once its last request is answered. */
const EXIT_BOUND_MS = 20_000;
/** A hang fails the test instead of the whole run. */
const TEST_TIMEOUT_MS = 180_000;

// These need the PostgreSQL server programs, which CI (the runs with TEST_DATABASE_URL) has.
const skip = process.env.TEST_DATABASE_URL ? (postgresServerUnavailable() ?? false) : 'set TEST_DATABASE_URL to run the PostgreSQL fault tests';

let addresses = 0;
/** Each registration comes from its own address, so the per-address registration limit never applies. */
const nextAddress = () => `10.${(++addresses >> 16) & 255}.${(addresses >> 8) & 255}.${addresses & 255}`;

const registration = (email = uniqueEmail('fault')) => ({ body: { firstName: 'Fault', lastName: 'Tolerant', email, password: PASSWORD }, from: nextAddress() });

interface Answer {
  route: string;
  /** 0 when no answer came: refused, cut or out of time (see `failure`). */
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any
  retryAfter: string | null;
  startedAt: number;
  endedAt: number;
  failure?: string;
}

/** One request over a real socket; never throws, so a load loop records every outcome. */
async function send(base: string, method: string, path: string, options: { body?: unknown; token?: string; from?: string; timeoutMs: number }): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.from) headers['x-forwarded-for'] = options.from;
  const route = `${method} ${path}`;
  const startedAt = Date.now();
  try {
    const response = await fetch(`${base}${path}`, {
      method,
      headers,
      body: options.body === undefined ? undefined : JSON.stringify(options.body),
      signal: AbortSignal.timeout(options.timeoutMs),
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return { route, status: response.status, body, retryAfter: response.headers.get('retry-after'), startedAt, endedAt: Date.now() };
  } catch (error) {
    const reason = (error as Error).name === 'TimeoutError' ? `no answer within ${options.timeoutMs} ms` : `no answer: ${String((error as Error).cause ?? error)}`;
    return { route, status: 0, body: undefined, retryAfter: null, startedAt, endedAt: Date.now(), failure: reason };
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The promise's value, or undefined when it has not settled within `ms`. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<undefined>((resolve) => (timer = setTimeout(resolve, ms, undefined)));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

async function until(what: string, condition: () => boolean | Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail(`waited ${timeoutMs} ms for: ${what}`);
    await sleep(50);
  }
}

/**
 * What a registration and an organisation creation write together, checked across every row: each
 * query lists the rows that break the rule. In these tests nobody joins anyone else's organisation.
 */
const INVARIANTS: Record<string, string> = {
  'users without exactly one personal organisation': `select u.id::text as id from users u where (select count(*) from organisations o where o.created_by = u.id and o.personal) <> 1`,
  'organisations without exactly the built-in roles': `select o.id::text as id from organisations o
    where (select array_agg(r.name order by r.name) from roles r where r.organisation_id = o.id and r.built_in) is distinct from array['admin', 'member', 'owner']`,
  'organisations whose creator is not their active owner': `select o.id::text as id from organisations o where not exists (
    select 1 from members m join roles r on r.id = m.role_id
    where m.organisation_id = o.id and m.user_id = o.created_by and m.status = 'active' and r.built_in and r.name = 'owner')`,
  'organisations with other members than their owner': `select organisation_id::text as id from members group by organisation_id having count(*) <> 1`,
  'users without one registration in the audit log': `select u.id::text as id from users u where (select count(*) from audit_events a where a.action = 'user.registered' and a.target_id = u.id::text) <> 1`,
  'registrations in the audit log of no user': `select a.id::text as id from audit_events a where a.action = 'user.registered' and not exists (select 1 from users u where u.id::text = a.target_id)`,
  'organisations without one creation in the audit log': `select o.id::text as id from organisations o where (select count(*) from audit_events a where a.action = 'organisation.created' and a.organisation_id = o.id) <> 1`,
  'audit events of no organisation': `select a.id::text as id from audit_events a where a.organisation_id is not null and not exists (select 1 from organisations o where o.id = a.organisation_id)`,
  'users without a session': `select u.id::text as id from users u where not exists (select 1 from sessions s where s.user_id = u.id)`,
  'sessions without a refresh token': `select s.id::text as id from sessions s where not exists (select 1 from refresh_tokens t where t.session_id = s.id)`,
  'users without an email verification token': `select u.id::text as id from users u where not exists (select 1 from one_time_tokens t where t.user_id = u.id and t.purpose = 'email_verification')`,
  'users without a verification mail': `select u.id::text as id from users u where not exists (select 1 from outbox m where m.kind = 'email_verification' and lower(m.recipient) = lower(u.email))`,
  'verification mails to no user': `select m.id::text as id from outbox m where m.kind = 'email_verification' and not exists (select 1 from users u where lower(u.email) = lower(m.recipient))`,
};

/** The broken rules and the rows that break them; {} when the data is whole. */
async function invariantViolations(db: Db): Promise<Record<string, string[]>> {
  const broken: Record<string, string[]> = {};
  for (const [rule, query] of Object.entries(INVARIANTS)) {
    const { rows } = await sql.raw<{ id: string }>(query).execute(db);
    if (rows.length > 0) broken[rule] = rows.map((row) => row.id);
  }
  return broken;
}

async function startGatehouse(url: string, options: OpenOptions) {
  const config = { ...testConfig({ TRUST_PROXY: 'true' }), database: { kind: 'postgres' as const, url } };
  const database = openDatabase(config.database, options);
  await migrateToLatest(database.db);
  const app = await buildApp({ config, database, clock: new TestClock(), logger: false });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as AddressInfo;
  return {
    db: database.db,
    base: `http://127.0.0.1:${port}`,
    async close() {
      await app.close();
      await database.close();
    },
  };
}

function assertUnavailable(answer: Answer) {
  const where = `${answer.route}: ${answer.failure ?? JSON.stringify(answer.body)}`;
  assert.equal(answer.status, 503, where);
  assert.deepEqual(Object.keys(answer.body).sort(), ['code', 'message', 'requestId', 'status', 'statusCode'], where);
  assert.equal(answer.body.status, 'Service unavailable', where);
  assert.equal(answer.body.statusCode, 503, where);
  assert.equal(answer.body.code, 'SERVICE_UNAVAILABLE', where);
  assert.match(answer.retryAfter ?? '', /^[1-9]\d*$/, `${where}: Retry-After`);
}

/** Sessions of the database waiting on a lock, seen from outside any transaction (which would freeze the view). */
async function lockWaiters(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const { rows } = await client.query<{ n: number }>(`select count(*)::int as n from pg_stat_activity where datname = current_database() and wait_event_type = 'Lock'`);
    return rows[0]?.n ?? 0;
  } finally {
    await client.end();
  }
}

/** Whether something takes a new TCP connection on the port. */
function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** A client holding `users` locked: whatever reads users waits, holding its pool connection. */
async function lockUsers(url: string) {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('begin');
  await client.query('lock table users in access exclusive mode');
  return client;
}

describe('faults on a PostgreSQL server of our own', { skip }, () => {
  let server: PostgresServer | undefined;
  const pgServer = () => {
    if (!server) throw new Error('PostgreSQL not started');
    return server;
  };
  before(async () => {
    server = await startPostgresServer();
  });
  after(async () => {
    await server?.destroy();
  });

  it('answers 503 to what an exhausted pool cannot serve, keeps /healthz answering, and recovers', { timeout: TEST_TIMEOUT_MS }, async () => {
    const url = await pgServer().createDatabase('faults_pool');
    const gatehouse = await startGatehouse(url, { poolSize: 2, acquireTimeoutMs: ACQUIRE_TIMEOUT_MS });
    const locker = await lockUsers(url);
    const requests = Array.from({ length: 10 }, () => ({ email: uniqueEmail('pool'), answer: undefined as Answer | undefined }));
    try {
      const pending = requests.map(async (request) => {
        request.answer = await send(gatehouse.base, 'POST', '/auth/register', { ...registration(request.email), timeoutMs: 120_000 });
        return request.answer;
      });
      const answered = () => requests.flatMap((r) => (r.answer ? [r.answer] : []));
      await until('the requests beyond the pool answer', () => answered().length >= 8, 30_000);
      for (const answer of answered()) assertUnavailable(answer);
      // Two requests still hold both connections, waiting on the lock; the process still answers.
      assert.equal(await lockWaiters(url), 2);
      const health = await send(gatehouse.base, 'GET', '/healthz', { timeoutMs: ANSWER_BOUND_MS });
      assert.equal(health.status, 200, health.failure);
      assert.equal(answered().length, 8);

      await locker.query('rollback');
      const all = await Promise.all(pending);
      assert.deepEqual(all.map((a) => a.status).sort(), [201, 201, 503, 503, 503, 503, 503, 503, 503, 503]);
      const created = requests.filter((r) => r.answer?.status === 201).map((r) => r.email);
      const stored = await gatehouse.db.selectFrom('users').select('email').where('email', 'in', requests.map((r) => r.email)).execute();
      assert.deepEqual(stored.map((u) => u.email).sort(), created.sort(), 'a refused registration left a user behind, or an accepted one is missing');

      const again = await send(gatehouse.base, 'POST', '/auth/register', { ...registration(), timeoutMs: ANSWER_BOUND_MS });
      assert.equal(again.status, 201, again.failure ?? JSON.stringify(again.body));
      const listed = await send(gatehouse.base, 'GET', '/api/organisations', { token: again.body.data.accessToken, timeoutMs: ANSWER_BOUND_MS });
      assert.equal(listed.status, 200);
      assert.equal(listed.body.data.organisations.length, 1);
      assert.equal((await send(gatehouse.base, 'GET', '/readyz', { timeoutMs: ANSWER_BOUND_MS })).status, 200);
      assert.deepEqual(await invariantViolations(gatehouse.db), {});
    } finally {
      await locker.end().catch(() => {});
      await gatehouse.close();
    }
  });

  it('on SIGTERM stops taking connections, finishes the requests in flight, then exits 0', { timeout: TEST_TIMEOUT_MS }, async () => {
    const url = await pgServer().createDatabase('faults_sigterm');
    const port = await freePort();
    const env: NodeJS.ProcessEnv = { ...process.env, DATABASE_URL: url, PORT: String(port), HOST: '127.0.0.1', PUBLIC_URL, LOG_LEVEL: 'info', TRUST_PROXY: 'true' };
    for (const name of ['SMTP_URL', 'REDIS_URL', 'NODE_TEST_CONTEXT', 'NODE_OPTIONS']) delete env[name];
    const child = spawn(process.execPath, [MAIN, 'serve'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let logs = '';
    child.stdout.on('data', (chunk: Buffer) => (logs += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (logs += chunk.toString()));
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
    const base = `http://127.0.0.1:${port}`;
    let locker: pg.Client | undefined;
    try {
      await until('the server answers /healthz', async () => child.exitCode === null && (await send(base, 'GET', '/healthz', { timeoutMs: 5000 })).status === 200, 60_000).catch((error: Error) => {
        throw new Error(`${error.message}\n${logs}`);
      });
      // Registrations held on a lock are in flight for certain when the signal arrives. Eight leave
      // the server's pool (ten connections) room for its outbox worker.
      locker = await lockUsers(url);
      const emails = Array.from({ length: 8 }, () => uniqueEmail('sigterm'));
      let answered = 0;
      const pending = emails.map((email) => send(base, 'POST', '/auth/register', { ...registration(email), timeoutMs: 120_000 }).finally(() => answered++));
      await until('the registrations wait in the database', async () => (await lockWaiters(url)) === emails.length, 30_000);

      child.kill('SIGTERM');
      await until('the server stops taking connections', async () => !(await accepts(port)), 30_000);
      assert.equal(answered, 0);
      assert.equal(child.exitCode, null, `the server exited with requests in flight:\n${logs}`);

      await locker.query('rollback');
      const answers = await Promise.all(pending);
      for (const answer of answers) assert.equal(answer.status, 201, `${answer.failure ?? JSON.stringify(answer.body)}\n${logs}`);
      // An orchestrator kills what outlives its grace period (30 s by default in Kubernetes): idle
      // keep-alive connections must not hold the exit once the last answer has left.
      const exit = await within(exited, EXIT_BOUND_MS);
      assert.ok(exit, `still running ${EXIT_BOUND_MS} ms after answering its last request:\n${logs}`);
      assert.equal(exit.signal, null, logs);
      assert.equal(exit.code, 0, logs);

      const { rows } = await locker.query<{ email: string }>(
        `select u.email from users u join organisations o on o.created_by = u.id and o.personal where u.email = any($1) order by u.email`,
        [emails],
      );
      assert.deepEqual(rows.map((r) => r.email), [...emails].sort());
    } finally {
      await locker?.end().catch(() => {});
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });

  // Last: it stops the shared server, and a failure mid-outage must not leave the others without one.
  it('answers 503 while the database is down under load, recovers on its own, and leaves nothing half-written', { timeout: TEST_TIMEOUT_MS }, async () => {
    const gatehouse = await startGatehouse(await pgServer().createDatabase('faults_restart'), { poolSize: 6, acquireTimeoutMs: ACQUIRE_TIMEOUT_MS });
    const answers: Answer[] = [];
    const seen = (route: string, status: number, since = 0) => answers.filter((a) => a.route === route && a.status === status && a.startedAt >= since).length;
    let loading = true;
    const worker = async () => {
      let token: string | undefined;
      while (loading) {
        const round = answers.length;
        const registered = await send(gatehouse.base, 'POST', '/auth/register', { ...registration(), timeoutMs: ANSWER_BOUND_MS });
        answers.push(registered);
        if (registered.status === 201) token = registered.body.data.accessToken;
        // With a token from before the outage, the authenticated routes are tried during it too.
        if (token) {
          answers.push(await send(gatehouse.base, 'POST', '/api/organisations', { token, body: { name: 'Under load' }, timeoutMs: ANSWER_BOUND_MS }));
          answers.push(await send(gatehouse.base, 'GET', '/api/organisations', { token, timeoutMs: ANSWER_BOUND_MS }));
        }
        if (answers.slice(round).some((a) => a.status !== 200 && a.status !== 201)) await sleep(100);
      }
    };
    const workers = Array.from({ length: 4 }, worker);
    try {
      await until('writes succeed before the outage', () => seen('POST /auth/register', 201) >= 6 && seen('POST /api/organisations', 201) >= 3, 60_000);

      await pgServer().stop('immediate');
      const outageFrom = Date.now();
      const during = () => answers.filter((a) => a.startedAt >= outageFrom);
      const routes = ['POST /auth/register', 'POST /api/organisations', 'GET /api/organisations'];
      await until('answers during the outage', () => during().length >= 9 && routes.every((r) => during().some((a) => a.route === r)), 30_000);
      const ready = await send(gatehouse.base, 'GET', '/readyz', { timeoutMs: ANSWER_BOUND_MS });
      assertUnavailable(ready);
      const health = await send(gatehouse.base, 'GET', '/healthz', { timeoutMs: ANSWER_BOUND_MS });
      assert.equal(health.status, 200, health.failure);
      assert.deepEqual(health.body, { status: 'ok' });
      const outageTo = Date.now();

      await pgServer().start();
      const restartedAt = Date.now();
      await until('writes succeed again after the restart', () => seen('POST /auth/register', 201, restartedAt) > 0 && seen('POST /api/organisations', 201, restartedAt) > 0, 20_000);
      assert.equal((await send(gatehouse.base, 'GET', '/readyz', { timeoutMs: ANSWER_BOUND_MS })).status, 200);
      loading = false;
      await Promise.all(workers);

      for (const answer of answers) {
        assert.ok([200, 201, 503].includes(answer.status), `${answer.route} answered ${answer.status}: ${answer.failure ?? JSON.stringify(answer.body)}`);
        if (answer.status === 503) assertUnavailable(answer);
      }
      const outage = answers.filter((a) => a.startedAt >= outageFrom && a.endedAt <= outageTo);
      assert.ok(outage.length >= 9, `only ${outage.length} answers fell inside the outage`);
      for (const answer of outage) assertUnavailable(answer);

      // What was acknowledged is there; what is there is whole.
      const userIds = answers.filter((a) => a.route === 'POST /auth/register' && a.status === 201).map((a) => a.body.data.user.userId as string);
      const orgIds = answers.filter((a) => a.route === 'POST /api/organisations' && a.status === 201).map((a) => a.body.data.orgId as string);
      const users = await gatehouse.db.selectFrom('users').select('id').where('id', 'in', userIds).execute();
      assert.equal(users.length, userIds.length, 'a registration answered 201 is missing');
      const orgs = await gatehouse.db.selectFrom('organisations').select('id').where('id', 'in', orgIds).execute();
      assert.equal(orgs.length, orgIds.length, 'an organisation answered 201 is missing');
      assert.deepEqual(await invariantViolations(gatehouse.db), {});
    } finally {
      loading = false;
      await Promise.allSettled(workers);
      try {
        await pgServer().start();
      } finally {
        await gatehouse.close();
      }
    }
  });
});
