// Changing a member's role, removing a member, and leaving. Nobody acts on a member whose role is
// above their own, nor grants more than they hold; the database keeps an owner in every organisation.
import type { Db, Executor } from '../../db/database.js';
import { auditRepo } from '../audit/audit.repo.js';
import { AppError, fieldError } from '../errors.js';
import { canGrant, type RoleGrant } from '../permissions.js';
import { membersRepo } from './members.repo.js';
import type { Actor, Membership } from './organisations.service.js';
import { rolesRepo } from './roles.repo.js';

export const grantOf = (role: { name?: string; role_name?: string; built_in: boolean; permissions: string[] }): RoleGrant => ({
  name: role.name ?? role.role_name ?? '',
  builtIn: role.built_in,
  permissions: role.permissions,
});

export const granterOf = (membership: Membership): RoleGrant => ({ name: membership.roleName, builtIn: membership.builtIn, permissions: membership.permissions });

interface Deps {
  db: Db;
}

export const membershipsServiceFactory = ({ db }: Deps) => {
  const audit = (trx: Executor, actor: Actor, organisationId: string, action: string, userId: string, data: Record<string, unknown>) =>
    auditRepo.record(trx, { organisationId, actorUserId: actor.userId, action, targetType: 'user', targetId: userId, ip: actor.ip, userAgent: actor.userAgent, data });

  return {
    changeRole(actor: Actor, granter: Membership, userId: string, roleName: string) {
      const org = granter.organisationId;
      return db.transaction().execute(async (trx) => {
        const target = await membersRepo.findWithRole(trx, org, userId);
        if (!target) throw new AppError('MEMBER_NOT_FOUND');
        const role = await rolesRepo.findByName(trx, org, roleName);
        if (!role) throw fieldError('role', 'Role does not exist in this organisation');
        const mine = granterOf(granter);
        if (!canGrant(mine, grantOf(target)) || !canGrant(mine, grantOf(role))) throw new AppError('ROLE_ABOVE_OWN');
        if (role.id !== target.role_id) {
          await membersRepo.setRole(trx, org, userId, role.id);
          await audit(trx, actor, org, 'member.role_changed', userId, { from: target.role_name, to: role.name });
        }
        return { userId, role: role.name };
      });
    },

    /** Removes a member, or lets a member leave (`userId` is the actor's own). */
    remove(actor: Actor, granter: Membership, userId: string) {
      const org = granter.organisationId;
      const leaving = userId === actor.userId;
      return db.transaction().execute(async (trx) => {
        const target = await membersRepo.findWithRole(trx, org, userId);
        if (!target) throw new AppError('MEMBER_NOT_FOUND');
        if (!leaving && !canGrant(granterOf(granter), grantOf(target))) throw new AppError('ROLE_ABOVE_OWN');
        await membersRepo.remove(trx, org, userId);
        await audit(trx, actor, org, leaving ? 'member.left' : 'member.removed', userId, { role: target.role_name });
      });
    },
  };
};

export type MembershipsService = ReturnType<typeof membershipsServiceFactory>;
