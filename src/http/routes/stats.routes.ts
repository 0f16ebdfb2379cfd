// Membership statistics: by role, by organisation, and by organisation and role.
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { Services } from '../../domain/services.ts';
import { principalOf } from '../auth.ts';
import { STATS_DEFAULT_PAGE_SIZE } from '../../domain/stats/stats.service.ts';
import { ErrorBody, NextCursor, ok, StringEnum, success } from '../schemas.ts';

const TAGS = ['Statistics'];
const DESCRIPTION =
  'Counts distinct users among memberships. A platform admin sees every organisation; anyone else only organisations where they hold `stats:read`. ' +
  '`from` and `to` (ISO 8601 or Unix seconds) bound when the membership was created; `status` is the membership status; naming an organisation you may not see is a 404.';

export const StatsQuery = Type.Object({
  from: Type.Optional(Type.String({ maxLength: 40 })),
  to: Type.Optional(Type.String({ maxLength: 40 })),
  status: Type.Optional(StringEnum(['active', 'suspended'])),
  organisationId: Type.Optional(Type.String({ maxLength: 40 })),
});

const PAGE_DESCRIPTION =
  ' With `limit` (1–1000) or `cursor`, one page of rows in the same order and `nextCursor` (null on the last page); without them, every row.';

/** The per-organisation reports also page (`limit`, `cursor`), answering `nextCursor` when they do. */
export const PagedStatsQuery = Type.Object({
  ...StatsQuery.properties,
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, description: `Rows per page (default ${STATS_DEFAULT_PAGE_SIZE} when only \`cursor\` is given)` })),
  cursor: Type.Optional(Type.String({ maxLength: 2000 })),
});

const rows = <T extends ReturnType<typeof Type.Object>>(row: T) => success(Type.Object({ rows: Type.Array(row) }));
const pagedRows = <T extends ReturnType<typeof Type.Object>>(row: T) => success(Type.Object({ rows: Type.Array(row), nextCursor: Type.Optional(NextCursor) }));

export const statsRoutes: FastifyPluginAsyncTypebox<{ services: Services }> = async (app, { services }) => {
  const route = { config: { auth: 'user' as const } };

  app.get(
    '/api/stats/users-by-role',
    { ...route, schema: { operationId: 'statsUsersByRole', tags: TAGS, summary: 'Users per role name', description: DESCRIPTION, querystring: StatsQuery, response: { 200: rows(Type.Object({ role: Type.String(), userCount: Type.Integer() })), 404: ErrorBody } } },
    async (request) => {
      return ok('Statistics retrieved successfully', await services.stats.usersByRole(principalOf(request), request.query));
    },
  );

  app.get(
    '/api/stats/members-by-organisation',
    {
      ...route,
      schema: {
        operationId: 'statsMembersByOrganisation',
        tags: TAGS,
        summary: 'Members per organisation',
        description: DESCRIPTION + PAGE_DESCRIPTION,
        querystring: PagedStatsQuery,
        response: { 200: pagedRows(Type.Object({ organisationId: Type.String(), organisation: Type.String(), userCount: Type.Integer() })), 404: ErrorBody },
      },
    },
    async (request) => {
      return ok('Statistics retrieved successfully', await services.stats.membersByOrganisation(principalOf(request), request.query));
    },
  );

  app.get(
    '/api/stats/users-by-organisation-role',
    {
      ...route,
      schema: {
        operationId: 'statsUsersByOrganisationRole',
        tags: TAGS,
        summary: 'Users per organisation and role',
        description: DESCRIPTION + PAGE_DESCRIPTION,
        querystring: PagedStatsQuery,
        response: { 200: pagedRows(Type.Object({ organisationId: Type.String(), organisation: Type.String(), role: Type.String(), userCount: Type.Integer() })), 404: ErrorBody },
      },
    },
    async (request) => {
      return ok('Statistics retrieved successfully', await services.stats.usersByOrganisationRole(principalOf(request), request.query));
    },
  );
};
