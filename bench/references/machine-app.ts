// The machine's limits for Gatehouse's kind of work: a hand-written Fastify app with nothing but the
// necessary, on Gatehouse's own database and dependencies (fastify, jose, pg, @node-rs/argon2).
//   GET  /json   a bare JSON answer: the most any route can do on this machine
//   GET  /me     verify Gatehouse's EdDSA access token, then one indexed SELECT (live session ⋈ user)
//   GET  /orgs   the same, the SELECT listing the user's organisations with their role (a join)
//   GET  /me-unchecked    the user's one indexed SELECT by the token's subject, the token not verified and no session checked
//   GET  /orgs-unchecked  verify the token, then the organisations' join without the session check
//   POST /login  find the account, verify its argon2id hash, sign an EdDSA token
// Environment: DATABASE_URL (a Gatehouse database, keys already generated), or PGLITE_DIR (a copy of
// an embedded Gatehouse data folder, opened with PGlite as Gatehouse opens it); ISSUER, PORT.
import { hash, verify } from '@node-rs/argon2';
import Fastify from 'fastify';
import { decodeJwt, generateKeyPair, importJWK, jwtVerify, SignJWT, type CryptoKey, type JWK, type JWTHeaderParameters } from 'jose';
import pg from 'pg';
import { PGlite } from '@electric-sql/pglite';

const issuer = process.env.ISSUER ?? '';

/** What the routes need of a database: pg's pool and PGlite answer `query(text, values)` alike. */
interface Queryable {
  query<R extends object>(text: string, values?: unknown[]): Promise<{ rows: R[] }>;
  end(): Promise<void>;
}

async function openDatabase(): Promise<Queryable> {
  const dataDir = process.env.PGLITE_DIR;
  if (!dataDir) return new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 10 });
  const embedded = await PGlite.create(dataDir, { startParams: [...PGlite.defaultStartParams, '-c', 'shared_buffers=16MB'] });
  return { query: (text, values) => embedded.query(text, values), end: () => embedded.close() };
}
const pool = await openDatabase();

const verifying = new Map<string, CryptoKey>();
const { rows: keys } = await pool.query<{ kid: string; public_jwk: JWK }>("select kid, public_jwk from signing_keys where algorithm = 'EdDSA'");
for (const row of keys) verifying.set(row.kid, (await importJWK(row.public_jwk, 'EdDSA')) as CryptoKey);
const signing = await generateKeyPair('EdDSA');
// Unknown accounts spend a hash check too, as Gatehouse's do.
const decoy = await hash('decoy password', { algorithm: 2, memoryCost: 19456, timeCost: 2, parallelism: 1 });

const keyFor = (header: JWTHeaderParameters) => {
  const key = header.kid ? verifying.get(header.kid) : undefined;
  if (!key) throw new Error('unknown key');
  return key;
};

async function claims(authorization: string | undefined): Promise<{ sub: string; sid: string } | null> {
  const token = authorization?.startsWith('Bearer ') ? authorization.slice(7) : null;
  if (!token) return null;
  try {
    const { payload } = await jwtVerify(token, keyFor, { issuer, algorithms: ['EdDSA'] });
    return typeof payload.sub === 'string' && typeof payload.sid === 'string' ? { sub: payload.sub, sid: payload.sid } : null;
  } catch {
    return null;
  }
}

const app = Fastify({ logger: false });
const unauthorised = { statusCode: 401, message: 'Authentication failed' };
const Unauthorised = { type: 'object', properties: { statusCode: { type: 'integer' }, message: { type: 'string' } } };

app.get('/json', { schema: { response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } }, async () => ({ status: 'ok' }));

const User = { type: 'object', properties: { userId: { type: 'string' }, firstName: { type: 'string' }, lastName: { type: 'string' }, email: { type: 'string' }, phone: { type: ['string', 'null'] } } };
app.get('/me', { schema: { response: { 200: { type: 'object', properties: { data: User } }, 401: Unauthorised } } }, async (request, reply) => {
  const who = await claims(request.headers.authorization);
  if (!who) return reply.code(401).send(unauthorised);
  const { rows } = await pool.query(
    `select u.id as "userId", u.first_name as "firstName", u.last_name as "lastName", u.email, u.phone
       from sessions s join users u on u.id = s.user_id
      where s.id = $1 and s.user_id = $2 and s.revoked_at is null and s.expires_at > now() and u.status = 'active'`,
    [who.sid, who.sub],
  );
  if (!rows[0]) return reply.code(401).send(unauthorised);
  return { data: rows[0] };
});

