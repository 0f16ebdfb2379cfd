// One event stream: every change records one event from the catalogue (./catalogue.ts) in the
// transaction of the change. Recording writes its audit row and queues the mail it sends, applying the
// hourly caps (notices.ts: per recipient and kind, and per organisation for invitations); webhooks will
// be a third reader here. Nothing else writes audit rows or queues mail, so no mail escapes a cap.
import type { Executor } from '../../db/database.ts';
import { auditRepo, type AuditRow } from '../audit/audit.repo.ts';
import { addSeconds, type Clock } from '../clock.ts';
import { outboxRepo, type CapTarget, type OutgoingMail } from '../mail/outbox.repo.ts';
import { MAIL_ONLY, UNAUDITED, type DomainEvent } from './catalogue.ts';
import { capsOf, render } from './notices.ts';

/** One hourly cap on an event's mail: fewer than `perHour` mails of its kind to the target since `since`. */
export type EventMailCap = CapTarget & { kind: string; perHour: number; since: Date };

/** The mail of an event as a repository writes it: with the caps it is under, or only from a new device. */
export interface EventMail {
  mail: OutgoingMail;
  /** Queue only while every cap has room, the recipient's first. */
  caps: EventMailCap[];
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
            actorUserId: event.actor.type === 'user' ? event.actor.id : null,
            actorId: event.actor.id,
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
      if (!notice) return { audit, mail: null };
      const organisationId = event.organisationId ?? null;
      const rendered = { ...render(notice, publicUrl), organisationId };
      const since = addSeconds(clock.now(), -3600);
      const caps = capsOf(notice, organisationId).map(({ perHour, organisationId: organisation }): EventMailCap =>
        organisation !== undefined ? { kind: rendered.kind, organisationId: organisation, perHour, since } : { kind: rendered.kind, recipient: rendered.recipient, perHour, since },
      );
      return { audit, mail: { mail: rendered, caps, newDeviceOnly: notice.kind === 'login_alert' && notice.newDeviceOnly } };
    },

    /**
     * Records the event in the caller's transaction. Past one of its mail's hourly caps the mail is not
     * queued (the change itself still happens), and an event that exists only for its mail is not
     * recorded at all: `recorded` says which.
     */
    async record(trx: Executor, event: DomainEvent): Promise<{ recorded: boolean; mailed: boolean }> {
      const { audit, mail } = stream.rows(event);
      let mailed = false;
      if (mail) {
        if (mail.newDeviceOnly) throw new Error('A sign-in alert is written with its session, in one statement');
        await outboxRepo.lockCaps(trx, mail.caps);
        let underCaps = true;
        for (const { perHour, ...counted } of mail.caps) {
          if ((await outboxRepo.countRecent(trx, counted)) >= perHour) {
            underCaps = false;
            break;
          }
        }
        if (underCaps) {
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
