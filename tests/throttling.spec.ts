// Throttling under SECURITY.md's default rules: guesses at one account, from one address (an IPv4
// address or an IPv6 /64), floods of registrations, mailed links and username checks. On the PostgreSQL target the counters live in Redis (TEST_REDIS_URL),
// as they do in production; on the embedded one they live in the process.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, it } from 'node:test';
import { assertErrorEnvelope, call, PASSWORD, registerUser, uniqueEmail, type Answer, type TestUser } from './helpers/api.ts';
import { forEachDatabase, PUBLIC_URL, ROOMY_THROTTLES, startHarness } from './helpers/harness.ts';
import { linkIn, startMailbox } from './helpers/mailbox.ts';
import { DEFAULT_THROTTLE_POLICY } from '../src/domain/throttle/throttles.ts';

const mailbox = await startMailbox();
after(() => mailbox.stop());

const ATTACKER = '203.0.113.7';
const VICTIM = '198.51.100.20';
const WRONG = 'not the password at all';

function assertThrottled(answer: Answer, retryAfter?: number) {
  assertErrorEnvelope(answer, 429, 'TOO_MANY_REQUESTS');
  const header = Number(answer.headers['retry-after']);
  assert.ok(Number.isInteger(header) && header >= 1, `Retry-After: ${String(answer.headers['retry-after'])}`);
  if (retryAfter !== undefined) assert.equal(header, retryAfter);
}

const statuses = (answers: Answer[]) => answers.map((a) => a.status).sort((a, b) => a - b);

