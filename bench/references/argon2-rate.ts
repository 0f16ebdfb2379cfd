// The machine's password-hash rate: Gatehouse's own argon2id hash and verify (m=19456 KiB, t=2,
// p=1, on libuv's thread pool), kept at a fixed number in flight, in this process. No server, no
// database: the most sign-ins (verify) or registrations (hash) per second this machine can do.
import { performance } from 'node:perf_hooks';
import { hashPassword, verifyPassword } from '../../src/domain/accounts/passwords.js';
import { PASSWORD } from '../lib/http.js';
import { quantile, type Load, type Sample, type Timing } from '../lib/load.js';

export type Argon2Work = 'hash' | 'verify';

/** Keeps `inFlight` operations going for warm-up + seconds; counts those that end after the warm-up. */
async function rate(work: Argon2Work, inFlight: number, { warmupSeconds, seconds }: Timing): Promise<Sample> {
  const stored = await hashPassword(PASSWORD);
  const once = work === 'hash' ? () => hashPassword(PASSWORD) : () => verifyPassword(stored, PASSWORD);
  const latencies: number[] = [];
  let errors = 0;
  const windowStart = performance.now() + warmupSeconds * 1000;
  const until = windowStart + seconds * 1000;
  const worker = async () => {
    while (performance.now() < until) {
      const t = performance.now();
      const ok = await once();
      if (performance.now() < windowStart) continue;
      if (ok === false) errors++;
      else latencies.push(performance.now() - t);
    }
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
  const windowSeconds = (performance.now() - windowStart) / 1000;
  latencies.sort((a, b) => a - b);
  return { rps: latencies.length / windowSeconds, p50: quantile(latencies, 0.5), p99: quantile(latencies, 0.99), errors, rssMb: null };
}

export const argon2Load = (work: Argon2Work, inFlight: number): Load => ({
  label: `argon2id ${work}, ${inFlight} in flight`,
  run: (timing) => rate(work, inFlight, timing),
});
