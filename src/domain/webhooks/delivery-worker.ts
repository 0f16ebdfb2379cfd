// Delivers webhook messages, on the claim-and-lease loop it shares with mail
// (src/domain/outbox/worker-loop.ts): at least once, each claimed batch sent concurrently, retried
// with jittered back-off for more than 24 hours (RETRY_SCHEDULE), then marked failed. An endpoint
// whose every attempt has failed for ENDPOINT_FAILING_DAYS is disabled and its owners are told.
import type { Logger } from 'pino';
import type { Db } from '../../db/database.ts';
import { addSeconds, type Clock } from '../clock.ts';
import { withJitter, workerLoop } from '../outbox/worker-loop.ts';
import type { WebhookSender } from './sender.ts';
import type { DueDelivery } from './types.ts';
import { webhooksRepo } from './webhooks.repo.ts';

/**
 * Seconds to wait after each failed attempt: 11 attempts over about 27.7 hours (at least 24.9 with
 * the jitter), after which a delivery has failed for good and waits for a manual retry.
 */
export const RETRY_SCHEDULE = [5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 43200] as const;
export const MAX_ATTEMPTS = RETRY_SCHEDULE.length + 1;
export const ENDPOINT_FAILING_DAYS = 3;
const LEASE_SECONDS = 60;
const BATCH = 50;

/** What this process's deliveries came to, by outcome: read by the metrics. */
export interface DeliveryCounts {
  delivered: number;
  retrying: number;
  failed: number;
}

interface Deps {
  db: Db;
  clock: Clock;
  sender: WebhookSender;
  logger: Pick<Logger, 'warn' | 'error'>;
  /** Disables an endpoint that has failed for ENDPOINT_FAILING_DAYS, recording why and mailing its owners. */
  endpointFailing: (endpointId: string, since: Date) => Promise<void>;
  pollMs?: number;
  random?: () => number;
}

export function deliveryWorkerFactory({ db, clock, sender, logger, endpointFailing, pollMs = 500, random = Math.random }: Deps) {
  const counts: DeliveryCounts = { delivered: 0, retrying: 0, failed: 0 };

  async function failed(delivery: DueDelivery, result: { status: number | null; body: string | null; error: string; durationMs: number }, at: Date) {
    const giveUp = delivery.attempts >= MAX_ATTEMPTS;
    const wait = RETRY_SCHEDULE[Math.min(delivery.attempts, RETRY_SCHEDULE.length) - 1] ?? RETRY_SCHEDULE[0];
    await webhooksRepo.recordFailure(
      db,
      delivery,
      { at, nextAttemptAt: giveUp ? null : addSeconds(at, withJitter(wait, random)), responseStatus: result.status, responseBody: result.body, error: result.error },
      result.durationMs,
    );
    counts[giveUp ? 'failed' : 'retrying'] += 1;
    logger.warn({ deliveryId: delivery.id, endpointId: delivery.endpointId, attempts: delivery.attempts }, `webhook delivery ${giveUp ? 'failed for good' : 'failed, will retry'}: ${result.error}`);
    const since = await webhooksRepo.markFailing(db, delivery.endpointId, at);
    if (since && addSeconds(since, ENDPOINT_FAILING_DAYS * 86400) <= at) await endpointFailing(delivery.endpointId, since);
  }

  /** Sends what is due now, concurrently; the deliveries that succeeded are marked in one statement. */
  async function deliverDue(): Promise<number> {
    const now = clock.now();
    const claimed = await webhooksRepo.claimDue(db, { now, leaseUntil: addSeconds(now, LEASE_SECONDS), limit: BATCH });
    if (claimed.length === 0) return 0;
    const results = await Promise.all(claimed.map((delivery) => sender.send({ url: delivery.url, messageId: delivery.messageId, body: delivery.body, secrets: delivery.secrets, at: clock.now() })));
    const at = clock.now();
    const delivered: Array<{ id: number; status: number; body: string; durationMs: number }> = [];
    const failures: Array<[DueDelivery, Extract<(typeof results)[number], { ok: false }>]> = [];
    for (const [i, result] of results.entries()) {
      const delivery = claimed[i]!;
      if (result.ok) delivered.push({ id: delivery.id, status: result.status, body: result.body, durationMs: result.durationMs });
      else failures.push([delivery, result]);
    }
    // What arrived is marked first: a failure's bookkeeping going wrong must not send it again.
    if (delivered.length > 0) {
      await webhooksRepo.markDelivered(db, delivered, at);
      counts.delivered += delivered.length;
      // Endpoints that had been failing answer again (none, usually: no statement then).
      const recovered = new Set(claimed.filter((d) => d.endpointFailing && delivered.some(({ id }) => id === d.id)).map((d) => d.endpointId));
      await webhooksRepo.markAnswering(db, [...recovered]);
    }
    for (const [delivery, result] of failures) await failed(delivery, result, at);
    return claimed.length;
  }

  return { ...workerLoop({ name: 'webhooks', round: deliverDue, batch: BATCH, logger, pollMs }), deliverDue, counts };
}

export type DeliveryWorker = ReturnType<typeof deliveryWorkerFactory>;
