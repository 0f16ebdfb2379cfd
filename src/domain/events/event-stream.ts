// One event stream: every change records one event from the catalogue (./catalogue.ts) in the
// transaction of the change. Recording writes its audit row, queues the mail it sends, applying the
// hourly caps (notices.ts: per recipient and kind, and per organisation for invitations), and hands
// it to the webhook endpoints that take it (src/domain/webhooks/catalogue.ts). Nothing else writes
// audit rows, queues mail or webhook deliveries, so no mail escapes a cap and no receiver misses a change.
import type { Executor } from '../../db/database.ts';
import { writeTogether } from '../../db/one-statement.ts';
import { auditRepo, type AuditRow } from '../audit/audit.repo.ts';
import { addSeconds, type Clock } from '../clock.ts';
import { outboxRepo, type CapTarget, type OutgoingMail } from '../mail/outbox.repo.ts';
import { webhookMessageOf, type WebhookMessage } from '../webhooks/catalogue.ts';
import { webhooksRepo } from '../webhooks/webhooks.repo.ts';
import { MAIL_ONLY, UNAUDITED, type DomainEvent } from './catalogue.ts';
import { capsOf, render, type Notice } from './notices.ts';

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
  /** What webhook receivers are told, when they are told of this event. */
  webhook: WebhookMessage | null;
}

interface Deps {
  clock: Clock;
  publicUrl: string;
  /** Wakes the outbox worker: it looks a moment later, by when the transaction has committed. */
  mailQueued: () => void;
  /** Wakes the webhook delivery worker, likewise. */
  webhooksQueued?: () => void;
}

export const eventStreamFactory = ({ clock, publicUrl, mailQueued, webhooksQueued = () => {} }: Deps) => {
  function mailOf(notice: Notice, organisationId: string | null): EventMail {
    const rendered = { ...render(notice, publicUrl), organisationId };
    const since = addSeconds(clock.now(), -3600);
    const caps = capsOf(notice, organisationId).map(({ perHour, organisationId: organisation }): EventMailCap =>
      organisation !== undefined ? { kind: rendered.kind, organisationId: organisation, perHour, since } : { kind: rendered.kind, recipient: rendered.recipient, perHour, since },
    );
    return { mail: rendered, caps, newDeviceOnly: notice.kind === 'login_alert' && notice.newDeviceOnly };
  }

  function auditOf(event: DomainEvent): AuditRow | null {
    if (UNAUDITED.has(event.type)) return null;
    return {
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
  }

  /** Queues a mail unless one of its caps is full; true when it was queued. */
  async function queueMail(trx: Executor, mail: EventMail): Promise<boolean> {
    if (mail.newDeviceOnly) throw new Error('A sign-in alert is written with its session, in one statement');
    await outboxRepo.lockCaps(trx, mail.caps);
    for (const { perHour, ...counted } of mail.caps) {
      if ((await outboxRepo.countRecent(trx, counted)) >= perHour) return false;
    }
    await outboxRepo.enqueue(trx, mail.mail);
    return true;
  }

  const stream = {
    /** The rows an event writes: its audit row, its mail and its webhook message, as plain data. */
    rows(event: DomainEvent): EventRows {
      if (Array.isArray(event.notify)) throw new Error('An event that mails several people is recorded, not written in one statement');
      const notice = event.notify as Notice | undefined;
      return {
        audit: auditOf(event),
        mail: notice ? mailOf(notice, event.organisationId ?? null) : null,
        webhook: webhookMessageOf(event, clock.now()),
      };
    },

    /**
     * Records the event in the caller's transaction. Past one of its mail's hourly caps the mail is not
     * queued (the change itself still happens), and an event that exists only for its mail is not
     * recorded at all: `recorded` says which. The audit row and the webhook deliveries go in one statement.
     */
    async record(trx: Executor, event: DomainEvent): Promise<{ recorded: boolean; mailed: boolean }> {
      const organisationId = event.organisationId ?? null;
      const notices: readonly Notice[] = event.notify === undefined ? [] : Array.isArray(event.notify) ? event.notify : [event.notify as Notice];
      let mailed = false;
      for (const notice of notices) {
        if (await queueMail(trx, mailOf(notice, organisationId))) mailed = true;
        else if (MAIL_ONLY.has(event.type)) return { recorded: false, mailed: false };
      }
      const audit = auditOf(event);
      const webhook = webhookMessageOf(event, clock.now());
      const writes = [...(audit ? [auditRepo.insertion(trx, audit)] : []), ...(webhook ? webhooksRepo.fanoutWrites(trx, webhook) : [])];
      if (writes.length > 0) await writeTogether(trx, writes);
      if (mailed) mailQueued();
      if (webhook) webhooksQueued();
      return { recorded: true, mailed };
    },

    /** After a repository wrote an event's rows in its statement: wakes the workers with work to do. */
    written(rows: EventRows, mailed: boolean): void {
      if (rows.mail && mailed) mailQueued();
      if (rows.webhook) webhooksQueued();
    },
  };
  return stream;
};

export type EventStream = ReturnType<typeof eventStreamFactory>;
