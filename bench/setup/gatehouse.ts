// Gatehouse as its users run it: the built service (`npm run build`) started with `npm start`'s own
// command line (its Node flags included), one child process per database.
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { freePort, runToEnd, startServer, type Server } from '../lib/processes.js';
import { expect, nextAddress, PASSWORD } from '../lib/http.js';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CLI = 'dist/cli/main.js';

/** The Node flags of `npm start` (`[exec] node <flags> dist/cli/main.js serve`): the memory settings it ships with. */
function startFlags(): string[] {
  const words = (JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { scripts: { start: string } }).scripts.start.split(/\s+/);
  const start = words[0] === 'exec' ? words.slice(1) : words;
  if (start[0] !== 'node' || start.at(-2) !== CLI || start.at(-1) !== 'serve') throw new Error(`npm start is not "node … ${CLI} serve": ${words.join(' ')}`);
  return start.slice(1, -2);
}

function assertBuilt() {
  if (!existsSync(`${ROOT}${CLI}`)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm run bench does)`);
}

/** Gatehouse's migrations, by Gatehouse's own command. */
export async function migrate(databaseUrl: string): Promise<void> {
  assertBuilt();
  await runToEnd([CLI, 'migrate'], { cwd: ROOT, env: { DATABASE_URL: databaseUrl } });
}

export async function startGatehouse(name: string, databaseUrl: string): Promise<Server> {
  assertBuilt();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  return startServer({
    name,
    args: [...startFlags(), CLI, 'serve'],
    cwd: ROOT,
    url,
    readyPath: '/readyz',
    env: {
      DATABASE_URL: databaseUrl,
      PORT: String(port),
      HOST: '127.0.0.1',
      PUBLIC_URL: url,
      LOG_LEVEL: 'warn',
      GATEHOUSE_COMPAT: 'all',
      // Each simulated client sends its own X-Forwarded-For, as behind a load balancer.
      TRUST_PROXY: 'true',
      // The defaults, whatever the shell or a .env file says: counters in the process, mail to the log.
      REDIS_URL: '',
      SMTP_URL: '',
    },
  });
}

export interface Session {
  accessToken: string;
  refreshToken: string;
  user: { userId: string };
}

export async function register(server: Server, email: string, firstName = 'Bench'): Promise<Session> {
  const body = await expect<{ data: Session }>(201, `${server.url}/auth/register`, {
    body: { firstName, lastName: 'User', email, password: PASSWORD },
    headers: { 'x-forwarded-for': nextAddress() },
  });
  return body.data;
}

export async function login(server: Server, email: string, address: string): Promise<Session> {
  const body = await expect<{ data: Session }>(200, `${server.url}/auth/login`, { body: { email, password: PASSWORD }, headers: { 'x-forwarded-for': address } });
  return body.data;
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

export async function createOrganisation(server: Server, token: string, name: string): Promise<string> {
  const body = await expect<{ data: { orgId: string } }>(201, `${server.url}/api/organisations`, { body: { name, description: 'Benchmark' }, headers: bearer(token) });
  return body.data.orgId;
}

export async function organisationIds(server: Server, token: string): Promise<string[]> {
  const body = await expect<{ data: { organisations: Array<{ orgId: string }> } }>(200, `${server.url}/api/organisations`, { headers: bearer(token) });
  return body.data.organisations.map((o) => o.orgId);
}
