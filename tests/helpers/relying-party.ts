// A relying party as an application developer would write one with openid-client: discovery, the
// authorization code flow with PKCE, state and nonce, userinfo, refresh and RP-initiated logout.
// Two ways to drive it: a small web app on a port of 127.0.0.1 (for Chromium), and `Navigator`, a
// browser without script made of fetch and a cookie jar (for the protocol tests on both databases).
import assert from 'node:assert/strict';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer } from 'node:net';
import * as oidc from 'openid-client';
import type { App } from '../../src/app.ts';
import type { Db } from '../../src/db/database.ts';
import { call, registerUser, type TestUser } from './api.ts';
import type { Harness } from './harness.ts';

/** A port nobody listens on: the issuer (PUBLIC_URL) must be the address the client really reaches. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function makeAdmin(app: App, db: Db): Promise<TestUser> {
  const user = await registerUser(app);
  await db.updateTable('users').set({ platform_role: 'admin' }).where('id', '=', user.userId).execute();
  return user;
}

export interface RegisteredClient {
  clientId: string;
  clientSecret?: string;
}

export async function registerClient(app: App, adminToken: string, body: Record<string, unknown>): Promise<RegisteredClient> {
  const answer = await call(app, 'POST', '/api/admin/oidc-clients', { token: adminToken, body });
  assert.equal(answer.status, 201, JSON.stringify(answer.body));
  return answer.body.data;
}

/** openid-client's configuration from the discovery document; http is allowed, as on localhost. */
export async function discover(issuer: string, client: RegisteredClient): Promise<oidc.Configuration> {
  const auth = client.clientSecret ? oidc.ClientSecretBasic(client.clientSecret) : oidc.None();
  return oidc.discovery(new URL(issuer), client.clientId, client.clientSecret, auth, { execute: [oidc.allowInsecureRequests] });
}

/**
 * The relying party of a suite on one database: on first use the harness's app listens on `port` (its
 * PUBLIC_URL) and a platform admin registers a first-party confidential client, "Notes".
 */
export function firstPartyRelyingParty(harness: () => Harness, port: number, redirectUri: string): () => Promise<oidc.Configuration> {
  let config: Promise<oidc.Configuration> | undefined;
  return () =>
    (config ??= (async () => {
      const { app, db } = harness();
      await app.listen({ port, host: '127.0.0.1' });
      const admin = await makeAdmin(app, db);
      const registered = await registerClient(app, admin.accessToken, { name: 'Notes', redirectUris: [redirectUri], type: 'confidential', firstParty: true });
      return discover(`http://127.0.0.1:${port}`, registered);
    })());
}

export interface AuthorizationRequest {
  url: URL;
  verifier: string;
  state: string;
  nonce: string;
}

export async function authorizationRequest(config: oidc.Configuration, redirectUri: string, scope = 'openid email profile offline_access', extra: Record<string, string> = {}): Promise<AuthorizationRequest> {
  const verifier = oidc.randomPKCECodeVerifier();
  const state = oidc.randomState();
  const nonce = oidc.randomNonce();
  const url = oidc.buildAuthorizationUrl(config, {
    redirect_uri: redirectUri,
    scope,
    code_challenge: await oidc.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
    // OpenID Connect Core §11: a refresh token (offline_access) is asked for with prompt=consent.
    ...(scope.split(' ').includes('offline_access') ? { prompt: 'consent' } : {}),
    ...extra,
  });
  return { url, verifier, state, nonce };
}

/** A browser without script: follows redirects by hand, keeps cookies, posts forms. */
export class Navigator {
  readonly cookies = new Map<string, string>();
  private readonly stopAt: string;
  constructor(stopAt: string) {
    this.stopAt = stopAt;
  }

