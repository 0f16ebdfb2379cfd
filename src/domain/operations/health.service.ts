// What operations ask of Gatehouse: does the database answer, and how much mail is waiting. Public
// facts about the process, not about anyone's data, so they take no principal.
import type { Db } from '../../db/database.ts';
import { outboxRepo } from '../mail/outbox.repo.ts';
import { healthRepo } from './health.repo.ts';

export const healthServiceFactory = ({ db }: { db: Db }) => {
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
  };
};

export type HealthService = ReturnType<typeof healthServiceFactory>;