forEachDatabase(
  'throttling with the default rules',
  (h) => {
    const app = () => h().app;
    const login = (email: string, password: string, remoteAddress = ATTACKER) => call(app(), 'POST', '/auth/login', { body: { email, password }, remoteAddress });
    const account = DEFAULT_THROTTLE_POLICY.signInAccount;

    it('refuses an account’s sixth wrong password with 429 and Retry-After, even the right one, from any address', async () => {
      const user = await registerUser(app());
      for (let i = 0; i < account.points; i++) assert.equal((await login(user.email, WRONG)).status, 401);
      assertThrottled(await login(user.email, WRONG), account.blockSeconds);
      assertThrottled(await login(user.email, PASSWORD, VICTIM));
      // The account's lockout is the account's: another one signs in from the same address.
      const other = await registerUser(app());
      assert.equal((await login(other.email, PASSWORD)).status, 200);
    });

    it('gives 20 parallel wrong passwords no more password checks than the limit', async () => {
      const user = await registerUser(app());
      const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => login(user.email, WRONG, `192.0.2.${i + 1}`)));
      const refused = answers.filter((a) => a.status === 429);
      assert.deepEqual(statuses(answers), [...Array(account.points).fill(401), ...Array(20 - account.points).fill(429)]);
      for (const answer of refused) assertThrottled(answer);
    });

    it('throttles an unknown account exactly like a known one', async () => {
      const known = await registerUser(app());
      const unknown = uniqueEmail('nobody');
      for (const email of [known.email, unknown]) {
        const answers: Answer[] = [];
        for (let i = 0; i <= account.points; i++) answers.push(await login(email, WRONG, VICTIM));
        assert.deepEqual(
          answers.map((a) => a.status),
          [...Array(account.points).fill(401), 429],
        );
        assert.equal(answers.at(-1)?.body.message, `Too many attempts: try again in ${account.blockSeconds} seconds`);
      }
    });

    it('lets a locked-out victim reset the password by mail and sign in again', async () => {
      const victim = await registerUser(app());
      for (let i = 0; i <= account.points; i++) await login(victim.email, WRONG);
      assertThrottled(await login(victim.email, PASSWORD, VICTIM));

      const forgot = await call(app(), 'POST', '/auth/password/forgot', { body: { email: victim.email }, remoteAddress: VICTIM });
      assert.equal(forgot.status, 202);
      const mail = await mailbox.waitFor((m) => m.to.toLowerCase() === victim.email.toLowerCase() && m.subject === 'Reset your password');
      const { token } = linkIn(mail, `${PUBLIC_URL}/reset-password?token=`);
      const reset = await call(app(), 'POST', '/auth/password/reset', { body: { token, password: 'a fresh passphrase' }, remoteAddress: VICTIM });
      assert.equal(reset.status, 200, JSON.stringify(reset.body));

      assert.equal((await login(victim.email, 'a fresh passphrase', VICTIM)).status, 200);
    });

    it('shares an account’s counter between the core and compatibility sign-in routes', async () => {
      const user = await registerUser(app());
      for (let i = 0; i < account.points; i++) assert.equal((await login(user.email, WRONG)).status, 401);
      const saas = await call(app(), 'POST', '/signin', { body: { email: user.email, password: PASSWORD }, remoteAddress: VICTIM });
      assert.equal(saas.status, 429);
      assert.equal(saas.headers['retry-after'], String(account.blockSeconds));
      assert.match(saas.body.message, /^Too many attempts/);
    });

    it('counts a wrong current password on a password change like a sign-in', async () => {
      const user = await registerUser(app());
      const change = (currentPassword: string) =>
        call(app(), 'POST', '/api/users/me/password', { token: user.accessToken, body: { currentPassword, newPassword: 'another long passphrase' }, remoteAddress: ATTACKER });
      for (let i = 0; i < account.points; i++) assert.equal((await change(WRONG)).status, 422);
      assertThrottled(await change(PASSWORD));
    });

    it('refuses a twenty-first registration from one address within the hour, not from another', async () => {
      const address = '203.0.113.99';
      const register = (remoteAddress: string) =>
        call(app(), 'POST', '/auth/register', { body: { firstName: 'Ann', lastName: 'Bot', email: uniqueEmail('flood'), password: PASSWORD }, remoteAddress });
      for (let i = 0; i < DEFAULT_THROTTLE_POLICY.registerAddress.points; i++) assert.equal((await register(address)).status, 201);
      const refused = await register(address);
      assertThrottled(refused, DEFAULT_THROTTLE_POLICY.registerAddress.blockSeconds);
      assert.equal((await register('203.0.113.100')).status, 201);
    });

    it('refuses a sixth registration attempt for one email in any letter case', async () => {
      const email = uniqueEmail('again');
      const register = (i: number) =>
        call(app(), 'POST', '/auth/register', { body: { firstName: 'Ann', lastName: 'Again', email: i % 2 ? email.toUpperCase() : email, password: PASSWORD }, remoteAddress: `198.51.100.${100 + i}` });
      const answers: Answer[] = [];
      for (let i = 0; i <= DEFAULT_THROTTLE_POLICY.registerAccount.points; i++) answers.push(await register(i));
      assert.deepEqual(
        answers.map((a) => a.status),
        [201, 422, 422, 422, 422, 429],
      );
    });

    it('refuses the twenty-first forgot-password request from one address, with the same answer for every email before', async () => {
      const address = '203.0.113.150';
      const known = await registerUser(app());
      const forgot = (email: string, remoteAddress = address) => call(app(), 'POST', '/auth/password/forgot', { body: { email }, remoteAddress });
      const bodies = new Set<string>();
      for (let i = 0; i < DEFAULT_THROTTLE_POLICY.linksAddress.points; i++) {
        const answer = await forgot(i % 2 ? known.email : uniqueEmail('unknown'));
        assert.equal(answer.status, 202);
        bodies.add(JSON.stringify(answer.body));
      }
      assert.equal(bodies.size, 1);
      assertThrottled(await forgot(known.email), DEFAULT_THROTTLE_POLICY.linksAddress.blockSeconds);
      assert.equal((await forgot(known.email, '203.0.113.151')).status, 202);
    });

    it('refuses a sixth verification resend in the hour for one user', async () => {
      const user = await registerUser(app());
      const resend = (i: number) => call(app(), 'POST', '/auth/email/resend', { token: user.accessToken, remoteAddress: `192.0.2.${200 + i}` });
      for (let i = 0; i < DEFAULT_THROTTLE_POLICY.resendAccount.points; i++) assert.equal((await resend(i)).status, 202);
      assertThrottled(await resend(9));
    });

    it('counts every username an account tries on PATCH /api/users/me, taken or free, and refuses the eleventh in the hour', async () => {
      const taken = await registerUser(app(), { username: `taken${randomBytes(4).toString('hex')}` });
      const takenName = (await call(app(), 'GET', '/api/users/me', { token: taken.accessToken })).body.data.username as string;
      const prober = await registerUser(app(), { username: `prober${randomBytes(4).toString('hex')}` });
      const patch = (body: Record<string, unknown>, i: number) => call(app(), 'PATCH', '/api/users/me', { token: prober.accessToken, body, remoteAddress: `198.51.100.${120 + i}` });
      const statuses: number[] = [];
      for (let i = 0; i < DEFAULT_THROTTLE_POLICY.usernameAccount.points; i++) statuses.push((await patch({ username: i % 2 ? takenName : `free${randomBytes(4).toString('hex')}` }, i)).status);
      assert.deepEqual(statuses, Array.from({ length: DEFAULT_THROTTLE_POLICY.usernameAccount.points }, (_, i) => (i % 2 ? 422 : 200)));
      assertThrottled(await patch({ username: takenName }, 50));
      // The lockout is the username check's: the rest of the profile still changes, as does keeping one's own username.
      const own = (await call(app(), 'GET', '/api/users/me', { token: prober.accessToken })).body.data.username as string;
      assert.equal((await patch({ firstName: 'Still', username: own }, 51)).status, 200);
    });
  },
  { SMTP_URL: mailbox.url },
  { throttles: DEFAULT_THROTTLE_POLICY },
);

