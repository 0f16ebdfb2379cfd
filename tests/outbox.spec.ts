// Delivery faults and the outbox worker, with real SMTP servers in this process: an outage delays mail
// and loses none, a worker that stops mid-delivery loses nothing, two workers on one database send
// each mail once, failing mail backs off and ends 'failed', and without SMTP_URL the log gets it.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, it } from 'node:test';
import { addSeconds } from '../src/domain/clock.ts';
import { outboxWorkerFactory, backoffSeconds, MAX_ATTEMPTS, type OutboxWorker } from '../src/domain/mail/outbox-worker.ts';
import { outboxRepo } from '../src/domain/mail/outbox.repo.ts';
import { logTransport, smtpTransport, type MailTransport } from '../src/domain/mail/transport.ts';
import { call, registerUser, uniqueEmail } from './helpers/api.ts';
import { forEachDatabase, PUBLIC_URL, type Harness } from './helpers/harness.ts';
import { freePort, linkIn, startMailbox } from './helpers/mailbox.ts';

const mailbox = await startMailbox();
const outage = await startMailbox({ port: await freePort(), listen: false });
after(async () => {
  await mailbox.stop();
  await outage.stop();
});

const silent = { info() {}, warn() {}, error() {} };
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls until `check` returns a value, failing after a while. */
async function eventually<T>(what: string, check: () => Promise<T | undefined | false>): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const value = await check();
    if (value) return value;
    await sleep(50);
  }
  return assert.fail(`timed out waiting for ${what}`);
}

const rowsTo = (h: () => Harness, recipient: string) =>
  h().db.selectFrom('outbox').select(['id', 'kind', 'status', 'attempts', 'last_error', 'next_attempt_at']).where('recipient', '=', recipient).orderBy('id').execute();

/** Queues `count` mails to one fresh address, as the domain does. */
async function enqueueMany(h: () => Harness, count: number) {
  const recipient = uniqueEmail('queued');
  const tag = randomBytes(4).toString('hex');
  for (let i = 0; i < count; i++) {
    await outboxRepo.enqueue(h().db, { kind: 'test', recipient, subject: `Mail ${tag} #${i}`, text: `body ${i}`, html: `<p>body ${i}</p>` });
  }
  return recipient;
}

function worker(h: () => Harness, transport: MailTransport): OutboxWorker {
  return outboxWorkerFactory({ db: h().db, clock: h().clock, transport, from: 'gatehouse@example.com', logger: silent });
}

/** Delivers until nothing due is left. */
async function drain(w: OutboxWorker) {
  while ((await w.deliverDue()) > 0);
}

forEachDatabase(
  'outbox during an SMTP outage',
  (h) => {
    it('answers registration and reset requests while SMTP is down, and delivers every mail once it is back', async () => {
      const user = await registerUser(h().app);
      assert.equal((await call(h().app, 'POST', '/auth/password/forgot', { body: { email: user.email } })).status, 202);

      const failed = await eventually('both mails to fail once', async () => {
        const rows = await rowsTo(h, user.email);
        return rows.length === 2 && rows.every((r) => r.attempts >= 1 && r.last_error) && rows;
      });
      assert.deepEqual(failed.map((r) => [r.kind, r.status]), [['email_verification', 'pending'], ['password_reset', 'pending']]);
      assert.equal(outage.to(user.email).length, 0);

      await outage.start();
      try {
        h().clock.advance(backoffSeconds(MAX_ATTEMPTS) + 60);
        await outage.waitFor((mail) => mail.to === user.email && mail.subject === 'Reset your password');
        await outage.waitFor((mail) => mail.to === user.email && mail.subject === 'Confirm your email address');
        await eventually('both rows sent', async () => (await rowsTo(h, user.email)).every((r) => r.status === 'sent'));
      } finally {
        h().clock.reset();
        await outage.stop(); // the next database target starts with SMTP down again
      }
      assert.deepEqual(outage.to(user.email).map((m) => m.subject).sort(), ['Confirm your email address', 'Reset your password']);
      const { token } = linkIn(outage.to(user.email).find((m) => m.subject === 'Reset your password')!, `${PUBLIC_URL}/reset-password?token=`);
      assert.equal((await call(h().app, 'POST', '/auth/password/reset', { body: { token, password: 'after the outage' } })).status, 200);
    });
  },
  { SMTP_URL: outage.url },
);

