// A real SMTP server inside the test process: Gatehouse's outbox worker delivers to it over a socket
// with nodemailer, and tests read what arrived. It can be stopped and started again on the same port,
// to play an SMTP outage.
import { createServer, type Server } from 'node:net';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  to: string;
  from: string;
  subject: string;
  text: string;
  html: string;
  /** Header names as received, lower-case. */
  headers: Map<string, unknown>;
}

export interface Mailbox {
  readonly port: number;
  readonly url: string;
  readonly received: ReceivedMail[];
  /** Resolves with the first mail (already received or still to come) that matches. */
  waitFor(match: (mail: ReceivedMail) => boolean, timeoutMs?: number): Promise<ReceivedMail>;
  /** Mails to one address. */
  to(address: string): ReceivedMail[];
  stop(): Promise<void>;
  start(): Promise<void>;
}

/** A port nothing listens on now, for a mailbox started later (the outage tests). */
export async function freePort(): Promise<number> {
  const server: Server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export async function startMailbox(options: { port?: number; listen?: boolean } = {}): Promise<Mailbox> {
  const port = options.port ?? (await freePort());
  const received: ReceivedMail[] = [];
  const waiters: Array<{ match: (mail: ReceivedMail) => boolean; resolve: (mail: ReceivedMail) => void }> = [];
  let server: SMTPServer | null = null;

  const accept = (mail: ReceivedMail) => {
    received.push(mail);
    for (const waiter of [...waiters]) {
      if (waiter.match(mail)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(mail);
      }
    }
  };

  const mailbox: Mailbox = {
    port,
    url: `smtp://127.0.0.1:${port}`,
    received,
    to: (address) => received.filter((mail) => mail.to.toLowerCase() === address.toLowerCase()),
    waitFor(match, timeoutMs = 10_000) {
      const found = received.find(match);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const waiter = { match, resolve: (mail: ReceivedMail) => (clearTimeout(timer), resolve(mail)) };
        const timer = setTimeout(() => {
          waiters.splice(waiters.indexOf(waiter), 1);
          reject(new Error(`no matching mail within ${timeoutMs} ms; received: ${received.map((m) => `${m.to} "${m.subject}"`).join(', ') || 'nothing'}`));
        }, timeoutMs);
        waiters.push(waiter);
      });
    },
    async start() {
      if (server) return;
      server = new SMTPServer({
        authOptional: true,
        disabledCommands: ['STARTTLS', 'AUTH'],
        logger: false,
        // Stopping drops the connections the outbox's pool keeps open at once (an outage), rather than
        // waiting up to 30 s for them to end.
        closeTimeout: 100,
        onData(stream, session, callback) {
          simpleParser(stream)
            .then((parsed) => {
              accept({
                to: session.envelope.rcptTo.map((r) => r.address).join(','),
                from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
                subject: parsed.subject ?? '',
                text: parsed.text ?? '',
                html: typeof parsed.html === 'string' ? parsed.html : '',
                headers: parsed.headers,
              });
              callback();
            })
            .catch(callback);
        },
      });
      await new Promise<void>((resolve) => server!.listen(port, '127.0.0.1', resolve));
    },
    async stop() {
      const current = server;
      server = null;
      if (current) await new Promise<void>((resolve) => current.close(() => resolve()));
    },
  };
  if (options.listen !== false) await mailbox.start();
  return mailbox;
}

/** The first link in a mail's text that starts with `prefix`, and its token. */
export function linkIn(mail: ReceivedMail, prefix: string): { url: string; token: string } {
  const match = new RegExp(`${prefix.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\S*`).exec(mail.text);
  if (!match) throw new Error(`no link starting ${prefix} in: ${mail.text}`);
  const url = new URL(match[0]);
  return { url: match[0], token: url.searchParams.get('token') ?? '' };
}
