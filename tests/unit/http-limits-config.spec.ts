// The configuration of the JSON limits, the connection timeouts and the shutdown delay: safe defaults
// from an empty environment, every value read, and a bad one refused naming its variable.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/config.ts';

describe('configuration of the HTTP limits', () => {
  it('starts with safe defaults: a slow body is cut within 30 s', () => {
    const config = loadConfig({});
    assert.deepEqual(config.jsonLimits, { maxDepth: 32, maxObjectKeys: 100, maxKeys: 1000, maxArrayLength: 1000 });
    assert.deepEqual(config.connections, {
      headersTimeoutSeconds: 10,
      requestTimeoutSeconds: 20,
      keepAliveTimeoutSeconds: 72,
      minBodyBytesPerSecond: 240,
      shutdownDelaySeconds: 5,
    });
    assert.ok(Object.isFrozen(config.jsonLimits) && Object.isFrozen(config.connections));
  });

  it('reads every variable', () => {
    const config = loadConfig({
      GATEHOUSE_JSON_MAX_DEPTH: '8',
      GATEHOUSE_JSON_MAX_OBJECT_KEYS: '20',
      GATEHOUSE_JSON_MAX_KEYS: '200',
      GATEHOUSE_JSON_MAX_ARRAY_LENGTH: '50',
      GATEHOUSE_HEADERS_TIMEOUT: '5s',
      GATEHOUSE_REQUEST_TIMEOUT: '1m',
      GATEHOUSE_KEEP_ALIVE_TIMEOUT: '65',
      GATEHOUSE_MIN_BODY_RATE: '0',
      GATEHOUSE_SHUTDOWN_DELAY: '0',
    });
    assert.deepEqual(config.jsonLimits, { maxDepth: 8, maxObjectKeys: 20, maxKeys: 200, maxArrayLength: 50 });
    assert.deepEqual(config.connections, { headersTimeoutSeconds: 5, requestTimeoutSeconds: 60, keepAliveTimeoutSeconds: 65, minBodyBytesPerSecond: 0, shutdownDelaySeconds: 0 });
  });

  it('refuses a bad value with a message naming its variable', () => {
    for (const [name, value] of [
      ['GATEHOUSE_JSON_MAX_DEPTH', '0'],
      ['GATEHOUSE_JSON_MAX_DEPTH', 'deep'],
      ['GATEHOUSE_JSON_MAX_OBJECT_KEYS', '-1'],
      ['GATEHOUSE_JSON_MAX_KEYS', '1.5'],
      ['GATEHOUSE_JSON_MAX_ARRAY_LENGTH', '0'],
      ['GATEHOUSE_HEADERS_TIMEOUT', '0'],
      ['GATEHOUSE_REQUEST_TIMEOUT', 'soon'],
      ['GATEHOUSE_KEEP_ALIVE_TIMEOUT', '0'],
      ['GATEHOUSE_MIN_BODY_RATE', 'fast'],
      ['GATEHOUSE_SHUTDOWN_DELAY', '-5s'],
    ] as const) {
      assert.throws(
        () => loadConfig({ [name]: value }),
        (error: unknown) => error instanceof ConfigError && error.variable === name,
        `${name}=${value}`,
      );
    }
    // The headers arrive within the request, so their timeout cannot be the longer one.
    assert.throws(
      () => loadConfig({ GATEHOUSE_HEADERS_TIMEOUT: '30s', GATEHOUSE_REQUEST_TIMEOUT: '20s' }),
      (error: unknown) => error instanceof ConfigError && error.variable === 'GATEHOUSE_HEADERS_TIMEOUT' && /GATEHOUSE_REQUEST_TIMEOUT/.test(error.message),
    );
  });
});
