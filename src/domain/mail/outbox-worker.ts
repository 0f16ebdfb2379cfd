// Delivers the mail outbox, on the claim-and-lease loop it shares with webhooks
// (src/domain/outbox/worker-loop.ts). Leases make sure each mail has one sender at a time. A failed
// delivery is retried with exponential back-off and marked failed after MAX_ATTEMPTS, so an SMTP outage
// delays mail but loses none.
import type { Logger } from 'pino';
import type { Db } from '../../db/database.ts';
import { addSeconds, type Clock } from '../clock.ts';
import { workerLoop } from '../outbox/worker-loop.ts';
import { outboxRepo } from './outbox.repo.ts';
import type { MailTransport } from './transport.ts';

export const MAX_ATTEMPTS = 10;
const LEASE_SECONDS = 60;
const BATCH = 20;
/** 5 s, 10 s, 20 s … capped at one hour. */
export const backoffSeconds = (attempts: number) => Math.min(3600, 5 * 2 ** Math.max(0, attempts - 1));

interface Deps {
  db: Db;
  clock: Clock;
  transport: MailTransport;
  from: string;
  logger: Pick<Logger, 'info' | 'warn' | 'error'>;
  /** How often to look for due mail when nothing wakes the worker. */
  pollMs?: number;
}

export function outboxWorkerFactory({ db, clock, transport, from, logger, pollMs = 500 }: Deps) {
  /**
   * Sends what is due now; resolves when the batch is done. The mails sent are marked in one
   * statement at the end: a process that dies mid-batch sends them again once their lease runs out.
   */
  async function deliverDue(): Promise<number> {
    const now = clock.now();
    const claimed = await outboxRepo.claimDue(db, { now, leaseUntil: addSeconds(now, LEASE_SECONDS), limit: BATCH });
    const sent: number[] = [];
    for (const mail of claimed) {
      try {
        await transport.send({ from, to: mail.recipient, subject: mail.subject, text: mail.text_body, html: mail.html_body });
        sent.push(mail.id);
      } catch (error) {
        const reason = error instanceof Error ? error.message : String(error);
        if (mail.attempts >= MAX_ATTEMPTS) {
          logger.error({ outboxId: mail.id, kind: mail.kind, attempts: mail.attempts }, `mail failed for good: ${reason}`);
          await outboxRepo.markFailed(db, mail.id, reason);
        } else {
          logger.warn({ outboxId: mail.id, kind: mail.kind, attempts: mail.attempts }, `mail delivery failed, will retry: ${reason}`);
          await outboxRepo.markRetry(db, { id: mail.id, nextAttemptAt: addSeconds(clock.now(), backoffSeconds(mail.attempts)), error: reason });
        }
      }
    }
    if (sent.length > 0) await outboxRepo.markSent(db, sent, clock.now());
    return claimed.length;
  }

  return { ...workerLoop({ name: 'outbox', round: deliverDue, batch: BATCH, logger, pollMs }), deliverDue };
}

export type OutboxWorker = ReturnType<typeof outboxWorkerFactory>;
