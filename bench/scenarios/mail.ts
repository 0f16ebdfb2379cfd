// Mail: 1,000 registrations as fast as the machine takes them, with Gatehouse's SMTP pointed at a sink
// in this process, and the time from each registration's answer to the arrival of its verification
// mail. The references send the same mails straight through nodemailer's pooled transport, from a
// process of their own (references/mail-pool.ts): once each as its registration was answered (what
// keeping up would look like), and all at once (the most the pool and the sink do); Gatehouse does
// the second too, by draining the same mails queued again at once.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { ms, rate, ratio } from '../lib/format.ts';
import { call, inParallel, nextAddress, PASSWORD } from '../lib/http.ts';
import { quantile, type Load, type Sample } from '../lib/load.ts';
import { withClient } from '../lib/postgres.ts';
import type { SmtpSink } from '../lib/smtp-sink.ts';
import type { Mailing } from '../setup/context.ts';
import { ROOT } from '../setup/gatehouse.ts';
import type { Scenario } from './scenario.ts';

const REGISTRATIONS = 1000;
/** Enough to keep both password threads busy with a queue behind them: the machine's registration rate. */
const IN_FLIGHT = 8;
const WAIT_MS = 300_000;

const run = randomBytes(3).toString('hex');
let bursts = 0;

/** The last burst: its addresses, and when each registration was answered (ms after the burst began). */
interface Burst {
  emails: string[];
  answeredAt: Map<string, number>;
}

interface OutgoingMail {
  to: string;
  subject: string;
  text: string;
  html: string;
  at: number;
}

const sorted = (values: number[]) => [...values].sort((a, b) => a - b);

/** The verification mails Gatehouse queued for the burst, as it sent them. */
async function mailsOf(mailing: Mailing, burst: Burst): Promise<Array<Omit<OutgoingMail, 'at'>>> {
  const { rows } = await withClient(mailing.databaseUrl, (client) =>
    client.query<{ recipient: string; subject: string; text_body: string; html_body: string }>(
      `select recipient, subject, text_body, html_body from outbox where kind = 'email_verification' and recipient = any($1) order by id`,
      [burst.emails],
    ),
  );
  return rows.map((row) => ({ to: row.recipient, subject: row.subject, text: row.text_body, html: row.html_body }));
}

/**
 * Sends the mails through references/mail-pool.ts and answers when it started (performance.now()),
 * once the sink has them all or the wait ran out.
 */
