// Slow and oversized clients against `gatehouse serve` over real sockets, with short timeouts
// configured so that each cut comes within seconds: a body sent a byte at a time, headers that never
// end and an idle kept-alive connection are all cut (a 408 in the API's envelope where a request was
// under way); a body slower than the minimum rate is cut long before the request timeout; and a body
// over the 1 MiB limit gets its 413 through to Node's http client, fetch and curl, every time.
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import http from 'node:http';
import { after, before, describe, it } from 'node:test';
import { startGatehouse, type GatehouseProcess } from './helpers/gatehouse-process.ts';
import { openRaw, within } from './helpers/raw-http.ts';

/** Liveness: a connection the server should have cut and has not by then is never going to be. */
const CUT_BOUND_MS = 30_000;
const MIB = 1024 * 1024;

const loginHeaders = (length: number, extra = '') => `POST /auth/login HTTP/1.1\r\nHost: gatehouse\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n${extra}\r\n`;

function assertTimedOut(status: number | null, body: Record<string, unknown> | null, what: string) {
  assert.equal(status, 408, what);
  assert.equal(body?.code, 'REQUEST_TIMEOUT', what);
  assert.equal(body?.statusCode, 408, what);
}

describe('slow clients against a server with short timeouts', () => {
  let gatehouse: GatehouseProcess;
  before(async () => {
    gatehouse = await startGatehouse({
      GATEHOUSE_HEADERS_TIMEOUT: '1s',
      GATEHOUSE_REQUEST_TIMEOUT: '2s',
      GATEHOUSE_KEEP_ALIVE_TIMEOUT: '1s',
      // Off here, so that each cut below is the timeout's; the next suite tests the rate.
      GATEHOUSE_MIN_BODY_RATE: '0',
      GATEHOUSE_SHUTDOWN_DELAY: '0',
    });
  });
  after(async () => {
    await gatehouse?.stop();
  });

  it('cuts 15 connections sending a body one byte at a time, each with a 408 in the envelope', { timeout: 60_000 }, async () => {
    const clients = await Promise.all(Array.from({ length: 15 }, () => openRaw(gatehouse.url)));
    for (const client of clients) {
      client.send(loginHeaders(1000));
      client.trickle(500);
    }
    const outcomes = await Promise.all(clients.map((client) => within(client.closed, CUT_BOUND_MS)));
    clients.forEach((client, i) => {
      assert.notEqual(outcomes[i], 'timeout', `connection ${i} still open after ${CUT_BOUND_MS} ms`);
      assertTimedOut(client.status(), client.json(), `connection ${i}: ${client.received().slice(0, 200)}`);
    });
    assert.equal((await fetch(`${gatehouse.url}/healthz`)).status, 200, 'the server still answers');
  });

  it('cuts a client whose headers never end', { timeout: 60_000 }, async () => {
    const client = await openRaw(gatehouse.url);
    client.send('GET /healthz HTTP/1.1\r\nHost: gatehouse\r\n');
    client.trickle(300, 'X');
    assert.notEqual(await within(client.closed, CUT_BOUND_MS), 'timeout', 'still open');
    assertTimedOut(client.status(), client.json(), client.received().slice(0, 200));
  });

  it('closes an idle kept-alive connection after the keep-alive timeout, saying so in the answer', { timeout: 60_000 }, async () => {
    const client = await openRaw(gatehouse.url);
    client.send('GET /healthz HTTP/1.1\r\nHost: gatehouse\r\n\r\n');
    const outcome = await within(client.closed, CUT_BOUND_MS);
    assert.notEqual(outcome, 'timeout', 'an idle connection still open');
    assert.equal(outcome, null, 'closed cleanly, not reset');
    assert.equal(client.status(), 200);
    assert.match(client.received(), /keep-alive: timeout=1\r\n/i);
  });
});

