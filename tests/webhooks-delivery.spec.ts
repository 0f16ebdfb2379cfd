// Webhook delivery under faults (SPEC §6.3): a receiver that refuses connections, answers 500, hangs
// past the timeout and redirects, then comes back; back-off for more than 24 hours then giving up;
// an endpoint failing for three days disabled and its owners mailed; the SSRF defence checked at
// connect time; two nodes on one PostgreSQL delivering each message once. The worker is driven by
// hand here (its timers stopped) so that each round is one step of the story.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { buildApp, type App } from '../src/app.ts';
import { openDatabase, type DatabaseHandle } from '../src/db/database.ts';
import { isPublicAddress } from '../src/domain/webhooks/address-guard.ts';
import { MAX_ATTEMPTS, RETRY_SCHEDULE } from '../src/domain/webhooks/delivery-worker.ts';
import { withJitter } from '../src/domain/outbox/worker-loop.ts';
import { addMember, call, registerUser, team, type TestUser } from './helpers/api.ts';
import { CHEAP_PASSWORD_HASHING, forEachDatabase, startHarness, type Harness } from './helpers/harness.ts';
import { Receiver } from './helpers/receiver.ts';

async function metric(app: App, name: string, labels = ''): Promise<number> {
  const answer = await app.inject({ method: 'GET', url: '/metrics' });
  const line = answer.body.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line ? Number(line.split(' ').at(-1)) : NaN;
}

/** Runs delivery rounds until one claims nothing. */
async function drain(app: App): Promise<number> {
  let claimed = 0;
  for (let n = await app.webhookDeliveries.deliverDue(); n > 0; n = await app.webhookDeliveries.deliverDue()) claimed += n;
  return claimed;
}

describe('webhook retry schedule', () => {
  it('retries for more than 24 hours even when every jitter is at its shortest, then gives up', () => {
    const shortest = RETRY_SCHEDULE.reduce((sum, seconds) => sum + withJitter(seconds, () => 0), 0);
    const longest = RETRY_SCHEDULE.reduce((sum, seconds) => sum + withJitter(seconds, () => 1), 0);
    assert.ok(shortest >= 24 * 3600, `${shortest / 3600} hours`);
    assert.ok(longest <= 31 * 3600, `${longest / 3600} hours`);
    assert.equal(MAX_ATTEMPTS, RETRY_SCHEDULE.length + 1);
  });

  it('counts only public unicast addresses as public, over IPv4, IPv6 and IPv4-mapped IPv6', () => {
    const refused = ['127.0.0.1', '10.1.2.3', '172.16.0.1', '192.168.1.1', '100.64.0.1', '169.254.169.254', '0.0.0.0', '224.0.0.1', '255.255.255.255', '::1', '::', 'fe80::1', 'fd00:ec2::254', 'fc00::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1', '2002:7f00:1::', '2001:db8::1', 'not an address'];
    for (const address of refused) assert.equal(isPublicAddress(address), false, address);
    for (const address of ['8.8.8.8', '1.1.1.1', '2606:4700:4700::1111', '::ffff:8.8.8.8']) assert.equal(isPublicAddress(address), true, address);
  });
});

