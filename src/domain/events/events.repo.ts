// An event's rows as parts of a repository's one statement (src/db/one-statement.ts): the audit row
// and the webhook deliveries, and the mail under its condition. Only repositories call this; services hand them EventRows.
import { sql, type Expression, type SqlBool } from 'kysely';
import type { Executor } from '../../db/database.ts';
import type { Write } from '../../db/one-statement.ts';
import { auditRepo } from '../audit/audit.repo.ts';
import { outboxRepo } from '../mail/outbox.repo.ts';
import { webhooksRepo } from '../webhooks/webhooks.repo.ts';
import type { EventRows } from './event-stream.ts';

/** The audit rows and webhook deliveries of events, unsent; their mail is `mailWrite`'s. */
export const eventWrites = (db: Executor, events: readonly EventRows[]): Write[] =>
  events.flatMap((event) => [...(event.audit ? [auditRepo.insertion(db, event.audit)] : []), ...(event.webhook ? webhooksRepo.fanoutWrites(db, event.webhook) : [])]);

/**
 * The insert of an event's mail, unsent, under its caps and any further condition (`when`); it returns
 * the id of a mail it queued, so a statement can tell whether it did.
 */
export function mailWrite(db: Executor, event: EventRows, when?: Expression<SqlBool>) {
  if (!event.mail) return null;
  const { mail, caps } = event.mail;
  const conditions: Expression<SqlBool>[] = caps.map(({ perHour, ...counted }) => outboxRepo.underCap(db, { ...counted, cap: perHour }));
  if (when) conditions.push(when);
  const condition = conditions.length === 0 ? sql<SqlBool>`true` : sql<SqlBool>`${sql.join(conditions, sql` and `)}`;
  return outboxRepo.insertion(db, mail, condition);
}
