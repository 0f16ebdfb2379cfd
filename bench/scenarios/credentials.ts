// API keys and machine clients: the member list read with an organisation's API key, beside the same
// read with a person's access token; and the client-credentials grant, beside a refresh (both check a
// stored secret and sign a token). SPEC §6.2's targets: ≥ 0.8× and ≥ 1.0× respectively.
import { expect } from '../lib/http.ts';
import { httpLoad, type Request } from '../lib/load.ts';
import { refreshLoad } from './accounts.ts';
import type { Scenario } from './scenario.ts';

const bearer = (path: string, token: string): Request => ({ path, headers: { authorization: `Bearer ${token}` } });

export const membersWithApiKey: Scenario = {
  name: 'members-apikey',
  title: 'GET /api/organisations/:orgId/members (20 members) with an API key',
  async plan(context) {
    const { server, owner } = await context.small();
    const { connections } = context.options;
    const path = `/api/organisations/${owner.orgId}/members`;
    const created = await expect<{ data: { key: string } }>(201, `${server.url}/api/organisations/${owner.orgId}/api-keys`, {
      body: { name: 'Bench', permissions: ['members:read'] },
      headers: { authorization: `Bearer ${owner.token}` },
    });
    return {
      subject: httpLoad({ label: 'Gatehouse, API key', server, connections, requests: [bearer(path, created.data.key)] }),
      references: [{ kind: 'Gatehouse', compare: 'the same list with an access token (`members`)', load: httpLoad({ label: 'Gatehouse, access token', server, connections, requests: [bearer(path, owner.token)] }) }],
    };
  },
};

export const oauthToken: Scenario = {
  name: 'oauth-token',
  title: 'POST /oauth/token (client credentials, HTTP Basic)',
  async plan(context) {
    const { server, owner } = await context.small();
    const { connections } = context.options;
    const created = await expect<{ data: { clientId: string; clientSecret: string } }>(201, `${server.url}/api/organisations/${owner.orgId}/applications`, {
      body: { name: 'Bench', permissions: ['org:read', 'members:read'] },
      headers: { authorization: `Bearer ${owner.token}` },
    });
    const { clientId, clientSecret } = created.data;
    const grant: Request = {
      method: 'POST',
      path: '/oauth/token',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: `Basic ${Buffer.from(`${encodeURIComponent(clientId)}:${encodeURIComponent(clientSecret)}`).toString('base64')}`,
      },
      body: 'grant_type=client_credentials&scope=members%3Aread',
    };
    return {
      subject: httpLoad({ label: 'Gatehouse, client credentials', server, connections, requests: [grant] }),
      references: [{ kind: 'Gatehouse', compare: 'a refresh (`refresh`)', load: await refreshLoad(context, 'Gatehouse, refresh') }],
    };
  },
};