forEachDatabase(
  'webhook delivery under faults',
  (h) => {
    const app = () => h().app;
    const db = () => h().db;
    let receiver: Receiver;

    before(async () => {
      await app().webhookDeliveries.stop();
      receiver = new Receiver();
      await receiver.up();
    });
    after(async () => {
      await receiver.down();
    });

    const deliveriesOf = (webhookId: string) =>
      db().selectFrom('webhook_deliveries').selectAll().where('endpoint_id', '=', webhookId).orderBy('id').execute();

    /** Moves the clock just past the time every failed delivery of the endpoint is due again. */
    async function untilDue(webhookId: string) {
      const next = await db()
        .selectFrom('webhook_deliveries')
        .select((eb) => eb.fn.max('next_attempt_at').as('at'))
        .where('endpoint_id', '=', webhookId)
        .where('status', '=', 'pending')
        .where('attempts', '>', 0)
        .executeTakeFirstOrThrow();
      const wait = (new Date(next.at as Date).getTime() - h().clock.now().getTime()) / 1000;
      if (wait > 0) h().clock.advance(Math.ceil(wait) + 1);
    }

    it('gets every change to a receiver that refused, failed and hung before it came back: each delivered once, in order per subject', async () => {
      h().clock.reset();
      const { owner, orgId } = await team(app());
      const members = await Promise.all([registerUser(app()), registerUser(app()), registerUser(app())]);
      const created = await call(app(), 'POST', `/api/organisations/${orgId}/webhooks`, { token: owner.accessToken, body: { url: receiver.url('/faults'), events: ['member.added', 'member.role_changed'] } });
      const { webhookId, secret } = created.body.data as { webhookId: string; secret: string };
      await receiver.down();
      // Three subjects, three changes each: added, made admin, made member again.
      for (const member of members) await addMember(app(), owner.accessToken, orgId, member.userId);
      for (const role of ['admin', 'member']) {
        for (const member of members) assert.equal((await call(app(), 'PATCH', `/api/organisations/${orgId}/members/${member.userId}`, { token: owner.accessToken, body: { role } })).status, 200);
      }
      const messages = await db().selectFrom('webhook_messages as m').innerJoin('webhook_deliveries as d', 'd.message_id', 'm.id').select(['m.id', 'm.subject_id', 'm.body']).where('d.endpoint_id', '=', webhookId).orderBy('d.id').execute();
      assert.equal(messages.length, 9);
      assert.equal(await metric(app(), 'gatehouse_webhook_deliveries', '{status="pending"}'), 9);

      // Refused: only the first change of each subject is tried; the rest wait behind it.
      assert.equal(await drain(app()), 3);
      assert.ok((await metric(app(), 'gatehouse_webhook_oldest_pending_seconds')) >= 0);
      let rows = await deliveriesOf(webhookId);
      assert.deepEqual(rows.map((d) => d.attempts), [1, 1, 1, 0, 0, 0, 0, 0, 0]);
      assert.ok(rows.slice(0, 3).every((d) => d.status === 'pending' && d.response_status === null && /ECONNREFUSED/.test(d.error ?? '')), JSON.stringify(rows[0]));
      assert.ok(rows.slice(0, 3).every((d) => d.next_attempt_at.getTime() - h().clock.now().getTime() >= 4000), 'backed off');
      // What waits behind a failed delivery of its subject waits until that one's next attempt.
      for (const follower of rows.slice(3)) {
        const head = rows.slice(0, 3).find((d) => d.subject_id === follower.subject_id)!;
        assert.ok(follower.next_attempt_at.getTime() >= head.next_attempt_at.getTime(), 'a follower is due before its head');
      }

      // 500s, with a long answer of which 1 KiB is kept.
      await receiver.up();
      receiver.mode = 'error';
      await untilDue(webhookId);
      assert.equal(await drain(app()), 3);
      rows = await deliveriesOf(webhookId);
      const failing = await db().selectFrom('webhook_endpoints').select('failing_since').where('id', '=', webhookId).executeTakeFirstOrThrow();
      assert.ok(failing.failing_since, 'failing since its first refusal');
      assert.ok(rows.slice(0, 3).every((d) => d.attempts === 2 && d.response_status === 500 && d.response_body === 'x'.repeat(1024) && d.error === 'answered 500'), JSON.stringify(rows[0]));

      // Hanging past the timeout.
      receiver.mode = 'hang';
      await untilDue(webhookId);
      assert.equal(await drain(app()), 3);
      rows = await deliveriesOf(webhookId);
      assert.ok(rows.slice(0, 3).every((d) => d.attempts === 3 && d.response_status === null && /no answer within/.test(d.error ?? '')), JSON.stringify(rows[0]));

      // Redirects are not followed.
      receiver.mode = 'redirect';
      await untilDue(webhookId);
      assert.equal(await drain(app()), 3);
      rows = await deliveriesOf(webhookId);
      assert.ok(rows.slice(0, 3).every((d) => d.attempts === 4 && d.response_status === 302 && /redirect/.test(d.error ?? '')), JSON.stringify(rows[0]));
      assert.ok(!receiver.requests.some((r) => r.path === '/elsewhere'));

      // Back: everything arrives.
      receiver.mode = 'ok';
      await untilDue(webhookId);
      assert.equal(await drain(app()), 9);
      rows = await deliveriesOf(webhookId);
      assert.deepEqual(rows.map((d) => [d.status, d.attempts]), [...Array(3).fill(['delivered', 5]), ...Array(6).fill(['delivered', 1])]);
      const recovered = await db().selectFrom('webhook_endpoints').select(['failing_since', 'enabled']).where('id', '=', webhookId).executeTakeFirstOrThrow();
      assert.deepEqual(recovered, { failing_since: null, enabled: true }, 'answering again, it is no longer failing');
      const accepted = receiver.accepted().filter((r) => r.path === '/faults');
      assert.deepEqual(accepted.map((r) => r.id).sort(), messages.map((m) => m.id).sort(), 'each message accepted exactly once');
      for (const request of accepted) assert.ok(Receiver.signedWith(request, secret), 'signed');
      for (const member of members) {
        const ofSubject = accepted.filter((r) => r.payload.data.subject.id === member.userId);
        assert.deepEqual(ofSubject.map((r) => r.payload.type), ['member.added', 'member.role_changed', 'member.role_changed']);
        assert.deepEqual(ofSubject.map((r) => r.payload.data.after?.role ?? 'member'), ['member', 'admin', 'member']);
        const stamps = ofSubject.map((r) => Date.parse(r.payload.timestamp));
        assert.deepEqual(stamps, [...stamps].sort((x, y) => x - y));
      }
      const logged = await call(app(), 'GET', `/api/organisations/${orgId}/webhooks/${webhookId}/deliveries`, { token: (await signIn(owner)).accessToken });
      assert.equal(logged.body.data.deliveries.filter((d: { status: string }) => d.status === 'delivered').length, 9);
      assert.equal(await metric(app(), 'gatehouse_webhook_deliveries', '{status="pending"}'), 0);
      assert.equal(await metric(app(), 'gatehouse_webhook_oldest_pending_seconds'), 0);
      assert.ok((await metric(app(), 'gatehouse_webhook_deliveries_total', '{outcome="delivered"}')) >= 9);
      assert.ok((await metric(app(), 'gatehouse_webhook_deliveries_total', '{outcome="retrying"}')) >= 12);
      h().clock.reset();
    });

    it('sends again at once on a new connection when the receiver closed a kept-alive one just as it was reused', async () => {
      h().clock.reset();
      const { owner, member, orgId } = await team(app());
      const created = await call(app(), 'POST', `/api/organisations/${orgId}/webhooks`, { token: owner.accessToken, body: { url: receiver.url('/kept-alive'), events: ['member.role_changed'] } });
      const { webhookId } = created.body.data as { webhookId: string };
      await call(app(), 'PATCH', `/api/organisations/${orgId}/members/${member.userId}`, { token: owner.accessToken, body: { role: 'admin' } });
      assert.equal(await drain(app()), 1);
      receiver.mode = 'drop-reused';
      try {
        await call(app(), 'PATCH', `/api/organisations/${orgId}/members/${member.userId}`, { token: owner.accessToken, body: { role: 'member' } });
        assert.equal(await drain(app()), 1);
      } finally {
        receiver.mode = 'ok';
      }
      const rows = await deliveriesOf(webhookId);
      assert.deepEqual(rows.map((d) => [d.status, d.attempts]), [['delivered', 1], ['delivered', 1]], `no attempt was spent on the closed connection: ${rows[1]?.error}`);
      assert.equal(receiver.accepted().filter((r) => r.path === '/kept-alive').length, 2);
    });

    const signIn = async (user: TestUser) => {
      const answer = await call(app(), 'POST', '/auth/login', { body: { email: user.email, password: user.password } });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      return { ...user, accessToken: answer.body.data.accessToken as string };
    };

    it('retries for more than 24 hours, gives up, and after three days of failures disables the endpoint and mails its owners', async () => {
      h().clock.reset();
      const { owner, admin, member, orgId } = await team(app());
      await call(app(), 'PATCH', `/api/organisations/${orgId}/members/${admin.userId}`, { token: owner.accessToken, body: { role: 'owner' } });
      const created = await call(app(), 'POST', `/api/organisations/${orgId}/webhooks`, { token: owner.accessToken, body: { url: receiver.url('/gone'), events: ['member.role_changed'] } });
      const { webhookId } = created.body.data as { webhookId: string };
      await receiver.down();
      const started = h().clock.now();
      await call(app(), 'PATCH', `/api/organisations/${orgId}/members/${member.userId}`, { token: owner.accessToken, body: { role: 'admin' } });
      for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
        if (attempt > 1) await untilDue(webhookId);
        assert.equal(await drain(app()), 1, `attempt ${attempt}`);
      }
      const [given] = await deliveriesOf(webhookId);
      assert.deepEqual([given!.status, given!.attempts], ['failed', MAX_ATTEMPTS]);
      const tried = (given!.attempted_at!.getTime() - started.getTime()) / 3600_000;
      assert.ok(tried >= 24, `gave up after ${tried} hours`);
      assert.equal(await drain(app()), 0, 'nothing more is tried');
      let endpoint = await db().selectFrom('webhook_endpoints').selectAll().where('id', '=', webhookId).executeTakeFirstOrThrow();
      assert.equal(endpoint.enabled, true, 'under three days of failures');

      // Three days after the first failure, the next failure disables it.
      h().clock.advance(3 * 86400 - tried * 3600 + 60);
      const fresh = await signIn(owner);
      await call(app(), 'PATCH', `/api/organisations/${orgId}/members/${member.userId}`, { token: fresh.accessToken, body: { role: 'member' } });
      assert.equal(await drain(app()), 1);
      endpoint = await db().selectFrom('webhook_endpoints').selectAll().where('id', '=', webhookId).executeTakeFirstOrThrow();
      assert.equal(endpoint.enabled, false);
      assert.match(endpoint.disabled_reason ?? '', /failed since/);
      const mails = await db().selectFrom('outbox').select(['recipient', 'subject', 'text_body']).where('kind', '=', 'webhook_disabled').where('organisation_id', '=', orgId).execute();
      assert.deepEqual(mails.map((m) => m.recipient).sort(), [owner.email, admin.email].sort(), 'both owners, nobody else');
      assert.match(mails[0]!.text_body, /127\[\.\]0\[\.\]0\[\.\]1:\d+\/gone of Team/, 'the address, defanged');
      const audit = await db().selectFrom('audit_events').select(['action', 'actor_type', 'actor_user_id']).where('target_id', '=', webhookId).where('action', '=', 'webhook.disabled').execute();
      assert.deepEqual(audit, [{ action: 'webhook.disabled', actor_type: 'system', actor_user_id: null }]);
      const shown = await call(app(), 'GET', `/api/organisations/${orgId}/webhooks/${webhookId}`, { token: fresh.accessToken });
      assert.equal(shown.body.data.enabled, false);
      assert.match(shown.body.data.disabledReason, /failed since/);

      // Disabled: nothing is tried. Enabled again with the receiver back, the waiting delivery goes.
      await receiver.up();
      await untilDue(webhookId);
      assert.equal(await drain(app()), 0);
      const enabled = await call(app(), 'PATCH', `/api/organisations/${orgId}/webhooks/${webhookId}`, { token: fresh.accessToken, body: { enabled: true } });
      assert.deepEqual([enabled.body.data.enabled, enabled.body.data.failingSince, enabled.body.data.disabledReason], [true, null, null]);
      assert.equal(await drain(app()), 1);
      const retried = await call(app(), 'POST', `/api/organisations/${orgId}/webhooks/${webhookId}/deliveries/${given!.id}/retry`, { token: fresh.accessToken });
      assert.equal(retried.status, 202);
      assert.equal(await drain(app()), 1);
      assert.deepEqual((await deliveriesOf(webhookId)).map((d) => d.status), ['delivered', 'delivered']);
      h().clock.reset();
    });
  },
  { GATEHOUSE_WEBHOOKS_ALLOW_PRIVATE: 'true' },
  // Long enough for a busy machine to answer, short enough that the hanging receiver costs little.
  { webhookTimeoutMs: 1500 },
);

