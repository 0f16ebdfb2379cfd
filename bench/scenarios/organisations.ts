// Organisations: a user's list, an organisation's members, a list among 100,000 organisations, and
// the list on the embedded database.
import { httpLoad, type Request } from '../lib/load.ts';
import type { Server } from '../lib/processes.ts';
import { type Scenario } from './scenario.ts';

const bearer = (path: string, token: string): Request => ({ path, headers: { authorization: `Bearer ${token}` } });

const gatehouseLoad = (label: string, server: Server, connections: number, request: Request) => httpLoad({ label, server, connections, requests: [request] });

export const organisations: Scenario = {
  name: 'orgs',
  title: 'GET /api/organisations (5 organisations)',
  comparesBuilds: true,
  async plan(context) {
    const { server, owner } = await context.small();
    const peer = await context.betterAuth();
    const machine = await context.machine();
    const { connections } = context.options;
    return {
      subject: gatehouseLoad('Gatehouse', server, connections, bearer('/api/organisations', owner.token)),
      references: [
        {
          kind: 'Better Auth',
          compare: 'Better Auth organization/list',
          load: httpLoad({ label: 'organization/list', server: peer.server, connections, requests: [{ path: '/api/auth/organization/list', headers: { ...peer.origin, cookie: peer.owner.cookie } }] }),
        },
        { kind: 'machine', compare: 'hand-written JWT + join', load: gatehouseLoad('JWT + join', machine, connections, bearer('/orgs', owner.token)) },
        { kind: 'machine', compare: 'hand-written JWT + join, no session check', load: gatehouseLoad('JWT + join, no session check', machine, connections, bearer('/orgs-unchecked', owner.token)) },
      ],
    };
  },
};

export const members: Scenario = {
  name: 'members',
  title: 'GET /api/organisations/:orgId/members (20 members)',
  async plan(context) {
    const { server, owner } = await context.small();
    const peer = await context.betterAuth();
    const { connections } = context.options;
    const fullOrganization = `/api/auth/organization/get-full-organization?organizationId=${encodeURIComponent(peer.owner.organizationId)}`;
    return {
      subject: gatehouseLoad('Gatehouse', server, connections, bearer(`/api/organisations/${owner.orgId}/members`, owner.token)),
      references: [
        {
          kind: 'Better Auth',
          compare: 'Better Auth get-full-organization',
          load: httpLoad({ label: 'organization/get-full-organization', server: peer.server, connections, requests: [{ path: fullOrganization, headers: { ...peer.origin, cookie: peer.owner.cookie } }] }),
        },
      ],
    };
  },
};

export const organisationsAmongMany: Scenario = {
  name: 'orgs-1000',
  title: 'GET /api/organisations (1,000 of 100,000 organisations)',
  async plan(context) {
    const big = await context.hundredThousand();
    const { server, heavyToken } = await context.small();
    const { connections } = context.options;
    return {
      subject: gatehouseLoad('Gatehouse, 100,000 organisations', big.server, connections, bearer('/api/organisations', big.tokens[0]!)),
      references: [{ kind: 'Gatehouse', compare: 'the same listing in the everyday database (a few thousand organisations)', load: gatehouseLoad('Gatehouse, a few thousand organisations', server, connections, bearer('/api/organisations', heavyToken)) }],
    };
  },
};

export const organisationsEmbedded: Scenario = {
  name: 'orgs-embedded',
  title: 'GET /api/organisations (5 organisations), embedded database',
  async plan(context) {
    const embedded = await context.embedded();
    const machine = await context.embeddedMachine();
    const { server, owner } = await context.small();
    const { connections } = context.options;
    return {
      subject: gatehouseLoad('Gatehouse, embedded', embedded.server, connections, bearer('/api/organisations', embedded.token)),
      references: [
        { kind: 'machine', compare: 'hand-written JWT + join on PGlite', load: gatehouseLoad('JWT + join, PGlite', machine, connections, bearer('/orgs', embedded.token)) },
        { kind: 'Gatehouse', compare: 'Gatehouse on PostgreSQL', load: gatehouseLoad('Gatehouse, PostgreSQL', server, connections, bearer('/api/organisations', owner.token)) },
      ],
    };
  },
};
