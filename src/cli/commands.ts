// What each `gatehouse` command does. Imported only when a command runs: `--help` and `--version`
// load none of this, so they open nothing and change nothing.
import { buildApp } from '../app.ts';
import { randomBytes } from 'node:crypto';
import { renameSync, writeFileSync } from 'node:fs';
import { ConfigError, loadConfig, type Config } from '../config/config.ts';
import { resolveSecretKeys, secretKeyFile } from '../config/secret-key.ts';
import { secretBox, UnknownSecretKeyError, type SecretBox } from '../domain/mfa/secret-box.ts';
import { openDatabase, type DatabaseHandle } from '../db/database.ts';
import { migrateToLatest } from '../db/migrate.ts';
import { systemClock } from '../domain/clock.ts';
import { system } from '../domain/principal.ts';
import { createServices } from '../domain/services.ts';
import type { SigningAlgorithm } from '../domain/sessions/signing-keys.repo.ts';
import { serve } from '../server.ts';
import { readSecret } from './read-secret.ts';

export interface CreateAdminOptions {
  email?: string;
  username?: string;
  password?: string;
  firstName?: string;
  lastName?: string;
}

/** Runs the service until a signal stops it. */
export async function serveCommand(): Promise<void> {
  await serve(loadConfig());
  // npm forwards a terminal's Ctrl-C to node, which also gets it from the terminal: the second copy
  // would find no listener left and kill the process halfway through closing the embedded database.
  // The server's own handlers do the shutdown; these only keep the repeats from killing it.
  process.on('SIGINT', () => {});
  process.on('SIGTERM', () => {});
}

export async function migrateCommand(): Promise<void> {
  const config = loadConfig();
  const database = openDatabase(config.database, { poolSize: 2 });
  const applied = await migrateToLatest(database.db).finally(() => database.close());
  console.log(applied.length ? `Applied ${applied.join(', ')}` : 'The database is up to date');
}

export async function createAdminCommand(options: CreateAdminOptions): Promise<void> {
  const config = loadConfig();
  await withDatabase(config, async ({ db }) => {
    const services = createServices({ db, clock: systemClock, config });
    const result = await services.accounts.createAdmin(system('command line'), {
      email: options.email,
      username: options.username,
      firstName: options.firstName,
      lastName: options.lastName,
      readPassword: () => (options.password !== undefined ? Promise.resolve(options.password) : readSecret('Password: ')),
    });
    console.log(result.created ? `Created platform admin ${result.userId}` : `${result.userId} is now a platform admin`);
  });
}

export interface CreateClientOptions {
  name: string;
  redirectUri: string[];
  postLogoutRedirectUri?: string[];
  type: 'public' | 'confidential';
  firstParty?: boolean;
  backchannelLogoutUri?: string;
}

/** Registers an OpenID client (what POST /api/admin/oidc-clients does) and prints its id and secret once. */
export async function createClientCommand(options: CreateClientOptions): Promise<void> {
  const config = loadConfig();
  await withDatabase(config, async ({ db }) => {
    const services = createServices({ db, clock: systemClock, config });
    const created = await services.oidcClients.create(system('command line'), {
      name: options.name,
      redirectUris: options.redirectUri,
      postLogoutRedirectUris: options.postLogoutRedirectUri ?? [],
      type: options.type,
      firstParty: options.firstParty ?? false,
      backchannelLogoutUri: options.backchannelLogoutUri ?? null,
    });
    console.log(`client_id: ${created.clientId}`);
    if (created.clientSecret) console.log(`client_secret: ${created.clientSecret}  (shown once: store it now)`);
    console.log(`discovery: ${config.publicUrl}/.well-known/openid-configuration`);
  });
}

/**
 * Rotates the signing keys of the algorithms named: EdDSA (Gatehouse's access tokens), RS256 (ID
 * tokens and the OpenID Provider's JWT access tokens), or both. Running servers pick the new keys up
 * within a minute; the old ones stay published until what they signed has expired.
 */
export async function rotateKeysCommand(algorithms: readonly SigningAlgorithm[]): Promise<void> {
  const config = loadConfig();
  await withDatabase(config, async ({ db }) => {
    const services = createServices({ db, clock: systemClock, config });
    for (const algorithm of algorithms) {
      const { kid, previousValidUntil } = await services.signingKeys.rotate(system('command line'), algorithm);
      console.log(`Now signing ${algorithm === 'EdDSA' ? 'access tokens (EdDSA)' : 'ID tokens (RS256)'} with key ${kid}; the previous key stays published until ${previousValidUntil.toISOString()}`);
    }
  });
}

/**
 * Re-encrypts every TOTP secret under the current key. On PostgreSQL the operator has set the new key
 * (GATEHOUSE_SECRET_KEY) and the old one (GATEHOUSE_PREVIOUS_SECRET_KEY). On the embedded database a
 * new key is generated: written beside the key file first (should the command be cut short after the
 * commit, the new key is not lost), then put in its place once the database holds only its secrets.
 */
export async function rotateSecretKeyCommand(): Promise<void> {
  const config = loadConfig();
  await withDatabase(config, async ({ db }) => {
    const keys = resolveSecretKeys(config);
    if (keys.current === null) throw new ConfigError('GATEHOUSE_SECRET_KEY', 'is not set: set it (and GATEHOUSE_PREVIOUS_SECRET_KEY to the old key) before rotating');
    const services = createServices({ db, clock: systemClock, config, secretKeys: keys });
    // A secret neither key opens is the operator's to fix (the old key was not given): one line, and nothing re-sealed.
    const reseal = (target: SecretBox) =>
      services.mfa.reseal(system('command line'), target).catch((error: unknown) => {
        if (error instanceof UnknownSecretKeyError) throw new ConfigError('GATEHOUSE_PREVIOUS_SECRET_KEY', 'does not open every TOTP secret: set it to the key they were sealed under');
        throw error;
      });
    const embedded = config.database.kind === 'embedded' && config.database.dataDir !== null && config.secretKey === null ? config.database.dataDir : null;
    if (embedded === null) {
      const count = await reseal(secretBox(keys.current));
      console.log(`Re-encrypted ${count} secret${count === 1 ? '' : 's'} under the current key${count > 0 ? ': GATEHOUSE_PREVIOUS_SECRET_KEY can go' : ''}`);
      return;
    }
    const next = randomBytes(32);
    const file = secretKeyFile(embedded);
    writeFileSync(`${file}.next`, `${next.toString('base64')}\n`, { mode: 0o600 });
    const count = await reseal(secretBox(next));
    renameSync(`${file}.next`, file);
    console.log(`Generated a new key in ${file} and re-encrypted ${count} secret${count === 1 ? '' : 's'} under it`);
  });
}

export async function openapiCommand(): Promise<void> {
  const config = loadConfig();
  // The document only needs the routes: the configured database is never opened.
  const memory = { kind: 'embedded', dataDir: null } as const;
  const app = await buildApp({ config: { ...config, database: memory }, database: openDatabase(memory), logger: false });
  await app.ready();
  // Wait until the document has left: process.exit would cut a pipe's unwritten tail.
  const document = `${JSON.stringify(app.swagger(), null, 2)}\n`;
  await new Promise<void>((resolve, reject) => process.stdout.write(document, (error) => (error ? reject(error) : resolve())));
  await app.close();
}

async function withDatabase<T>(config: Config, work: (database: DatabaseHandle) => Promise<T>): Promise<T> {
  const database = openDatabase(config.database, { poolSize: 2 });
  try {
    await migrateToLatest(database.db);
    return await work(database);
  } finally {
    await database.close();
  }
}
