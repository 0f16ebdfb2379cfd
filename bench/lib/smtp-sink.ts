// An SMTP server in the benchmark's process that accepts every mail and remembers when each arrived
// and for whom (the envelope's recipient): the mail scenario's receiver. It reads each message to its
// end and parses nothing, so what it costs is the SMTP exchange itself, the same for every sender.
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { SMTPServer } from 'smtp-server';

export class SmtpSink {
  /** Arrival time (performance.now()) by recipient, lower-case. */
  readonly arrivals = new Map<string, number>();
  /** Mails that arrived for a recipient that already had one. */
  duplicates = 0;
  private server: SMTPServer | null = null;
  private waiter: { count: number; resolve: () => void } | null = null;
  url = '';

  async start(): Promise<void> {
    this.server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      disableReverseLookup: true,
      logger: false,
      closeTimeout: 100,
      onData: (stream, session, callback) => {
        stream.on('data', () => {});
        stream.on('end', () => {
          const now = performance.now();
          for (const { address } of session.envelope.rcptTo) {
            const recipient = address.toLowerCase();
            if (this.arrivals.has(recipient)) this.duplicates += 1;
            else this.arrivals.set(recipient, now);
          }
          if (this.waiter && this.arrivals.size >= this.waiter.count) this.waiter.resolve();
          callback();
        });
      },
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `smtp://127.0.0.1:${(this.server.server.address() as AddressInfo).port}`;
  }

  reset(): void {
    this.arrivals.clear();
    this.duplicates = 0;
  }

  /** Resolves once `count` recipients have a mail, or after `timeoutMs`; answers whether they all do. */
  until(count: number, timeoutMs: number): Promise<boolean> {
    if (this.arrivals.size >= count) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        resolve(false);
      }, timeoutMs);
      this.waiter = {
        count,
        resolve: () => {
          clearTimeout(timer);
          this.waiter = null;
          resolve(true);
        },
      };
    });
  }

  stop(): Promise<void> {
    const server = this.server;
    this.server = null;
    return server ? new Promise((resolve) => server.close(() => resolve())) : Promise.resolve();
  }
}
