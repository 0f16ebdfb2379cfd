// Counters that slow down guessing: each rule allows so many attempts per key in a window, then
// refuses (429 with Retry-After) for a block that doubles with every further lockout. The counters
// live in Redis when REDIS_URL is set, so every node sees the same ones; in process memory otherwise.
// An attempt is counted before the work it guards, so parallel requests cannot slip past the limit.
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from 'rate-limiter-flexible';
import type { Redis } from 'ioredis';
import { AppError } from '../errors.ts';

export interface ThrottleRule {
  /** Attempts allowed per key within the window. */
  readonly points: number;
  readonly windowSeconds: number;
  /**
   * The first lockout once the points are spent; each further lockout within a day doubles it, up
   * to `maxBlockSeconds`. 0: no lockout beyond the rest of the window.
   */
  readonly blockSeconds: number;
  readonly maxBlockSeconds: number;
}

export interface ThrottleStore {
  /** Redis connection shared by every rule; null keeps the counters in this process. */
  readonly redis: Redis | null;
  /** Separates the counters of several deployments (or test runs) sharing one Redis. */
  readonly keyPrefix: string;
}

const LOCKOUT_MEMORY_SECONDS = 24 * 3600;

export class Throttled extends AppError {
  constructor(retryAfterSeconds: number) {
    super('TOO_MANY_REQUESTS', `Too many attempts: try again in ${describeWait(retryAfterSeconds)}`, retryAfterSeconds);
  }
}

function describeWait(seconds: number): string {
  if (seconds < 120) return `${seconds} second${seconds === 1 ? '' : 's'}`;
  return `${Math.ceil(seconds / 60)} minutes`;
}

function limiter(store: ThrottleStore, { name, points, duration }: { name: string; points: number; duration: number }): RateLimiterAbstract {
  const keyPrefix = `${store.keyPrefix}:${name}`;
  if (!store.redis) return new RateLimiterMemory({ keyPrefix, points, duration });
  // If Redis is unreachable, each node falls back to its own counters rather than refusing everyone.
  return new RateLimiterRedis({
    storeClient: store.redis,
    keyPrefix,
    points,
    duration,
    rejectIfRedisNotReady: true,
    insuranceLimiter: new RateLimiterMemory({ keyPrefix, points, duration }),
  });
}

const secondsOf = (res: RateLimiterRes) => Math.max(1, Math.ceil(res.msBeforeNext / 1000));

export class Throttle {
  private readonly attempts: RateLimiterAbstract;
  private readonly lockouts: RateLimiterAbstract;

  private readonly rule: ThrottleRule;

  constructor(store: ThrottleStore, name: string, rule: ThrottleRule) {
    this.rule = rule;
    this.attempts = limiter(store, { name, points: rule.points, duration: rule.windowSeconds });
    this.lockouts = limiter(store, { name: `${name}:lockouts`, points: Number.MAX_SAFE_INTEGER, duration: LOCKOUT_MEMORY_SECONDS });
  }

  /** Counts one attempt for the key, or throws Throttled when its allowance is spent. */
  async take(key: string): Promise<void> {
    try {
      await this.attempts.consume(key);
    } catch (refusal) {
      if (!(refusal instanceof RateLimiterRes)) throw refusal;
      // Only the attempt that crosses the limit starts a lockout; the rest see the time it left.
      if (refusal.consumedPoints !== this.rule.points + 1 || this.rule.blockSeconds === 0) throw new Throttled(secondsOf(refusal));
      const lockouts = await this.lockouts.consume(key);
      const seconds = Math.min(this.rule.blockSeconds * 2 ** (lockouts.consumedPoints - 1), this.rule.maxBlockSeconds);
      await this.attempts.block(key, seconds);
      throw new Throttled(seconds);
    }
  }

  /** Returns an attempt that turned out fine (a successful sign-in from an address). */
  async giveBack(key: string): Promise<void> {
    await this.attempts.reward(key, 1);
  }

  /** Forgets the key's attempts and lockouts (the account proved itself, or its password was reset). */
  async clear(key: string): Promise<void> {
    await Promise.all([this.attempts.delete(key), this.lockouts.delete(key)]);
  }
}
