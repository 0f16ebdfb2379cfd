// Configuration from the environment: the defaults of the specification, every value refused with a
// message naming its variable, a frozen result, and `.env` read under the real environment.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig, readEnvironment } from '../../src/config/config.ts';
import { parseDuration } from '../../src/config/duration.ts';

describe('configuration', () => {
  it('starts with the defaults of the specification from an empty environment', () => {
    const config = loadConfig({});
    assert.equal(config.port, 3000);
    assert.equal(config.host, '0.0.0.0');
    assert.deepEqual(config.database, { kind: 'embedded', dataDir: './.gatehouse/data' });
    assert.equal(config.dataDir, './.gatehouse/data');
    assert.equal(config.publicUrl, 'http://localhost:3000');
    assert.equal(config.smtpUrl, null);
    assert.equal(config.smtpMaxConnections, 5);
    assert.equal(config.redisUrl, null);
    assert.equal(config.accessTokenTtlSeconds, 900);
    assert.equal(config.refreshTokenTtlSeconds, 30 * 24 * 3600);
    assert.deepEqual([...config.compat].sort(), ['basic', 'saas', 'user-api']);
    assert.equal(config.passwordMin, 8);
    assert.equal(config.passwordBlocklist, 'off');
    assert.equal(config.requireVerifiedEmail, false);
    assert.equal(config.loginAlerts, 'new-device');
    assert.equal(config.logLevel, 'info');
    assert.deepEqual(config.corsOrigins, []);
    assert.equal(config.trustProxy, false);
    assert.match(config.mailFrom, /no-reply@localhost/);
  });

  it('derives the public URL from the port, treats blank values as unset and takes the data folder', () => {
    assert.equal(loadConfig({ PORT: '8080' }).publicUrl, 'http://localhost:8080');
    assert.equal(loadConfig({ PORT: '  ', HOST: '' }).port, 3000);
    assert.equal(loadConfig({ HOST: '' }).host, '0.0.0.0');
    assert.deepEqual(loadConfig({ GATEHOUSE_DATA_DIR: '/var/lib/gatehouse' }).database, { kind: 'embedded', dataDir: '/var/lib/gatehouse' });
    assert.equal(loadConfig({ PUBLIC_URL: 'https://auth.example.com/' }).publicUrl, 'https://auth.example.com');
  });

  it('reads memory:// as a throwaway embedded database and postgres:// as a server', () => {
    assert.deepEqual(loadConfig({ DATABASE_URL: 'memory://' }).database, { kind: 'embedded', dataDir: null });
    for (const url of ['postgres://gatehouse:secret@db:5432/gatehouse', 'postgresql://db/gatehouse?sslmode=require']) {
      assert.deepEqual(loadConfig({ DATABASE_URL: url }).database, { kind: 'postgres', url });
    }
  });

  it('reads every other variable', () => {
    const config = loadConfig({
      PORT: '4000',
      HOST: '127.0.0.1',
      PUBLIC_URL: 'https://auth.example.com',
      SMTP_URL: 'smtps://user:pass@mail.example.com:465',
      MAIL_FROM: 'Auth <auth@example.com>',
      SMTP_MAX_CONNECTIONS: '12',
      REDIS_URL: 'redis://cache:6379',
      ACCESS_TOKEN_TTL: '5m',
      REFRESH_TOKEN_TTL: '12h',
      GATEHOUSE_COMPAT: 'saas, basic',
      GATEHOUSE_PASSWORD_MIN: '15',
      GATEHOUSE_PASSWORD_BLOCKLIST: 'common',
      GATEHOUSE_REQUIRE_VERIFIED_EMAIL: 'true',
      GATEHOUSE_LOGIN_ALERTS: 'all',
      LOG_LEVEL: 'debug',
      CORS_ORIGINS: 'https://app.example.com, http://localhost:5173',
      TRUST_PROXY: 'yes',
    });
    assert.equal(config.port, 4000);
    assert.equal(config.host, '127.0.0.1');
    assert.equal(config.smtpUrl, 'smtps://user:pass@mail.example.com:465');
    assert.equal(config.mailFrom, 'Auth <auth@example.com>');
    assert.equal(config.smtpMaxConnections, 12);
    assert.equal(config.redisUrl, 'redis://cache:6379');
    assert.equal(config.accessTokenTtlSeconds, 300);
    assert.equal(config.refreshTokenTtlSeconds, 43200);
    assert.deepEqual(config.compat, ['saas', 'basic']);
    assert.equal(config.passwordMin, 15);
    assert.equal(config.passwordBlocklist, 'common');
    assert.equal(config.requireVerifiedEmail, true);
    assert.equal(config.loginAlerts, 'all');
    assert.equal(config.logLevel, 'debug');
    assert.deepEqual(config.corsOrigins, ['https://app.example.com', 'http://localhost:5173']);
    assert.equal(config.trustProxy, true);
    assert.deepEqual(loadConfig({ GATEHOUSE_COMPAT: 'none' }).compat, []);
  });

  const BAD: Array<[string, string]> = [
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['PORT', '0'],
    ['DATABASE_URL', 'mysql://x'],
    ['PUBLIC_URL', 'ftp://x'],
    ['PUBLIC_URL', 'not a url'],
    ['ACCESS_TOKEN_TTL', 'soon'],
    ['ACCESS_TOKEN_TTL', '0'],
    ['REFRESH_TOKEN_TTL', '-1d'],
    ['GATEHOUSE_COMPAT', 'saas,bogus'],
    ['LOG_LEVEL', 'loud'],
    ['CORS_ORIGINS', 'not a url'],
    ['CORS_ORIGINS', 'https://app.example/path'],
    ['TRUST_PROXY', 'maybe'],
    ['TRUST_PROXY', '10.0.0.1,not-an-address'],
    ['TRUST_PROXY', '10.0.0.0/33'],
    ['GATEHOUSE_PASSWORD_MIN', '7'],
    ['GATEHOUSE_PASSWORD_MIN', '0'],
    ['GATEHOUSE_PASSWORD_MIN', 'eight'],
    ['GATEHOUSE_PASSWORD_BLOCKLIST', 'everything'],
    ['GATEHOUSE_REQUIRE_VERIFIED_EMAIL', 'perhaps'],
    ['GATEHOUSE_LOGIN_ALERTS', 'sometimes'],
    ['SMTP_URL', 'http://x'],
    ['SMTP_MAX_CONNECTIONS', '0'],
    ['SMTP_MAX_CONNECTIONS', '101'],
    ['SMTP_MAX_CONNECTIONS', 'many'],
    ['REDIS_URL', 'http://x'],
  ];
  for (const [variable, value] of BAD) {
    it(`refuses ${variable}=${value} with a ConfigError naming ${variable}`, () => {
      assert.throws(
        () => loadConfig({ [variable]: value }),
        (error: unknown) => {
          assert.ok(error instanceof ConfigError, `not a ConfigError: ${String(error)}`);
          assert.equal(error.variable, variable);
          assert.match(error.message, new RegExp(`\\b${variable}\\b`));
          return true;
        },
      );
    });
  }

  it('reads TRUST_PROXY as a switch, a number of hops or a list of proxy addresses and ranges', () => {
    assert.equal(loadConfig({ TRUST_PROXY: 'true' }).trustProxy, true);
    assert.equal(loadConfig({ TRUST_PROXY: '0' }).trustProxy, false);
    assert.equal(loadConfig({ TRUST_PROXY: '2' }).trustProxy, 2);
    assert.deepEqual(loadConfig({ TRUST_PROXY: '10.0.0.1, 192.168.0.0/16,::1' }).trustProxy, ['10.0.0.1', '192.168.0.0/16', '::1']);
  });

  it('returns a frozen configuration, all the way down', () => {
    const config = loadConfig({ CORS_ORIGINS: 'https://app.example' });
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.compat));
    assert.ok(Object.isFrozen(config.corsOrigins));
    assert.throws(() => {
      (config as { port: number }).port = 1;
    }, TypeError);
    assert.ok(Object.isFrozen(config.database), 'config.database can be changed after start-up');
  });

  it('reads .env from the given folder, and a variable of the real environment wins', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-env-'));
    const names = ['GATEHOUSE_TEST_ONLY_IN_FILE', 'GATEHOUSE_TEST_IN_BOTH', 'GATEHOUSE_PASSWORD_MIN', 'GATEHOUSE_LOGIN_ALERTS'];
    const saved = Object.fromEntries(names.map((name) => [name, process.env[name]]));
    try {
      writeFileSync(
        join(dir, '.env'),
        ['# a comment', 'GATEHOUSE_TEST_ONLY_IN_FILE=from-file', 'GATEHOUSE_TEST_IN_BOTH="from-file"', 'GATEHOUSE_PASSWORD_MIN=12', 'GATEHOUSE_LOGIN_ALERTS=off', ''].join('\n'),
      );
      for (const name of names) delete process.env[name];
      process.env.GATEHOUSE_TEST_IN_BOTH = 'from-environment';
      process.env.GATEHOUSE_LOGIN_ALERTS = 'all';
      const env = readEnvironment(dir);
      assert.equal(env.GATEHOUSE_TEST_ONLY_IN_FILE, 'from-file');
      assert.equal(env.GATEHOUSE_TEST_IN_BOTH, 'from-environment');
      const config = loadConfig(env);
      assert.equal(config.passwordMin, 12);
      assert.equal(config.loginAlerts, 'all');

      const empty = mkdtempSync(join(tmpdir(), 'gatehouse-noenv-'));
      try {
        assert.equal(readEnvironment(empty).GATEHOUSE_TEST_ONLY_IN_FILE, undefined);
        assert.equal(readEnvironment(empty).GATEHOUSE_TEST_IN_BOTH, 'from-environment');
      } finally {
        rmSync(empty, { recursive: true, force: true });
      }
    } finally {
      for (const name of names) {
        if (saved[name] === undefined) delete process.env[name];
        else process.env[name] = saved[name];
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('durations', () => {
  it('reads plain seconds and s, m, h, d suffixes', () => {
    assert.equal(parseDuration('900'), 900);
    assert.equal(parseDuration('45s'), 45);
    assert.equal(parseDuration('15m'), 900);
    assert.equal(parseDuration('12h'), 43200);
    assert.equal(parseDuration('30d'), 2592000);
    assert.equal(parseDuration(' 15m '), 900);
  });

  it('refuses anything else with null', () => {
    for (const raw of ['', 'soon', '15x', '1.5h', '-5', 'm', '15 minutes', '1h30m']) assert.equal(parseDuration(raw), null, raw);
  });
});
