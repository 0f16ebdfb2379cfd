// The machine's password-hash rate: argon2id with Gatehouse's parameters (m=19456 KiB, t=2, p=1),
// straight from @node-rs/argon2 on libuv's thread pool (four threads), kept at a fixed number in
// flight, in this process. No server, no database, none of Gatehouse's own scheduling: the most
// sign-ins (verify) or registrations (hash) per second this machine can do.
import { performance } from 'node:perf_hooks';
import { hash, verify } from '@node-rs/argon2';
import { ARGON2ID_OPTIONS } from '../../src/domain/accounts/passwords.ts';
import { PASSWORD } from '../lib/http.ts';
import { quantile, type Load, type Sample, type Timing } from '../lib/load.ts';

export type Argon2Work = 'hash' | 'verify';

/** Keeps `inFlight` operations going for warm-up + seconds; counts those that end after the warm-up. */
async function rate(work: Argon2Work, inFlight: number, { warmupSeconds, seconds }: Timing): Promise<Sample> {
  const stored = await hash(PASSWORD, ARGON2ID_OPTIONS);
  const once = work === 'hash' ? () => hash(PASSWORD, ARGON2ID_OPTIONS) : () => verify(stored, PASSWORD);
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
