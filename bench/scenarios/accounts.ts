// Accounts and sessions: register, sign in, refresh, who am I; and the bare route every request pays.
import { randomBytes } from 'node:crypto';
import { httpLoad, type Request } from '../lib/load.ts';
import { JSON_HEADERS, nextAddress, PASSWORD } from '../lib/http.ts';
import { argon2Load } from '../references/argon2-rate.ts';
import { sessionCookie } from '../setup/better-auth.ts';
import { post, signIns } from './requests.ts';
import { roundRobin, type Scenario } from './scenario.ts';

const run = randomBytes(3).toString('hex');
let registered = 0;
const newEmail = () => `reg-${run}-${++registered}@bench.test`;

/** What a request's set-up answers to start the sequence again (autocannon's convention: a falsy request). */
const RESTART = undefined as unknown as Request;

export const healthz: Scenario = {
  name: 'healthz',
  title: 'GET /healthz',
  async plan(context) {
    const { server } = await context.small();
    const machine = await context.machine();
    return {
      subject: httpLoad({ label: 'Gatehouse', server, connections: context.options.connections, requests: [{ path: '/healthz' }] }),
      references: [{ kind: 'machine', compare: 'bare Fastify JSON route', load: httpLoad({ label: 'bare Fastify JSON route', server: machine, connections: context.options.connections, requests: [{ path: '/json' }] }) }],
    };
  },
};

export const register: Scenario = {
  name: 'register',
  title: 'POST /auth/register',
  comparesBuilds: true,
  async plan(context) {
    const { server } = await context.small();
    const peer = await context.betterAuth();
    const { connections } = context.options;
    // Every registration comes from an address of its own: registrations are throttled per address.
    const gatehouse = post('/auth/register', () => ({ firstName: 'Reg', lastName: 'User', email: newEmail(), password: PASSWORD }), () => ({ 'x-forwarded-for': nextAddress() }));
    // Better Auth's sign-up makes no organisation: the operation is its sign-up, then organization/create with the new session.
    let slugs = 0;
    const signUp: Request = {
      ...post('/api/auth/sign-up/email', () => ({ name: 'Reg User', email: newEmail(), password: PASSWORD }), () => peer.origin),
      onResponse: (_status, _body, context, headers) => {
        (context as { cookie?: string | null }).cookie = sessionCookie(headers?.['set-cookie'] ?? headers?.['Set-Cookie']);
      },
    };
    const createOrganization: Request = {
      method: 'POST',
      path: '/api/auth/organization/create',
      setupRequest: (request, context) => {
        const cookie = (context as { cookie?: string | null }).cookie;
        if (!cookie) return RESTART; // the sign-up failed
        const slug = `reg-${run}-${++slugs}`;
        return { ...request, headers: { ...request.headers, ...JSON_HEADERS, ...peer.origin, cookie }, body: JSON.stringify({ name: `Org ${slug}`, slug }) };
      },
    };
    return {
      subject: httpLoad({ label: 'Gatehouse', server, connections, requests: [gatehouse] }),
      references: [
        { kind: 'Better Auth', compare: 'Better Auth sign-up + organization/create', load: httpLoad({ label: 'sign-up/email + organization/create', server: peer.server, connections, requests: [signUp, createOrganization], requestsPerOperation: 2 }) },
        { kind: 'machine', compare: 'argon2id hash, 2 in flight', load: argon2Load('hash', 2) },
        { kind: 'machine', compare: 'argon2id hash, 4 in flight', load: argon2Load('hash', 4) },
      ],
    };
  },
};

export const login: Scenario = {
  name: 'login',
  title: 'POST /auth/login',
  comparesBuilds: true,
  async plan(context) {
    const { server } = await context.small();
    const peer = await context.betterAuth();
    const { connections } = context.options;
    return {
      subject: httpLoad({ label: 'Gatehouse', server, connections, requests: [signIns('/auth/login')] }),
      references: [
        { kind: 'Better Auth', compare: 'Better Auth sign-in/email', load: httpLoad({ label: 'sign-in/email', server: peer.server, connections, requests: [signIns('/api/auth/sign-in/email', peer.origin)] }) },
        { kind: 'machine', compare: 'argon2id verify, 2 in flight', load: argon2Load('verify', 2) },
        { kind: 'machine', compare: 'argon2id verify, 4 in flight', load: argon2Load('verify', 4) },
      ],
    };
  },
};

/**
 * The refresh load. A refresh token is spent by its use: each answer's new one goes back to the pool,
 * which lives as long as the run, so that every scenario measuring refreshes (refresh, oauth-token)
 * draws live tokens. A request cut off when a round ends strands its session (presenting its token
 * again would end the session by design), so the pool holds a spare session per connection per round.
 */
const refreshPools = new WeakMap<object, string[]>();
export async function refreshLoad(context: Parameters<Scenario['plan']>[0], label = 'Gatehouse') {
  const { server, refreshTokens } = await context.small();
  let pool = refreshPools.get(context);
  if (!pool) refreshPools.set(context, (pool = [...refreshTokens]));
  const live = pool;
  const request: Request = {
    method: 'POST',
    path: '/auth/refresh',
    setupRequest: (request) => {
      // Should the pool run dry (failed refreshes), the answers say so as errors.
      const refreshToken = live.shift() ?? 'the-pool-ran-dry';
      return { ...request, headers: { ...request.headers, ...JSON_HEADERS }, body: JSON.stringify({ refreshToken }) };
    },
    onResponse: (status, body) => {
      if (status === 200) live.push((JSON.parse(body) as { data: { refreshToken: string } }).data.refreshToken);
    },
  };
  return httpLoad({ label, server, connections: context.options.connections, requests: [request] });
}

export const refresh: Scenario = {
  name: 'refresh',
  title: 'POST /auth/refresh',
  async plan(context) {
    return { subject: await refreshLoad(context), references: [] };
  },
};

export const me: Scenario = {
  name: 'me',
  title: 'GET /api/users/me',
  comparesBuilds: true,
  async plan(context) {
    const { server, tokens } = await context.small();
    const peer = await context.betterAuth();
    const machine = await context.machine();
    const { connections } = context.options;
    const withToken = (path: string): Request => {
      const next = roundRobin(tokens);
      return { path, setupRequest: (request) => ({ ...request, headers: { ...request.headers, authorization: `Bearer ${next()}` } }) };
    };
    const nextCookie = roundRobin(peer.cookies);
    const getSession: Request = { path: '/api/auth/get-session', setupRequest: (request) => ({ ...request, headers: { ...request.headers, ...peer.origin, cookie: nextCookie() } }) };
    return {
      subject: httpLoad({ label: 'Gatehouse', server, connections, requests: [withToken('/api/users/me')] }),
      references: [
        { kind: 'Better Auth', compare: 'Better Auth get-session', load: httpLoad({ label: 'get-session', server: peer.server, connections, requests: [getSession] }) },
        { kind: 'machine', compare: 'hand-written JWT + one SELECT', load: httpLoad({ label: 'JWT + one SELECT', server: machine, connections, requests: [withToken('/me')] }) },
        {
          kind: 'machine',
          compare: 'hand-written one SELECT, token neither verified nor its session checked',
          load: httpLoad({ label: 'one SELECT, unchecked', server: machine, connections, requests: [withToken('/me-unchecked')] }),
        },
      ],
    };
  },
};
