// The Better Auth peer of Gatehouse's benchmark: email and password with the organization plugin, on
// PostgreSQL through `pg`, served by Node's http server. Its defaults are kept (scrypt passwords,
// database sessions, no cookie cache) but for what running it needs: a secret, its base URL, its own
// origin trusted, and its rate limiter off (the benchmark is one address sending thousands of sign-ins).
//
//   node server.mjs prepare   create the schema with Better Auth's own migrations, then the fixtures;
//                             prints {"organizationId": …} of the organisation with members
//   node server.mjs           serve on PORT
// Environment: DATABASE_URL, PORT, BENCH_PASSWORD, BENCH_LOGIN_USERS.
import { createServer } from 'node:http';
import process from 'node:process';
import { betterAuth } from 'better-auth';
import { hashPassword } from 'better-auth/crypto';
import { getMigrations } from 'better-auth/db/migration';
import { toNodeHandler } from 'better-auth/node';
import { organization } from 'better-auth/plugins';
import pg from 'pg';

const port = Number(process.env.PORT ?? 3000);
const baseURL = `http://127.0.0.1:${port}`;
const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });

const auth = betterAuth({
  database: pool,
  secret: 'gatehouse-bench-only-secret-0123456789abcdef',
  baseURL,
  trustedOrigins: [baseURL],
  emailAndPassword: { enabled: true },
  rateLimit: { enabled: false },
  plugins: [organization()],
});

/** The same population as Gatehouse's: sign-in users `login-<i>@bench.test`; user 0 in 5 organisations, the first with 20 members. */
async function prepare() {
  const { runMigrations } = await getMigrations(auth.options);
  await runMigrations();
  const users = Number(process.env.BENCH_LOGIN_USERS ?? 1000);
  const context = await auth.$context;
  // One hash for every fixture account: hashing a thousand passwords would only slow the set-up.
  const password = await hashPassword(process.env.BENCH_PASSWORD ?? 'correct horse battery');
  const ids = [];
  for (let i = 0; i < users; i++) {
    const user = await context.internalAdapter.createUser({ name: `Login ${i}`, email: `login-${i}@bench.test`, emailVerified: false }, { kind: 'server' });
    await context.internalAdapter.createAccount({ userId: user.id, providerId: 'credential', accountId: user.id, password });
    ids.push(user.id);
  }
  const organizations = [];
  for (let k = 0; k < 5; k++) {
    organizations.push(await auth.api.createOrganization({ body: { name: `Bench Org ${k}`, slug: `bench-org-${k}`, userId: ids[0] } }));
  }
  const organizationId = organizations[0].id;
  for (const userId of ids.slice(1, 20)) await auth.api.addMember({ body: { userId, organizationId, role: 'member' } });
  process.stdout.write(`${JSON.stringify({ organizationId })}\n`);
}

if (process.argv[2] === 'prepare') {
  await prepare();
  await pool.end();
} else {
  const server = createServer(toNodeHandler(auth));
  server.listen(port, '127.0.0.1');
  process.once('SIGTERM', () => server.close(() => pool.end().then(() => process.exit(0))));
}
