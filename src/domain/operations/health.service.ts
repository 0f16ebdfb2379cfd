// What operations ask of Gatehouse: does the database answer, and how much mail and how many webhook
// deliveries are waiting. Public
// facts about the process, not about anyone's data, so they take no principal.
import type { Db } from '../../db/database.ts';
import type { Clock } from '../clock.ts';
import { outboxRepo } from '../mail/outbox.repo.ts';
import { webhooksRepo } from '../webhooks/webhooks.repo.ts';
import { healthRepo } from './health.repo.ts';

export const healthServiceFactory = ({ db, clock }: { db: Db; clock: Clock }) => {
  let draining = false;
  return {
    /** Resolves when the database answers; rejects when it does not. */
    databaseAnswers: () => healthRepo.ping(db),

    /** From SIGTERM on, this node is leaving: readiness fails so that a load balancer stops sending. */
    startDraining() {
      draining = true;
    },
    isDraining: () => draining,

    /** Mails not yet sent, by status: pending (including those waiting to be retried) and failed. */
    outboxBacklog: () => outboxRepo.countUnsent(db),

    /** Webhook deliveries not yet made: pending, failed for good, and the age of the oldest pending one. */
    webhookBacklog: () => webhooksRepo.backlog(db, clock.now()),
  };
};

export type HealthService = ReturnType<typeof healthServiceFactory>;
