import { sql } from 'kysely';
import { nothingToChange } from '../../db/changes.ts';
import type { Executor } from '../../db/database.ts';
import { BUILT_IN_ROLES } from '../policy/permissions.ts';
import { normaliseRoleName } from './role-names.ts';
import type { Role, RoleWithCount } from './types.ts';

const COLUMNS = ['id', 'name', 'description', 'built_in', 'permissions'] as const;

const toRole = (row: { id: string; name: string; description: string; built_in: boolean; permissions: string[] }): Role => ({
  id: row.id,
  name: row.name,
  description: row.description,
  builtIn: row.built_in,
  permissions: row.permissions,
});

export const rolesRepo = {
  /** The insert of an organisation's built-in roles, with the ids the caller chose by role name, unsent. */
  builtInsInsertion(db: Executor, { organisationId, ids }: { organisationId: string; ids: Readonly<Record<string, string>> }) {
    return db
      .insertInto('roles')
      .values(BUILT_IN_ROLES.map((role) => ({ id: ids[role.name], organisation_id: organisationId, name: role.name, description: role.description, permissions: [...role.permissions], built_in: true })));
  },

  /** A role by its name in any letter case, the name given normalised as stored names are. */
  async findByName(db: Executor, organisationId: string, name: string): Promise<Role | undefined> {
    const row = await db.selectFrom('roles').select(COLUMNS).where('organisation_id', '=', organisationId).where(sql`lower(name)`, '=', normaliseRoleName(name).toLowerCase()).executeTakeFirst();
    return row && toRole(row);
  },

  /** The names of an organisation's roles, built-in and custom. */
  names(db: Executor, organisationId: string): Promise<Array<{ id: string; name: string }>> {
    return db.selectFrom('roles').select(['id', 'name']).where('organisation_id', '=', organisationId).execute();
  },

  /** Makes the transactions that name roles of one organisation take turns until they end. */
  async lockNames(db: Executor, organisationId: string): Promise<void> {
    await sql`select pg_advisory_xact_lock(hashtextextended(${`role-names:${organisationId}`}, 0))`.execute(db);
  },

  async findById(db: Executor, organisationId: string, roleId: string): Promise<Role | undefined> {
    const row = await db.selectFrom('roles').select(COLUMNS).where('organisation_id', '=', organisationId).where('id', '=', roleId).executeTakeFirst();
    return row && toRole(row);
  },

  /** The organisation's roles with how many members hold each. */
  async list(db: Executor, organisationId: string): Promise<RoleWithCount[]> {
    const rows = await db
      .selectFrom('roles')
      .leftJoin('members', 'members.role_id', 'roles.id')
      .select((eb) => ['roles.id', 'roles.name', 'roles.description', 'roles.built_in', 'roles.permissions', eb.fn.count<number>('members.id').as('member_count')])
      .where('roles.organisation_id', '=', organisationId)
      .groupBy('roles.id')
      .orderBy('roles.built_in', 'desc')
      .orderBy('roles.name')
      .execute();
    return rows.map((row) => ({ ...toRole(row), memberCount: Number(row.member_count) }));
  },

  async insert(db: Executor, role: { organisationId: string; name: string; description: string; permissions: string[] }): Promise<Role> {
    const row = await db
      .insertInto('roles')
      .values({ organisation_id: role.organisationId, name: role.name, description: role.description, permissions: role.permissions })
      .returning(COLUMNS)
      .executeTakeFirstOrThrow();
    return toRole(row);
  },

  async update(db: Executor, { organisationId, roleId, changes }: { organisationId: string; roleId: string; changes: { name?: string; description?: string; permissions?: string[] } }): Promise<Role | undefined> {
    if (nothingToChange(changes)) return rolesRepo.findById(db, organisationId, roleId);
    const row = await db.updateTable('roles').set(changes).where('organisation_id', '=', organisationId).where('id', '=', roleId).returning(COLUMNS).executeTakeFirst();
    return row && toRole(row);
  },

  async delete(db: Executor, organisationId: string, roleId: string): Promise<void> {
    await db.deleteFrom('roles').where('organisation_id', '=', organisationId).where('id', '=', roleId).execute();
  },
};