forEachDatabase(
  'outbox workers',
  (h) => {
    // These tests drive workers of their own; the app's would compete with them for the mail.
    before(() => h().app.outbox.stop());

    it('loses nothing when a worker stops mid-delivery: the lease runs out and another worker sends it', async () => {
      const recipient = await enqueueMany(h, 3);
      let claimed!: () => void;
      const sending = new Promise<void>((resolve) => (claimed = resolve));
      const stuck: MailTransport = { kind: 'smtp', send: () => (claimed(), new Promise<void>(() => {})), close() {} };
      void worker(h, stuck).deliverDue(); // never finishes: the process "died" holding the lease
      await sending;

      const leased = await rowsTo(h, recipient);
      assert.deepEqual(leased.map((r) => [r.status, r.attempts]), [['pending', 1], ['pending', 1], ['pending', 1]]);
      const transport = await smtpTransport(mailbox.url);
      try {
        const rescuer = worker(h, transport);
        assert.equal(await rescuer.deliverDue(), 0, 'leased mail was handed to a second worker');
        h().clock.advance(30);
        assert.equal(await rescuer.deliverDue(), 0, 'leased mail was handed over before its lease ended');
        h().clock.advance(31);
        await drain(rescuer);
      } finally {
        h().clock.reset();
        transport.close();
      }
      const rows = await rowsTo(h, recipient);
      assert.deepEqual(rows.map((r) => [r.status, r.attempts]), [['sent', 2], ['sent', 2], ['sent', 2]]);
      assert.equal(mailbox.to(recipient).length, 3);
      assert.equal(new Set(mailbox.to(recipient).map((m) => m.subject)).size, 3);
    });

    it('gives up a batch whose send never ends at its deadline, before the lease: the mail is retried and the worker goes on', async () => {
      const recipient = await enqueueMany(h, 2);
      const stalled: MailTransport = { kind: 'smtp', send: () => new Promise<void>(() => {}), close() {} };
      const w = outboxWorkerFactory({ db: h().db, clock: h().clock, transport: stalled, from: 'gatehouse@example.com', logger: silent, sendDeadlineMs: 50 });
      assert.equal(await w.deliverDue(), 2);
      const rows = await rowsTo(h, recipient);
      assert.deepEqual(rows.map((r) => [r.status, r.attempts]), [['pending', 1], ['pending', 1]]);
      assert.ok(rows.every((r) => r.last_error && r.next_attempt_at > h().clock.now()), 'the stalled mails were not handed back for a retry');
      await h().db.updateTable('outbox').set({ status: 'failed' }).where('recipient', '=', recipient).execute();
    });

    it('delivers each mail exactly once with two workers on one database', async () => {
      const recipient = await enqueueMany(h, 30);
      const transports = [await smtpTransport(mailbox.url), await smtpTransport(mailbox.url)];
      try {
        const [a, b] = transports.map((t) => worker(h, t)) as [OutboxWorker, OutboxWorker];
        // Open pool connections first, so that both workers' first claims really run at the same time.
        await Promise.all(Array.from({ length: 4 }, () => h().db.selectFrom('outbox').select('id').limit(1).execute()));
        await Promise.all([drain(a), drain(b)]);
      } finally {
        for (const t of transports) t.close();
      }
      const received = mailbox.to(recipient);
      assert.equal(received.length, 30);
      assert.equal(new Set(received.map((m) => m.subject)).size, 30);
      const rows = await rowsTo(h, recipient);
      assert.equal(rows.length, 30);
      // One attempt each: no row was ever claimed by two workers.
      assert.ok(rows.every((r) => r.status === 'sent' && r.attempts === 1), JSON.stringify(rows.filter((r) => r.status !== 'sent' || r.attempts !== 1)));
    });

    it('never hands one mail to two of many concurrent claims', async () => {
      const recipient = await enqueueMany(h, 60);
      // The column keeps milliseconds, rounded: a mail queued in this very millisecond may be stored as
      // due in the next one. Claim as of a second later, so every one of the 60 is due.
      const now = addSeconds(h().clock.now(), 1);
      const claims = await Promise.all(Array.from({ length: 8 }, () => outboxRepo.claimDue(h().db, { now, leaseUntil: addSeconds(now, 60), limit: 20 })));
      const claimed = claims.flat().filter((r) => r.recipient === recipient).map((r) => r.id);
      // Leave nothing leased behind for the other tests' workers.
      await h().db.updateTable('outbox').set({ status: 'sent', locked_until: null }).where('recipient', '=', recipient).execute();
      assert.equal(new Set(claimed).size, claimed.length, `${claimed.length - new Set(claimed).size} mails were claimed twice`);
      assert.equal(claimed.length, 60);
      assert.ok((await rowsTo(h, recipient)).every((r) => r.attempts === 1));
    });

    it('claims the mail of a burst of wakes in one batch and marks it sent in one statement', async () => {
      const recipient = await enqueueMany(h, 5);
      let statements = 0;
      // Counts the statements the worker runs (one result each); the database underneath is the real one.
      const counted = h().db.withPlugin({
        transformQuery: ({ node }) => node,
        transformResult: async ({ result }) => (statements++, result),
      });
      const delivered: string[] = [];
      const transport: MailTransport = { kind: 'smtp', send: async (mail) => void delivered.push(mail.subject), close() {} };
      const w = outboxWorkerFactory({ db: counted, clock: h().clock, transport, from: 'gatehouse@example.com', logger: silent, pollMs: 3_600_000 });
      w.start();
      try {
        for (let i = 0; i < 5; i++) w.wake();
        await eventually('the five mails sent', async () => (await rowsTo(h, recipient)).every((r) => r.status === 'sent'));
      } finally {
        await w.stop();
      }
      assert.equal(delivered.filter((subject) => subject.startsWith('Mail ')).length, 5);
      // One claim and one mark; a wake per mail, each claiming and marking on its own, would be many more.
      assert.equal(statements, 2);
    });

    it('sends to different recipients at once, and one recipient\'s mails in the order they were queued', async () => {
      const first = await enqueueMany(h, 3);
      const second = await enqueueMany(h, 3);
      let inFlight = 0;
      let mostInFlight = 0;
      const order = new Map<string, string[]>();
      const transport: MailTransport = {
        kind: 'smtp',
        async send(mail) {
          mostInFlight = Math.max(mostInFlight, ++inFlight);
          order.set(mail.to, [...(order.get(mail.to) ?? []), mail.text]);
          await sleep(5);
          inFlight -= 1;
        },
        close() {},
      };
      await drain(worker(h, transport));
      assert.equal(mostInFlight, 2, 'one mail per recipient on the wire at a time, both recipients at once');
      for (const recipient of [first, second]) assert.deepEqual(order.get(recipient), ['body 0', 'body 1', 'body 2']);
      assert.ok((await rowsTo(h, first)).concat(await rowsTo(h, second)).every((r) => r.status === 'sent'));
    });

    it('marks sent only the mails of a batch that were delivered', async () => {
      const recipient = await enqueueMany(h, 3);
      const transport: MailTransport = {
        kind: 'smtp',
        send: async (mail) => {
          if (mail.text === 'body 1') throw new Error('mailbox full');
        },
        close() {},
      };
      assert.equal(await worker(h, transport).deliverDue(), 3);
      const rows = await rowsTo(h, recipient);
      assert.deepEqual(rows.map((r) => [r.status, r.last_error]), [['sent', null], ['pending', 'mailbox full'], ['sent', null]]);
      // Leave nothing due behind for the other tests' workers.
      await h().db.updateTable('outbox').set({ status: 'failed' }).where('recipient', '=', recipient).where('status', '=', 'pending').execute();
    });

    it('backs off longer after each failure, capped, and marks the mail failed after MAX_ATTEMPTS', async () => {
      const delays = Array.from({ length: 20 }, (_, i) => backoffSeconds(i + 1));
      assert.equal(delays[0], 5);
      for (let i = 1; i < delays.length; i++) assert.ok(delays[i]! >= delays[i - 1]!, `back-off shrank at attempt ${i + 1}`);
      assert.ok(delays[1]! > delays[0]! && delays[2]! > delays[1]!);
      assert.equal(backoffSeconds(100), 3600);
      assert.ok(delays.every((d) => d <= 3600));

      const recipient = await enqueueMany(h, 1);
      const transport = await smtpTransport(`smtp://127.0.0.1:${await freePort()}`); // nothing listens there
      const failing = worker(h, transport);
      try {
        for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
          const started = h().clock.now();
          assert.equal(await failing.deliverDue(), 1, `attempt ${attempt} was not due`);
          const [row] = await rowsTo(h, recipient);
          assert.equal(row!.attempts, attempt);
          assert.ok(row!.last_error, 'no error recorded');
          if (attempt === MAX_ATTEMPTS) {
            assert.equal(row!.status, 'failed');
            break;
          }
          assert.equal(row!.status, 'pending');
          const delay = (row!.next_attempt_at.getTime() - started.getTime()) / 1000;
          assert.ok(delay >= backoffSeconds(attempt) - 1, `attempt ${attempt} retries after ${delay} s`);
          assert.equal(await failing.deliverDue(), 0, 'retried before the back-off');
          h().clock.advance(backoffSeconds(attempt) + 60);
        }
        h().clock.advance(7200);
        assert.equal(await failing.deliverDue(), 0, 'a failed mail was tried again');
      } finally {
        h().clock.reset();
        transport.close();
      }
      const [row] = await rowsTo(h, recipient);
      assert.deepEqual([row!.status, row!.attempts], ['failed', MAX_ATTEMPTS]);
      assert.equal(mailbox.to(recipient).length, 0);
    });
  },
  { SMTP_URL: mailbox.url },
);

