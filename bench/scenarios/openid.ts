// The OpenID Provider's token endpoint exchanging authorization codes (authorization_code + PKCE, a
// first-party confidential client, HTTP Basic), beside a refresh (`refresh`): both check a credential
// against the database and sign tokens.
//
// A code is single use and lives CODE_TTL_SECONDS (60 s), so codes cannot be made once for the whole
// run: each round gets its own pool, made just before its load through the real flow over HTTP (the
// authorization request, the hosted sign-in page's form once per browser, the consent step a
// first-party client skips, the redirect with the code), and the server is left to settle before the
// load starts. A pool holds what the load is expected to spend in warm-up + duration at the rate
// measured so far (a one-second calibration before the first round, then the best round), with a
// quarter more; it is capped at what can be made and spent before its first codes expire. Should it
// run dry anyway, the rest of the load's answers are errors and the row's note says so.
import { createHash, randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { CODE_TTL_SECONDS } from '../../src/domain/oidc/openid-provider.ts';
import { addressOf, PASSWORD, USER_AGENT } from '../lib/http.ts';
import { fire, type Load, type Request, type Timing } from '../lib/load.ts';
import type { Server } from '../lib/processes.ts';
import { createOidcClient } from '../setup/gatehouse.ts';
import { loginEmail } from '../setup/small.ts';
import { refreshLoad } from './accounts.ts';
import type { Scenario } from './scenario.ts';

const REDIRECT_URI = 'http://bench.test/callback';
/** The accounts whose browsers make codes: none of the other fixtures' sessions (small.ts) are touched. */
const FIRST_ACCOUNT = 40;
/** Seconds kept free between the last use of a pool and its first code's expiry. */
const MARGIN_SECONDS = 10;

interface Code {
  code: string;
  verifier: string;
}

const base64url = (bytes: Buffer) => bytes.toString('base64url');

/** A browser without script: one person signed in at Gatehouse, asking for codes one after another. */
class Browser {
  private readonly cookies = new Map<string, string>();
  private signedIn = false;
  private readonly server: Server;
  private readonly clientId: string;
  /** The bench account (loginEmail) this browser signs in as, from its own address. */
  private readonly account: number;
  constructor(server: Server, clientId: string, account: number) {
    this.server = server;
    this.clientId = clientId;
    this.account = account;
  }

  private async go(url: string, form?: Record<string, string>): Promise<{ location: string | null; html: string }> {
    const response = await fetch(url, {
      method: form ? 'POST' : 'GET',
      redirect: 'manual',
      headers: {
        cookie: [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; '),
        'user-agent': USER_AGENT,
        'x-forwarded-for': addressOf(this.account),
        'sec-fetch-site': 'same-origin',
        ...(form ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
      },
      body: form ? new URLSearchParams(form).toString() : undefined,
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const at = pair.indexOf('=');
      if (/max-age=0|expires=thu, 01 jan 1970/i.test(line)) this.cookies.delete(pair.slice(0, at));
      else this.cookies.set(pair.slice(0, at), pair.slice(at + 1));
    }
    const location = response.headers.get('location');
    return { location: location && new URL(location, url).href, html: location ? '' : await response.text() };
  }

  /** One authorization code, through the pages a person's browser goes through. */
  async code(): Promise<Code> {
    const verifier = base64url(randomBytes(32));
    const state = base64url(randomBytes(12));
    const query = new URLSearchParams({
      client_id: this.clientId,
      response_type: 'code',
      scope: 'openid',
      redirect_uri: REDIRECT_URI,
      code_challenge: base64url(createHash('sha256').update(verifier).digest()),
      code_challenge_method: 'S256',
      state,
      nonce: base64url(randomBytes(12)),
    });
    let next = `${this.server.url}/oidc/auth?${query}`;
    for (let hop = 0; hop < 10; hop++) {
      if (next.startsWith(REDIRECT_URI)) {
        const answer = new URL(next).searchParams;
        if (answer.get('state') !== state || !answer.get('code')) throw new Error(`The authorization answered ${next}`);
        return { code: answer.get('code')!, verifier };
      }
      const { location, html } = await this.go(next);
      if (location) {
        next = location;
        continue;
      }
      // Only the first request of a browser meets the sign-in page; its session answers the others.
      const action = /<form method="post" action="([^"]*\/login)">/.exec(html)?.[1];
      const csrf = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
      if (this.signedIn || !action || !csrf) throw new Error(`Unexpected page at ${next}: ${html.slice(0, 300)}`);
      const posted = await this.go(new URL(action, next).href, { csrf, email: loginEmail(this.account), password: PASSWORD });
      if (!posted.location) throw new Error(`The sign-in of ${loginEmail(this.account)} failed: ${posted.html.slice(0, 300)}`);
      this.signedIn = true;
      next = posted.location;
    }
    throw new Error('Too many redirects on the way to a code');
  }
}

/** Makes `count` codes, every browser asking for one at a time; answers them and how many were made per second. */
async function makeCodes(browsers: Browser[], count: number): Promise<{ codes: Code[]; perSecond: number }> {
  const started = performance.now();
  const codes: Code[] = [];
  let left = count;
  await Promise.all(
    browsers.map(async (browser) => {
      for (; left > 0; left--) codes.push(await browser.code());
    }),
  );
  return { codes, perSecond: codes.length / ((performance.now() - started) / 1000) };
}

function codeLoad({ server, clientId, clientSecret, browsers, connections }: { server: Server; clientId: string; clientSecret: string; browsers: Browser[]; connections: number }): Load {
  let expectedRate = 0;
  let makeRate = 0;
  const basic = `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`;

  async function exchange(pool: Code[], timing: Timing) {
    const request: Request = {
      method: 'POST',
      path: '/oidc/token',
      setupRequest: (request) => {
        // Should the pool run dry, the answers say so as errors.
        const next = pool.shift() ?? { code: 'the-pool-ran-dry', verifier: 'x'.repeat(43) };
        const body = new URLSearchParams({ grant_type: 'authorization_code', code: next.code, redirect_uri: REDIRECT_URI, code_verifier: next.verifier }).toString();
        return { ...request, headers: { ...request.headers, 'content-type': 'application/x-www-form-urlencoded', authorization: basic, 'user-agent': USER_AGENT }, body };
      },
    };
    return fire({ url: server.url, connections, requests: [request] }, timing);
  }

  return {
    label: 'Gatehouse, authorization code',
    async run(timing) {
      if (expectedRate === 0) {
        // Calibration: a second of exchanges, unmeasured, to size the first pool.
        const made = await makeCodes(browsers, 2000);
        makeRate = made.perSecond;
        await server.settle();
        expectedRate = (await exchange(made.codes, { warmupSeconds: 0.5, seconds: 1 })).rps;
        await server.settle();
      }
      const spent = timing.warmupSeconds + timing.seconds;
      const wanted = Math.ceil(expectedRate * spent * 1.25) + 2 * connections;
      // Made at makeRate, then settled and spent: the first code must still be alive at the end.
      const affordable = Math.floor((CODE_TTL_SECONDS - MARGIN_SECONDS - spent) * makeRate);
      const count = Math.max(connections, Math.min(wanted, affordable));
      const made = await makeCodes(browsers, count);
      makeRate = made.perSecond;
      await server.settle();
      const peak = server.sampleMemory();
      const sample = await exchange(made.codes, timing);
      expectedRate = Math.max(expectedRate, sample.rps);
      const capped = count < wanted ? `pool capped at ${count} of ${wanted} codes by their ${CODE_TTL_SECONDS} s lifetime` : undefined;
      const note = [sample.note, capped].filter(Boolean).join('; ') || undefined;
      return { ...sample, rssMb: peak(), note };
    },
  };
}

export const oidcCodeFlow: Scenario = {
  name: 'oidc-code-flow',
  title: 'POST /oidc/token (authorization code + PKCE, confidential first-party client)',
  async plan(context) {
    const { server, databaseUrl } = await context.small();
    const { connections } = context.options;
    const { clientId, clientSecret } = await createOidcClient({ databaseUrl, publicUrl: server.url, name: 'Bench', redirectUri: REDIRECT_URI, firstParty: true });
    const browsers = Array.from({ length: connections }, (_, k) => new Browser(server, clientId, FIRST_ACCOUNT + k));
    return {
      subject: codeLoad({ server, clientId, clientSecret, browsers, connections }),
      references: [{ kind: 'Gatehouse', compare: 'a refresh (`refresh`)', load: await refreshLoad(context, 'Gatehouse, refresh') }],
    };
  },
};
