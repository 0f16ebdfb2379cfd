// Delivers the mail outbox, on the claim-and-lease loop it shares with webhooks
// (src/domain/outbox/worker-loop.ts). Leases make sure each mail has one sender at a time. A failed
// delivery is retried with exponential back-off and marked failed after MAX_ATTEMPTS, so an SMTP outage
// delays mail but loses none.
import type { Logger } from 'pino';
import type { Db } from '../../db/database.ts';
import { addSeconds, type Clock } from '../clock.ts';
import { workerLoop } from '../outbox/worker-loop.ts';
import { outboxRepo, type ClaimedMail } from './outbox.repo.ts';
import type { MailTransport } from './transport.ts';

export const MAX_ATTEMPTS = 10;
const LEASE_SECONDS = 60;
/**
 * Mails claimed at once. They are all handed to the transport together, which sends as many at a time
 * as it has connections and queues the rest: enough to keep a pool of connections busy until the next
 * claim, and few enough to be sent well within the lease by a slow relay.
 */
export const BATCH = 50;
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
  /** How long a batch may take to send; its unsent mails then count as failed. Within the lease. */
  sendDeadlineMs?: number;
}

/** Rejects once `signal` aborts: a send that ignores the signal cannot hold the batch past it. */
const abandonedAt = (signal: AbortSignal) =>
  new Promise<never>((_, reject) => {
    const abort = () => reject(signal.reason instanceof Error ? signal.reason : new Error('the batch ran out of time'));
    if (signal.aborted) abort();
    else signal.addEventListener('abort', abort, { once: true });
  });

/** The claimed mails by recipient (whatever its letter case), each recipient's in the order they were queued. */
function byRecipient(claimed: readonly ClaimedMail[]): ClaimedMail[][] {
  const groups = new Map<string, ClaimedMail[]>();
  for (const mail of claimed) {
    const key = mail.recipient.toLowerCase();
    const group = groups.get(key);
    if (group) group.push(mail);
    else groups.set(key, [mail]);
  }
  return [...groups.values()];
}

export function outboxWorkerFactory({ db, clock, transport, from, logger, pollMs = 500, sendDeadlineMs = (LEASE_SECONDS - 15) * 1000 }: Deps) {
  /**
   * Sends what is due now; resolves when the batch is done. Mails to different recipients go at once
   * (the transport's pool sets how many are on the wire); one recipient's go one after another, so a
   * reset link is handed over before the alert that it was used. The outcomes are written at the end,
   * one statement per kind: a process that dies mid-batch sends the batch again once its lease runs out.
   * What is not sent by the deadline (a relay that stalls, a connection the pool lost track of) counts
   * as failed, before the lease ends: the worker is never held by one batch, and no other sender takes
   * a mail this one may still be sending.
   */
  async function deliverDue(): Promise<number> {
    const now = clock.now();
    const leaseUntil = addSeconds(now, LEASE_SECONDS);
    const claimed = await outboxRepo.claimDue(db, { now, leaseUntil, limit: BATCH });
    if (claimed.length === 0) return 0;
    const deadline = AbortSignal.timeout(sendDeadlineMs);
    const abandoned = abandonedAt(deadline);
    abandoned.catch(() => {});
    const sent: number[] = [];
    const failed: Array<{ mail: ClaimedMail; reason: string }> = [];
    await Promise.all(
      byRecipient(claimed).map(async (mails) => {
        for (const mail of mails) {
          try {
            await Promise.race([transport.send({ from, to: mail.recipient, subject: mail.subject, text: mail.text_body, html: mail.html_body }, deadline), abandoned]);
            sent.push(mail.id);
          } catch (error) {
            failed.push({ mail, reason: error instanceof Error ? error.message : String(error) });
          }
        }
      }),
    );
    // What was delivered is marked first: a failure's bookkeeping going wrong must not send it again.
    if (sent.length > 0) await outboxRepo.markSent(db, sent, clock.now());
    if (failed.length > 0) await recordFailures(failed, leaseUntil);
    return claimed.length;
  }

  async function recordFailures(failed: ReadonlyArray<{ mail: ClaimedMail; reason: string }>, leaseUntil: Date) {
    const at = clock.now();
    const retries: Array<{ id: number; nextAttemptAt: Date; error: string }> = [];
    const givenUp: Array<{ id: number; error: string }> = [];
    for (const { mail, reason } of failed) {
      if (mail.attempts >= MAX_ATTEMPTS) {
        logger.error({ outboxId: mail.id, kind: mail.kind, attempts: mail.attempts }, `mail failed for good: ${reason}`);
        givenUp.push({ id: mail.id, error: reason });
      } else {
        logger.warn({ outboxId: mail.id, kind: mail.kind, attempts: mail.attempts }, `mail delivery failed, will retry: ${reason}`);
        retries.push({ id: mail.id, nextAttemptAt: addSeconds(at, backoffSeconds(mail.attempts)), error: reason });
      }
    }
    if (retries.length > 0) await outboxRepo.markRetry(db, retries, leaseUntil);
    if (givenUp.length > 0) await outboxRepo.markFailed(db, givenUp, leaseUntil);
  }

  return { ...workerLoop({ name: 'outbox', round: deliverDue, batch: BATCH, logger, pollMs }), deliverDue };
}

export type OutboxWorker = ReturnType<typeof outboxWorkerFactory>;
