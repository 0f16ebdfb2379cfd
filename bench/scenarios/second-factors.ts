// Sign-in with a second factor: the password, then a code from the account's authenticator app, two
// requests that make one operation (POST /auth/login answers an mfaToken, POST /auth/mfa/verify the
// tokens), beside the password alone (`login`) in the same minutes.
import { Secret, TOTP } from 'otpauth';
import { JSON_HEADERS, PASSWORD } from '../lib/http.ts';
import { httpLoad, type Request } from '../lib/load.ts';
import { seedTotpAccounts, type TotpAccount } from '../setup/second-factors.ts';
import { signIns } from './requests.ts';
import { roundRobin, type Scenario } from './scenario.ts';

/** What a request's set-up answers to start the sequence again (autocannon's convention: a falsy request). */
const RESTART = undefined as unknown as Request;

interface Attempt {
  account?: TotpAccount;
  mfaToken?: string | null;
}

/** The code the account's app shows now. */
const codeOf = (totp: TOTP) => totp.generate({ timestamp: Date.now() });

export const loginMfa: Scenario = {
  name: 'login-mfa',
  title: 'POST /auth/login + POST /auth/mfa/verify (password, then an authenticator app’s code)',
  async plan(context) {
    const { server, databaseUrl } = await context.small();
    const { connections } = context.options;
    const accounts = await seedTotpAccounts(databaseUrl);
    const apps = new Map(accounts.map((a) => [a, new TOTP({ secret: Secret.fromBase32(a.secret), algorithm: 'SHA1', digits: 6, period: 30 })]));
    const next = roundRobin(accounts);
    const password: Request = {
      method: 'POST',
      path: '/auth/login',
      setupRequest: (request, context) => {
        const account = next();
        (context as Attempt).account = account;
        (context as Attempt).mfaToken = null;
        return { ...request, headers: { ...request.headers, ...JSON_HEADERS, 'x-forwarded-for': account.address }, body: JSON.stringify({ email: account.email, password: PASSWORD }) };
      },
      onResponse: (status, body, context) => {
        if (status === 200) (context as Attempt).mfaToken = (JSON.parse(body) as { data: { mfaToken?: string } }).data.mfaToken ?? null;
      },
    };
    const code: Request = {
      method: 'POST',
      path: '/auth/mfa/verify',
      setupRequest: (request, context) => {
        const { account, mfaToken } = context as Attempt;
        if (!account || !mfaToken) return RESTART; // the first step failed: its answer is counted already
        return {
          ...request,
          headers: { ...request.headers, ...JSON_HEADERS, 'x-forwarded-for': account.address },
          body: JSON.stringify({ mfaToken, method: 'totp', code: codeOf(apps.get(account)!) }),
        };
      },
    };
    return {
      subject: httpLoad({ label: 'Gatehouse, password + app code', server, connections, requests: [password, code], requestsPerOperation: 2 }),
      references: [{ kind: 'Gatehouse', compare: 'the password alone (`login`)', load: httpLoad({ label: 'Gatehouse, password alone', server, connections, requests: [signIns('/auth/login')] }) }],
    };
  },
};
