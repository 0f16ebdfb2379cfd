// Changing a member's role, suspending and reinstating, removing a member, and leaving. Nobody acts on
// a member whose role is above their own, nor grants more than they hold (the policy decides); the
// database keeps an owner in every organisation.
import type { Db } from '../../db/database.ts';
import type { EventStream } from '../events/event-stream.ts';
import { AppError, fieldError } from '../errors.ts';
import { isUuid } from '../ids.ts';
import type { Policy } from '../policy/policy.ts';
import type { Principal } from '../principal.ts';
import { membersRepo } from './members.repo.ts';
import { rolesRepo } from './roles.repo.ts';
import type { MembershipStatus } from './types.ts';

interface Deps {
  db: Db;
  policy: Policy;
  events: EventStream;
}

export const membershipsServiceFactory = ({ db, policy, events }: Deps) => ({
  async changeRole(principal: Principal, { organisationId, userId, role: roleName }: { organisationId: string; userId: string; role: string }): Promise<{ userId: string; role: string }> {
    const granter = await policy.member(principal, organisationId, 'members:update-role');
    const acting = policy.acting(principal);
    const org = granter.organisationId;
    if (!isUuid(userId)) throw new AppError('MEMBER_NOT_FOUND');
    return db.transaction().execute(async (trx) => {
      const target = await membersRepo.findMembership(trx, org, userId);
      if (!target) throw new AppError('MEMBER_NOT_FOUND');
      const role = await rolesRepo.findByName(trx, org, roleName);
      if (!role) throw fieldError('role', 'Role does not exist in this organisation');
      policy.mayGrant(granter, target.role);
      policy.mayGrant(granter, role);
      if (role.id !== target.role.id) {
        // The event first: the change takes the organisation's membership-count rows, which every
        // membership change in the organisation waits for, so it comes last, just before the commit.
        await events.record(trx, {
          type: 'member.role_changed',
          actor: acting.actor,
          client: acting.client,
          organisationId: org,
          subject: { type: 'user', id: userId },
          data: { from: target.role.name, to: role.name },
          before: { role: target.role.name },
          after: { role: role.name },
        });
        await membersRepo.setRole(trx, { organisationId: org, userId, roleId: role.id });
      }
      return { userId, role: role.name };
    });
  },

  /**
   * Suspends a member (their access to the organisation ends at once, their place and role are kept)
   * or reinstates them. Needs the right to remove them: a suspension is a removal that can be undone.
   */
  async setStatus(principal: Principal, { organisationId, userId, status }: { organisationId: string; userId: string; status: MembershipStatus }): Promise<{ userId: string; role: string; status: MembershipStatus }> {
    const granter = await policy.member(principal, organisationId, 'members:remove');
    const acting = policy.acting(principal);
    if (userId === acting.userId) throw new AppError('CANNOT_SUSPEND_SELF');
    if (!isUuid(userId)) throw new AppError('MEMBER_NOT_FOUND');
    const org = granter.organisationId;
    return db.transaction().execute(async (trx) => {
      const target = await membersRepo.findMembership(trx, org, userId);
      if (!target) throw new AppError('MEMBER_NOT_FOUND');
      policy.mayGrant(granter, target.role);
      if (target.status !== status) {
        // The event first, the contended membership-count rows last (see changeRole).
        await events.record(trx, {
          type: status === 'suspended' ? 'member.suspended' : 'member.reinstated',
          actor: acting.actor,
          client: acting.client,
          organisationId: org,
          subject: { type: 'user', id: userId },
          data: { role: target.role.name },
          before: { status: target.status },
          after: { status },
        });
        await membersRepo.setStatus(trx, { organisationId: org, userId, status });
      }
      return { userId, role: target.role.name, status };
    });
  },

  /** Removes a member, or lets a member leave (`userId` is the caller's own). */
  async remove(principal: Principal, { organisationId, userId }: { organisationId: string; userId: string }): Promise<void> {
    const granter = await policy.member(principal, organisationId, 'members:remove', { actingOn: userId });
    const acting = policy.acting(principal);
    const org = granter.organisationId;
    // Only a person leaves: a key naming its owner removes them, with the permission to.
    const leaving = principal.kind === 'user' && userId === acting.userId;
    if (!isUuid(userId)) throw new AppError('MEMBER_NOT_FOUND');
    await db.transaction().execute(async (trx) => {
      const target = await membersRepo.findMembership(trx, org, userId);
      if (!target) throw new AppError('MEMBER_NOT_FOUND');
      if (!leaving) policy.mayGrant(granter, target.role);
      // The event first, the contended membership-count rows last (see changeRole).
      await events.record(trx, {
        type: leaving ? 'member.left' : 'member.removed',
        actor: acting.actor,
        client: acting.client,
        organisationId: org,
        subject: { type: 'user', id: userId },
        data: { role: target.role.name },
        before: { role: target.role.name, status: target.status },
      });
      await membersRepo.remove(trx, org, userId);
    });
  },
});

export type MembershipsService = ReturnType<typeof membershipsServiceFactory>;