forEachDatabase('outbox without SMTP_URL', (h) => {
  it('hands mail to the log and marks it sent', async () => {
    const user = await registerUser(h().app);
    const rows = await eventually('the verification mail to be sent', async () => {
      const rows = await rowsTo(h, user.email);
      return rows.length === 1 && rows[0]!.status === 'sent' && rows;
    });
    assert.deepEqual(rows.map((r) => [r.kind, r.attempts, r.last_error]), [['email_verification', 1, null]]);
  });

  it('writes a readable mail to the log, with its link', async () => {
    const lines: Array<{ fields: { mail?: { to?: string; subject?: string } }; message: string }> = [];
    const transport = logTransport({ info: ((fields: { mail?: { to?: string; subject?: string } }, message: string) => lines.push({ fields, message })) as never });
    assert.equal(transport.kind, 'log');
    const link = `${PUBLIC_URL}/verify-email?token=abc123`;
    await transport.send({ from: 'gatehouse@example.com', to: 'ada@example.com', subject: 'Confirm your email address', text: `Hello Ada,\n\nConfirm my email: ${link}`, html: '<p>x</p>' });
    assert.equal(lines.length, 1);
    assert.equal(lines[0]!.fields.mail?.to, 'ada@example.com');
    assert.equal(lines[0]!.fields.mail?.subject, 'Confirm your email address');
    assert.match(lines[0]!.message, /^To: ada@example\.com$/m);
    assert.match(lines[0]!.message, /^Subject: Confirm your email address$/m);
    assert.ok(lines[0]!.message.includes(link));
  });
});