const Organisation = { type: 'object', properties: { orgId: { type: 'string' }, name: { type: 'string' }, description: { type: 'string' }, role: { type: 'string' } } };
app.get('/orgs', { schema: { response: { 200: { type: 'object', properties: { data: { type: 'object', properties: { organisations: { type: 'array', items: Organisation } } } } }, 401: Unauthorised } } }, async (request, reply) => {
  const who = await claims(request.headers.authorization);
  if (!who) return reply.code(401).send(unauthorised);
  const { rows } = await pool.query(
    `select o.id as "orgId", o.name, o.description, r.name as role
       from sessions s
       join members m on m.user_id = s.user_id and m.status = 'active'
       join organisations o on o.id = m.organisation_id
       join roles r on r.id = m.role_id
      where s.id = $1 and s.user_id = $2 and s.revoked_at is null and s.expires_at > now()
      order by m.created_at, m.organisation_id
      limit 50`,
    [who.sid, who.sub],
  );
  return { data: { organisations: rows } };
});

// What the routes above cost without the checks Gatehouse makes on every request: the floor under
// them, beside which Gatehouse's own per-request work shows.
app.get('/me-unchecked', { schema: { response: { 200: { type: 'object', properties: { data: User } }, 401: Unauthorised } } }, async (request, reply) => {
  const token = request.headers.authorization?.slice(7) ?? '';
  let sub: unknown;
  try {
    sub = decodeJwt(token).sub;
  } catch {
    sub = undefined;
  }
  if (typeof sub !== 'string') return reply.code(401).send(unauthorised);
  const { rows } = await pool.query(`select id as "userId", first_name as "firstName", last_name as "lastName", email, phone from users where id = $1 and status = 'active'`, [sub]);
  if (!rows[0]) return reply.code(401).send(unauthorised);
  return { data: rows[0] };
});

app.get('/orgs-unchecked', { schema: { response: { 200: { type: 'object', properties: { data: { type: 'object', properties: { organisations: { type: 'array', items: Organisation } } } } }, 401: Unauthorised } } }, async (request, reply) => {
  const who = await claims(request.headers.authorization);
  if (!who) return reply.code(401).send(unauthorised);
  const { rows } = await pool.query(
    `select o.id as "orgId", o.name, o.description, r.name as role
       from members m
       join organisations o on o.id = m.organisation_id
       join roles r on r.id = m.role_id
      where m.user_id = $1 and m.status = 'active'
      order by m.created_at, m.organisation_id
      limit 50`,
    [who.sub],
  );
  return { data: { organisations: rows } };
});

app.post<{ Body: { email: string; password: string } }>(
  '/login',
  {
    schema: {
      body: { type: 'object', required: ['email', 'password'], properties: { email: { type: 'string' }, password: { type: 'string' } } },
      response: { 200: { type: 'object', properties: { accessToken: { type: 'string' } } }, 401: Unauthorised },
    },
  },
  async (request, reply) => {
    const { rows } = await pool.query<{ id: string; password_hash: string }>('select id, password_hash from users where lower(email) = lower($1)', [request.body.email]);
    const user = rows[0];
    const valid = await verify(user?.password_hash ?? decoy, request.body.password).catch(() => false);
    if (!user || !valid) return reply.code(401).send(unauthorised);
    const accessToken = await new SignJWT({ userId: user.id }).setProtectedHeader({ alg: 'EdDSA' }).setIssuer(issuer).setSubject(user.id).setIssuedAt().setExpirationTime('15m').sign(signing.privateKey);
    return { accessToken };
  },
);

await app.listen({ port: Number(process.env.PORT ?? 0), host: '127.0.0.1' });
process.once('SIGTERM', () => void app.close().then(() => pool.end()).then(() => process.exit(0)));
