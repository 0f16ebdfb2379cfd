// What operations ask of Gatehouse: does the database answer, and how much mail is waiting. Public
// facts about the process, not about anyone's data, so they take no principal.
import type { Db } from '../../db/database.ts';
import { outboxRepo } from '../mail/outbox.repo.ts';
import { healthRepo } from './health.repo.ts';

export const healthServiceFactory = ({ db }: { db: Db }) => ({
  /** Resolves when the database answers; rejects when it does not. */
  databaseAnswers: () => healthRepo.ping(db),

  /** Mails not yet sent, by status: pending (including those waiting to be retried) and failed. */
  outboxBacklog: () => outboxRepo.countUnsent(db),
});

export type HealthService = ReturnType<typeof healthServiceFactory>;
