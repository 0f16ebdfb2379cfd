// The mail an event sends, as data: to whom, and what it must say. The event stream renders it
// (src/domain/mail/messages.ts), applies the per-person caps and queues it in the event's transaction.
// A notice may carry a link's token: it goes into the mail and nowhere else (not the audit log).
import { EMAIL_VERIFICATION_TTL_SECONDS, PASSWORD_RESET_TTL_SECONDS, INVITATION_TTL_SECONDS } from '../lifetimes.ts';
import type { OutgoingMail } from '../mail/outbox.repo.ts';
import { messages } from '../mail/messages.ts';

export type Notice =
  | { kind: 'email_verification'; to: string; name: string; token: string }
  | { kind: 'password_reset'; to: string; name: string; token: string }
  | { kind: 'invitation'; to: string; inviter: string; organisation: string; role: string; token: string }
  | { kind: 'password_changed'; to: string; name: string; at: Date; ip: string | null }
  | { kind: 'login_alert'; to: string; name: string; at: Date; ip: string | null; device: string | null; newDeviceOnly: boolean }
  | { kind: 'welcome'; to: string; name: string; organisation: string; role: string }
  | { kind: 'webhook_disabled'; to: string; name: string; url: string; organisation: string | null; since: Date }
  | { kind: 'second_factor_changed'; to: string; name: string; change: SecondFactorChange; at: Date; ip: string | null };

/** What happened to a person's second factors, for the alert it mails. */
export type SecondFactorChange = 'totp_added' | 'totp_removed' | 'passkey_added' | 'passkey_removed' | 'recovery_codes_renewed' | 'reset_by_admin';

/**
 * Mails of each kind one address may be sent in an hour, whoever causes them. Past it the request is
 * answered the same and no mail goes: nobody can use Gatehouse to flood a mailbox. The links anybody
 * can ask for (verification, reset, invitation) get the fewest.
 */
export const MAILS_PER_HOUR: Readonly<Record<Notice['kind'], number>> = Object.freeze({
  email_verification: 3,
  password_reset: 3,
  invitation: 3,
  password_changed: 5,
  login_alert: 10,
  welcome: 10,
  webhook_disabled: 10,
  second_factor_changed: 10,
});

/** Invitation mails one organisation may send in an hour, to whomever: an account's new organisation cannot mail the world. */
export const INVITATIONS_PER_ORGANISATION_PER_HOUR = 50;

/** A cap a notice's mail is under: so many of its kind an hour to its recipient, or from its organisation. */
export interface MailCap {
  perHour: number;
  /** Counts the organisation's mails of the kind rather than the recipient's. */
  organisationId?: string;
}

/** The caps a notice's mail is under; an organisation's event names the organisation. */
export function capsOf(notice: Notice, organisationId: string | null): MailCap[] {
  const caps: MailCap[] = [{ perHour: MAILS_PER_HOUR[notice.kind] }];
  if (notice.kind === 'invitation' && organisationId) caps.push({ perHour: INVITATIONS_PER_ORGANISATION_PER_HOUR, organisationId });
  return caps;
}

/** The mail of a notice, its links under `publicUrl` (never a request's Host). */
export function render(notice: Notice, publicUrl: string): OutgoingMail {
  const link = (path: string, token: string) => `${publicUrl}${path}?token=${encodeURIComponent(token)}`;
  switch (notice.kind) {
    case 'email_verification':
      return messages.verification({ to: notice.to, name: notice.name, link: link('/verify-email', notice.token), validFor: EMAIL_VERIFICATION_TTL_SECONDS });
    case 'password_reset':
      return messages.passwordReset({ to: notice.to, name: notice.name, link: link('/reset-password', notice.token), validFor: PASSWORD_RESET_TTL_SECONDS });
    case 'invitation':
      return messages.invitation({ to: notice.to, inviter: notice.inviter, organisation: notice.organisation, role: notice.role, link: link('/accept-invite', notice.token), validFor: INVITATION_TTL_SECONDS });
    case 'password_changed':
      return messages.passwordChanged({ to: notice.to, name: notice.name, when: notice.at, ip: notice.ip });
    case 'login_alert':
      return messages.loginAlert({ to: notice.to, name: notice.name, when: notice.at, ip: notice.ip, device: notice.device });
    case 'welcome':
      return messages.welcome({ to: notice.to, name: notice.name, organisation: notice.organisation, role: notice.role });
    case 'second_factor_changed':
      return messages.secondFactorChanged({ to: notice.to, name: notice.name, change: notice.change, when: notice.at, ip: notice.ip });
    case 'webhook_disabled':
      return messages.webhookDisabled({ to: notice.to, name: notice.name, url: notice.url, organisation: notice.organisation, since: notice.since });
  }
}
