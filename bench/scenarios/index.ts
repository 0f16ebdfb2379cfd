// Every scenario, in the order they run and print.
import { healthz, login, me, refresh, register } from './accounts.js';
import { mixed } from './mixed.js';
import { members, organisations, organisationsAmongMany, organisationsEmbedded } from './organisations.js';
import type { Scenario } from './scenario.js';
import { statsFiltered, statsMembersByOrganisation, statsOwner, statsUsersByOrganisationRole, statsUsersByRole } from './stats.js';

export const SCENARIOS: readonly Scenario[] = [
  healthz,
  register,
  login,
  refresh,
  me,
  organisations,
  members,
  statsUsersByRole,
  statsMembersByOrganisation,
  statsUsersByOrganisationRole,
  statsFiltered,
  statsOwner,
  organisationsAmongMany,
  mixed,
  organisationsEmbedded,
];
