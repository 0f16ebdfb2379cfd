// The one place that reads the environment. Everything else receives the frozen Config object.
import { existsSync, readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { parse as parseDotenv } from 'dotenv';
import { parseDuration } from './duration.ts';

export type CompatSet = 'saas' | 'user-api' | 'basic';
export type LoginAlerts = 'all' | 'new-device' | 'off';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export type LogFormat = 'pretty' | 'json';
export type RequireMfa = 'off' | 'admins' | 'all';

export interface Config {
  readonly port: number;
  readonly host: string;
  /** `postgres://…` for a server, `memory://` for a throwaway embedded database, a folder for the embedded one. */
  readonly database: { readonly kind: 'postgres'; readonly url: string } | { readonly kind: 'embedded'; readonly dataDir: string | null };
  readonly dataDir: string;
  readonly publicUrl: string;
  readonly smtpUrl: string | null;
  /** SMTP connections each process keeps open and sends on at once. */
  readonly smtpMaxConnections: number;
  readonly mailFrom: string;
  readonly redisUrl: string | null;
  /** Starts every Redis key, so that several deployments can share one Redis. */
  readonly redisKeyPrefix: string;
  /** The `aud` of every access token (RFC 9068): what resource servers check they are meant to accept. */
  readonly audience: string;
  readonly accessTokenTtlSeconds: number;
  /** How long a machine client's previous secret keeps working after a rotation. */
  readonly secretOverlapSeconds: number;
  readonly refreshTokenTtlSeconds: number;
  readonly compat: readonly CompatSet[];
  readonly passwordMin: number;
  readonly passwordBlocklist: 'off' | 'common';
  readonly requireVerifiedEmail: boolean;
  readonly loginAlerts: LoginAlerts;
  /**
   * The 32-byte key (base64) TOTP secrets are encrypted under; null: the embedded database's key file,
   * or, on a PostgreSQL server, no authenticator apps (src/config/secret-key.ts).
   */
  readonly secretKey: string | null;
  /** The key before the last rotation: still opens what it sealed until `rotate-secret-key` has run. */
  readonly previousSecretKey: string | null;
  /** The platform's own rule: who must have a second factor (`admins`: platform admins). */
  readonly requireMfa: RequireMfa;
  /** Webhook endpoints may be on private, loopback and link-local addresses (a test, a private network). */
  readonly webhooksAllowPrivate: boolean;
  readonly logLevel: LogLevel;
  /** `pretty` for a person at a terminal, `json` (one object a line) for a log collector. */
  readonly logFormat: LogFormat;
  readonly corsOrigins: readonly string[];
  /** false; true (every hop); how many hops to trust; or the proxies' addresses and ranges. */
  readonly trustProxy: boolean | number | readonly string[];
  /** How much structure a JSON body may have: checked on the raw text, before it is parsed. */
  readonly jsonLimits: JsonLimits;
  /** How long a client may take, and how long a stopping server keeps serving. */
  readonly connections: ConnectionLimits;
  /** The hosted sign-in pages' name, logo and colour (SPEC §6.4). */
  readonly brand: Brand;
}

export interface Brand {
  readonly name: string;
  /** An https (or same-origin) image, or null for none. */
  readonly logoUrl: string | null;
  /** A CSS hex colour, `#rgb` or `#rrggbb`. */
  readonly color: string;
}

export interface JsonLimits {
  /** Nested objects and arrays, the outermost counting as 1. */
  readonly maxDepth: number;
  /** Keys in any one object. */
  readonly maxObjectKeys: number;
  /** Keys in the whole body, every object counted. */
  readonly maxKeys: number;
  /** Entries in any one array. */
  readonly maxArrayLength: number;
}

export interface ConnectionLimits {
  /** A request's headers must have arrived within this long of its first byte. */
  readonly headersTimeoutSeconds: number;
  /** A whole request, body included, must have arrived within this long. */
  readonly requestTimeoutSeconds: number;
  /** An idle kept-alive connection is closed after this long. */
  readonly keepAliveTimeoutSeconds: number;
  /** A body that has taken over BODY_RATE_GRACE_SECONDS must average at least this; 0 turns the check off. */
  readonly minBodyBytesPerSecond: number;
  /** After SIGTERM, how long /readyz answers 503 while requests are still served, before the listener closes. */
  readonly shutdownDelaySeconds: number;
}

export class ConfigError extends Error {
  readonly variable: string;

  constructor(variable: string, detail: string) {
    super(`Invalid configuration: ${variable} ${detail}`);
    this.variable = variable;
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

const COMPAT_SETS: readonly CompatSet[] = ['saas', 'user-api', 'basic'];
const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Reads `.env` (when present) under the real environment: a variable set in the environment wins. */
export function readEnvironment(cwd = process.cwd()): Env {
  const file = `${cwd}/.env`;
  const fromFile = existsSync(file) ? parseDotenv(readFileSync(file)) : {};
  return { ...fromFile, ...process.env };
}

export function loadConfig(env: Env = readEnvironment()): Config {
  const value = (name: string): string | undefined => {
    const raw = env[name]?.trim();
    return raw === '' ? undefined : raw;
  };

  const port = integer('PORT', value('PORT'), 3000, 1, 65535);
  const dataDir = value('GATEHOUSE_DATA_DIR') ?? './.gatehouse/data';
  const publicUrl = url('PUBLIC_URL', value('PUBLIC_URL') ?? `http://localhost:${port}`);

  return Object.freeze({
    port,
    host: value('HOST') ?? '0.0.0.0',
    database: Object.freeze(database(value('DATABASE_URL'), dataDir)),
    dataDir,
    publicUrl,
    smtpUrl: optionalUrl('SMTP_URL', value('SMTP_URL'), ['smtp:', 'smtps:']),
    // nodemailer's own default: enough to keep up with sign-ups on a local relay, and few enough
    // that a provider's limit on concurrent connections is not reached by a handful of nodes.
    smtpMaxConnections: integer('SMTP_MAX_CONNECTIONS', value('SMTP_MAX_CONNECTIONS'), 5, 1, 100),
    mailFrom: value('MAIL_FROM') ?? `Gatehouse <no-reply@${new URL(publicUrl).hostname}>`,
    redisUrl: optionalUrl('REDIS_URL', value('REDIS_URL'), ['redis:', 'rediss:']),
    redisKeyPrefix: keyPrefix('REDIS_KEY_PREFIX', value('REDIS_KEY_PREFIX') ?? 'gatehouse'),
    audience: audience(value('GATEHOUSE_AUDIENCE') ?? publicUrl),
    accessTokenTtlSeconds: duration('ACCESS_TOKEN_TTL', value('ACCESS_TOKEN_TTL') ?? '15m'),
    secretOverlapSeconds: duration('GATEHOUSE_SECRET_OVERLAP', value('GATEHOUSE_SECRET_OVERLAP') ?? '24h', { zero: true }),
    refreshTokenTtlSeconds: duration('REFRESH_TOKEN_TTL', value('REFRESH_TOKEN_TTL') ?? '30d'),
    compat: Object.freeze(compat(value('GATEHOUSE_COMPAT') ?? 'all')),
    // Never below 8: shorter passwords fall to guessing however well they are hashed.
    passwordMin: integer('GATEHOUSE_PASSWORD_MIN', value('GATEHOUSE_PASSWORD_MIN'), 8, 8, 256),
    passwordBlocklist: oneOf('GATEHOUSE_PASSWORD_BLOCKLIST', value('GATEHOUSE_PASSWORD_BLOCKLIST') ?? 'off', ['off', 'common'] as const),
    requireVerifiedEmail: boolean('GATEHOUSE_REQUIRE_VERIFIED_EMAIL', value('GATEHOUSE_REQUIRE_VERIFIED_EMAIL'), false),
    webhooksAllowPrivate: boolean('GATEHOUSE_WEBHOOKS_ALLOW_PRIVATE', value('GATEHOUSE_WEBHOOKS_ALLOW_PRIVATE'), false),
    loginAlerts: oneOf('GATEHOUSE_LOGIN_ALERTS', value('GATEHOUSE_LOGIN_ALERTS') ?? 'new-device', ['all', 'new-device', 'off'] as const),
    secretKey: secretKey('GATEHOUSE_SECRET_KEY', value('GATEHOUSE_SECRET_KEY')),
    previousSecretKey: secretKey('GATEHOUSE_PREVIOUS_SECRET_KEY', value('GATEHOUSE_PREVIOUS_SECRET_KEY')),
    requireMfa: oneOf('GATEHOUSE_REQUIRE_MFA', value('GATEHOUSE_REQUIRE_MFA') ?? 'off', ['off', 'admins', 'all'] as const),
    logLevel: oneOf('LOG_LEVEL', value('LOG_LEVEL') ?? 'info', LOG_LEVELS),
    // Unset: pretty when a person reads standard output at a terminal, JSON when it goes to a pipe or a file.
    logFormat: oneOf('LOG_FORMAT', value('LOG_FORMAT') ?? (process.stdout.isTTY ? 'pretty' : 'json'), ['pretty', 'json'] as const),
    corsOrigins: Object.freeze(origins(value('CORS_ORIGINS'))),
    trustProxy: trustProxy(value('TRUST_PROXY')),
    jsonLimits: Object.freeze({
      maxDepth: integer('GATEHOUSE_JSON_MAX_DEPTH', value('GATEHOUSE_JSON_MAX_DEPTH'), 32, 1, 1000),
      maxObjectKeys: integer('GATEHOUSE_JSON_MAX_OBJECT_KEYS', value('GATEHOUSE_JSON_MAX_OBJECT_KEYS'), 100, 1, 100_000),
      maxKeys: integer('GATEHOUSE_JSON_MAX_KEYS', value('GATEHOUSE_JSON_MAX_KEYS'), 1000, 1, 1_000_000),
      maxArrayLength: integer('GATEHOUSE_JSON_MAX_ARRAY_LENGTH', value('GATEHOUSE_JSON_MAX_ARRAY_LENGTH'), 1000, 1, 1_000_000),
    }),
    connections: Object.freeze(connections(value)),
    brand: Object.freeze({
      name: value('GATEHOUSE_BRAND_NAME') ?? 'Gatehouse',
      logoUrl: optionalUrl('GATEHOUSE_BRAND_LOGO_URL', value('GATEHOUSE_BRAND_LOGO_URL'), ['https:', 'http:']),
      color: hexColour('GATEHOUSE_BRAND_COLOR', value('GATEHOUSE_BRAND_COLOR') ?? '#2d5bd7'),
    }),
  });
}

/** A colour is placed in a stylesheet: only a hex colour, nothing that could close the rule. */
function hexColour(name: string, raw: string): string {
  if (!/^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$/.test(raw)) throw new ConfigError(name, `must be a hex colour such as #2d5bd7, got ${JSON.stringify(raw)}`);
  return raw.toLowerCase();
}

function connections(value: (name: string) => string | undefined): ConnectionLimits {
  const headersTimeoutSeconds = duration('GATEHOUSE_HEADERS_TIMEOUT', value('GATEHOUSE_HEADERS_TIMEOUT') ?? '10s');
  const requestTimeoutSeconds = duration('GATEHOUSE_REQUEST_TIMEOUT', value('GATEHOUSE_REQUEST_TIMEOUT') ?? '20s');
  // Node refuses a headers timeout longer than the request's, which includes the headers.
  if (headersTimeoutSeconds > requestTimeoutSeconds) {
    throw new ConfigError('GATEHOUSE_HEADERS_TIMEOUT', `must not be longer than GATEHOUSE_REQUEST_TIMEOUT (${requestTimeoutSeconds}s), got ${headersTimeoutSeconds}s`);
  }
  return {
    headersTimeoutSeconds,
    requestTimeoutSeconds,
    // Longer than the 60 s idle timeout of common load balancers, so that Gatehouse never closes a
    // connection the balancer is about to reuse.
    keepAliveTimeoutSeconds: duration('GATEHOUSE_KEEP_ALIVE_TIMEOUT', value('GATEHOUSE_KEEP_ALIVE_TIMEOUT') ?? '72s'),
    minBodyBytesPerSecond: integer('GATEHOUSE_MIN_BODY_RATE', value('GATEHOUSE_MIN_BODY_RATE'), 240, 0, 1024 * 1024 * 1024),
    shutdownDelaySeconds: duration('GATEHOUSE_SHUTDOWN_DELAY', value('GATEHOUSE_SHUTDOWN_DELAY') ?? '5s', { zero: true }),
  };
}

function integer(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw)) throw new ConfigError(name, `must be a whole number, got "${raw}"`);
  const n = Number(raw);
  if (n < min || n > max) throw new ConfigError(name, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

/** 32 random bytes, base64 (standard or URL-safe): an AES-256 key. */
function secretKey(name: string, raw: string | undefined): string | null {
  if (raw === undefined) return null;
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(raw) || Buffer.from(raw, 'base64').length !== 32) {
    throw new ConfigError(name, 'must be 32 random bytes in base64 (for example the output of `openssl rand -base64 32`)');
  }
  return raw;
}

function boolean(name: string, raw: string | undefined, fallback: boolean): boolean {
  if (raw === undefined) return fallback;
  const lowered = raw.toLowerCase();
  if (['true', '1', 'yes'].includes(lowered)) return true;
  if (['false', '0', 'no'].includes(lowered)) return false;
  throw new ConfigError(name, `must be true or false, got "${raw}"`);
}

/** A token audience: a URI or a plain name, without spaces or control characters. */
function audience(raw: string): string {
  if (!/^[\x21-\x7e]{1,200}$/.test(raw)) throw new ConfigError('GATEHOUSE_AUDIENCE', `must be 1 to 200 printable characters without spaces, got "${raw}"`);
  return raw;
}

function keyPrefix(name: string, raw: string): string {
  if (!/^[\w.:-]{1,64}$/.test(raw)) throw new ConfigError(name, `must be 1 to 64 letters, digits or . _ : -, got "${raw}"`);
  return raw;
}

function trustProxy(raw: string | undefined): Config['trustProxy'] {
  if (raw === undefined || /^\d+$/.test(raw) === false) {
    if (raw === undefined || ['true', 'false', '1', '0', 'yes', 'no'].includes(raw.toLowerCase())) return boolean('TRUST_PROXY', raw, false);
  } else {
    const hops = Number(raw);
    return hops === 0 ? false : hops;
  }
  const addresses = raw.split(',').map((entry) => entry.trim());
  for (const entry of addresses) {
    const [address, bits, ...rest] = entry.split('/');
    const version = isIP(address ?? '');
    const maxBits = version === 6 ? 128 : 32;
    if (!version || rest.length > 0 || (bits !== undefined && !(/^\d+$/.test(bits) && Number(bits) <= maxBits))) {
      throw new ConfigError('TRUST_PROXY', `must be true, false, a number of hops, or a comma-separated list of proxy addresses or ranges, got "${entry}"`);
    }
  }
  return Object.freeze(addresses);
}

function oneOf<T extends string>(name: string, raw: string, allowed: readonly T[]): T {
  if ((allowed as readonly string[]).includes(raw)) return raw as T;
  throw new ConfigError(name, `must be one of ${allowed.join(', ')}, got "${raw}"`);
}

function duration(name: string, raw: string, { zero = false }: { zero?: boolean } = {}): number {
  const seconds = parseDuration(raw);
  if (seconds === null || seconds < 0 || (seconds === 0 && !zero)) throw new ConfigError(name, `must be a duration such as 900, 15m, 12h or 30d, got "${raw}"`);
  return seconds;
}

function url(name: string, raw: string): string {
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, `must be an absolute http(s) URL, got "${raw}"`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') throw new ConfigError(name, `must be an http(s) URL, got "${raw}"`);
  if (parsed.search || parsed.hash) throw new ConfigError(name, 'must not have a query or fragment');
  return raw.replace(/\/+$/, '');
}

function optionalUrl(name: string, raw: string | undefined, protocols: readonly string[]): string | null {
  if (raw === undefined) return null;
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(name, 'must be a URL');
  }
  if (!protocols.includes(parsed.protocol)) throw new ConfigError(name, `must start with ${protocols.map((p) => `${p}//`).join(' or ')}`);
  return raw;
}

function database(raw: string | undefined, dataDir: string): Config['database'] {
  if (raw === undefined) return { kind: 'embedded', dataDir };
  if (raw === 'memory://') return { kind: 'embedded', dataDir: null };
  if (/^postgres(ql)?:\/\//.test(raw)) {
    try {
      new URL(raw);
    } catch {
      throw new ConfigError('DATABASE_URL', 'is not a valid postgres:// URL');
    }
    return { kind: 'postgres', url: raw };
  }
  throw new ConfigError('DATABASE_URL', 'must be postgres://…, postgresql://… or memory://');
}

function compat(raw: string): CompatSet[] {
  if (raw === 'all') return [...COMPAT_SETS];
  if (raw === 'none') return [];
  const sets = raw.split(',').map((s) => s.trim());
  for (const set of sets) {
    if (!(COMPAT_SETS as readonly string[]).includes(set)) {
      throw new ConfigError('GATEHOUSE_COMPAT', `must be all, none or a list of ${COMPAT_SETS.join(',')}, got "${set}"`);
    }
  }
  return [...new Set(sets)] as CompatSet[];
}

function origins(raw: string | undefined): string[] {
  if (raw === undefined) return [];
  return raw.split(',').map((origin) => {
    const trimmed = origin.trim();
    let parsed: URL;
    try {
      parsed = new URL(trimmed);
    } catch {
      throw new ConfigError('CORS_ORIGINS', `must be a comma-separated list of origins, got "${trimmed}"`);
    }
    if (parsed.origin !== trimmed.replace(/\/$/, '')) throw new ConfigError('CORS_ORIGINS', `"${trimmed}" is not an origin (scheme://host[:port])`);
    return parsed.origin;
  });
}
