// The password threads: argon2id answers as @node-rs/argon2 does, no more threads than asked for,
// each at a lower priority than the event loop, and a job in flight keeps a process alive.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { verify } from '@node-rs/argon2';
import { PASSWORD_THREAD_NICE, PasswordThreads } from '../../src/domain/accounts/password-threads.ts';
import { ARGON2ID_OPTIONS } from '../../src/domain/accounts/passwords.ts';

/** The threads of this process at a given nice value (Linux: field 19 of /proc/self/task/<tid>/stat). */
function threadsAtNice(nice: number): Set<string> {
  const found = new Set<string>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const fields = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      if (Number(fields[16]) === nice) found.add(tid);
    } catch {
      // the thread ended while we looked
    }
  }
  return found;
}

describe('password threads', () => {
  it('hashes with Gatehouse’s argon2id parameters and verifies right, wrong and malformed input', async () => {
    const threads = new PasswordThreads(2);
    const hash = await threads.hash('correct horse', ARGON2ID_OPTIONS);
    assert.match(hash, /^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    assert.equal(await verify(hash, 'correct horse'), true, 'the library itself accepts the hash');
    assert.deepEqual(await Promise.all([threads.verify(hash, 'correct horse'), threads.verify(hash, 'correct horsE')]), [true, false]);
    await assert.rejects(threads.verify('not a hash', 'x'), 'a malformed hash is an error the caller handles');
    assert.equal(await threads.verify(hash, 'correct horse'), true, 'a failed job leaves the thread working');
  });

  it('runs many jobs on no more than its threads, each lowered to nice 10', { skip: process.platform !== 'linux' }, async () => {
    const before = threadsAtNice(PASSWORD_THREAD_NICE);
    const threads = new PasswordThreads(3);
    const hash = await threads.hash('battery staple', ARGON2ID_OPTIONS);
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => threads.verify(hash, i % 2 === 0 ? 'battery staple' : 'wrong')));
    assert.deepEqual(
      answers,
      Array.from({ length: 12 }, (_, i) => i % 2 === 0),
    );
    const added = [...threadsAtNice(PASSWORD_THREAD_NICE)].filter((tid) => !before.has(tid));
    assert.equal(added.length, 3, `threads at nice ${PASSWORD_THREAD_NICE}: ${added.length}`);
  });

  it('keeps a process alive until its hash is done, and lets it exit after', () => {
    const script = `import('./src/domain/accounts/passwords.ts').then((m) => m.hashPassword('pw')).then((hash) => console.log(hash.split('$')[1]))`;
    const output = execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    assert.equal(output.trim(), 'argon2id');
  });
});
