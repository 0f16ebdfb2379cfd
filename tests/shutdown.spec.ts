// SIGTERM against `gatehouse serve` over real sockets. Readiness fails first while requests are still
// served, so requests a client had queued when the signal came are answered, none reset; then the
// listener closes: a new connection is refused, while every connection accepted before is served to
// the end (a request half-sent, and one that had sent nothing yet), and the process exits 0.
import assert from 'node:assert/strict';
import http from 'node:http';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { uniqueEmail } from './helpers/api.ts';
import { startGatehouse } from './helpers/gatehouse-process.ts';
import { openRaw, within } from './helpers/raw-http.ts';

/** Liveness bounds: what has not happened by then is not going to. */
const BOUND_MS = 30_000;

/** A GET on a connection of its own: status and headers, or the error code the client got. */
function get(url: string, path: string): Promise<{ status: number; connection?: string; body: Record<string, unknown> } | string> {
  return new Promise((resolve) => {
    const request = http.get(`${url}${path}`, { agent: false }, (response) => {
      let text = '';
      response.on('data', (chunk: Buffer) => (text += chunk.toString()));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, connection: response.headers.connection, body: JSON.parse(text) }));
    });
    request.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

/** Whether a new TCP connection is accepted: 'accepted', or the error code (ECONNREFUSED once closed). */
function tryConnect(url: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect(Number(port), hostname);
    socket.once('connect', () => {
      socket.destroy();
      resolve('accepted');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

async function until(what: string, check: () => Promise<boolean>, ms = BOUND_MS) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${ms} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('SIGTERM', () => {
  it('answers 20 requests sent 150 ms before it, through a pool of kept-alive connections, none reset; /readyz answers 503 meanwhile', { timeout: 120_000 }, async () => {
    // Longer than the default 5 s, so that twenty sign-ins finish within it even on a busy machine.
    const gatehouse = await startGatehouse({ GATEHOUSE_SHUTDOWN_DELAY: '10s' });
    const exited = new Promise<number | null>((resolve) => gatehouse.child.once('exit', (code) => resolve(code)));
    const { hostname, port } = new URL(gatehouse.url);
    // Five connections for twenty requests: most wait in the client's queue when the signal comes.
    const agent = new http.Agent({ keepAlive: true, maxSockets: 5 });
    try {
      const login = (i: number) =>
        new Promise<string>((resolve) => {
          const body = JSON.stringify({ email: uniqueEmail(`drain${i}`), password: 'correct horse battery' });
          const request = http.request({ host: hostname, port, method: 'POST', path: '/auth/login', agent, headers: { 'content-type': 'application/json' } }, (response) => {
            response.resume();
            response.on('end', () => resolve(String(response.statusCode)));
          });
          request.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
          request.end(body);
        });
      const answers = Promise.all(Array.from({ length: 20 }, (_, i) => login(i)));
      await new Promise((resolve) => setTimeout(resolve, 150));
      gatehouse.child.kill('SIGTERM');

      await until('/readyz answers 503', async () => {
        const ready = await get(gatehouse.url, '/readyz');
        return typeof ready !== 'string' && ready.status === 503;
      });
      const ready = await get(gatehouse.url, '/readyz');
      assert.ok(typeof ready !== 'string', `readiness: ${String(ready)}`);
      assert.equal(ready.body.code, 'SERVICE_UNAVAILABLE');
      assert.equal(ready.connection, 'close');
      const health = await get(gatehouse.url, '/healthz');
      assert.ok(typeof health !== 'string' && health.status === 200, `still alive while draining: ${JSON.stringify(health)}`);

      assert.deepEqual(await answers, Array(20).fill('401'), `every request answered (unknown accounts: 401), none reset or refused\n${gatehouse.output()}`);
      assert.equal(await within(exited, BOUND_MS), 0, gatehouse.output());
    } finally {
      agent.destroy();
      if (gatehouse.child.exitCode === null) gatehouse.child.kill('SIGKILL');
    }
  });

  it('then refuses new connections, but serves every accepted one: a request half-sent, and a connection that had sent nothing', { timeout: 120_000 }, async () => {
    const gatehouse = await startGatehouse({
      GATEHOUSE_SHUTDOWN_DELAY: '1s',
      // Neither timeout may be what ends the two held connections.
      GATEHOUSE_MIN_BODY_RATE: '0',
      GATEHOUSE_HEADERS_TIMEOUT: '30s',
      GATEHOUSE_REQUEST_TIMEOUT: '1m',
    });
    const exited = new Promise<number | null>((resolve) => gatehouse.child.once('exit', (code) => resolve(code)));
    try {
      const body = JSON.stringify({ email: uniqueEmail('held'), password: 'correct horse battery' });
      const halfSent = await openRaw(gatehouse.url);
      halfSent.send(`POST /auth/login HTTP/1.1\r\nHost: gatehouse\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, 10)}`);
      const silent = await openRaw(gatehouse.url);
      // Both are accepted by the server before the signal: a request on a third one is answered first.
      assert.ok(typeof (await get(gatehouse.url, '/healthz')) !== 'string');

      gatehouse.child.kill('SIGTERM');
      await until('a new connection is refused', async () => (await tryConnect(gatehouse.url)) === 'ECONNREFUSED');
      assert.equal(gatehouse.child.exitCode, null, 'exited with accepted connections unanswered');

      halfSent.send(body.slice(10));
      silent.send('GET /healthz HTTP/1.1\r\nHost: gatehouse\r\n\r\n');
      for (const [name, connection, status] of [
        ['the half-sent request', halfSent, 401],
        ['the silent connection', silent, 200],
      ] as const) {
        assert.notEqual(await within(connection.closed, BOUND_MS), 'timeout', `${name}: still open`);
        assert.equal(connection.status(), status, `${name}: ${connection.received().slice(0, 300)}\n${gatehouse.output()}`);
        assert.match(connection.received(), /\r\nconnection: close\r\n/i, name);
        assert.equal(await connection.closed, null, `${name}: reset instead of closed`);
      }
      assert.equal(await within(exited, BOUND_MS), 0, gatehouse.output());
    } finally {
      if (gatehouse.child.exitCode === null) gatehouse.child.kill('SIGKILL');
    }
  });

  it('does not wait forever for a connection that never sends a request: it gets the headers timeout, then the process exits 0', { timeout: 120_000 }, async () => {
    const gatehouse = await startGatehouse({ GATEHOUSE_SHUTDOWN_DELAY: '0', GATEHOUSE_HEADERS_TIMEOUT: '2s' });
    const exited = new Promise<number | null>((resolve) => gatehouse.child.once('exit', (code) => resolve(code)));
    try {
      const silent = await openRaw(gatehouse.url);
      assert.ok(typeof (await get(gatehouse.url, '/healthz')) !== 'string');
      gatehouse.child.kill('SIGTERM');
      assert.equal(await within(exited, BOUND_MS), 0, `still running with a silent connection open\n${gatehouse.output()}`);
      assert.notEqual(await within(silent.closed, BOUND_MS), 'timeout');
      assert.equal(silent.received(), '', 'nothing was asked, nothing answered');
    } finally {
      if (gatehouse.child.exitCode === null) gatehouse.child.kill('SIGKILL');
    }
  });
});
