#!/usr/bin/env node
// The `gatehouse` command: serve (the default), migrate, create-admin, create-client, rotate-keys, rotate-secret-key, openapi. The
// parser answers --help, --version and mistakes before any command runs, so those change nothing.
import { readFileSync } from 'node:fs';
import { Command } from 'commander';
import { failureMessage } from './failures.ts';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const commands = () => import('./commands.ts');

function program(): Command {
  const gatehouse = new Command('gatehouse')
    .description('Authentication and organisations for SaaS products.\nWithout a command, runs serve.')
    .version(version, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'print this help')
    .helpCommand('help [command]', 'print the help of a command')
    .showHelpAfterError('(gatehouse --help lists the commands; gatehouse <command> --help their options)');

  gatehouse
    .command('serve')
    .description('run the service until SIGTERM or SIGINT (what npm start runs)')
    .action(async () => (await commands()).serveCommand());

  gatehouse
    .command('migrate')
    .description('apply pending database migrations and exit')
    .action(finishing(async () => (await commands()).migrateCommand()));

  gatehouse
    .command('create-admin')
    .description('create a platform admin, or make an existing account one')
    .option('--email <email>', 'the account to create or promote')
    .option('--username <username>', 'its username (or the account to promote, without --email)')
    .option('--password <password>', 'the password of a new account; without it, read from standard input (prefer that: a command line is visible to others)')
    .option('--first-name <name>', 'first name of a new account (Admin when not given)')
    .option('--last-name <name>', 'last name of a new account')
    .action(
      finishing(async (options: { email?: string; username?: string; password?: string; firstName?: string; lastName?: string }, command: Command) => {
        if (options.email === undefined && options.username === undefined) command.error('error: create-admin needs --email (or --username)');
        await (await commands()).createAdminCommand(options);
      }),
    );

  const collect = (value: string, previous: string[] = []) => [...previous, value];
  gatehouse
    .command('create-client')
    .description('register an application that signs people in with Gatehouse (OpenID Connect); prints its client_id and, for a confidential client, its secret once')
    .requiredOption('--name <name>', 'the name people see on the sign-in and consent pages')
    .requiredOption('--redirect-uri <uri>', 'where the browser comes back with a code (repeat for several)', collect)
    .option('--post-logout-redirect-uri <uri>', 'where RP-initiated logout may return to (repeat for several)', collect)
    .option('--type <type>', 'confidential (a server, gets a secret) or public (a browser or mobile app)', 'confidential')
    .option('--first-party', 'skip the consent page (an application of your own)')
    .option('--backchannel-logout-uri <uri>', 'where a logout token is posted when the person signs out')
    .action(
      finishing(async (options: { name: string; redirectUri: string[]; postLogoutRedirectUri?: string[]; type: string; firstParty?: boolean; backchannelLogoutUri?: string }, command: Command) => {
        if (options.type !== 'public' && options.type !== 'confidential') command.error('error: --type is public or confidential');
        await (await commands()).createClientCommand({ ...options, type: options.type as 'public' | 'confidential' });
      }),
    );

  gatehouse
    .command('rotate-keys')
    .description('start signing tokens with a new key; the old one keeps verifying until its tokens expire')
    .option('--algorithm <algorithm>', 'EdDSA (access tokens), RS256 (ID tokens) or all', 'all')
    .action(
      finishing(async (options: { algorithm: string }, command: Command) => {
        const algorithms = { all: ['EdDSA', 'RS256'], EdDSA: ['EdDSA'], RS256: ['RS256'] } as const;
        if (!Object.hasOwn(algorithms, options.algorithm)) command.error('error: --algorithm is EdDSA, RS256 or all');
        await (await commands()).rotateKeysCommand(algorithms[options.algorithm as keyof typeof algorithms]);
      }),
    );

  gatehouse
    .command('rotate-secret-key')
    .description('re-encrypt the TOTP secrets under the current GATEHOUSE_SECRET_KEY (embedded database: under a newly generated key)')
    .action(finishing(async () => (await commands()).rotateSecretKeyCommand()));

  gatehouse
    .command('openapi')
    .description('print the OpenAPI document of the API')
    .action(finishing(async () => (await commands()).openapiCommand()));

  return gatehouse;
}

/** A command that ends: exit 0 once it is done, whatever handles its libraries left open. */
function finishing<A extends unknown[]>(run: (...args: A) => Promise<void>) {
  return async (...args: A) => {
    await run(...args);
    process.exit(0);
  };
}

const argv = process.argv.slice(2);
program()
  .parseAsync(argv.length > 0 ? argv : ['serve'], { from: 'user' })
  .catch((error: unknown) => {
    const message = failureMessage(error);
    console.error(message !== null ? `error: ${message}` : error instanceof Error ? (error.stack ?? error.message) : error);
    process.exit(1);
  });
