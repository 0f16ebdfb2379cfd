// A webhook receiver as a customer would run one: a real HTTP server that verifies every delivery
// with the `standardwebhooks` package's own verifier, and that the tests can make refuse connections,
// answer 500, hang past the timeout, answer a redirect, or close a kept-alive connection as a request
// arrives on it (what a receiver's idle timeout does when it fires just as the connection is reused).
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Webhook } from 'standardwebhooks';

export type ReceiverMode = 'ok' | 'error' | 'hang' | 'redirect' | 'drop-reused';

export interface Received {
  id: string;
  timestamp: number;
  signature: string;
  body: string;
  payload: { type: string; timestamp: string; data: Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
  headers: IncomingHttpHeaders;
  /** How the receiver answered. */
  answered: ReceiverMode;
  path: string;
}

export class Receiver {
  mode: ReceiverMode = 'ok';
  /** Every request that arrived, answered or not. */
  readonly requests: Received[] = [];
  private server: Server | null = null;
  private port = 0;
  private readonly hanging = new Set<() => void>();
  private readonly usedSockets = new WeakSet<object>();

  /** Starts listening (again, on the same port after `down`). */
  async up(): Promise<void> {
    const server = createServer((request, response) => {
      const reused = this.usedSockets.has(request.socket);
      this.usedSockets.add(request.socket);
      if (this.mode === 'drop-reused' && reused) {
        request.socket.destroy();
        return;
      }
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = Buffer.concat(chunks).toString('utf8');
        const mode = this.mode;
        this.requests.push({
          id: String(request.headers['webhook-id']),
          timestamp: Number(request.headers['webhook-timestamp']),
          signature: String(request.headers['webhook-signature']),
          body,
          payload: JSON.parse(body),
          headers: request.headers,
          answered: mode,
          path: request.url ?? '',
        });
        if (mode === 'ok' || mode === 'drop-reused') response.writeHead(200, { 'content-type': 'text/plain' }).end('thanks');
        else if (mode === 'error') response.writeHead(500).end('x'.repeat(5000));
        else if (mode === 'redirect') response.writeHead(302, { location: '/elsewhere' }).end();
        else this.hanging.add(() => response.destroy());
      });
    });
    await new Promise<void>((resolve) => server.listen(this.port, '127.0.0.1', resolve));
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Stops listening: connections are refused until `up`. */
  async down(): Promise<void> {
    for (const hangUp of this.hanging) hangUp();
    this.hanging.clear();
    const server = this.server;
    this.server = null;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  url(path = '/hook', host = '127.0.0.1'): string {
    return `http://${host}:${this.port}${path}`;
  }

  /** The requests the receiver answered 2xx. */
  accepted(): Received[] {
    return this.requests.filter((r) => r.answered === 'ok' || r.answered === 'drop-reused');
  }

  /** Verifies a request as a customer's receiver does; throws when the signature does not hold for the secret. */
  static verify(request: Received, secret: string): unknown {
    return new Webhook(secret).verify(request.body, { 'webhook-id': request.id, 'webhook-timestamp': String(request.timestamp), 'webhook-signature': request.signature });
  }

  /**
   * Checks a request's signature without the verifier's five-minute window, for tests that move
   * Gatehouse's clock: the library signs the request's own id, timestamp and body with the secret,
   * and one of the header's signatures must be that.
   */
  static signedWith(request: Received, secret: string): boolean {
    const expected = new Webhook(secret).sign(request.id, new Date(request.timestamp * 1000), request.body);
    return request.signature.split(' ').includes(expected);
  }

  /** Waits (up to `ms`) until `condition` holds of the requests. */
  async waitFor(condition: (requests: Received[]) => boolean, what: string, ms = 10_000): Promise<void> {
    const until = Date.now() + ms;
    while (!condition(this.requests)) {
      if (Date.now() > until) assert.fail(`the receiver did not get ${what}: ${this.requests.length} requests (${this.requests.map((r) => r.payload.type).join(', ')})`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }
}
