import { sql, type Expression, type SqlBool } from 'kysely';
import type { Executor } from '../../db/database.ts';

export interface OutgoingMail {
  kind: string;
  recipient: string;
  subject: string;
  text: string;
  html: string;
  /** The organisation whose event sent it, counted by the organisation's hourly cap. */
  organisationId?: string | null;
}

/** A mail as a sender claims it. */
export interface ClaimedMail {
  id: number;
  kind: string;
  recipient: string;
  subject: string;
  text_body: string;
  html_body: string;
  attempts: number;
}

/** Whose recent mails of a kind a cap counts: one address (whatever its letter case), or one organisation's. */
export type CapTarget = { recipient: string; organisationId?: undefined } | { organisationId: string; recipient?: undefined };

const recentOf = (db: Executor, { kind, since, ...target }: CapTarget & { kind: string; since: Date }) => {
  const query = db.selectFrom('outbox').where('kind', '=', kind).where('created_at', '>=', since);
  return target.organisationId !== undefined ? query.where('organisation_id', '=', target.organisationId) : query.where(sql`lower(recipient)`, '=', target.recipient.toLowerCase());
};

/** The advisory lock of one cap: transactions counting the same cap take turns. */
const capLockKey = ({ kind, ...target }: CapTarget & { kind: string }) =>
  target.organisationId !== undefined ? `mail-cap:${kind}:organisation:${target.organisationId}` : `mail-cap:${kind}:recipient:${target.recipient.toLowerCase()}`;

