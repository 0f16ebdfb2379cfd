// The statistics over a million memberships: the three routes as a platform admin (every
// organisation counted), one of them filtered, and one as an owner (who reads 10 organisations); and
// the first page of 100 rows of the per-organisation-role report, unfiltered and filtered.
// One request at a time: the figure that matters is how long one aggregation over a million rows
// takes; 32 at once on two cores would measure the queue in front of them.
import { httpLoad } from '../lib/load.ts';
import type { Scenario } from './scenario.ts';

const STATS_CONNECTIONS = 1;
const ADMIN = 0;
const OWNER = 1;

const statsScenario = (name: string, path: string, viewer: typeof ADMIN | typeof OWNER, who: string): Scenario => ({
  name,
  title: `GET ${path.replace(/\?.*/, '?…')} (${who}; 1M memberships in 10,000 organisations; 1 connection)`,
  async plan(context) {
    const { server, tokens } = await context.million();
    const url = path.replace('{30 days ago}', String(Math.floor(Date.now() / 1000) - 30 * 86400));
    return {
      subject: httpLoad({ label: 'Gatehouse', server, connections: STATS_CONNECTIONS, requests: [{ path: url, headers: { authorization: `Bearer ${tokens[viewer]}` } }] }),
      references: [],
    };
  },
});

export const statsUsersByRole = statsScenario('stats-users-by-role', '/api/stats/users-by-role', ADMIN, 'platform admin');
export const statsMembersByOrganisation = statsScenario('stats-members-by-organisation', '/api/stats/members-by-organisation', ADMIN, 'platform admin');
export const statsUsersByOrganisationRole = statsScenario('stats-users-by-organisation-role', '/api/stats/users-by-organisation-role', ADMIN, 'platform admin');
export const statsFiltered = statsScenario(
  'stats-filtered',
  '/api/stats/users-by-organisation-role?from={30 days ago}&status=active',
  ADMIN,
  'platform admin, active members who joined in the last 30 days',
);
export const statsOwner = statsScenario('stats-owner', '/api/stats/users-by-organisation-role', OWNER, 'an owner, stats:read in 10 organisations');
export const statsPage = statsScenario('stats-page', '/api/stats/users-by-organisation-role?limit=100', ADMIN, 'platform admin, a page of 100 rows');
export const statsPageFiltered = statsScenario(
  'stats-page-filtered',
  '/api/stats/users-by-organisation-role?limit=100&from={30 days ago}&status=active',
  ADMIN,
  'platform admin, a page of 100 rows of active members who joined in the last 30 days',
);
