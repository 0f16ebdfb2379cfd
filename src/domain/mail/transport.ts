// Where mail goes: an SMTP server (nodemailer), or, without SMTP_URL, the log, written so a person
// trying Gatehouse can read the mail and follow its links. nodemailer is loaded only when SMTP_URL
// is set: a node that logs its mail does not carry it.
import type { Logger } from 'pino';

export interface Envelope {
  from: string;
  to: string;
  subject: string;
  text: string;
  html: string;
}

export interface MailTransport {
  readonly kind: 'smtp' | 'log';
  /** Delivers one mail; `signal` gives it up (with an error), waiting in the pool's queue or on the wire. */
  send(mail: Envelope, signal?: AbortSignal): Promise<void>;
  close(): void;
}

/**
 * SMTP through a pool of up to `maxConnections` kept-open connections, each sending one mail at a
 * time (mails beyond them wait in the pool's queue). A new connection costs the server's greeting
 * (about 100 ms from a local smtp-server, seconds from a relay that pauses it on purpose), which a
 * connection per mail paid every time: nine mails a second.
 */
export async function smtpTransport(url: string, { maxConnections = 5 }: { maxConnections?: number } = {}): Promise<MailTransport> {
  const { default: nodemailer } = await import('nodemailer');
  const transporter = nodemailer.createTransport({
    url,
    pool: true,
    maxConnections,
    connectionTimeout: 10_000,
    greetingTimeout: 10_000,
    socketTimeout: 20_000,
  } as Parameters<typeof nodemailer.createTransport>[0]);
  return {
    kind: 'smtp',
    async send(mail, signal) {
      // nodemailer encodes every header value; the outbox's checks already refuse line breaks in them.
      await transporter.sendMail({ from: mail.from, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html, disableFileAccess: true, disableUrlAccess: true, ...(signal ? { signal } : {}) });
    },
    close: () => transporter.close(),
  };
}

export function logTransport(logger: Pick<Logger, 'info'>): MailTransport {
  return {
    kind: 'log',
    async send(mail) {
      // The links get a field of their own: easy to copy from a terminal full of JSON lines.
      const links = mail.text.match(/https?:\/\/\S+/g) ?? [];
      logger.info({ mail: { to: mail.to, subject: mail.subject, links } }, mailBlock(mail, links));
    },
    close: () => {},
  };
}

const RULE = '─'.repeat(72);

/**
 * The mail as a person reads it in a terminal (the pretty log prints the message as it is): a framed
 * block ending with the links again, each alone on its line so that a double click selects it whole.
 */
function mailBlock(mail: Envelope, links: string[]): string {
  const lines = ['Mail (no SMTP_URL set, so it is shown here)', RULE, `To: ${mail.to}`, `Subject: ${mail.subject}`, '', mail.text];
  if (links.length > 0) lines.push('', 'Links:', ...links);
  lines.push(RULE);
  return lines.join('\n');
}
