// Delivers the outbox. Every process runs one; leases make sure each mail has one sender at a time.
// A failed delivery is retried with exponential back-off and marked failed after MAX_ATTEMPTS, so an
// SMTP outage delays mail but loses none.
import type { Logger } from 'pino';
import type { Db } from '../../db/database.ts';
import { addSeconds, type Clock } from '../clock.ts';
import { outboxRepo } from './outbox.repo.ts';
import type { MailTransport } from './transport.ts';

export const MAX_ATTEMPTS = 10;
const LEASE_SECONDS = 60;
const BATCH = 20;
/**
 * How long a wake waits before looking: mail queued by a burst of requests is claimed and marked
 * sent in one batch (two statements) rather than two statements per mail.
 */
export const WAKE_DELAY_MS = 50;

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
  let timer: NodeJS.Timeout | null = null;
  let waking: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let stopped = true;
  let again = false;

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

  async function cycle() {
    do {
      again = false;
      try {
        // A full batch means more may be waiting: go again at once.
        while (!stopped && (await deliverDue()) === BATCH);
      } catch (error) {
        logger.warn({ err: error }, 'outbox worker could not reach the database');
      }
    } while (again && !stopped);
  }

  function run() {
    if (running) {
      again = true;
      return running;
    }
    running = cycle().finally(() => {
      running = null;
      schedule();
    });
    return running;
  }

  function schedule() {
    if (stopped) return;
    timer = setTimeout(() => void run(), pollMs);
    timer.unref();
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      schedule();
    },
    /** Looks for mail shortly (WAKE_DELAY_MS) rather than at the next poll: called after a request queued some. */
    wake() {
      if (stopped || waking) return;
      waking = setTimeout(() => {
        waking = null;
        void run();
      }, WAKE_DELAY_MS);
      waking.unref();
    },
    /** Stops polling and waits for a delivery in progress to finish. */
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      if (waking) clearTimeout(waking);
      waking = null;
      await running;
    },
    deliverDue,
  };
}

export type OutboxWorker = ReturnType<typeof outboxWorkerFactory>;
