// Custom roles. Built-in roles are fixed; a custom role holds only permissions its author holds too,
// and a role members hold cannot be deleted (the database refuses; its members must move first).
import { nothingToChange } from '../../db/changes.js';
import type { Db, Executor } from '../../db/database.js';
import { auditRepo } from '../audit/audit.repo.js';
import { AppError } from '../errors.js';
import { canGrant } from '../permissions.js';
import { grantOf, granterOf } from './memberships.service.js';
import type { Actor, Membership } from './organisations.service.js';
import { rolesRepo } from './roles.repo.js';

export interface RoleInput {
  name: string;
  description?: string;
  permissions: string[];
}

interface Deps {
  db: Db;
}

export const rolesServiceFactory = ({ db }: Deps) => {
  const audit = (trx: Executor, actor: Actor, organisationId: string, action: string, roleId: string, data: Record<string, unknown>) =>
    auditRepo.record(trx, { organisationId, actorUserId: actor.userId, action, targetType: 'role', targetId: roleId, ip: actor.ip, userAgent: actor.userAgent, data });

  /** The custom role, which the granter may edit: it is not above their own. */
  async function editable(trx: Executor, granter: Membership, roleId: string) {
    const role = await rolesRepo.findById(trx, granter.organisationId, roleId);
    if (!role) throw new AppError('ROLE_NOT_FOUND');
    if (role.built_in) throw new AppError('BUILT_IN_ROLE');
    if (!canGrant(granterOf(granter), grantOf(role))) throw new AppError('ROLE_ABOVE_OWN');
    return role;
  }

  const withinOwn = (granter: Membership, permissions: string[]) => {
    if (!canGrant(granterOf(granter), { name: '', builtIn: false, permissions })) throw new AppError('ROLE_ABOVE_OWN');
  };

  return {
    list: (organisationId: string) => rolesRepo.list(db, organisationId),

    create(actor: Actor, granter: Membership, input: RoleInput) {
      withinOwn(granter, input.permissions);
      return db.transaction().execute(async (trx) => {
        const role = await rolesRepo.insert(trx, { organisationId: granter.organisationId, name: input.name, description: input.description ?? '', permissions: [...new Set(input.permissions)] });
        await audit(trx, actor, granter.organisationId, 'role.created', role.id, { name: role.name, permissions: role.permissions });
        return role;
      });
    },

    update(actor: Actor, granter: Membership, roleId: string, changes: Partial<RoleInput>) {
      if (changes.permissions) withinOwn(granter, changes.permissions);
      return db.transaction().execute(async (trx) => {
        const current = await editable(trx, granter, roleId);
        if (nothingToChange(changes)) return current;
        const permissions = changes.permissions && [...new Set(changes.permissions)];
        const role = await rolesRepo.update(trx, granter.organisationId, roleId, { name: changes.name, description: changes.description, permissions });
        if (!role) throw new AppError('ROLE_NOT_FOUND');
        await audit(trx, actor, granter.organisationId, 'role.updated', roleId, { fields: Object.keys(changes) });
        return role;
      });
    },

    delete(actor: Actor, granter: Membership, roleId: string) {
      return db.transaction().execute(async (trx) => {
        const role = await editable(trx, granter, roleId);
        await rolesRepo.delete(trx, granter.organisationId, roleId);
        await audit(trx, actor, granter.organisationId, 'role.deleted', roleId, { name: role.name });
      });
    },
  };
};

export type RolesService = ReturnType<typeof rolesServiceFactory>;
