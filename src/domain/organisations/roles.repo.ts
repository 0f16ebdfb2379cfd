import { sql } from 'kysely';
import { nothingToChange } from '../../db/changes.js';
import type { Executor } from '../../db/database.js';
import { BUILT_IN_ROLES } from '../permissions.js';

export const rolesRepo = {
  /** The insert of an organisation's built-in roles, with the ids the caller chose by role name, unsent. */
  builtInsInsertion(db: Executor, organisationId: string, ids: Readonly<Record<string, string>>) {
    return db
      .insertInto('roles')
      .values(BUILT_IN_ROLES.map((role) => ({ id: ids[role.name], organisation_id: organisationId, name: role.name, description: role.description, permissions: [...role.permissions], built_in: true })));
  },

  findByName(db: Executor, organisationId: string, name: string) {
    return db
      .selectFrom('roles')
      .select(['id', 'name', 'built_in', 'permissions'])
      .where('organisation_id', '=', organisationId)
      .where(sql`lower(name)`, '=', name.toLowerCase())
      .executeTakeFirst();
  },

  findById(db: Executor, organisationId: string, roleId: string) {
    return db
      .selectFrom('roles')
      .select(['id', 'name', 'description', 'built_in', 'permissions'])
      .where('organisation_id', '=', organisationId)
      .where('id', '=', roleId)
      .executeTakeFirst();
  },

  /** The organisation's roles with how many members hold each. */
  list(db: Executor, organisationId: string) {
    return db
      .selectFrom('roles')
      .leftJoin('members', 'members.role_id', 'roles.id')
      .select((eb) => ['roles.id', 'roles.name', 'roles.description', 'roles.built_in', 'roles.permissions', eb.fn.count<number>('members.id').as('member_count')])
      .where('roles.organisation_id', '=', organisationId)
      .groupBy('roles.id')
      .orderBy('roles.built_in', 'desc')
      .orderBy('roles.name')
      .execute();
  },

  insert(db: Executor, role: { organisationId: string; name: string; description: string; permissions: string[] }) {
    return db
      .insertInto('roles')
      .values({ organisation_id: role.organisationId, name: role.name, description: role.description, permissions: role.permissions })
      .returning(['id', 'name', 'description', 'built_in', 'permissions'])
      .executeTakeFirstOrThrow();
  },

  update(db: Executor, organisationId: string, roleId: string, changes: { name?: string; description?: string; permissions?: string[] }) {
    if (nothingToChange(changes)) return rolesRepo.findById(db, organisationId, roleId);
    return db
      .updateTable('roles')
      .set(changes)
      .where('organisation_id', '=', organisationId)
      .where('id', '=', roleId)
      .returning(['id', 'name', 'description', 'built_in', 'permissions'])
      .executeTakeFirst();
  },

  delete(db: Executor, organisationId: string, roleId: string) {
    return db.deleteFrom('roles').where('organisation_id', '=', organisationId).where('id', '=', roleId).execute();
  },
};
