// The benchmark's settings, from the environment (the only file of bench/ that reads it).
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';

export interface BenchOptions {
  /** A PostgreSQL server on which the benchmark creates (and keeps) its own databases. */
  readonly serverUrl: string;
  readonly durationSeconds: number;
  readonly warmupSeconds: number;
  readonly rounds: number;
  readonly connections: number;
  /** Scenario names to run; null: all of them. */
  readonly only: ReadonlySet<string> | null;
  /** Drop the seeded populations (1M memberships, 100k organisations) and seed them again. */
  readonly reseed: boolean;
  /**
   * Another checkout of Gatehouse, installed and built, measured beside this one in the scenarios
   * that compare builds (an absolute path); null: none.
   */
  readonly baseline: string | null;
}

function number(name: string, fallback: number, { zero = false } = {}): number {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || (value === 0 && !zero)) throw new Error(`${name} must be a ${zero ? 'non-negative' : 'positive'} number, got "${raw}"`);
  return value;
}

/** BENCH_BASELINE: a folder holding a built Gatehouse (relative to where the benchmark runs). */
function baseline(): string | null {
  const raw = process.env.BENCH_BASELINE?.trim();
  if (!raw) return null;
  const folder = resolve(raw);
  if (!existsSync(folder) || !statSync(folder).isDirectory()) throw new Error(`BENCH_BASELINE must be the folder of another checkout of Gatehouse; there is no folder ${folder}`);
  if (!existsSync(resolve(folder, 'dist/cli/main.js'))) {
    throw new Error(`BENCH_BASELINE: ${folder} holds no dist/cli/main.js; install and build it first (npm ci && npm run build in that folder)`);
  }
  if (!existsSync(resolve(folder, 'node_modules'))) throw new Error(`BENCH_BASELINE: ${folder} has no node_modules; run npm ci in that folder`);
  return folder;
}

export function readOptions(): BenchOptions {
  const only = process.env.BENCH_ONLY?.trim();
  return Object.freeze({
    serverUrl: process.env.BENCH_DATABASE_URL?.trim() || 'postgres://postgres@127.0.0.1:5432/postgres',
    durationSeconds: number('BENCH_DURATION', 5),
    warmupSeconds: number('BENCH_WARMUP', 3, { zero: true }),
    rounds: Math.max(1, Math.round(number('BENCH_ROUNDS', 3))),
    connections: Math.max(1, Math.round(number('BENCH_CONNECTIONS', 32))),
    only: only ? new Set(only.split(',').map((name) => name.trim()).filter(Boolean)) : null,
    reseed: process.env.BENCH_RESEED === '1',
    baseline: baseline(),
  });
}
