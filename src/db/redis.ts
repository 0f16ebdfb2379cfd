// The Redis connection that shares throttling counters between nodes. Gatehouse keeps serving when
// Redis is away: each node then counts on its own until the connection comes back. The client is
// loaded only when REDIS_URL is set: a single node counts in its own memory and does not carry it.
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';

export async function openRedis(url: string, log: Pick<Logger, 'warn' | 'info'>): Promise<Redis> {
  const { Redis } = await import('ioredis');
  const redis = new Redis(url, {
    lazyConnect: true,
    // A command while disconnected fails at once (and the throttle falls back) rather than queueing.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 1,
    connectTimeout: 2000,
  });
  let down = false;
  redis.on('error', (error: Error) => {
    if (!down) log.warn({ err: error }, 'Redis is unreachable: throttling counts in this process until it is back');
    down = true;
  });
  redis.on('ready', () => {
    if (down) log.info('Redis is back: throttling counters are shared again');
    down = false;
  });
  return redis;
}

/**
 * Revocations of API keys and machine tokens, published to every node (SPEC §6.2: within 5 seconds).
 * Subscribing takes a connection of its own (a subscribed Redis connection runs no other command),
 * which resubscribes by itself after an outage; a publish while Redis is away fails, and the caches'
 * short entry life is then what bounds a revocation's delay. The messages carry ids, never a secret.
 */
export function redisRevocations(redis: Redis, channel: string, log: Pick<Logger, 'warn'>) {
  const subscriber = redis.duplicate({ enableOfflineQueue: true, maxRetriesPerRequest: null });
  subscriber.on('error', () => {});
  const handlers: Array<(tags: readonly string[]) => void> = [];
  subscriber.on('message', (from: string, message: string) => {
    if (from !== channel) return;
    let tags: unknown;
    try {
      tags = JSON.parse(message);
    } catch {
      return;
    }
    if (!Array.isArray(tags) || !tags.every((tag) => typeof tag === 'string')) return;
    for (const handler of handlers) handler(tags);
  });
  return {
    /** Subscribes in the background: a Redis away at start must not hold the start up (the client keeps trying). */
    start(): void {
      subscriber.subscribe(channel).catch((error: unknown) => log.warn({ err: error }, 'Redis is unreachable: revocations reach other nodes when their caches refill'));
    },
    async publish(tags: readonly string[]): Promise<void> {
      await redis.publish(channel, JSON.stringify(tags));
    },
    subscribe(handler: (tags: readonly string[]) => void): void {
      handlers.push(handler);
    },
    close(): void {
      subscriber.disconnect();
    },
  };
}
