// One measured load: autocannon against a server (or an in-process probe), reduced to a Sample.
// Every run starts from an idle server, so its first seconds fill the pipeline (when sign-ins queue
// on the hash, the first answers come only after a whole queue's work): they are the warm-up, and
// only the answers that arrive after it count.
import { performance } from 'node:perf_hooks';
import autocannon from 'autocannon';
import type { Server } from './processes.ts';

export interface Sample {
  /** Successful operations per second. */
  rps: number;
  p50: number;
  p99: number;
  /** Non-2xx answers, connection errors and timeouts. */
  errors: number;
  /** Peak resident memory of the server during the load, MiB; null for an in-process probe. */
  rssMb: number | null;
  /** What went wrong (status codes), or what else was measured. */
  note?: string;
}

export interface Load {
  readonly label: string;
  run(timing: Timing): Promise<Sample>;
}

export interface Timing {
  warmupSeconds: number;
  seconds: number;
}

export type Request = autocannon.Request;

/** The latency at quantile q of sorted values. */
export function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))]!;
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export interface FireOptions {
  url: string;
  connections: number;
  requests: Request[];
  /** An operation of several requests (sign-up, then create an organisation) counts once. */
  requestsPerOperation?: number;
}

/** Loads the server for warm-up + seconds; the figures are those of the answers after the warm-up. */
export function fire({ url, connections, requests, requestsPerOperation = 1 }: FireOptions, { warmupSeconds, seconds }: Timing): Promise<Sample> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const windowStart = started + warmupSeconds * 1000;
    const latencies: number[] = [];
    const failures = new Map<string, number>();
    const failed = (what: string) => failures.set(what, (failures.get(what) ?? 0) + 1);
    const instance = autocannon({ url, connections, duration: warmupSeconds + seconds, requests }, (error) => {
      if (error) return reject(error);
      const windowSeconds = (performance.now() - windowStart) / 1000;
      latencies.sort((a, b) => a - b);
      const errors = [...failures.values()].reduce((sum, n) => sum + n, 0);
      resolve({
        rps: latencies.length / windowSeconds / requestsPerOperation,
        p50: quantile(latencies, 0.5),
        p99: quantile(latencies, 0.99),
        errors,
        rssMb: null,
        note: errors ? [...failures].map(([what, n]) => `${what}×${n}`).join(', ') : undefined,
      });
    });
    // The listener gets the client first, which autocannon's typings leave out.
    (instance as NodeJS.EventEmitter).on('response', (_client: unknown, statusCode: number, _bytes: number, responseTime: number) => {
      if (performance.now() < windowStart) return;
      if (statusCode >= 200 && statusCode < 300) latencies.push(responseTime);
      else failed(String(statusCode));
    });
    (instance as NodeJS.EventEmitter).on('reqError', () => {
      if (performance.now() >= windowStart) failed('connection error');
    });
  });
}

export interface HttpLoadOptions extends Omit<FireOptions, 'url'> {
  label: string;
  server: Server;
}

export function httpLoad({ label, server, ...options }: HttpLoadOptions): Load {
  return {
    label,
    async run(timing) {
      const peak = server.sampleMemory();
      const sample = await fire({ url: server.url, ...options }, timing);
      return { ...sample, rssMb: peak() };
    },
  };
}

/** Medians of the rounds; errors add up, memory is the highest seen. */
export function combine(samples: Sample[]): Sample {
  const rss = samples.map((s) => s.rssMb).filter((v): v is number => v !== null);
  const notes = [...new Set(samples.map((s) => s.note).filter(Boolean))];
  return {
    rps: median(samples.map((s) => s.rps)),
    p50: median(samples.map((s) => s.p50)),
    p99: median(samples.map((s) => s.p99)),
    errors: samples.reduce((sum, s) => sum + s.errors, 0),
    rssMb: rss.length ? Math.max(...rss) : null,
    note: notes.length ? notes.join('; ') : undefined,
  };
}
