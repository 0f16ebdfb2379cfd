// The one authorization decision. Every service asks this module before it acts, and the route hook
// asks the same functions before a body is even parsed, so the two cannot disagree and a caller that
// skips HTTP is refused by default. No other module names a permission, a role or a platform role in
// a rule or in SQL: repositories take what to look for from here.
//
// Where to add a rule: a new permission goes in ./permissions.ts (the catalogue) and is checked with
// `member(principal, orgId, 'the:permission')`; anything that is not "a member holding a permission"
// (platform admins, the seed sets' rules, the system's own actions) gets a named function below.
import type { Db } from '../../db/database.ts';
import type { User } from '../accounts/types.ts';
import { usersRepo } from '../accounts/users.repo.ts';
import { AppError } from '../errors.ts';
import { isUuid } from '../ids.ts';
import { membersRepo } from '../organisations/members.repo.ts';
import type { Membership, RoleGrant } from '../organisations/types.ts';
import type { Principal, SystemPrincipal, TokenPrincipal, UserPrincipal } from '../principal.ts';
import { canGrant, OWNER_ROLE, type Permission } from './permissions.ts';

/** What a route or service needs of the caller's membership: a permission, or any active membership. */
export type Need = Permission | 'member';

/** Which organisations' statistics a principal may read. */
export type StatsScope = { all: true } | { all: false; userId: string; permission: Permission };

/** The platform role that administers the platform. */
export const PLATFORM_ADMIN = 'admin' as const;
/** The built-in role every organisation must keep one holder of. */
export const OWNER = { name: OWNER_ROLE, builtIn: true } as const;

export const policyFactory = ({ db }: { db: Db }) => {
  /** The caller's membership of an organisation, resolved once per principal. */
  async function membershipOf(principal: UserPrincipal, organisationId: string): Promise<Membership | null> {
    const known = principal.memberships.get(organisationId);
    if (known !== undefined) return known;
    const found = (await membersRepo.findActiveMembership(db, organisationId, principal.userId)) ?? null;
    principal.memberships.set(organisationId, found);
    return found;
  }

  const isAdmin = (principal: Principal) => principal.kind === 'user' && principal.platformRole === PLATFORM_ADMIN;

  const policy = {
    /** The signed-in person behind a principal; anyone else must sign in first. */
    signedIn(principal: Principal): UserPrincipal {
      if (principal.kind !== 'user') throw new AppError('AUTHENTICATION_REQUIRED');
      return principal;
    },

    /**
     * A signed-in person, or the holder of a checked token whose session the caller's one statement
     * checks (the hot listing): who they are and whether their session was checked already.
     */
    holder(principal: Principal): UserPrincipal | TokenPrincipal {
      if (principal.kind !== 'user' && principal.kind !== 'token') throw new AppError('AUTHENTICATION_REQUIRED');
      return principal;
    },

    /** A platform admin; a signed-in user who is not one is refused. */
    platformAdmin(principal: Principal): UserPrincipal {
      const user = policy.signedIn(principal);
      if (user.platformRole !== PLATFORM_ADMIN) throw new AppError('FORBIDDEN');
      return user;
    },

    isPlatformAdmin: isAdmin,

    /** Gatehouse itself (the command line): the only way to the first platform admin. */
    system(principal: Principal): SystemPrincipal {
      if (principal.kind !== 'system') throw new AppError('FORBIDDEN');
      return principal;
    },

    /**
     * The caller's active membership of the organisation, holding what is needed. A non-member, or an
     * id that names nothing, is not found; a member without the permission is refused. `actingOn`
     * names the member the action is about: acting on oneself (leaving) needs no permission.
     */
    async member(principal: Principal, organisationId: string | undefined, need: Need, options: { actingOn?: string } = {}): Promise<Membership> {
      const user = policy.signedIn(principal);
      if (!isUuid(organisationId)) throw new AppError('ORGANISATION_NOT_FOUND');
      const membership = await membershipOf(user, organisationId);
      if (!membership) throw new AppError('ORGANISATION_NOT_FOUND');
      const self = options.actingOn !== undefined && options.actingOn === user.userId;
      if (need !== 'member' && !self && !membership.role.permissions.includes(need)) throw new AppError('FORBIDDEN');
      return membership;
    },

    /** Nobody grants a role above their own, nor acts on a member whose role is above their own. */
    mayGrant(granter: Membership, role: RoleGrant): void {
      if (!canGrant(granter.role, role)) throw new AppError('ROLE_ABOVE_OWN');
    },

    /** A custom role holds only permissions its author holds too. */
    mayGrantPermissions(granter: Membership, permissions: readonly string[]): void {
      policy.mayGrant(granter, { name: '', builtIn: false, permissions });
    },

    /** An invitation still admits its invitee while its inviter could grant its role today. */
    inviterMayStillGrant(inviter: Membership | undefined, role: RoleGrant | undefined): boolean {
      return inviter !== undefined && role !== undefined && canGrant(inviter.role, role);
    },

    /** Another user's profile: visible to themselves, to anyone sharing an organisation, and to platform admins. */
    async mayView(principal: Principal, userId: string): Promise<boolean> {
      const viewer = policy.signedIn(principal);
      return viewer.userId === userId || isAdmin(viewer) || (await usersRepo.shareAnOrganisation(db, viewer.userId, userId));
    },

    /**
     * The `user-api` set's rule (its seed's): users read and change only their own account; platform
     * admins read anyone. Anyone else's account is not found.
     */
    selfOrAdmin(principal: Principal, target: User | undefined): User {
      const viewer = policy.signedIn(principal);
      if (!target || (target.id !== viewer.userId && !isAdmin(viewer))) throw new AppError('USER_NOT_FOUND');
      return target;
    },

    /** An admin changes themselves and ordinary users, never another admin. */
    adminMayChange(principal: Principal, target: User): UserPrincipal {
      const admin = policy.platformAdmin(principal);
      if (target.platformRole === PLATFORM_ADMIN && target.id !== admin.userId) throw new AppError('ADMIN_PROTECTED');
      return admin;
    },

    /** An admin deletes only ordinary users, and never themselves. */
    adminMayDelete(principal: Principal, target: User): UserPrincipal {
      const admin = policy.platformAdmin(principal);
      if (target.id === admin.userId) throw new AppError('CANNOT_DELETE_SELF');
      if (target.platformRole === PLATFORM_ADMIN) throw new AppError('ADMIN_PROTECTED');
      return admin;
    },

    /** The platform keeps an active admin: the last one may not step down. */
    keepsAnAdmin(target: User, change: { platformRole?: string; status?: string }, activeAdmins: number): void {
      const steppingDown = change.platformRole === 'user' || change.status === 'disabled';
      if (steppingDown && target.platformRole === PLATFORM_ADMIN && target.status === 'active' && activeAdmins <= 1) throw new AppError('LAST_ADMIN');
    },

    /** A platform admin reads every organisation's statistics; anyone else those where they hold `stats:read`. */
    statsScope(principal: Principal): StatsScope {
      const viewer = policy.signedIn(principal);
      return isAdmin(viewer) ? { all: true } : { all: false, userId: viewer.userId, permission: 'stats:read' };
    },
  };
  return policy;
};

export type Policy = ReturnType<typeof policyFactory>;
