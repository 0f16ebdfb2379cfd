// Gatehouse as its users run it: the built service (`npm run build`) started with `npm start`'s own
// command line (its Node flags included), one child process per database. By default the build of
// this checkout; BENCH_BASELINE names another checkout's build, run from its own folder.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, runToEnd, startServer, type Server } from '../lib/processes.ts';
import { expect, nextAddress, PASSWORD } from '../lib/http.ts';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The key TOTP secrets are sealed under (GATEHOUSE_SECRET_KEY): new each run, like the databases. */
export const SECRET_KEY = randomBytes(32);
const CLI = 'dist/cli/main.js';

/** The Node flags of a checkout's `npm start` when it is `[exec] node <flags> dist/cli/main.js serve`; null otherwise. */
function ownStartFlags(root: string): string[] | null {
  const words = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts?: { start?: string } }).scripts?.start?.trim().split(/\s+/);
  const start = words?.[0] === 'exec' ? words.slice(1) : words;
  if (!start || start[0] !== 'node' || start.at(-2) !== CLI || start.at(-1) !== 'serve') return null;
  return start.slice(1, -2);
}

/**
 * The Node flags of `npm start`: the memory settings it ships with. Another checkout runs with its
 * own, as its users would; one whose start script has another shape runs with this checkout's, so
 * that both builds are started alike.
 */
export function startFlags(root = ROOT): string[] {
  const flags = ownStartFlags(root) ?? ownStartFlags(ROOT);
  if (!flags) throw new Error(`npm start is not "node … ${CLI} serve" in ${join(ROOT, 'package.json')}`);
  return flags;
}

/** Which commit a checkout is (`-dirty` when it has changes); null when git cannot tell. */
export function describeCheckout(root: string): string | null {
  try {
    return execFileSync('git', ['describe', '--always', '--dirty', '--abbrev=7'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || null;
  } catch {
    return null;
  }
}

function assertBuilt(root: string) {
  if (!existsSync(join(root, CLI))) throw new Error(`${join(root, CLI)} is missing: run \`npm run build\` there first (npm run bench does for this checkout)`);
}

/** Gatehouse's migrations, by the command of the checkout at `root`. */
export async function migrate(databaseUrl: string, root = ROOT): Promise<void> {
  assertBuilt(root);
  await runToEnd([CLI, 'migrate'], { cwd: root, env: { DATABASE_URL: databaseUrl } });
}

export interface StartGatehouseOptions {
  name: string;
  databaseUrl: string;
  /** The checkout whose build runs; this one by default. */
  root?: string;
  /** Variables that differ from the defaults below (the mail scenario's SMTP_URL). */
  env?: Record<string, string>;
}

export async function startGatehouse({ name, databaseUrl, root = ROOT, env = {} }: StartGatehouseOptions): Promise<Server> {
  assertBuilt(root);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  return startServer({
    name,
    args: [...startFlags(root), CLI, 'serve'],
    cwd: root,
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
      // The webhook scenarios' receiver listens on loopback.
      GATEHOUSE_WEBHOOKS_ALLOW_PRIVATE: 'true',
      // Authenticator apps, which PostgreSQL without a key does not have (the `login-mfa` load).
      GATEHOUSE_SECRET_KEY: SECRET_KEY.toString('base64'),
      ...env,
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

/** An OpenID client registered the operator's way (`gatehouse create-client`), with its secret. */
export async function createOidcClient(options: { databaseUrl: string; publicUrl: string; name: string; redirectUri: string; firstParty: boolean }): Promise<{ clientId: string; clientSecret: string }> {
  const args = [CLI, 'create-client', '--name', options.name, '--redirect-uri', options.redirectUri, ...(options.firstParty ? ['--first-party'] : [])];
  const printed = await runToEnd(args, { cwd: ROOT, env: { DATABASE_URL: options.databaseUrl, PUBLIC_URL: options.publicUrl, LOG_LEVEL: 'warn' } });
  const clientId = /^client_id: (\S+)$/m.exec(printed)?.[1];
  const clientSecret = /^client_secret: (\S+)/m.exec(printed)?.[1];
  if (!clientId || !clientSecret) throw new Error(`gatehouse create-client printed no client: ${printed}`);
  return { clientId, clientSecret };
}
