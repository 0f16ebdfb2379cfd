// The mail scenario's machine reference: the same mails Gatehouse sent, straight through nodemailer's
// pooled SMTP transport (as many connections as Gatehouse's default), from a process of its own as
// Gatehouse's are. It reads the mails (JSON: to, subject, text, html and `at`, milliseconds after the
// start) from the file named by MAILS, says "ready" once its pool is open, starts on a line on its
// standard input, hands each mail to the pool at its `at` (all at once when every `at` is 0), and
// exits once every mail was accepted.
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import nodemailer from 'nodemailer';

interface Mail {
  to: string;
  subject: string;
  text: string;
  html: string;
  at: number;
}

const mails = JSON.parse(readFileSync(process.env.MAILS!, 'utf8')) as Mail[];
const transport = nodemailer.createTransport({ url: process.env.SMTP_URL!, pool: true, maxConnections: Number(process.env.SMTP_MAX_CONNECTIONS ?? 5) });
const from = 'Gatehouse <no-reply@bench.test>';

await transport.verify();
process.stdout.write('ready\n');
const lines = createInterface({ input: process.stdin });
await new Promise<void>((resolve) => lines.once('line', () => resolve()));
lines.close(); // standard input would keep the process alive
const start = performance.now();
await Promise.all(
  mails.map(
    (mail) =>
      new Promise<void>((resolve, reject) => {
        setTimeout(() => {
          transport.sendMail({ from, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html }).then(() => resolve(), reject);
        }, Math.max(0, mail.at - (performance.now() - start)));
      }),
  ),
);
transport.close();
