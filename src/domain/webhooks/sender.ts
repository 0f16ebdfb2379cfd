// Sends one webhook message to one endpoint: Standard Webhooks v1 headers signed with the
// `standardwebhooks` package (with both secrets while a rotation overlaps), a POST that must answer
// 2xx within the timeout, no redirects followed (a 3xx is a failure), at most 1 KiB of the answer
// kept, and the address checked as the socket connects (./address-guard.ts). Connections are kept
// alive and reused per endpoint origin.
import http from 'node:http';
import https from 'node:https';
import { Webhook } from 'standardwebhooks';
import { checkLiteralHost, guardedLookup } from './address-guard.ts';

export const WEBHOOK_TIMEOUT_MS = 5000;
/** The most of an answer's body the delivery log keeps. */
export const RESPONSE_BODY_LIMIT = 1024;

export interface Outgoing {
  url: string;
  messageId: string;
  body: string;
  /** Every secret that signs: the current one, and the previous one during a rotation's overlap. */
  secrets: readonly string[];
  at: Date;
}

export type SendResult =
  | { ok: true; status: number; body: string; durationMs: number }
  | { ok: false; status: number | null; body: string | null; error: string; durationMs: number };

export interface SenderOptions {
  allowPrivate: boolean;
  timeoutMs?: number;
  userAgent?: string;
}

/** The Standard Webhooks headers of a message: one `v1,` signature per secret, space-separated. */
export function signatureHeaders({ messageId, body, secrets, at }: Pick<Outgoing, 'messageId' | 'body' | 'secrets' | 'at'>): Record<string, string> {
  const signatures = secrets.map((secret) => new Webhook(secret).sign(messageId, at, body));
  return { 'webhook-id': messageId, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': signatures.join(' ') };
}

export function webhookSender({ allowPrivate, timeoutMs = WEBHOOK_TIMEOUT_MS, userAgent = 'Gatehouse-Webhooks/1' }: SenderOptions) {
  const lookup = guardedLookup(allowPrivate);
  const agents = { http: new http.Agent({ keepAlive: true, lookup, maxSockets: 16 }), https: new https.Agent({ keepAlive: true, lookup, maxSockets: 16 }) };

  function send(outgoing: Outgoing): Promise<SendResult> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    return new Promise((resolve) => {
      let settled = false;
      let current: http.ClientRequest | null = null;
      const finish = (result: SendResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(result);
      };
      const fail = (error: unknown, status: number | null = null, body: string | null = null) =>
        finish({ ok: false, status, body, error: error instanceof Error ? error.message : String(error), durationMs: elapsed() });
      const timer = setTimeout(() => {
        fail(new Error(`no answer within ${timeoutMs / 1000} s`));
        current?.destroy();
      }, timeoutMs);

      let url: URL;
      try {
        url = new URL(outgoing.url);
        checkLiteralHost(url, allowPrivate);
      } catch (error) {
        return fail(error);
      }
      const client = url.protocol === 'https:' ? https : http;
      const headers = { 'content-type': 'application/json', 'user-agent': userAgent, ...signatureHeaders(outgoing) };

      const post = (retry: boolean) => {
        // The retry takes a connection of its own: the pool may hold more that the receiver has closed.
        const agent = retry ? (url.protocol === 'https:' ? agents.https : agents.http) : false;
        const request = client.request(url, { method: 'POST', agent, lookup, headers });
        current = request;
        let answered = false;
        request.on('error', (error: NodeJS.ErrnoException) => {
          // A kept-alive connection the receiver closed just as it was reused: once more, on a new one.
          if (retry && !settled && !answered && request.reusedSocket && (error.code === 'ECONNRESET' || error.code === 'EPIPE')) return post(false);
          fail(error);
        });
        request.on('response', (response) => {
          answered = true;
          const chunks: Buffer[] = [];
          let kept = 0;
          response.on('data', (chunk: Buffer) => {
            if (kept < RESPONSE_BODY_LIMIT) {
              chunks.push(chunk.subarray(0, RESPONSE_BODY_LIMIT - kept));
              kept += Math.min(chunk.length, RESPONSE_BODY_LIMIT - kept);
            }
          });
          response.on('error', (error) => fail(error));
          response.on('end', () => {
            const status = response.statusCode ?? 0;
            const body = truncateUtf8(Buffer.concat(chunks));
            if (status >= 200 && status < 300) finish({ ok: true, status, body, durationMs: elapsed() });
            else fail(new Error(status >= 300 && status < 400 ? `redirect (${status}) not followed` : `answered ${status}`), status, body);
          });
        });
        request.end(outgoing.body);
      };
      post(true);
    });
  }

  return {
    send,
    close() {
      agents.http.destroy();
      agents.https.destroy();
    },
  };
}

export type WebhookSender = ReturnType<typeof webhookSender>;

/** At most RESPONSE_BODY_LIMIT bytes of text, never a broken character at the end. */
function truncateUtf8(bytes: Buffer): string {
  let text = bytes.subarray(0, RESPONSE_BODY_LIMIT).toString('utf8').replaceAll('\0', '');
  while (Buffer.byteLength(text) > RESPONSE_BODY_LIMIT || text.endsWith('\uFFFD')) text = text.slice(0, -1);
  return text;
}
