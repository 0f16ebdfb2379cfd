// The mails Gatehouse sends. Every user-given value is escaped in the HTML body and goes through
// ./user-text.ts: in a subject it is short and holds no link, in a body its links are defanged. Subjects
// are one line: a name with a line break in it cannot add a header.
import { escapeHtml } from '../../shared/html.ts';
import { describeLifetime } from '../lifetimes.ts';
import type { OutgoingMail } from './outbox.repo.ts';
import { bodyName, subjectName } from './user-text.ts';

const oneLine = (value: string) => value.replace(/[\r\n\t]+/g, ' ').trim();

interface Body {
  subject: string;
  /** Paragraphs of plain text; each is escaped for the HTML body. */
  paragraphs: string[];
  action?: { label: string; url: string };
}

function compose(kind: string, { to: recipient, ...body }: Body & { to: string }): OutgoingMail {
  const subject = oneLine(body.subject);
  const text = [...body.paragraphs, ...(body.action ? [`${body.action.label}: ${body.action.url}`] : []), '— Gatehouse'].join('\n\n');
  const html = [
    '<!doctype html><html><body style="font-family:system-ui,sans-serif;line-height:1.5;color:#1d2433;max-width:560px">',
    ...body.paragraphs.map((p) => `<p>${escapeHtml(p)}</p>`),
    ...(body.action
      ? [`<p><a href="${escapeHtml(body.action.url)}" style="display:inline-block;padding:10px 16px;background:#2d5bd7;color:#fff;border-radius:6px;text-decoration:none">${escapeHtml(body.action.label)}</a></p>`,
         `<p style="font-size:13px;color:#5b6478">Or open this address: ${escapeHtml(body.action.url)}</p>`]
      : []),
    '<p style="font-size:13px;color:#5b6478">— Gatehouse</p></body></html>',
  ].join('\n');
  return { kind, recipient, subject, text, html };
}

const SECOND_FACTOR_CHANGES = {
  totp_added: { subject: 'An authenticator app was added to your account', what: 'An authenticator app (TOTP) was added as a second factor to your account' },
  totp_removed: { subject: 'The authenticator app was removed from your account', what: 'The authenticator app (TOTP) was removed from your account' },
  passkey_added: { subject: 'A passkey was added to your account', what: 'A passkey was added to your account' },
  passkey_removed: { subject: 'A passkey was removed from your account', what: 'A passkey was removed from your account' },
  recovery_codes_renewed: { subject: 'New recovery codes for your account', what: 'A new set of recovery codes was made for your account (the old codes no longer work)' },
  reset_by_admin: { subject: 'Your second factors were reset', what: 'A platform administrator removed every second factor of your account' },
} as const;

const greeting = (name: string) => (name.trim() ? `Hello ${bodyName(name)},` : 'Hello,');

export const messages = {
  verification: ({ to, name, link, validFor }: { to: string; name: string; link: string; validFor: number }) =>
    compose('email_verification', {
      to,
      subject: 'Confirm your email address',
      paragraphs: [greeting(name), `Please confirm that this is your email address. The link works for ${describeLifetime(validFor)}.`],
      action: { label: 'Confirm my email', url: link },
    }),

  passwordReset: ({ to, name, link, validFor }: { to: string; name: string; link: string; validFor: number }) =>
    compose('password_reset', {
      to,
      subject: 'Reset your password',
      paragraphs: [greeting(name), `Someone asked to reset the password of your account. If it was you, choose a new password within ${describeLifetime(validFor)}. If not, ignore this mail: your password stays as it is.`],
      action: { label: 'Choose a new password', url: link },
    }),

  passwordChanged: ({ to, name, when, ip }: { to: string; name: string; when: Date; ip: string | null }) =>
    compose('password_changed', {
      to,
      subject: 'Your password was changed',
      paragraphs: [
        greeting(name),
        `The password of your account was changed on ${when.toUTCString()}${ip ? ` from the address ${ip}` : ''}. Every other session was signed out.`,
        'If this was not you, reset your password at once and contact your administrator.',
      ],
    }),

  webhookDisabled: ({ to, name, url, organisation, since }: { to: string; name: string; url: string; organisation: string | null; since: Date }) =>
    compose('webhook_disabled', {
      to,
      subject: organisation ? `A webhook of ${subjectName(organisation, { fallback: 'your organisation' })} was disabled` : 'A platform webhook was disabled',
      paragraphs: [
        greeting(name),
        `Every delivery to the webhook endpoint ${bodyName(url).slice(0, 300)}${organisation ? ` of ${bodyName(organisation)}` : ''} has failed since ${since.toUTCString()}, so Gatehouse has disabled it and sends it nothing more.`,
        'Once the endpoint answers again, enable it (PATCH with enabled: true) and retry the deliveries it missed from its delivery log.',
      ],
    }),

  secondFactorChanged: ({ to, name, change, when, ip }: { to: string; name: string; change: keyof typeof SECOND_FACTOR_CHANGES; when: Date; ip: string | null }) =>
    compose('second_factor_changed', {
      to,
      subject: SECOND_FACTOR_CHANGES[change].subject,
      paragraphs: [
        greeting(name),
        `${SECOND_FACTOR_CHANGES[change].what} on ${when.toUTCString()}${ip ? ` from the address ${ip}` : ''}.`,
        'If this was not you, change your password at once, end your other sessions and contact your administrator.',
      ],
    }),

  loginAlert: ({ to, name, when, ip, device }: { to: string; name: string; when: Date; ip: string | null; device: string | null }) =>
    compose('login_alert', {
      to,
      subject: 'New sign-in to your account',
      paragraphs: [
        greeting(name),
        `Your account was signed in to on ${when.toUTCString()}${ip ? ` from the address ${ip}` : ''}${device ? ` with ${bodyName(device).slice(0, 200)}` : ''}.`,
        'If this was you, there is nothing to do. If not, change your password and end your other sessions.',
      ],
    }),

  invitation: ({ to, inviter, organisation, role, link, validFor }: { to: string; inviter: string; organisation: string; role: string; link: string; validFor: number }) =>
    compose('invitation', {
      to,
      subject: `${subjectName(inviter, { fallback: 'Someone' })} invites you to ${subjectName(organisation, { fallback: 'an organisation' })}`,
      paragraphs: [
        'Hello,',
        `${bodyName(inviter) || 'Someone'} invites you to join the organisation “${bodyName(organisation)}” as ${bodyName(role)}. The invitation is valid for ${describeLifetime(validFor)}.`,
        'If you do not know why you got this, ignore it: nothing happens unless you accept.',
      ],
      action: { label: 'See the invitation', url: link },
    }),

  welcome: ({ to, name, organisation, role }: { to: string; name: string; organisation: string; role: string }) =>
    compose('welcome', {
      to,
      subject: `Welcome to ${subjectName(organisation, { fallback: 'your new organisation' })}`,
      paragraphs: [greeting(name), `You are now a member of the organisation “${bodyName(organisation)}”, with the role ${bodyName(role)}.`],
    }),
};
