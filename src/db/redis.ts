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
