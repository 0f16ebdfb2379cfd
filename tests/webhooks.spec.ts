// Webhooks (SPEC §6.3) on every database: endpoints and who may manage them, deliveries verified by a
// real receiver with the `standardwebhooks` verifier, what each payload says, secret rotation, test
// messages, the delivery log and manual retry, and a change that rolls back sending nothing.
import assert from 'node:assert/strict';
import { after, before, it } from 'node:test';
import { system } from '../src/domain/principal.ts';
import { SYSTEM_ACTOR } from '../src/domain/events/catalogue.ts';
import { addMember, assertErrorEnvelope, call, createOrganisation, registerUser, team, type TestUser } from './helpers/api.ts';
import { forEachDatabase } from './helpers/harness.ts';
import { Receiver, type Received } from './helpers/receiver.ts';
import Ajv2020 from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';

forEachDatabase(
  'webhooks',
  (h) => {
    const app = () => h().app;
    const db = () => h().db;
    let receiver: Receiver;

    before(async () => {
      receiver = new Receiver();
      await receiver.up();
    });
    after(async () => {
      await receiver.down();
    });

    const makeAdmin = async (): Promise<TestUser> => {
      const user = await registerUser(app());
      await db().updateTable('users').set({ platform_role: 'admin' }).where('id', '=', user.userId).execute();
      const answer = await call(app(), 'POST', '/auth/login', { body: { email: user.email, password: user.password } });
      return { ...user, accessToken: answer.body.data.accessToken };
    };

    async function endpoint(token: string, collection: string, body: Record<string, unknown>) {
      const answer = await call(app(), 'POST', collection, { token, body });
      assert.equal(answer.status, 201, JSON.stringify(answer.body));
      return answer.body.data as { webhookId: string; secret: string; url: string; events: string[] };
    }

    /** Checks a delivered payload against the schema of its type in the OpenAPI document's `webhooks`. */
    async function assertDocumented(requests: Received[]) {
      const document = (await call(app(), 'GET', '/openapi.json')).body;
      const ajv = new Ajv2020.default({ strict: false, allErrors: true });
      addFormats.default(ajv);
      for (const request of requests) {
        const operation = document.webhooks?.[request.payload.type]?.post;
        assert.ok(operation, `${request.payload.type} is not in the OpenAPI document's webhooks`);
        const validate = ajv.compile(operation.requestBody.content['application/json'].schema);
        assert.ok(validate(request.payload), `${request.payload.type}: ${JSON.stringify(validate.errors)}`);
        assert.deepEqual(operation.parameters.map((p: { name: string }) => p.name), ['webhook-id', 'webhook-timestamp', 'webhook-signature']);
      }
    }

    /** Waits until no delivery is due or being sent: the worker has marked what the receiver got. */
    async function settledDeliveries() {
      for (let attempt = 0; attempt < 200; attempt++) {
        const due = await db()
          .selectFrom('webhook_deliveries')
          .select('id')
          .where('status', '=', 'pending')
          .where('next_attempt_at', '<=', h().clock.now())
          .executeTakeFirst();
        if (!due) return;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      assert.fail('deliveries did not settle');
    }

    /** The deliveries of one endpoint, read over the API. */
    async function log(token: string, collection: string, webhookId: string) {
      await settledDeliveries();
      const answer = await call(app(), 'GET', `${collection}/${webhookId}/deliveries`, { token });
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      return answer.body.data.deliveries as Array<{ deliveryId: number; eventId: string; type: string; attempt: number; status: string; responseStatus: number | null; durationMs: number | null }>;
    }

    it('creates, lists, changes and deletes an organisation’s endpoints; the secret is shown once and every change is audited', async () => {
      const { owner, admin, member, orgId } = await team(app());
      const collection = `/api/organisations/${orgId}/webhooks`;
      const created = await endpoint(admin.accessToken, collection, { url: receiver.url(), events: ['member.added', 'member.removed'], description: 'Sync' });
      assert.match(created.secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
      const stored = await db().selectFrom('webhook_endpoints').selectAll().where('id', '=', created.webhookId).executeTakeFirstOrThrow();
      assert.deepEqual([stored.organisation_id, stored.secret, stored.events, stored.enabled, stored.created_by], [orgId, created.secret, ['member.added', 'member.removed'], true, admin.userId]);

      const listed = await call(app(), 'GET', collection, { token: owner.accessToken });
      assert.equal(listed.status, 200);
      assert.deepEqual(listed.body.data.webhooks.map((w: { webhookId: string }) => w.webhookId), [created.webhookId]);
      assert.ok(!JSON.stringify(listed.body).includes(created.secret), 'the list shows the secret');
      assert.equal(listed.body.data.webhooks[0].description, 'Sync');

      const changed = await call(app(), 'PATCH', `${collection}/${created.webhookId}`, { token: owner.accessToken, body: { events: ['*'], enabled: false } });
      assert.equal(changed.status, 200, JSON.stringify(changed.body));
      assert.deepEqual([changed.body.data.events, changed.body.data.enabled], [['*'], false]);

      // A member holds no webhooks:manage.
      for (const [method, url] of [['GET', collection], ['POST', collection], ['GET', `${collection}/${created.webhookId}`], ['DELETE', `${collection}/${created.webhookId}`]] as const) {
        assertErrorEnvelope(await call(app(), method, url, { token: member.accessToken, body: method === 'POST' ? { url: receiver.url(), events: ['*'] } : undefined }), 403, 'FORBIDDEN');
      }
      assert.equal((await call(app(), 'DELETE', `${collection}/${created.webhookId}`, { token: owner.accessToken })).status, 200);
      assertErrorEnvelope(await call(app(), 'GET', `${collection}/${created.webhookId}`, { token: owner.accessToken }), 404, 'WEBHOOK_NOT_FOUND');
      assert.equal(await db().selectFrom('webhook_endpoints').select('id').where('id', '=', created.webhookId).executeTakeFirst(), undefined);

      const audit = await db().selectFrom('audit_events').select(['action', 'actor_user_id', 'data', 'before', 'after']).where('target_id', '=', created.webhookId).orderBy('id').execute();
      assert.deepEqual(
        audit.map((row) => [row.action, row.actor_user_id]),
        [['webhook.created', admin.userId], ['webhook.updated', owner.userId], ['webhook.deleted', owner.userId]],
      );
      assert.deepEqual([audit[1]!.data, audit[1]!.before, audit[1]!.after], [{ fields: ['events', 'enabled'] }, { events: ['member.added', 'member.removed'], enabled: true }, { events: ['*'], enabled: false }]);
      assert.ok(!JSON.stringify(audit).includes(created.secret), 'the audit log holds the secret');
    });

    it('refuses a bad address or event list with 422 naming the field, writing nothing', async () => {
      const { owner, orgId } = await team(app());
      const collection = `/api/organisations/${orgId}/webhooks`;
      const bad: Array<[Record<string, unknown>, string]> = [
        [{ url: 'ftp://example.com/hook', events: ['*'] }, 'url'],
        [{ url: 'not a url', events: ['*'] }, 'url'],
        [{ url: 'https://user:pass@example.com/hook', events: ['*'] }, 'url'],
        [{ url: 'https://example.com/hook', events: [] }, 'events'],
        [{ url: 'https://example.com/hook', events: ['member.exploded'] }, 'events'],
        // A person's account events go to the platform's endpoints only.
        [{ url: 'https://example.com/hook', events: ['user.created'] }, 'events'],
        [{ url: 'https://example.com/hook' }, 'events'],
        [{ events: ['*'] }, 'url'],
      ];
      for (const [body, field] of bad) {
        const answer = await call(app(), 'POST', collection, { token: owner.accessToken, body });
        assert.equal(answer.status, 422, `${JSON.stringify(body)} → ${answer.status} ${JSON.stringify(answer.body)}`);
        assert.deepEqual(answer.body.errors.map((e: { field: string }) => e.field), [field], JSON.stringify(body));
      }
      assert.equal((await db().selectFrom('webhook_endpoints').select('id').where('organisation_id', '=', orgId).execute()).length, 0);
    });

    it('delivers each subscribed change, signed so the standardwebhooks verifier accepts it, with actor, subject and before/after', async () => {
      const { owner, member, orgId } = await team(app());
      const hook = await endpoint(owner.accessToken, `/api/organisations/${orgId}/webhooks`, { url: receiver.url('/members'), events: ['member.added', 'member.role_changed', 'member.removed'] });
      const newcomer = await registerUser(app());
      await addMember(app(), owner.accessToken, orgId, newcomer.userId);
      assert.equal((await call(app(), 'PATCH', `/api/organisations/${orgId}/members/${member.userId}`, { token: owner.accessToken, body: { role: 'admin' } })).status, 200);
      // Not subscribed: an invitation.
      assert.equal((await call(app(), 'POST', `/api/organisations/${orgId}/invitations`, { token: owner.accessToken, body: { email: 'someone@example.com' } })).status, 201);
      assert.equal((await call(app(), 'DELETE', `/api/organisations/${orgId}/members/${newcomer.userId}`, { token: newcomer.accessToken })).status, 200);

      const mine = () => receiver.requests.filter((r) => r.path === '/members');
      await receiver.waitFor(() => mine().length >= 3, 'three member events');
      const got = mine();
      assert.deepEqual(got.map((r) => r.payload.type), ['member.added', 'member.role_changed', 'member.removed']);
      for (const request of got) {
        assert.deepEqual(Receiver.verify(request, hook.secret), request.payload);
        assert.throws(() => Receiver.verify(request, `whsec_${Buffer.alloc(32, 1).toString('base64')}`), /signature/i);
        assert.equal(request.headers['content-type'], 'application/json');
      }
      const [added, changed, left] = got.map((r) => r.payload);
      assert.deepEqual(added!.data, { organisationId: orgId, actor: { type: 'user', id: owner.userId }, subject: { type: 'user', id: newcomer.userId }, role: 'member', ...(added!.data.after ? { after: added!.data.after } : {}) });
      assert.deepEqual(changed!.data, { organisationId: orgId, actor: { type: 'user', id: owner.userId }, subject: { type: 'user', id: member.userId }, from: 'member', to: 'admin', before: { role: 'member' }, after: { role: 'admin' } });
      assert.equal(left!.data.reason, 'left');
      await assertDocumented(got);
      assert.deepEqual(left!.data.actor, { type: 'user', id: newcomer.userId });
      assert.ok(Math.abs(Date.parse(changed!.timestamp) - Date.now()) < 60_000);

      const deliveries = await log(owner.accessToken, `/api/organisations/${orgId}/webhooks`, hook.webhookId);
      assert.deepEqual(deliveries.map((d) => [d.type, d.status, d.attempt, d.responseStatus]), [['member.removed', 'delivered', 1, 200], ['member.role_changed', 'delivered', 1, 200], ['member.added', 'delivered', 1, 200]]);
      assert.deepEqual(deliveries.map((d) => d.eventId).reverse(), got.map((r) => r.id));
    });

    it('gives the platform’s endpoints the user events and every organisation’s, an organisation’s only its own', async () => {
      const admin = await makeAdmin();
      const platform = await endpoint(admin.accessToken, '/api/admin/webhooks', { url: receiver.url('/platform'), events: ['user.created', 'organisation.created', 'organisation.deleted'] });
      const someone = await registerUser(app(), { firstName: 'Ada', lastName: 'Lovelace' });
      const orgId = await createOrganisation(app(), someone.accessToken, 'Analytical');
      const other = await registerUser(app());
      const otherOrg = await createOrganisation(app(), other.accessToken, 'Other');
      const own = await endpoint(someone.accessToken, `/api/organisations/${orgId}/webhooks`, { url: receiver.url('/own'), events: ['*'] });
      await createOrganisation(app(), other.accessToken, 'Another');
      assert.equal((await call(app(), 'DELETE', `/api/organisations/${otherOrg}`, { token: other.accessToken })).status, 200);
      assert.equal((await call(app(), 'PATCH', `/api/organisations/${orgId}`, { token: someone.accessToken, body: { description: 'Engines' } })).status, 200);

      const at = (path: string) => receiver.requests.filter((r) => r.path === path);
      // Two accounts, five organisations (two personal), one deletion.
      await receiver.waitFor(() => at('/platform').length >= 8 && at('/own').length >= 1, 'the platform’s and the organisation’s events');
      const created = at('/platform').find((r) => r.payload.type === 'user.created' && r.payload.data.subject.id === someone.userId);
      assert.ok(created, 'user.created');
      assert.deepEqual(Receiver.verify(created, platform.secret), created.payload);
      assert.deepEqual(created.payload.data.after, { email: someone.email, username: null, firstName: 'Ada', lastName: 'Lovelace' });
      assert.equal(created.payload.data.organisationId, null);
      assert.ok(at('/platform').some((r) => r.payload.type === 'organisation.deleted' && r.payload.data.subject.id === otherOrg));
      // The organisation's endpoint: its own change only, none of the others' organisations.
      assert.deepEqual(at('/own').map((r) => [r.payload.type, r.payload.data.organisationId]), [['organisation.updated', orgId]]);
      assert.deepEqual(Receiver.verify(at('/own')[0]!, own.secret), at('/own')[0]!.payload);
      assert.equal(at('/own')[0]!.payload.data.after.description, 'Engines');
      await assertDocumented([...at('/platform'), ...at('/own')]);
    });

    it('signs with both secrets for 24 hours after a rotation, then with the new one only', async () => {
      const { owner, member, orgId } = await team(app());
      const collection = `/api/organisations/${orgId}/webhooks`;
      const hook = await endpoint(owner.accessToken, collection, { url: receiver.url('/rotating'), events: ['member.role_changed'] });
      const rotated = await call(app(), 'POST', `${collection}/${hook.webhookId}/rotate-secret`, { token: owner.accessToken });
      assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
      const secret = rotated.body.data.secret as string;
      assert.notEqual(secret, hook.secret);
      assert.ok(Math.abs(Date.parse(rotated.body.data.previousSecretValidUntil) - (h().clock.now().getTime() + 24 * 3600_000)) < 60_000);

      const at = () => receiver.requests.filter((r) => r.path === '/rotating');
      await call(app(), 'PATCH', `/api/organisations/${orgId}/members/${member.userId}`, { token: owner.accessToken, body: { role: 'admin' } });
      await receiver.waitFor(() => at().length === 1, 'a delivery during the overlap');
      const during = at()[0]!;
      assert.equal(during.signature.split(' ').length, 2);
      assert.ok(Receiver.verify(during, secret) && Receiver.verify(during, hook.secret));

      // The overlap ends (moving the whole clock a day on would put the receiver's 5-minute timestamp check out of reach).
      await db().updateTable('webhook_endpoints').set({ previous_secret_until: new Date(Date.now() - 60_000) }).where('id', '=', hook.webhookId).execute();
      await call(app(), 'PATCH', `/api/organisations/${orgId}/members/${member.userId}`, { token: owner.accessToken, body: { role: 'member' } });
      await receiver.waitFor(() => at().length === 2, 'a delivery after the overlap');
      const afterwards = at()[1]!;
      assert.equal(afterwards.signature.split(' ').length, 1);
      assert.ok(Receiver.verify(afterwards, secret));
      assert.throws(() => Receiver.verify(afterwards, hook.secret));
      const audit = await db().selectFrom('audit_events').select('action').where('target_id', '=', hook.webhookId).orderBy('id').execute();
      assert.deepEqual(audit.map((row) => row.action), ['webhook.created', 'webhook.secret_rotated']);
    });

    it('sends a test message to one endpoint, logs every delivery, and retries one on request', async () => {
      const { owner, orgId } = await team(app());
      const collection = `/api/organisations/${orgId}/webhooks`;
      const hook = await endpoint(owner.accessToken, collection, { url: receiver.url('/tested'), events: ['role.created'] });
      const other = await endpoint(owner.accessToken, collection, { url: receiver.url('/untested'), events: ['role.created'] });
      const test = await call(app(), 'POST', `${collection}/${hook.webhookId}/test`, { token: owner.accessToken });
      assert.equal(test.status, 202, JSON.stringify(test.body));
      assert.deepEqual([test.body.data.type, test.body.data.status, test.body.data.attempt], ['webhook.test', 'pending', 0]);
      const at = (path: string) => receiver.requests.filter((r) => r.path === path);
      await receiver.waitFor(() => at('/tested').length === 1, 'the test message');
      assert.equal(at('/tested')[0]!.payload.type, 'webhook.test');
      assert.equal(at('/tested')[0]!.id, test.body.data.eventId);
      assert.ok(Receiver.verify(at('/tested')[0]!, hook.secret));
      assert.equal(at('/untested').length, 0);
      await assertDocumented(at('/tested'));

      const [logged] = await log(owner.accessToken, collection, hook.webhookId);
      assert.deepEqual([logged!.deliveryId, logged!.status, logged!.attempt, logged!.responseStatus], [test.body.data.deliveryId, 'delivered', 1, 200]);
      assert.ok(logged!.durationMs !== null && logged!.durationMs >= 0);

      const retried = await call(app(), 'POST', `${collection}/${hook.webhookId}/deliveries/${logged!.deliveryId}/retry`, { token: owner.accessToken });
      assert.equal(retried.status, 202, JSON.stringify(retried.body));
      await receiver.waitFor(() => at('/tested').length === 2, 'the retried message');
      assert.equal(at('/tested')[1]!.id, at('/tested')[0]!.id, 'a retry is the same message');
      // Another endpoint's delivery, or none at all, is not found.
      for (const [webhookId, deliveryId] of [[other.webhookId, logged!.deliveryId], [hook.webhookId, 999999999], [hook.webhookId, 'x']] as const) {
        assertErrorEnvelope(await call(app(), 'POST', `${collection}/${webhookId}/deliveries/${deliveryId}/retry`, { token: owner.accessToken }), 404, 'DELIVERY_NOT_FOUND');
      }
    });

    it('sends nothing for a change whose transaction rolls back', async () => {
      const admin = await makeAdmin();
      await endpoint(admin.accessToken, '/api/admin/webhooks', { url: receiver.url('/rollback'), events: ['*'] });
      const { events } = app().services;
      const subject = '00000000-0000-4000-8000-000000000001';
      await assert.rejects(
        db()
          .transaction()
          .execute(async (trx) => {
            await events.record(trx, { type: 'organisation.updated', actor: SYSTEM_ACTOR, client: system('test').client, organisationId: null, subject: { type: 'organisation', id: subject }, data: { fields: ['name'] } });
            assert.equal((await trx.selectFrom('webhook_deliveries').select('id').where('subject_id', '=', subject).execute()).length, 1, 'queued inside the transaction');
            throw new Error('the change failed');
          }),
        /the change failed/,
      );
      // A committed one, afterwards, arrives; the rolled-back one never does.
      await events.record(db(), { type: 'organisation.updated', actor: SYSTEM_ACTOR, client: system('test').client, organisationId: null, subject: { type: 'organisation', id: subject }, data: { fields: ['description'] } });
      await receiver.waitFor((requests) => requests.some((r) => r.path === '/rollback'), 'the committed change');
      await app().webhookDeliveries.deliverDue();
      const got = receiver.requests.filter((r) => r.path === '/rollback');
      assert.deepEqual(got.map((r) => r.payload.data.fields), [['description']]);
      assert.equal((await db().selectFrom('webhook_messages').select('id').where('subject_id', '=', subject).execute()).length, 1);
    });
  },
  { GATEHOUSE_WEBHOOKS_ALLOW_PRIVATE: 'true' },
);
