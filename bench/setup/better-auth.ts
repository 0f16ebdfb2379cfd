// The Better Auth peer (bench/peers/better-auth): its own database, schema and fixtures, made afresh
// on every run by its own code, then served as a child process like Gatehouse.
import { existsSync } from 'node:fs';
import { addressOf, call, inParallel, PASSWORD } from '../lib/http.ts';
import { createDatabase } from '../lib/postgres.ts';
import { freePort, runToEnd, startServer, type Server } from '../lib/processes.ts';
import { ROOT } from './gatehouse.ts';
import { LOGIN_USERS, loginEmail } from './small.ts';

const PEER = `${ROOT}bench/peers/better-auth`;
export const PEER_DATABASE = 'betterauth_bench';

export interface PeerFixtures {
  server: Server;
  /** Headers every request carries: Better Auth refuses a cookie-bearing POST from no origin. */
  origin: Record<string, string>;
  /** The session cookie of the user in five organisations; `organizationId` has 20 members. */
  owner: { cookie: string; organizationId: string };
  /** Session cookies of 32 different users. */
  cookies: string[];
}

/** `name=value` of the session cookie an answer sets; null when it sets none. */
export function sessionCookie(setCookie: string | string[] | null | undefined): string | null {
  const cookies = Array.isArray(setCookie) ? setCookie : (setCookie?.split(/,(?=\s*[^;,=\s]+=)/) ?? []);
  const session = cookies.find((cookie) => cookie.trim().startsWith('better-auth.session_token='));
  return session ? session.split(';')[0]!.trim() : null;
}

export async function prepareBetterAuth(serverUrl: string): Promise<PeerFixtures> {
  if (!existsSync(`${PEER}/node_modules/better-auth`)) throw new Error('The Better Auth peer is not installed: run `npm ci --prefix bench/peers/better-auth` (npm run bench does)');
  const databaseUrl = await createDatabase(serverUrl, PEER_DATABASE, { replace: true });
  const env = { DATABASE_URL: databaseUrl, BENCH_PASSWORD: PASSWORD, BENCH_LOGIN_USERS: String(LOGIN_USERS) };
  const printed = await runToEnd(['server.mjs', 'prepare'], { cwd: PEER, env });
  const line = printed.split('\n').find((l) => l.startsWith('{"organizationId"'));
  if (!line) throw new Error(`The Better Auth peer's prepare printed no organisation:\n${printed}`);
  const { organizationId } = JSON.parse(line) as { organizationId: string };

  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = await startServer({ name: 'Better Auth', args: ['server.mjs'], cwd: PEER, url, readyPath: '/api/auth/ok', env: { DATABASE_URL: databaseUrl, PORT: String(port) } });
  const origin = { origin: url };
  const signIn = async (i: number) => {
    const answer = await call(`${url}/api/auth/sign-in/email`, { body: { email: loginEmail(i), password: PASSWORD }, headers: { ...origin, 'x-forwarded-for': addressOf(i) } });
    const cookie = sessionCookie(answer.headers.get('set-cookie'));
    if (answer.status !== 200 || !cookie) throw new Error(`Better Auth sign-in of ${loginEmail(i)}: ${answer.status} ${JSON.stringify(answer.body)}`);
    return cookie;
  };
  const cookies = await inParallel(Array.from({ length: 32 }, (_, k) => 100 + k), 4, signIn);
  // get-session answers 200 even without a session: make sure the cookies hold one.
  const session = await call(`${url}/api/auth/get-session`, { headers: { ...origin, cookie: cookies[0]! } });
  if (!(session.body as { session?: unknown } | null)?.session) throw new Error(`Better Auth get-session found no session: ${JSON.stringify(session.body)}`);
  return { server, origin, owner: { cookie: await signIn(0), organizationId }, cookies };
}