forEachDatabase('webhook addresses without GATEHOUSE_WEBHOOKS_ALLOW_PRIVATE', (h) => {
  let receiver: Receiver;
  before(async () => {
    await h().app.webhookDeliveries.stop();
    receiver = new Receiver();
    await receiver.up();
  });
  after(async () => {
    await receiver.down();
  });

  it('refuses private, loopback, link-local and metadata addresses when saved, over IPv4 and IPv6', async () => {
    const { owner, orgId } = await team(h().app);
    const port = new URL(receiver.url()).port;
    for (const url of [receiver.url(), `http://[::1]:${port}/hook`, 'http://169.254.169.254/latest/meta-data/', 'http://10.0.0.7/hook', `http://[::ffff:127.0.0.1]:${port}/hook`, 'http://[fd00:ec2::254]/', 'http://0.0.0.0/', 'http://[fe80::1]/']) {
      const answer = await call(h().app, 'POST', `/api/organisations/${orgId}/webhooks`, { token: owner.accessToken, body: { url, events: ['*'] } });
      assert.equal(answer.status, 422, `${url} → ${answer.status}`);
      assert.deepEqual(answer.body.errors.map((e: { field: string }) => e.field), ['url']);
    }
  });

  it('refuses at connect time a name that resolves to 127.0.0.1, and the receiver gets nothing', async () => {
    const { owner, member, orgId } = await team(h().app);
    const url = receiver.url('/named', 'localhost');
    const created = await call(h().app, 'POST', `/api/organisations/${orgId}/webhooks`, { token: owner.accessToken, body: { url, events: ['member.role_changed'] } });
    assert.equal(created.status, 201, 'a name is checked when it is used, not when it is saved');
    await call(h().app, 'PATCH', `/api/organisations/${orgId}/members/${member.userId}`, { token: owner.accessToken, body: { role: 'admin' } });
    assert.equal(await h().app.webhookDeliveries.deliverDue(), 1);
    const [delivery] = await h().db.selectFrom('webhook_deliveries').selectAll().where('endpoint_id', '=', created.body.data.webhookId).execute();
    assert.equal(delivery!.status, 'pending');
    assert.match(delivery!.error ?? '', /localhost resolves to (127\.0\.0\.1|::1).*refused/);
    assert.equal(receiver.requests.length, 0);
  });
});

