// A quick local measurement of the core routes: registrations/s, logins/s and organisation listings/s
// against a built Gatehouse on a real PostgreSQL (BENCH_DATABASE_URL, default the local server) or the
// embedded database (BENCH_DATABASE_URL=memory://). Not part of `npm test`.
//
//   npm run build && npx tsx bench/quick.ts
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import pg from 'pg';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const PORT = 3917;
const BASE = `http://127.0.0.1:${PORT}`;
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = 16;
const serverUrl = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

async function freshDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  if (serverUrl === 'memory://') return { url: serverUrl, drop: async () => {} };
  const name = `gatehouse_quick_${randomBytes(4).toString('hex')}`;
  const admin = async (statement: string) => {
    const client = new pg.Client({ connectionString: serverUrl });
    await client.connect();
    await client.query(statement).finally(() => client.end());
  };
  await admin(`create database ${name}`);
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => admin(`drop database if exists ${name} with (force)`) };
}

async function post(path: string, body: unknown, token?: string) {
  const response = await fetch(`${BASE}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
  return (await response.json()) as { data: { accessToken: string } };
}

function load(title: string, options: autocannon.Options) {
  return new Promise<string>((resolve, reject) => {
    autocannon({ connections: CONNECTIONS, duration: SECONDS, ...options }, (error, result) => {
      if (error) return reject(error);
      const bad = result.non2xx + result.errors;
      resolve(`| ${title} | ${result.requests.average.toFixed(0)} | ${result.latency.p50} | ${result.latency.p99} | ${bad} |`);
    });
  });
}

const database = await freshDatabase();
const server = spawn(process.execPath, ['dist/cli/main.js', 'serve'], {
  cwd: ROOT,
  env: { ...process.env, DATABASE_URL: database.url, PORT: String(PORT), LOG_LEVEL: 'warn', PUBLIC_URL: BASE },
  stdio: ['ignore', 'ignore', 'inherit'],
});
try {
  for (let i = 0; i < 100; i++) {
    if (await fetch(`${BASE}/readyz`).then((r) => r.ok, () => false)) break;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  let n = 0;
  const register = await load('POST /auth/register', {
    url: BASE,
    requests: [
      {
        method: 'POST',
        path: '/auth/register',
        headers: { 'content-type': 'application/json' },
        setupRequest: (request) => ({ ...request, body: JSON.stringify({ firstName: 'B', lastName: 'M', email: `b${++n}.${randomBytes(3).toString('hex')}@example.com`, password: 'correct horse battery' }) }),
      },
    ],
  });
  const credentials = { email: 'quick@example.com', password: 'correct horse battery' };
  const token = (await post('/auth/register', { firstName: 'Q', lastName: 'M', ...credentials })).data.accessToken;
  for (let i = 0; i < 4; i++) await post('/api/organisations', { name: `Org ${i}` }, token);
  const login = await load('POST /auth/login', { url: `${BASE}/auth/login`, method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(credentials) });
  const list = await load('GET /api/organisations (5 orgs)', { url: `${BASE}/api/organisations`, headers: { authorization: `Bearer ${token}` } });
  console.log(`Database: ${serverUrl === 'memory://' ? 'embedded (memory://)' : 'PostgreSQL'}; ${CONNECTIONS} connections, ${SECONDS} s each\n`);
  console.log('| route | requests/s | p50 ms | p99 ms | non-2xx + errors |\n|---|---|---|---|---|');
  console.log([register, login, list].join('\n'));
} finally {
  server.kill('SIGTERM');
  await new Promise((resolve) => server.once('exit', resolve));
  await database.drop();
}
