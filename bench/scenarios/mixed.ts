// Sign-ins and organisation listings at once. argon2 hashes and jose's signatures share libuv's
// thread pool (four threads): a burst of sign-ins can queue the token checks of every other request.
// Half the connections sign in, half list organisations; the figure is how much of its rate alone
// the listing keeps, for Gatehouse and for the hand-written Fastify+jose+pg app.
import { rate, ratio } from '../lib/format.ts';
import { fire, httpLoad, type Load, type Request } from '../lib/load.ts';
import type { Server } from '../lib/processes.ts';
import { signIns } from './requests.ts';
import { type Scenario } from './scenario.ts';

function mixedLoad(label: string, server: Server, connections: number, loginPath: string, listing: Request): Load {
  return {
    label,
    async run(timing) {
      const peak = server.sampleMemory();
      const [lists, signedIn] = await Promise.all([
        fire({ url: server.url, connections, requests: [listing] }, timing),
        fire({ url: server.url, connections, requests: [signIns(loginPath)] }, timing),
      ]);
      const note = `with ${rate(signedIn.rps)} sign-ins/s${signedIn.errors ? ` (sign-in errors: ${signedIn.note})` : ''}`;
      return { ...lists, rssMb: peak(), errors: lists.errors + signedIn.errors, note: lists.note ? `${lists.note}; ${note}` : note };
    },
  };
}

export const mixed: Scenario = {
  name: 'mixed',
  title: 'GET /api/organisations while others sign in (half the connections each)',
  comparesBuilds: true,
  async plan(context) {
    const { server, owner } = await context.small();
    const machine = await context.machine();
    const half = Math.max(1, Math.floor(context.options.connections / 2));
    const list = (path: string): Request => ({ path, headers: { authorization: `Bearer ${owner.token}` } });
    return {
      subject: mixedLoad('Gatehouse, listing while signing in', server, half, '/auth/login', list('/api/organisations')),
      references: [
        { kind: 'Gatehouse', load: httpLoad({ label: 'Gatehouse, listing alone', server, connections: half, requests: [list('/api/organisations')] }) },
        { kind: 'machine', load: mixedLoad('hand-written, listing while signing in', machine, half, '/login', list('/orgs')) },
        { kind: 'machine', load: httpLoad({ label: 'hand-written, listing alone', server: machine, connections: half, requests: [list('/orgs')] }) },
      ],
      summarise: (subject, [alone, handMixed, handAlone]) => [
        `${ratio(subject.rps, alone!.rps)} of its rate alone (${rate(alone!.rps)}/s)`,
        `the hand-written app keeps ${ratio(handMixed!.rps, handAlone!.rps)} (${rate(handMixed!.rps)} of ${rate(handAlone!.rps)}/s)`,
      ],
    };
  },
};
