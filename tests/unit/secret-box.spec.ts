// TOTP secrets at rest: AES-256-GCM under the configured key, bound to their user, still opened by the
// previous key after a rotation; and where the key comes from.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ConfigError, loadConfig } from '../../src/config/config.ts';
import { resolveSecretKeys, SECRET_KEY_FILE } from '../../src/config/secret-key.ts';
import { secretBox, secretBoxOf } from '../../src/domain/mfa/secret-box.ts';

describe('secret box', () => {
  it('seals with a fresh nonce and opens only with its key and its user', () => {
    const box = secretBox(randomBytes(32));
    const a = box.seal('JBSWY3DPEHPK3PXP', 'user-1');
    assert.notEqual(a, box.seal('JBSWY3DPEHPK3PXP', 'user-1'));
    assert.ok(!a.includes('JBSWY3DPEHPK3PXP'));
    assert.equal(box.open(a, 'user-1'), 'JBSWY3DPEHPK3PXP');
    assert.throws(() => box.open(a, 'user-2'));
    assert.throws(() => secretBox(randomBytes(32)).open(a, 'user-1'));
    const [v, id, iv, data, tag] = a.split('.') as [string, string, string, string, string];
    const flipped = Buffer.from(data, 'base64url');
    flipped[0] = (flipped[0] ?? 0) ^ 1;
    assert.throws(() => box.open([v, id, iv, flipped.toString('base64url'), tag].join('.'), 'user-1'));
  });

  it('opens what the previous key sealed after a rotation, and tells it from what the current key sealed', () => {
    const old = randomBytes(32);
    const sealed = secretBox(old).seal('secret', 'u');
    const rotated = secretBox(randomBytes(32), old);
    assert.equal(rotated.open(sealed, 'u'), 'secret');
    assert.equal(rotated.isCurrent(sealed), false);
    assert.equal(rotated.isCurrent(rotated.seal('secret', 'u')), true);
  });

  it('takes the key from GATEHOUSE_SECRET_KEY, generates one into the embedded data folder, and has none on a server without one', () => {
    assert.throws(() => loadConfig({ GATEHOUSE_SECRET_KEY: 'too short' }), (error: unknown) => error instanceof ConfigError && error.variable === 'GATEHOUSE_SECRET_KEY');
    const key = randomBytes(32).toString('base64');
    const configured = resolveSecretKeys(loadConfig({ GATEHOUSE_SECRET_KEY: key, DATABASE_URL: 'postgres://db/gatehouse' }));
    assert.deepEqual(configured.current, Buffer.from(key, 'base64'));

    const server = resolveSecretKeys(loadConfig({ DATABASE_URL: 'postgres://db/gatehouse' }));
    assert.equal(server.current, null);
    assert.throws(() => secretBoxOf(server).seal('x', 'u'), (error: unknown) => (error as { code?: string }).code === 'SECOND_FACTORS_UNAVAILABLE');

    const dir = mkdtempSync(join(tmpdir(), 'gatehouse-key-'));
    try {
      const first = resolveSecretKeys(loadConfig({ GATEHOUSE_DATA_DIR: dir }));
      assert.equal(first.current?.length, 32);
      assert.equal(statSync(join(dir, SECRET_KEY_FILE)).mode & 0o777, 0o600);
      assert.deepEqual(resolveSecretKeys(loadConfig({ GATEHOUSE_DATA_DIR: dir })).current, first.current, 'the same key on the next start');
      assert.equal(Buffer.from(readFileSync(join(dir, SECRET_KEY_FILE), 'utf8').trim(), 'base64').length, 32);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
