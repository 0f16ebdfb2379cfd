// argon2id on threads of its own, at a lower scheduling priority than the event loop.
//
// Run on libuv's thread pool (as @node-rs/argon2's async calls are), a burst of sign-ins fills all
// four of its threads with hashes: every other request then waits for CPU behind them, and so does
// anything else queued on that pool. Here each hash runs on one of a few worker threads (one per core
// by default), each lowered to nice 10: the event loop, and so token checks and reads, take the CPU
// first, and password work takes what is left, which on an idle server is all of it. Nice 10 weighs
// about a tenth of a normal thread, so sign-ins slow down under other load but are never starved.
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { Options } from '@node-rs/argon2';

export const PASSWORD_THREAD_NICE = 10;

type Job = { op: 'hash'; password: string; options: Options } | { op: 'verify'; password: string; hash: string };
interface Pending {
  job: Job;
  resolve: (value: string | boolean) => void;
  reject: (error: Error) => void;
}

// A worker's code is CommonJS evaluated in the worker (with none of the process's flags, which could
// make it a module), so it runs the same from TypeScript sources (tests) and from the build; the
// library is loaded from the path this module resolves.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { readlinkSync } = require('node:fs');
const { setPriority } = require('node:os');
const argon2 = require(workerData.argon2);
try {
  // /proc/thread-self names this thread; on Linux a thread id sets that thread's own priority.
  setPriority(Number(readlinkSync('/proc/thread-self').split('/').pop()), workerData.nice);
} catch {
  // Elsewhere the thread keeps its priority.
}
parentPort.on('message', (job) => {
  try {
    const value = job.op === 'hash' ? argon2.hashSync(job.password, job.options) : argon2.verifySync(job.hash, job.password);
    parentPort.postMessage({ value });
  } catch (error) {
    parentPort.postMessage({ error: String((error && error.message) || error) });
  }
});
`;

const argon2Path = createRequire(import.meta.url).resolve('@node-rs/argon2');

/**
 * Jobs handed to one thread at a time: the next is already waiting in the thread when one ends, so
 * the thread never idles while the event loop is busy elsewhere.
 */
const JOBS_PER_THREAD = 2;

export class PasswordThreads {
  /** Each thread with the jobs it was handed, in order: it answers them in that order. */
  private readonly threads = new Map<Worker, Pending[]>();
  private readonly queue: Pending[] = [];

  readonly size: number;

  constructor(size = availableParallelism()) {
    this.size = size;
  }

  hash(password: string, options: Options): Promise<string> {
    return this.run({ op: 'hash', password, options }) as Promise<string>;
  }

  verify(hash: string, password: string): Promise<boolean> {
    return this.run({ op: 'verify', password, hash }) as Promise<boolean>;
  }

  private run(job: Job): Promise<string | boolean> {
    return new Promise((resolve, reject) => {
      this.queue.push({ job, resolve, reject });
      this.dispatch();
    });
  }

  private dispatch() {
    while (this.queue.length > 0) {
      const worker = this.leastBusy();
      if (!worker) return;
      const pending = this.queue.shift()!;
      this.threads.get(worker)!.push(pending);
      // A thread with a job keeps the process alive until it answers (a CLI's hash, say); idle, it does not.
      worker.ref();
      worker.postMessage(pending.job);
    }
  }

  /** An idle thread (started if need be), else the one with fewest jobs if it can take another. */
  private leastBusy(): Worker | undefined {
    let best: Worker | undefined;
    for (const [worker, jobs] of this.threads) if (!best || jobs.length < this.threads.get(best)!.length) best = worker;
    const load = best ? this.threads.get(best)!.length : Infinity;
    if (load > 0 && this.threads.size < this.size) return this.spawn();
    return load < JOBS_PER_THREAD ? best : undefined;
  }

  private spawn(): Worker {
    const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [], workerData: { argon2: argon2Path, nice: PASSWORD_THREAD_NICE } });
    this.threads.set(worker, []);
    worker.on('message', (answer: { value?: string | boolean; error?: string }) => {
      const jobs = this.threads.get(worker);
      const pending = jobs?.shift();
      if (jobs?.length === 0) worker.unref();
      if (answer.error !== undefined) pending?.reject(new Error(answer.error));
      else pending?.resolve(answer.value!);
      this.dispatch();
    });
    // A thread that dies fails its jobs; the next job starts a new one.
    const lost = (error: Error) => {
      const jobs = this.threads.get(worker);
      if (!jobs) return;
      this.threads.delete(worker);
      for (const pending of jobs) pending.reject(error);
      this.dispatch();
    };
    worker.on('error', lost);
    worker.on('exit', (code) => lost(new Error(`password thread exited with code ${code}`)));
    return worker;
  }
}
