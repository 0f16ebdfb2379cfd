// The `saas` set's statistics (seeds 001 and 004): the core statistics in the seeds' shapes.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { Services } from '../../domain/services.ts';
import { principalOf } from '../auth.ts';
import { StatsQuery } from '../routes/stats.routes.ts';

const TAGS = ['saas (seeds 001, 004)'];
const config = { auth: 'user' as const, compat: 'message' as const };
const FILTERED = Type.Object({ from: StatsQuery.properties.from, to: StatsQuery.properties.to, status: StatsQuery.properties.status });
const OrgRoleCounts = Type.Array(Type.Object({ organization: Type.String(), role: Type.String(), user_count: Type.Integer() }));

export const saasStatsRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  app.get(
    '/stats/role-wise-users',
    { config, schema: { operationId: 'saasRoleWiseUsers', tags: TAGS, summary: 'Users per role', querystring: FILTERED, response: { 200: Type.Array(Type.Object({ role: Type.String(), user_count: Type.Integer() })) } } },
    async (request) => (await services.stats.usersByRole(principalOf(request), request.query)).rows.map((r) => ({ role: r.role, user_count: r.userCount })),
  );

  app.get(
    '/stats/org-wise-members',
    {
      config,
      schema: {
        operationId: 'saasOrgWiseMembers',
        tags: TAGS,
        summary: 'Members per organisation',
        querystring: FILTERED,
        response: { 200: Type.Array(Type.Object({ organization: Type.String(), organization_id: Type.String(), member_count: Type.Integer() })) },
      },
    },
    async (request) =>
      (await services.stats.membersByOrganisation(principalOf(request), request.query)).rows.map((r) => ({ organization: r.organisation, organization_id: r.organisationId, member_count: r.userCount })),
  );

  for (const [path, operationId] of [
    ['/stats/org-role-wise-users', 'saasOrgRoleWiseUsers'],
    ['/stats/org-role-wise-users-filtered', 'saasOrgRoleWiseUsersFiltered'],
  ] as const) {
    app.get(
      path,
      { config, schema: { operationId, tags: TAGS, summary: 'Users per organisation and role, filtered by `from`, `to` and `status`', querystring: FILTERED, response: { 200: OrgRoleCounts } } },
      async (request) => (await services.stats.usersByOrganisationRole(principalOf(request), request.query)).rows.map((r) => ({ organization: r.organisation, role: r.role, user_count: r.userCount })),
    );
  }
};