// Two nodes on one PostgreSQL: both workers run; every message reaches the endpoint once.
const databaseUrl = process.env.TEST_DATABASE_URL;
describe('webhooks on two nodes sharing one PostgreSQL', { skip: databaseUrl ? false : 'needs TEST_DATABASE_URL' }, () => {
  let harness: Harness;
  let second: App;
  let secondDatabase: DatabaseHandle;
  let receiver: Receiver;

  before(async () => {
    harness = await startHarness('postgres', { GATEHOUSE_WEBHOOKS_ALLOW_PRIVATE: 'true' });
    secondDatabase = openDatabase(harness.config.database, { poolSize: 10 });
    second = await buildApp({ config: harness.config, database: secondDatabase, logger: false, passwordHashing: CHEAP_PASSWORD_HASHING });
    await second.ready();
    receiver = new Receiver();
    await receiver.up();
  });
  after(async () => {
    await receiver?.down();
    await second?.close();
    await secondDatabase?.close();
    await harness?.close();
  });

  it('delivers each message once per endpoint, whichever node claims it', async () => {
    const nodes = [harness.app, second];
    const { owner, orgId } = await team(harness.app);
    const hooks = [];
    for (const path of ['/one', '/two']) {
      const created = await call(harness.app, 'POST', `/api/organisations/${orgId}/webhooks`, { token: owner.accessToken, body: { url: receiver.url(path), events: ['member.added', 'member.role_changed'] } });
      hooks.push(created.body.data.webhookId as string);
    }
    const users = await Promise.all(Array.from({ length: 12 }, () => registerUser(harness.app)));
    // Changes land on either node, several at once.
    await Promise.all(users.map((user, i) => addMember(nodes[i % 2]!, owner.accessToken, orgId, user.userId)));
    await Promise.all(users.map((user, i) => call(nodes[(i + 1) % 2]!, 'PATCH', `/api/organisations/${orgId}/members/${user.userId}`, { token: owner.accessToken, body: { role: 'admin' } })));
    await receiver.waitFor((requests) => requests.length >= 48, '48 deliveries', 20_000);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    for (const path of ['/one', '/two']) {
      const ids = receiver.requests.filter((r) => r.path === path).map((r) => r.id);
      assert.equal(new Set(ids).size, 24, path);
    }
    // Each message went once, unless an attempt failed (on a machine too busy to answer in time) and
    // was made again: a second request is always a recorded retry.
    const rows = await harness.db
      .selectFrom('webhook_deliveries as d')
      .innerJoin('webhook_endpoints as e', 'e.id', 'd.endpoint_id')
      .select(['d.message_id', 'e.url', 'd.status', 'd.attempts', 'd.error'])
      .where('d.endpoint_id', 'in', hooks)
      .execute();
    assert.equal(rows.length, 48);
    for (const row of rows) {
      assert.equal(row.status, 'delivered');
      const sent = receiver.requests.filter((r) => r.id === row.message_id && row.url.endsWith(r.path)).length;
      assert.equal(sent, row.attempts, `message ${row.message_id} to ${row.url}: ${sent} requests, ${row.attempts} attempts (${row.error})`);
    }
  });
});
