// The benchmark's settings, from the environment (the only file of bench/ that reads it).

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
}

function number(name: string, fallback: number, { zero = false } = {}): number {
  const raw = process.env[name]?.trim();
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value < 0 || (value === 0 && !zero)) throw new Error(`${name} must be a ${zero ? 'non-negative' : 'positive'} number, got "${raw}"`);
  return value;
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
  });
}