forEachDatabase(
  'throttling: growing lockouts, addresses and proxies',
  (h) => {
    const app = () => h().app;

    it('doubles the lockout each time an account is locked again', async () => {
      const user = await registerUser(app());
      let address = 0;
      // From ever new addresses, so that only the account's own counter is tested.
      const wrong = () => call(app(), 'POST', '/auth/login', { body: { email: user.email, password: WRONG }, remoteAddress: `192.0.2.${++address}` });
      const lockouts: number[] = [];
      for (let i = 0; i < 2; i++) assert.equal((await wrong()).status, 401);
      for (let round = 0; round < 3; round++) {
        const refused = await wrong();
        assertThrottled(refused);
        lockouts.push(Number(refused.headers['retry-after']));
        // Once the lockout ran out, this failure is the first of the next round.
        await waitUntil(async () => (await wrong()).status === 401);
        assert.equal((await wrong()).status, 401);
      }
      assert.deepEqual(lockouts, [1, 2, 4]);
    });

    it('counts failures from an address across accounts, and gives a successful sign-in its attempt back', async () => {
      const address = '203.0.113.60';
      const user = await registerUser(app());
      const attempt = (email: string, password: string) => call(app(), 'POST', '/auth/login', { body: { email, password }, remoteAddress: address });
      assert.equal((await attempt(uniqueEmail('a'), WRONG)).status, 401);
      assert.equal((await attempt(uniqueEmail('b'), WRONG)).status, 401);
      assert.equal((await attempt(user.email, PASSWORD)).status, 200);
      assert.equal((await attempt(uniqueEmail('c'), WRONG)).status, 401);
      assertThrottled(await attempt(uniqueEmail('d'), WRONG));
      assert.equal((await call(app(), 'POST', '/auth/login', { body: { email: user.email, password: PASSWORD }, remoteAddress: '203.0.113.61' })).status, 200);
    });

    it('refuses the invitations past an inviter’s allowance', async () => {
      const owner = await registerUser(app());
      const invite = () => call(app(), 'POST', `/api/organisations/${owner.personalOrgId}/invitations`, { token: owner.accessToken, body: { email: uniqueEmail('guest'), role: 'member' } });
      for (let i = 0; i < 3; i++) assert.equal((await invite()).status, 201);
      assertThrottled(await invite());
    });

    it('keys addresses on the /64 for IPv6: a client cannot escape by moving within its own network', async () => {
      const login = (remoteAddress: string) => call(app(), 'POST', '/auth/login', { body: { email: uniqueEmail('v6'), password: WRONG }, remoteAddress });
      assert.deepEqual(
        [await login('2001:db8:77:1::1'), await login('2001:db8:77:1::2'), await login('2001:db8:77:1:ffff:ffff:ffff:fffe')].map((a) => a.status),
        [401, 401, 401],
      );
      assertThrottled(await login('2001:db8:77:1:abcd::9'));
      // The next /64 is another client.
      assert.equal((await login('2001:db8:77:2::1')).status, 401);
    });

    it('counts an IPv4-mapped IPv6 address as the IPv4 address it is', async () => {
      const login = (remoteAddress: string) => call(app(), 'POST', '/auth/login', { body: { email: uniqueEmail('mapped'), password: WRONG }, remoteAddress });
      assert.deepEqual([(await login('::ffff:192.0.2.177')).status, (await login('192.0.2.177')).status, (await login('::ffff:c000:2b1')).status], [401, 401, 401]);
      assertThrottled(await login('192.0.2.177'));
      assert.equal((await login('192.0.2.178')).status, 401);
    });

    it('counts username checks per address too, across accounts', async () => {
      const address = '2001:db8:99:5::1';
      const users = await Promise.all(Array.from({ length: SMALL.usernameAddress.points + 1 }, () => registerUser(app())));
      const check = (user: TestUser, remoteAddress = address) =>
        call(app(), 'PATCH', '/api/users/me', { token: user.accessToken, body: { username: `probe${randomBytes(5).toString('hex')}` }, remoteAddress });
      for (const user of users.slice(0, -1)) assert.equal((await check(user)).status, 200);
      assertThrottled(await check(users.at(-1)!, '2001:db8:99:5:1:2:3:4'));
      assert.equal((await check(users.at(-1)!, '203.0.113.250')).status, 200);
    });

    it('trusts only the nearest hops with TRUST_PROXY=1: a client cannot choose its address by sending the header itself', async () => {
      const harness = await startHarness(h().target, { TRUST_PROXY: '1' }, { throttles: SMALL });
      try {
        const answers: Answer[] = [];
        for (let i = 0; i < 4; i++) {
          // The client sends a made-up address; the proxy appends the one it saw.
          const forwarded = `10.9.0.${i}, 192.0.2.50`;
          answers.push(await call(harness.app, 'POST', '/auth/login', { body: { email: uniqueEmail('hop'), password: WRONG }, headers: { 'x-forwarded-for': forwarded } }));
        }
        assert.deepEqual(
          answers.map((a) => a.status),
          [401, 401, 401, 429],
        );
      } finally {
        await harness.close();
      }
    });

    it('tells clients apart by X-Forwarded-For only when TRUST_PROXY is set', async () => {
      for (const trustProxy of [false, true]) {
        const harness = await startHarness(h().target, { TRUST_PROXY: String(trustProxy) }, { throttles: SMALL });
        try {
          const answers: Answer[] = [];
          for (let i = 0; i < 4; i++) {
            answers.push(await call(harness.app, 'POST', '/auth/login', { body: { email: uniqueEmail('x'), password: WRONG }, headers: { 'x-forwarded-for': `10.1.0.${i}` } }));
          }
          assert.deepEqual(
            answers.map((a) => a.status),
            trustProxy ? [401, 401, 401, 401] : [401, 401, 401, 429],
            `TRUST_PROXY=${trustProxy}`,
          );
        } finally {
          await harness.close();
        }
      }
    });
  },
  {},
  { throttles: smallPolicy() },
);

/** Rules small enough to reach in a test, and short enough to wait out. */
function smallPolicy() {
  return {
    ...ROOMY_THROTTLES,
    signInAccount: { points: 2, windowSeconds: 60, blockSeconds: 1, maxBlockSeconds: 8 },
    signInAddress: { points: 3, windowSeconds: 60, blockSeconds: 60, maxBlockSeconds: 60 },
    inviteAccount: { points: 3, windowSeconds: 60, blockSeconds: 0, maxBlockSeconds: 0 },
    usernameAddress: { points: 3, windowSeconds: 60, blockSeconds: 60, maxBlockSeconds: 60 },
  };
}
const SMALL = smallPolicy();

async function waitUntil(condition: () => Promise<boolean>, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) assert.fail('condition not reached');
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