  private keep(response: Response) {
    for (const line of response.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const at = pair.indexOf('=');
      const name = pair.slice(0, at).trim();
      const value = pair.slice(at + 1).trim();
      const expired = /max-age=0|expires=thu, 01 jan 1970/i.test(line);
      if (!value || expired) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  private header() {
    return [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  }

  /**
   * Requests `url` and follows redirects until a page answers or the browser is sent to the
   * relying party's callback (`stopAt`), which is returned unvisited.
   */
  async go(url: string, init: { method?: string; form?: Record<string, string> } = {}): Promise<{ url: string; status: number; html: string; callback: URL | null; headers: Headers | null }> {
    let next = url;
    let method = init.method ?? 'GET';
    let body: string | undefined = init.form ? new URLSearchParams(init.form).toString() : undefined;
    for (let hop = 0; hop < 10; hop++) {
      if (next.startsWith(this.stopAt)) return { url: next, status: 0, html: '', callback: new URL(next), headers: null };
      const response = await fetch(next, {
        method,
        redirect: 'manual',
        headers: { cookie: this.header(), 'sec-fetch-site': 'same-origin', ...(body ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
        body,
      });
      this.keep(response);
      const location = response.headers.get('location');
      if (response.status >= 300 && response.status < 400 && location) {
        next = new URL(location, next).href;
        method = 'GET';
        body = undefined;
        continue;
      }
      return { url: next, status: response.status, html: await response.text(), callback: null, headers: response.headers };
    }
    throw new Error('too many redirects');
  }

  /** Submits the page's form whose action ends with `action`, with its hidden fields and `fields`. */
  async submit(page: { url: string; html: string }, action: string, fields: Record<string, string> = {}) {
    const forms = [...page.html.matchAll(/<form[^>]*action="([^"]+)"[^>]*>([\s\S]*?)<\/form>/g)];
    const form = forms.find((match) => match[1]!.endsWith(action));
    assert.ok(form, `no form posting to …${action} on ${page.url}:\n${page.html}`);
    const hidden = Object.fromEntries([...form[2]!.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)">/g)].map((m) => [m[1]!, decodeHtml(m[2]!)]));
    return this.go(new URL(form[1]!, page.url).href, { method: 'POST', form: { ...hidden, ...fields } });
  }
}

const decodeHtml = (text: string) => text.replace(/&quot;/g, '"').replace(/&#39;/g, "'").replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/**
 * A relying party's web app: /login starts the flow, /callback finishes it (code exchange, ID token
 * and userinfo) and greets the person, /logout signs out at Gatehouse. What it learnt is in `seen`.
 */
export async function relyingPartyApp(config: oidc.Configuration, port: number, { scope }: { scope?: string } = {}) {
  const base = `http://127.0.0.1:${port}`;
  const pending = new Map<string, AuthorizationRequest>();
  const seen: { tokens?: oidc.TokenEndpointResponse & oidc.TokenEndpointResponseHelpers; userinfo?: oidc.UserInfoResponse; loggedOut?: boolean } = {};
  const server: Server = createHttpServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', base);
      if (url.pathname === '/login') {
        const request = await authorizationRequest(config, `${base}/callback`, scope);
        pending.set(request.state, request);
        res.writeHead(302, { location: request.url.href }).end();
      } else if (url.pathname === '/callback') {
        const request = pending.get(url.searchParams.get('state') ?? '');
        if (!request) throw new Error('unknown state');
        pending.delete(request.state);
        const tokens = await oidc.authorizationCodeGrant(config, url, { pkceCodeVerifier: request.verifier, expectedState: request.state, expectedNonce: request.nonce, idTokenExpected: true });
        seen.tokens = tokens;
        seen.userinfo = await oidc.fetchUserInfo(config, tokens.access_token, tokens.claims()!.sub);
        res.writeHead(200, { 'content-type': 'text/html' }).end(`<p id="hello">Hello ${seen.userinfo.email}</p>`);
      } else if (url.pathname === '/logout') {
        res.writeHead(302, { location: oidc.buildEndSessionUrl(config, { id_token_hint: seen.tokens?.id_token ?? '', post_logout_redirect_uri: `${base}/goodbye` }).href }).end();
      } else if (url.pathname === '/goodbye') {
        seen.loggedOut = true;
        res.writeHead(200, { 'content-type': 'text/html' }).end('<p id="goodbye">Signed out</p>');
      } else {
        res.writeHead(404).end();
      }
    } catch (error) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end(String(error));
    }
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    base,
    seen,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
