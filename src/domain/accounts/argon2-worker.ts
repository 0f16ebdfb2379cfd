// What a password thread runs (see password-threads.ts): one argon2id job, answered synchronously,
// since the thread has nothing else to do.
import { hashSync, verifySync, type Options } from '@node-rs/argon2';

export type Argon2Job = { op: 'hash'; password: string; options: Options } | { op: 'verify'; password: string; hash: string };

export default function run(job: Argon2Job): string | boolean {
  return job.op === 'hash' ? hashSync(job.password, job.options) : verifySync(job.hash, job.password);
}
