// GET /metrics, and what its password counters prove: a sign-in costs the same argon2id work whether
// the account exists, the password is wrong or the user is disabled, so timing tells an attacker
// nothing; and a forgotten-password request does no password work at all before it answers.
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { call, PASSWORD, registerUser, uniqueEmail } from './helpers/api.ts';
import { forEachDatabase, type Harness } from './helpers/harness.ts';

/** One sample of the exposition text, 0 when absent. */
async function sample(h: Harness, name: string, labels = ''): Promise<number> {
  const answer = await h.app.inject({ method: 'GET', url: '/metrics' });
  const line = answer.body.split('\n').find((l) => l.startsWith(`${name}${labels} `));
  return line ? Number(line.split(' ').at(-1)) : 0;
}

forEachDatabase('metrics', (h) => {
  it('publishes Prometheus text: requests by route template and status, process figures, the outbox', async () => {
    const user = await registerUser(h().app);
    await call(h().app, 'GET', `/api/organisations/${user.personalOrgId}/members`, { token: user.accessToken });
    const answer = await h().app.inject({ method: 'GET', url: '/metrics' });
    assert.equal(answer.statusCode, 200);
    assert.match(String(answer.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    assert.match(answer.body, /^gatehouse_http_requests_total\{method="GET",route="\/api\/organisations\/:orgId\/members",status="200"\} [1-9]/m);
    assert.ok(!answer.body.includes(user.personalOrgId), 'ids never become labels');
    assert.match(answer.body, /^process_resident_memory_bytes \d+/m);
    assert.match(answer.body, /^gatehouse_outbox_mails\{status="pending"\} \d+/m);
    assert.match(answer.body, /^gatehouse_http_request_duration_seconds_count\{method="POST",route="\/auth\/register",status="201"\} [1-9]/m);
  });

  it('spends exactly one argon2id verification on every sign-in, whoever the account is', async () => {
    const known = await registerUser(h().app);
    const disabled = await registerUser(h().app);
    await h().db.updateTable('users').set({ status: 'disabled' }).where('id', '=', disabled.userId).execute();
    const cases = [
      { label: 'unknown account', email: uniqueEmail('nobody'), password: PASSWORD, status: 401 },
      { label: 'wrong password', email: known.email, password: 'not the password', status: 401 },
      { label: 'disabled user', email: disabled.email, password: PASSWORD, status: 401 },
      { label: 'right password', email: known.email, password: PASSWORD, status: 200 },
    ];
    for (const { label, email, password, status } of cases) {
      const before = await sample(h(), 'gatehouse_password_verifications_total');
      const answer = await call(h().app, 'POST', '/auth/login', { body: { email, password } });
      assert.equal(answer.status, status, label);
      assert.equal((await sample(h(), 'gatehouse_password_verifications_total')) - before, 1, label);
    }
  });

  it('answers a forgot-password request without any password work, for a known or unknown email', async () => {
    const known = await registerUser(h().app);
    for (const email of [known.email, uniqueEmail('nobody')]) {
      const before = (await sample(h(), 'gatehouse_password_verifications_total')) + (await sample(h(), 'gatehouse_password_hashes_total'));
      assert.equal((await call(h().app, 'POST', '/auth/password/forgot', { body: { email } })).status, 202);
      const afterwards = (await sample(h(), 'gatehouse_password_verifications_total')) + (await sample(h(), 'gatehouse_password_hashes_total'));
      assert.equal(afterwards - before, 0, email);
    }
  });

  it('refuses a taken email before hashing the password', async () => {
    const known = await registerUser(h().app);
    const before = await sample(h(), 'gatehouse_password_hashes_total');
    const answer = await call(h().app, 'POST', '/auth/register', { body: { firstName: 'Dup', lastName: 'Licate', email: known.email.toUpperCase(), password: PASSWORD } });
    assert.equal(answer.status, 422);
    assert.equal((await sample(h(), 'gatehouse_password_hashes_total')) - before, 0);
  });
});
