// argon2id on threads of its own, at a lower scheduling priority than the event loop (piscina).
//
// Run on libuv's thread pool (as @node-rs/argon2's async calls are), a burst of sign-ins fills all
// four of its threads with hashes: every other request then waits for CPU behind them, and so does
// anything else queued on that pool. Here each hash runs on one of a few worker threads (one per core
// by default), each lowered to nice 10: the event loop, and so token checks and reads, take the CPU
// first, and password work takes what is left, which on an idle server is all of it. Nice 10 weighs
// about a tenth of a normal thread, so sign-ins slow down under other load but are never starved.
import { availableParallelism } from 'node:os';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Options } from '@node-rs/argon2';
import { Piscina } from 'piscina';
import type { Argon2Job } from './argon2-worker.ts';

export const PASSWORD_THREAD_NICE = 10;

// The worker beside this module: argon2-worker.ts from the sources, argon2-worker.js from the build.
const WORKER = new URL(`./argon2-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url).href;

export class PasswordThreads {
  private readonly pool: Piscina<Argon2Job, string | boolean>;

  constructor(size = availableParallelism()) {
    this.pool = new Piscina({ filename: WORKER, minThreads: 0, maxThreads: size, niceIncrement: PASSWORD_THREAD_NICE, idleTimeout: 60_000 });
  }

  hash(password: string, options: Options): Promise<string> {
    return this.pool.run({ op: 'hash', password, options }) as Promise<string>;
  }

  verify(hash: string, password: string): Promise<boolean> {
    return this.pool.run({ op: 'verify', password, hash }) as Promise<boolean>;
  }
}
