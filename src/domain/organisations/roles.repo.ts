import { sql } from 'kysely';
import type { Executor } from '../../db/database.js';
import { BUILT_IN_ROLES } from '../permissions.js';

export const rolesRepo = {
  insertBuiltIns(db: Executor, organisationId: string) {
    return db
      .insertInto('roles')
      .values(BUILT_IN_ROLES.map((role) => ({ organisation_id: organisationId, name: role.name, description: role.description, permissions: [...role.permissions], built_in: true })))
      .returning(['id', 'name'])
      .execute();
  },

  findByName(db: Executor, organisationId: string, name: string) {
    return db
      .selectFrom('roles')
      .select(['id', 'name', 'built_in', 'permissions'])
      .where('organisation_id', '=', organisationId)
      .where(sql`lower(name)`, '=', name.toLowerCase())
      .executeTakeFirst();
  },
};
