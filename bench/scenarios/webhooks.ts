// Webhooks: the member-role write rate with three endpoints taking every change beside the same writes
// in an organisation without endpoints, and the time until 1,000 changes reach three endpoints. The
// receiver is an HTTP server in this process that answers 204 at once, so what is measured is
// Gatehouse's own cost: the fan-out in each change's transaction and the sending.
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import { ms, rate } from '../lib/format.ts';
import { expect, inParallel } from '../lib/http.ts';
import { httpLoad, quantile, type Load, type Request, type Sample } from '../lib/load.ts';
import { withClient } from '../lib/postgres.ts';
import type { Context } from '../setup/context.ts';
import { bearer, createOrganisation, register } from '../setup/gatehouse.ts';
import { loginEmail } from '../setup/small.ts';
import type { Scenario } from './scenario.ts';

const MEMBERS = 48;
const ENDPOINTS = 3;
const FANOUT_CHANGES = 1000;

/** A receiver that answers 204 and remembers when each delivery arrived, against its event's time. */
class Sink {
  received = 0;
  delays: number[] = [];
  lastArrival = 0;
  private server: HttpServer | null = null;
  url = '';

  async start() {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const now = Date.now();
        const { timestamp } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { timestamp: string };
        this.received += 1;
        this.delays.push(now - Date.parse(timestamp));
        this.lastArrival = performance.now();
        response.writeHead(204).end();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/hook`;
  }

  reset() {
    this.received = 0;
    this.delays = [];
  }
}

interface Fixtures {
  sink: Sink;
  server: { url: string };
  token: string;
  /** With three endpoints taking every event. */
  on: { orgId: string; members: string[] };
  /** Without endpoints. */
  off: { orgId: string; members: string[] };
}

const prepared = new WeakMap<Context, Promise<Fixtures>>();

function fixtures(context: Context): Promise<Fixtures> {
  let made = prepared.get(context);
  if (!made) {
    made = (async () => {
      const { server, databaseUrl } = await context.small();
      const sink = new Sink();
      await sink.start();
      const writer = await register(server, 'webhooks-writer@bench.test', 'Writer');
      const token = writer.accessToken;
      const emails = Array.from({ length: 2 * MEMBERS }, (_, i) => loginEmail(500 + i));
      const { rows } = await withClient(databaseUrl, (client) => client.query<{ id: string; email: string }>('select id, email from users where email = any($1)', [emails]));
      const ids = emails.map((email) => rows.find((row) => row.email === email)!.id);
      const organisation = async (name: string, members: string[]) => {
        const orgId = await createOrganisation(server, token, name);
        await inParallel(members, 4, (userId) => expect(200, `${server.url}/api/organisations/${orgId}/users`, { body: { userId, role: 'member' }, headers: bearer(token) }));
        return { orgId, members };
      };
      const on = await organisation('Webhooks on', ids.slice(0, MEMBERS));
      const off = await organisation('Webhooks off', ids.slice(MEMBERS));
      for (let i = 0; i < ENDPOINTS; i++) {
        await expect(201, `${server.url}/api/organisations/${on.orgId}/webhooks`, { body: { url: `${sink.url}?endpoint=${i}`, events: ['*'] }, headers: bearer(token) });
      }
      return { sink, server, token, on, off };
    })();
    prepared.set(context, made);
  }
  return made;
}

/**
 * Makes every member a plain member again, then waits until the deliveries that caused have arrived:
 * the flips that follow start from a known state, so that each of them is a change.
 */
async function reset(f: Fixtures, side: Fixtures['on']) {
  await inParallel(side.members, 8, (userId) => expect(200, `${f.server.url}/api/organisations/${side.orgId}/members/${userId}`, { method: 'PATCH', body: { role: 'member' }, headers: bearer(f.token) }));
  for (let seen = -1; seen !== f.sink.received; ) {
    seen = f.sink.received;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/**
 * Role changes that flip members between admin and member, from `reset`'s state, each member in turn:
 * a member's next flip is sent a whole round of members later (more members than connections), so
 * every request is a change.
 */
function flips(token: string, orgId: string, members: string[]): Request {
  const roles = new Map<string, string>();
  let next = 0;
  return {
    method: 'PATCH',
    path: `/api/organisations/${orgId}/members/${members[0]}`,
    headers: { ...bearer(token), 'content-type': 'application/json' },
    setupRequest: (request) => {
      const userId = members[next++ % members.length]!;
      const role = roles.get(userId) === 'admin' ? 'member' : 'admin';
      roles.set(userId, role);
      return { ...request, path: `/api/organisations/${orgId}/members/${userId}`, body: JSON.stringify({ role }) };
    },
  };
}

export const membersWrite: Scenario = {
  name: 'members-write',
  title: `PATCH a member's role, ${ENDPOINTS} webhook endpoints taking every change`,
  async plan(context) {
    const f = await fixtures(context);
    const { server } = await context.small();
    const { connections } = context.options;
    const write = (label: string, side: Fixtures['on']): Load => {
      return {
        label,
        async run(timing) {
          await reset(f, side);
          f.sink.reset();
          const sample = await httpLoad({ label, server, connections, requests: [flips(f.token, side.orgId, side.members)] }).run(timing);
          return side === f.on ? { ...sample, note: [sample.note, `${rate(f.sink.received)} deliveries arrived while the load ran`].filter(Boolean).join('; ') } : sample;
        },
      };
    };
    return {
      subject: write('Gatehouse, webhooks on', f.on),
      references: [{ kind: 'Gatehouse', compare: 'the same writes with no webhook endpoint', load: write('Gatehouse, webhooks off', f.off) }],
    };
  },
};

export const webhooksFanout: Scenario = {
  name: 'webhooks-fanout',
  title: `${FANOUT_CHANGES.toLocaleString('en')} membership changes to ${ENDPOINTS} endpoints: until every delivery has arrived`,
  async plan(context) {
    const f = await fixtures(context);
    const load: Load = {
      label: 'Gatehouse, webhook fan-out',
      async run(): Promise<Sample> {
        await reset(f, f.on);
        f.sink.reset();
        const started = performance.now();
        // 16 clients, each flipping its own three members in turn: one member's changes never overtake each other.
        const clients = 16;
        let left = FANOUT_CHANGES;
        await Promise.all(
          Array.from({ length: clients }, async (_, c) => {
            const mine = f.on.members.filter((__, i) => i % clients === c);
            for (let k = 0; left-- > 0; k++) {
              const userId = mine[k % mine.length]!;
              const role = Math.floor(k / mine.length) % 2 === 0 ? 'admin' : 'member';
              await expect(200, `${f.server.url}/api/organisations/${f.on.orgId}/members/${userId}`, { method: 'PATCH', body: { role }, headers: bearer(f.token) });
            }
          }),
        );
        const changed = (performance.now() - started) / 1000;
        const expected = FANOUT_CHANGES * ENDPOINTS;
        const deadline = Date.now() + 300_000;
        while (f.sink.received < expected && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
        const seconds = (f.sink.lastArrival - started) / 1000;
        const delays = [...f.sink.delays].sort((a, b) => a - b);
        return {
          rps: f.sink.received / seconds,
          p50: quantile(delays, 0.5),
          p99: quantile(delays, 0.99),
          errors: expected - f.sink.received,
          rssMb: null,
          note: `${f.sink.received.toLocaleString('en')} deliveries (rate: deliveries/s; latencies: each delivery after its change) all arrived ${seconds.toFixed(2)} s after the first change; the changes alone took ${changed.toFixed(2)} s; p99 delay ${ms(quantile(delays, 0.99))} ms`,
        };
      },
    };
    return { subject: load, references: [] };
  },
};
