// Every scenario, in the order they run and print.
import { healthz, login, me, refresh, register } from './accounts.ts';
import { membersWithApiKey, oauthToken } from './credentials.ts';
import { mailBurst } from './mail.ts';
import { mixed } from './mixed.ts';
import { oidcCodeFlow } from './openid.ts';
import { loginMfa } from './second-factors.ts';
import { members, organisations, organisationsAmongMany, organisationsEmbedded } from './organisations.ts';
import type { Scenario } from './scenario.ts';
import { membersWrite, webhooksFanout } from './webhooks.ts';
import { statsFiltered, statsMembersByOrganisation, statsOwner, statsPage, statsPageFiltered, statsUsersByOrganisationRole, statsUsersByRole } from './stats.ts';

export const SCENARIOS: readonly Scenario[] = [
  healthz,
  register,
  login,
  loginMfa,
  refresh,
  oauthToken,
  oidcCodeFlow,
  me,
  organisations,
  members,
  membersWrite,
  webhooksFanout,
  mailBurst,
  membersWithApiKey,
  statsUsersByRole,
  statsMembersByOrganisation,
  statsUsersByOrganisationRole,
  statsFiltered,
  statsOwner,
  statsPage,
  statsPageFiltered,
  organisationsAmongMany,
  mixed,
  organisationsEmbedded,
];