export const outboxRepo = {
  /** Queues a mail inside the transaction of the change that causes it: both happen, or neither. */
  enqueue(db: Executor, mail: OutgoingMail) {
    return db
      .insertInto('outbox')
      .values({ kind: mail.kind, recipient: mail.recipient, subject: mail.subject, text_body: mail.text, html_body: mail.html, organisation_id: mail.organisationId ?? null })
      .returning('id')
      .executeTakeFirstOrThrow();
  },

  /**
   * The insert of `enqueue`, unsent, for a statement that writes other rows too (src/db/one-statement.ts);
   * it queues the mail only where `when` holds, and returns the id of a mail it queued.
   */
  insertion(db: Executor, mail: OutgoingMail, when: Expression<SqlBool> = sql<boolean>`true`) {
    return db
      .insertInto('outbox')
      .columns(['kind', 'recipient', 'subject', 'text_body', 'html_body', 'organisation_id'])
      .expression(
        db
          .selectNoFrom((eb) => [
            eb.val(mail.kind).as('kind'),
            eb.val(mail.recipient).as('recipient'),
            eb.val(mail.subject).as('subject'),
            eb.val(mail.text).as('text_body'),
            eb.val(mail.html).as('html_body'),
            sql<string | null>`${mail.organisationId ?? null}::uuid`.as('organisation_id'),
          ])
          .where(when),
      )
      .returning('id');
  },

  /** True while fewer than `cap` mails of the kind went to the target since `since`: an hourly cap, inside a statement. */
  underCap(db: Executor, { cap, ...counted }: CapTarget & { kind: string; since: Date; cap: number }): Expression<SqlBool> {
    return sql<boolean>`(${recentOf(db, counted).select((eb) => eb.fn.countAll().as('n'))}) < ${cap}`;
  },

  /**
   * Makes transactions that count the same caps take turns until they end, so that each counts every
   * mail queued before it: twenty parallel invitations to one address cannot all see an empty hour.
   * Callers lock their caps in one order (the recipient's, then the organisation's).
   */
  async lockCaps(trx: Executor, caps: ReadonlyArray<CapTarget & { kind: string }>): Promise<void> {
    for (const cap of caps) await sql`select pg_advisory_xact_lock(hashtextextended(${capLockKey(cap)}, 0))`.execute(trx);
  },

  /**
   * Claims due mail for one sender: each row is leased until `leaseUntil`, and rows another process
   * holds are skipped (FOR UPDATE SKIP LOCKED), so no mail is handed to two senders at once. A sender
   * that dies mid-delivery lets its lease run out, and the mail is claimed again. The status is
   * written into the statement, not passed as a value: its plan can then use the index of pending
   * mail however PostgreSQL plans it (a generic plan with `status = $1` reads every mail ever sent).
   * The claimed mails come in the order they were queued (an update returns its rows in no order).
   */
  async claimDue(db: Executor, { now, leaseUntil, limit }: { now: Date; leaseUntil: Date; limit: number }): Promise<ClaimedMail[]> {
    const claimed = await db
      .updateTable('outbox')
      .set({ locked_until: leaseUntil, attempts: sql`attempts + 1` })
      .where(
        'id',
        'in',
        db
          .selectFrom('outbox')
          .select('id')
          .where(sql<boolean>`status = 'pending'`)
          .where('next_attempt_at', '<=', now)
          .where((eb) => eb.or([eb('locked_until', 'is', null), eb('locked_until', '<', now)]))
          .orderBy('next_attempt_at')
          .limit(limit)
          .forUpdate()
          .skipLocked(),
      )
      .returning(['id', 'kind', 'recipient', 'subject', 'text_body', 'html_body', 'attempts'])
      .execute();
    return claimed.sort((a, b) => Number(a.id) - Number(b.id));
  },

  /** Marks a batch of delivered mails sent, in one statement (one text for any number of them). */
  markSent(db: Executor, ids: readonly number[], now: Date) {
    return sql`update outbox set status = 'sent', sent_at = ${now}, locked_until = null, last_error = null where id = any(${ids}::bigint[])`.execute(db);
  },

  /**
   * Hands failed mails back to the queue, each due again at its own time, in one statement. Only rows
   * still under the sender's lease (`leaseUntil`, as claimed): a sender whose lease ran out must not
   * release a mail another sender has claimed since.
   */
  markRetry(db: Executor, rows: ReadonlyArray<{ id: number; nextAttemptAt: Date; error: string }>, leaseUntil: Date) {
    const ids = rows.map((row) => row.id);
    return sql`
      update outbox o set next_attempt_at = v.next_attempt_at, locked_until = null, last_error = v.error
        from unnest(${ids}::bigint[], ${rows.map((row) => row.nextAttemptAt)}::timestamptz[], ${rows.map((row) => row.error.slice(0, 1000))}::text[]) as v(id, next_attempt_at, error)
       where o.id = v.id and o.id = any(${ids}::bigint[]) and o.status = 'pending' and o.locked_until = ${leaseUntil}`.execute(db);
  },

  /** Gives failed mails up for good, in one statement; like markRetry, only those still under the sender's lease. */
  markFailed(db: Executor, rows: ReadonlyArray<{ id: number; error: string }>, leaseUntil: Date) {
    const ids = rows.map((row) => row.id);
    return sql`
      update outbox o set status = 'failed', locked_until = null, last_error = v.error
        from unnest(${ids}::bigint[], ${rows.map((row) => row.error.slice(0, 1000))}::text[]) as v(id, error)
       where o.id = v.id and o.id = any(${ids}::bigint[]) and o.status = 'pending' and o.locked_until = ${leaseUntil}`.execute(db);
  },

  /** How many mails are pending and failed for good. */
  async countUnsent(db: Executor): Promise<{ pending: number; failed: number }> {
    const rows = await db.selectFrom('outbox').select(['status', sql<number>`count(*)::int`.as('n')]).where('status', '<>', 'sent').groupBy('status').execute();
    const count = (status: string) => rows.find((row) => row.status === status)?.n ?? 0;
    return { pending: count('pending'), failed: count('failed') };
  },

  /** How many mails of a kind went to an address, or from an organisation, since a time: the hourly caps. */
  async countRecent(db: Executor, counted: CapTarget & { kind: string; since: Date }): Promise<number> {
    const row = await recentOf(db, counted)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow();
    return Number(row.n);
  },
};