describe('a body slower than the minimum rate', () => {
  let gatehouse: GatehouseProcess;
  before(async () => {
    // The default rate (240 bytes a second after 5 s); a request timeout too long to be what cuts.
    gatehouse = await startGatehouse({ GATEHOUSE_REQUEST_TIMEOUT: '10m', GATEHOUSE_SHUTDOWN_DELAY: '0' });
  });
  after(async () => {
    await gatehouse?.stop();
  });

  it('is cut with a 408 long before the request timeout, while a steady one is served', { timeout: 60_000 }, async () => {
    const slow = await openRaw(gatehouse.url);
    slow.send(loginHeaders(1000));
    slow.trickle(500);
    // Steady: 1,500 bytes a second for 4 s, past the grace period, well above the minimum rate.
    const body = JSON.stringify({ email: 'steady@example.com', password: 'x'.repeat(6000) });
    const steady = await openRaw(gatehouse.url);
    steady.send(loginHeaders(Buffer.byteLength(body)));
    for (let sent = 0; sent < body.length; sent += 1500) {
      steady.send(body.slice(sent, sent + 1500));
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    assert.notEqual(await within(slow.closed, CUT_BOUND_MS), 'timeout', 'the slow body is still being received');
    assertTimedOut(slow.status(), slow.json(), slow.received().slice(0, 200));
    for (let i = 0; i < 100 && steady.status() === null; i++) await new Promise((resolve) => setTimeout(resolve, 100));
    assert.equal(steady.status(), 422, steady.received().slice(0, 300));
    steady.socket.destroy();
  });
});

describe('a body over the 1 MiB limit', () => {
  let gatehouse: GatehouseProcess;
  before(async () => {
    gatehouse = await startGatehouse({ GATEHOUSE_SHUTDOWN_DELAY: '0' });
  });
  after(async () => {
    await gatehouse?.stop();
  });

  /** One upload through Node's http client: the status it read, or the error it got instead. */
  function nodeHttp(body: Buffer, agent: http.Agent | false, chunked = false): Promise<string> {
    return new Promise((resolve) => {
      const { hostname, port } = new URL(gatehouse.url);
      const headers: Record<string, string | number> = { 'content-type': 'application/json' };
      if (!chunked) headers['content-length'] = body.length;
      const request = http.request({ host: hostname, port, method: 'POST', path: '/auth/login', headers, agent }, (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString()));
        response.on('end', () => resolve(`${response.statusCode} ${JSON.parse(text).code}`));
      });
      request.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
      if (chunked) {
        for (let at = 0; at < body.length; at += 64 * 1024) request.write(body.subarray(at, at + 64 * 1024));
        request.end();
      } else request.end(body);
    });
  }

  const tally = (outcomes: string[]) => outcomes.reduce<Record<string, number>>((counts, outcome) => ({ ...counts, [outcome]: (counts[outcome] ?? 0) + 1 }), {});

  it("reaches Node's http client with its 413, 20 times out of 20, with or without keep-alive, whatever the size", { timeout: 120_000 }, async () => {
    const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 2 });
    try {
      for (const [size, agent, chunked] of [
        [2 * MIB, false, false],
        [2 * MIB, keepAlive, false],
        [2 * MIB, false, true],
        [20 * MIB, false, false],
      ] as const) {
        const body = Buffer.alloc(size, 'a');
        const outcomes: string[] = [];
        for (let i = 0; i < 20; i++) outcomes.push(await nodeHttp(body, agent, chunked));
        assert.deepEqual(tally(outcomes), { '413 BODY_TOO_LARGE': 20 }, `${size} bytes, ${agent ? 'kept alive' : 'one connection each'}${chunked ? ', chunked' : ''}`);
      }
    } finally {
      keepAlive.destroy();
    }
  });

  it('reaches fetch with its 413, 20 times out of 20', { timeout: 120_000 }, async () => {
    for (const size of [2 * MIB, 20 * MIB]) {
      const body = Buffer.alloc(size, 'a');
      const outcomes: string[] = [];
      for (let i = 0; i < 20; i++) {
        outcomes.push(
          await fetch(`${gatehouse.url}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body }).then(
            async (answer) => `${answer.status} ${((await answer.json()) as { code: string }).code}`,
            (error: Error & { cause?: { code?: string } }) => error.cause?.code ?? error.message,
          ),
        );
      }
      assert.deepEqual(tally(outcomes), { '413 BODY_TOO_LARGE': 20 }, `${size} bytes`);
    }
  });

  const curl = spawnSync('curl', ['--version']).status === 0;
  it('reaches curl with its 413', { skip: curl ? false : 'curl is not installed', timeout: 60_000 }, async () => {
    for (let i = 0; i < 5; i++) {
      const child = spawn('curl', ['-s', '-o', '-', '-w', '\n%{http_code}', '-H', 'content-type: application/json', '--data-binary', '@-', `${gatehouse.url}/auth/login`], { stdio: ['pipe', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stdin.on('error', () => {}); // curl may stop reading once it has the answer
      child.stdin.end(Buffer.alloc(2 * MIB, 'a'));
      const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
      assert.equal(code, 0, output);
      assert.match(output, /"code":"BODY_TOO_LARGE"[^]*\n413$/);
    }
  });
});
