// One event stream: every change records one event from the catalogue (./catalogue.ts) in the
// transaction of the change. Recording writes its audit row and queues the mail it sends, applying the
// per-person cap; webhooks will be a third reader here. Nothing else writes audit rows or queues mail.
import type { Executor } from '../../db/database.js';
import { auditRepo, type AuditRow } from '../audit/audit.repo.js';
import { addSeconds, type Clock } from '../clock.js';
import { outboxRepo, type OutgoingMail } from '../mail/outbox.repo.js';
import { MAIL_ONLY, UNAUDITED, type DomainEvent } from './catalogue.js';
import { CAPPED_KINDS, MAILS_PER_HOUR, render } from './notices.js';

/** The mail of an event as a repository writes it: with the cap it is under, or only from a new device. */
export interface EventMail {
  mail: OutgoingMail;
  /** Queue only while the recipient had fewer than `perHour` mails of this kind since `since`. */
  cap: { perHour: number; since: Date } | null;
  /** Queue only when the user had no session from this device and address before (a sign-in alert). */
  newDeviceOnly: boolean;
}

/** An event's rows, for a repository that writes them in one statement with the change. */
export interface EventRows {
  audit: AuditRow | null;
  mail: EventMail | null;
}

interface Deps {
  clock: Clock;
  publicUrl: string;
  /** Wakes the outbox worker: it looks a moment later, by when the transaction has committed. */
  mailQueued: () => void;
}

export const eventStreamFactory = ({ clock, publicUrl, mailQueued }: Deps) => {
  const stream = {
    /** The rows an event writes: its audit row and its mail, as plain data. */
    rows(event: DomainEvent): EventRows {
      const audit: AuditRow | null = UNAUDITED.has(event.type)
        ? null
        : {
            organisationId: event.organisationId ?? null,
            actorType: event.actor.type,
            actorUserId: event.actor.id,
            action: event.type,
            targetType: event.subject.type,
            targetId: event.subject.id,
            ip: event.client.ip,
            userAgent: event.client.userAgent,
            data: event.data,
            before: event.before ?? null,
            after: event.after ?? null,
          };
      const notice = event.notify;
      const mail: EventMail | null = notice
        ? {
            mail: render(notice, publicUrl),
            cap: CAPPED_KINDS.has(notice.kind) ? { perHour: MAILS_PER_HOUR, since: addSeconds(clock.now(), -3600) } : null,
            newDeviceOnly: notice.kind === 'login_alert' && notice.newDeviceOnly,
          }
        : null;
      return { audit, mail };
    },

    /**
     * Records the event in the caller's transaction. Past the recipient's hourly cap its mail is not
     * queued, and an event that exists only for its mail is not recorded at all: `recorded` says which.
     */
    async record(trx: Executor, event: DomainEvent): Promise<{ recorded: boolean; mailed: boolean }> {
      const { audit, mail } = stream.rows(event);
      let mailed = false;
      if (mail) {
        if (mail.newDeviceOnly) throw new Error('A sign-in alert is written with its session, in one statement');
        const underCap = !mail.cap || (await outboxRepo.countRecent(trx, { recipient: mail.mail.recipient, kind: mail.mail.kind, since: mail.cap.since })) < mail.cap.perHour;
        if (underCap) {
          await outboxRepo.enqueue(trx, mail.mail);
          mailed = true;
        } else if (MAIL_ONLY.has(event.type)) {
          return { recorded: false, mailed: false };
        }
      }
      if (audit) await auditRepo.insert(trx, audit);
      if (mailed) mailQueued();
      return { recorded: true, mailed };
    },

    /** After a repository wrote an event's rows in its statement: wakes the mail worker when it queued mail. */
    written(rows: EventRows, mailed: boolean): void {
      if (rows.mail && mailed) mailQueued();
    },
  };
  return stream;
};

export type EventStream = ReturnType<typeof eventStreamFactory>;