async function throughPool(sink: SmtpSink, mails: OutgoingMail[]): Promise<number> {
  const folder = mkdtempSync(join(tmpdir(), 'gatehouse-bench-mail-'));
  const file = join(folder, 'mails.json');
  writeFileSync(file, JSON.stringify(mails));
  try {
    const child = spawn(process.execPath, ['bench/references/mail-pool.ts'], { cwd: ROOT, env: { ...process.env, MAILS: file, SMTP_URL: sink.url }, stdio: ['pipe', 'pipe', 'inherit'] });
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
    await new Promise<void>((resolve, reject) => {
      createInterface({ input: child.stdout }).once('line', () => resolve());
      void exited.then((code) => reject(new Error(`bench/references/mail-pool.ts exited with ${code} before it was ready`)));
    });
    sink.reset();
    const started = performance.now();
    child.stdin.write('go\n');
    await sink.until(mails.length, WAIT_MS);
    if ((await exited) !== 0) throw new Error('bench/references/mail-pool.ts failed');
    return started;
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

/** Each mail's time after `started` (or after its own moment, `at`), and the rate from the first mail to the last. */
function sample(sink: SmtpSink, expected: number, { started, at }: { started: number; at: (recipient: string) => number }, note: string): Sample {
  const arrivals = [...sink.arrivals];
  const times = arrivals.map(([, arrived]) => arrived);
  const first = Math.min(...times);
  const last = Math.max(...times);
  const delays = sorted(arrivals.map(([recipient, arrived]) => arrived - started - at(recipient)));
  return {
    rps: arrivals.length / ((last - first) / 1000),
    p50: quantile(delays, 0.5),
    p99: quantile(delays, 0.99),
    errors: expected - arrivals.length + sink.duplicates,
    rssMb: null,
    note: `${note}; first mail ${ms(first - started)} ms after the start, last ${ms(last - started)} ms${sink.duplicates ? `; ${sink.duplicates} sent twice` : ''}`,
  };
}

export const mailBurst: Scenario = {
  name: 'mail-burst',
  title: `${REGISTRATIONS.toLocaleString('en')} registrations (${IN_FLIGHT} in flight), SMTP to a sink in the bench process: each verification mail after its registration's answer; mails/s from the first mail to the last`,
  async plan(context) {
    const mailing = await context.mailing();
    const { server, sink } = mailing;
    let burst: Burst | null = null;
    const lastBurst = () => {
      if (!burst) throw new Error('mail-burst: the references need the burst of the same round');
      return burst;
    };

    const registrations: Load = {
      label: 'Gatehouse, verification mails of a registration burst',
      async run() {
        const round = ++bursts;
        const emails = Array.from({ length: REGISTRATIONS }, (_, i) => `mail-${run}-${round}-${i}@bench.test`);
        const answeredAt = new Map<string, number>();
        const peak = server.sampleMemory();
        sink.reset();
        const started = performance.now();
        let refused = 0;
        await inParallel(emails, IN_FLIGHT, async (email) => {
          const answer = await call(`${server.url}/auth/register`, { body: { firstName: 'Mail', lastName: 'Burst', email, password: PASSWORD }, headers: { 'x-forwarded-for': nextAddress() } });
          if (answer.status === 201) answeredAt.set(email, performance.now() - started);
          else refused += 1;
        });
        const registered = (performance.now() - started) / 1000;
        await sink.until(answeredAt.size, WAIT_MS);
        burst = { emails: [...answeredAt.keys()], answeredAt };
        const lastAnswer = Math.max(...answeredAt.values());
        const lastMail = Math.max(...sink.arrivals.values()) - started;
        const result = sample(sink, REGISTRATIONS, { started, at: (recipient) => answeredAt.get(recipient) ?? 0 }, `registrations took ${registered.toFixed(1)} s (${rate(REGISTRATIONS / registered)}/s${refused ? `, ${refused} refused` : ''}); the last mail arrived ${ms(lastMail - lastAnswer)} ms after the last answer`);
        return { ...result, rssMb: peak() };
      },
    };

    const paced: Load = {
      label: 'nodemailer pool, each mail as its registration was answered',
      async run() {
        const { answeredAt } = lastBurst();
        const mails = (await mailsOf(mailing, lastBurst())).map((mail) => ({ ...mail, at: answeredAt.get(mail.to) ?? 0 }));
        const started = await throughPool(sink, mails);
        return sample(sink, mails.length, { started, at: (recipient) => answeredAt.get(recipient) ?? 0 }, 'latency: each mail after its moment');
      },
    };

    const drain: Load = {
      label: 'Gatehouse, the same mails queued again at once',
      async run() {
        const { emails } = lastBurst();
        sink.reset();
        const peak = server.sampleMemory();
        const started = performance.now();
        // One statement: the mails are due together, as after an SMTP outage. No request wakes the
        // worker, so it finds them at its next look (every 500 ms).
        await withClient(mailing.databaseUrl, (client) =>
          client.query(`update outbox set status = 'pending', attempts = 0, next_attempt_at = now(), locked_until = null, sent_at = null where kind = 'email_verification' and recipient = any($1)`, [emails]),
        );
        await sink.until(emails.length, WAIT_MS);
        return { ...sample(sink, emails.length, { started, at: () => 0 }, 'latency: each mail after the update'), rssMb: peak() };
      },
    };

    const flat: Load = {
      label: 'nodemailer pool, the same mails at once',
      async run() {
        const mails = (await mailsOf(mailing, lastBurst())).map((mail) => ({ ...mail, at: 0 }));
        const started = await throughPool(sink, mails);
        return sample(sink, mails.length, { started, at: () => 0 }, 'latency: each mail after the start');
      },
    };

    return {
      subject: registrations,
      references: [
        { kind: 'machine', load: paced },
        { kind: 'Gatehouse', load: drain },
        { kind: 'machine', load: flat },
      ],
      summarise: (subject, [pacedSample, drainSample, flatSample]) => [
        `${ratio(subject.rps, pacedSample!.rps)} nodemailer pool sending each mail as its registration was answered (${rate(pacedSample!.rps)}/s, p99 ${ms(pacedSample!.p99)} ms)`,
        `draining the same mails queued at once: ${rate(drainSample!.rps)}/s, **${(drainSample!.rps / flatSample!.rps).toFixed(2)}×** nodemailer pool sending them at once (${rate(flatSample!.rps)}/s)`,
      ],
    };
  },
};
