// The one authorization decision. Every service asks this module before it acts, and the route hook
// asks the same functions before a body is even parsed, so the two cannot disagree and a caller that
// skips HTTP is refused by default. No other module names a permission, a role or a platform role in
// a rule or in SQL: repositories take what to look for from here.
//
// Where to add a rule: a new permission goes in ./permissions.ts (the catalogue) and is checked with
// `member(principal, orgId, 'the:permission')`; anything that is not "a member holding a permission"
// (platform admins, the seed sets' rules, the system's own actions) gets a named function below.
import type { RequireMfa } from '../../config/config.ts';
import type { Db } from '../../db/database.ts';
import type { Clock } from '../clock.ts';
import { STEP_UP_MAX_AGE_SECONDS } from '../mfa/types.ts';
import type { User } from '../accounts/types.ts';
import { usersRepo } from '../accounts/users.repo.ts';
import { AppError } from '../errors.ts';
import { isUuid } from '../ids.ts';
import { membersRepo } from '../organisations/members.repo.ts';
import type { Membership, RoleGrant } from '../organisations/types.ts';
import { userActor, type Actor } from '../events/catalogue.ts';
import { isCredential, type ClientInfo, type Principal, type SystemPrincipal, type TokenPrincipal, type UserPrincipal } from '../principal.ts';
import { canGrant, OWNER_ROLE, PERMISSIONS, type Permission } from './permissions.ts';

/** What a route or service needs of the caller's membership: a permission, or any active membership. */
export type Need = Permission | 'member';

/** Which organisations' statistics a principal may read. */
export type StatsScope = { all: true } | { all: false; userId: string; permission: Permission };

/** The platform role that administers the platform. */
export const PLATFORM_ADMIN = 'admin' as const;
/** The built-in role every organisation must keep one holder of. */
export const OWNER = { name: OWNER_ROLE, builtIn: true } as const;

/** Who acts in a change, for its event: the actor, where the request came from, and the person behind it (none for a machine client). */
export interface Acting {
  actor: Actor;
  client: ClientInfo;
  userId: string | null;
}

/**
 * The role an API key or a machine client acts with: exactly its permissions, and never the owner
 * role, so it acts on no owner and grants no ownership, whoever created it.
 */
const credentialRole = (name: 'api_key' | 'application', permissions: readonly string[]) => ({ id: '', name, description: '', builtIn: false, permissions: [...permissions] });

/** The permissions of `wanted` that `held` grants too, in catalogue order. */
export const narrowed = (wanted: readonly string[], held: readonly string[]): Permission[] => PERMISSIONS.filter((p) => wanted.includes(p) && held.includes(p));

export const policyFactory = ({ db, clock, requireMfa = 'off' }: { db: Db; clock: Clock; requireMfa?: RequireMfa }) => {
  /** The caller's membership of an organisation, resolved once per principal. */
  async function membershipOf(principal: { userId: string; memberships: Map<string, Membership | null> }, organisationId: string): Promise<Membership | null> {
    const known = principal.memberships.get(organisationId);
    if (known !== undefined) return known;
    const found = (await membersRepo.findActiveMembership(db, organisationId, principal.userId)) ?? null;
    principal.memberships.set(organisationId, found);
    return found;
  }

  /**
   * What a principal may do in an organisation, as a membership: a person's own; an API key's or a
   * machine client's as its permissions allow, in its own organisation only (a personal key: in its
   * owner's organisations, narrowed to the owner's role there). Null: not a member.
   */
  async function membershipFor(principal: Principal, organisationId: string): Promise<Membership | null> {
    switch (principal.kind) {
      case 'user':
        return membershipOf(principal, organisationId);
      case 'api_key': {
        if (principal.organisationId !== null) {
          if (principal.organisationId !== organisationId) return null;
          return { organisationId, userId: principal.userId, status: 'active', role: credentialRole('api_key', principal.permissions) };
        }
        const owner = await membershipOf(principal, organisationId);
        return owner && { ...owner, role: credentialRole('api_key', narrowed(principal.permissions, owner.role.permissions)) };
      }
      case 'application':
        if (principal.organisationId !== organisationId) return null;
        return { organisationId, userId: principal.clientId, status: 'active', role: credentialRole('application', principal.permissions) };
      default:
        throw new AppError('AUTHENTICATION_REQUIRED');
    }
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

    /**
     * For what a stolen session must not do on its own (turn a factor off, new recovery codes, a new
     * password, keys and clients, an organisation's MFA rule): a person whose account has a second
     * factor must have checked one in this session within the last ten minutes (a sign-in or
     * `POST /auth/step-up`). An account without one has nothing stronger to ask for.
     */
    recentlyVerified(principal: Principal): UserPrincipal {
      const user = policy.person(principal);
      const { secondFactor, authTime } = user.authentication;
      if (secondFactor && clock.now().getTime() - authTime.getTime() > STEP_UP_MAX_AGE_SECONDS * 1000) throw new AppError('STEP_UP_REQUIRED');
      return user;
    },

    /** A platform admin; a signed-in user who is not one is refused. */
    platformAdmin(principal: Principal): UserPrincipal {
      const user = policy.signedIn(principal);
      if (user.platformRole !== PLATFORM_ADMIN) throw new AppError('FORBIDDEN');
      // GATEHOUSE_REQUIRE_MFA=admins (or all): the platform's own administration needs a second factor.
      if (requireMfa !== 'off' && !user.authentication.secondFactor) throw new AppError('PLATFORM_REQUIRES_MFA');
      return user;
    },

    /**
     * An organisation's `requireMfa` is its owners' to change (never an admin's or a key's), with a
     * recent second factor of their own: whoever turns it on must not be locked out by it.
     */
    mayChangeMfaRule(principal: Principal, membership: Membership): UserPrincipal {
      const owner = policy.recentlyVerified(principal);
      if (membership.role.name !== OWNER.name || !membership.role.builtIn) throw new AppError('FORBIDDEN');
      if (!owner.authentication.secondFactor) throw new AppError('NO_SECOND_FACTOR');
      return owner;
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
      if (principal.kind !== 'user' && !isCredential(principal)) throw new AppError('AUTHENTICATION_REQUIRED');
      if (!isUuid(organisationId)) throw new AppError('ORGANISATION_NOT_FOUND');
      const membership = await membershipFor(principal, organisationId);
      if (!membership) throw new AppError('ORGANISATION_NOT_FOUND');
      // Only a person leaves: a key acting "on itself" is acting on its owner, which needs the permission.
      const self = principal.kind === 'user' && options.actingOn !== undefined && options.actingOn === principal.userId;
      // A person without a second factor is refused where the organisation or the platform asks for one,
      // and told why; leaving stays open to them.
      if (principal.kind === 'user' && !self && !principal.authentication.secondFactor) {
        const rule = policy.secondFactorRule(membership);
        if (rule) throw new AppError(rule);
      }
      if (need !== 'member' && !self && !membership.role.permissions.includes(need)) throw new AppError('FORBIDDEN');
      return membership;
    },

    /**
     * Whether acting in an organisation needs a second factor checked in the sign-in, and whose rule
     * asks for it: the organisation's `requireMfa`, or the platform's GATEHOUSE_REQUIRE_MFA=all
     * (`admins` is about the platform's administration, not organisations). Null: none needed.
     */
    secondFactorRule(organisation: { requireMfa?: boolean }): 'ORG_REQUIRES_MFA' | 'PLATFORM_REQUIRES_MFA' | null {
      if (organisation.requireMfa) return 'ORG_REQUIRES_MFA';
      return requireMfa === 'all' ? 'PLATFORM_REQUIRES_MFA' : null;
    },

    /**
     * A sign-in through the OpenID Provider acts in an organisation for an application (the
     * `organization` scope) only with the second factor the organisation asks for, as Gatehouse's own
     * routes would refuse it: a relying party is never handed an organisation its rule keeps the person out of.
     */
    signInMayActIn(signIn: { secondFactor: boolean }, organisation: { requireMfa?: boolean }): void {
      const rule = signIn.secondFactor ? null : policy.secondFactorRule(organisation);
      if (rule) throw new AppError(rule);
    },

    /**
     * An API key or a machine client is a credential for organisation routes (those that declare a
     * permission) and nothing else: a person's own routes, the platform's and the seed sets' refuse it.
     */
    credentialReaches(principal: Principal, organisationRoute: boolean): void {
      if (isCredential(principal) && !organisationRoute) throw new AppError('CREDENTIAL_NOT_ACCEPTED');
    },

    /**
     * A signed-in person, for what software must not do with a credential of its own: make or remove
     * API keys and machine clients (a key cannot mint keys). Keys and clients are refused (403).
     */
    person(principal: Principal): UserPrincipal {
      if (isCredential(principal)) throw new AppError('PERSON_REQUIRED');
      return policy.signedIn(principal);
    },

    /** Who acts, for the event a change records: a person, an API key or a machine client. */
    acting(principal: Principal): Acting {
      switch (principal.kind) {
        case 'user':
          return { actor: userActor(principal.userId), client: principal.client, userId: principal.userId };
        case 'api_key':
          return { actor: { type: 'api_key', id: principal.apiKeyId }, client: principal.client, userId: principal.userId };
        case 'application':
          return { actor: { type: 'application', id: principal.applicationId }, client: principal.client, userId: null };
        default:
          throw new AppError('AUTHENTICATION_REQUIRED');
      }
    },

    /**
     * The person a change is made on behalf of, for what must name one (an invitation's inviter, whose
     * right to grant its role is checked again at acceptance): a person, or an API key's owner. A
     * machine client has no one behind it and is refused.
     */
    onBehalfOf(principal: Principal): Acting & { userId: string } {
      const acting = policy.acting(principal);
      if (acting.userId === null) throw new AppError('PERSON_REQUIRED');
      return { ...acting, userId: acting.userId };
    },

    /** Nobody grants a role above their own, nor acts on a member whose role is above their own. */
    mayGrant(granter: Membership, role: RoleGrant): void {
      if (!canGrant(granter.role, role)) throw new AppError('ROLE_ABOVE_OWN');
    },

    /** A custom role holds only permissions its author holds too. */
    mayGrantPermissions(granter: Membership, permissions: readonly string[]): void {
      policy.mayGrant(granter, { name: '', builtIn: false, permissions });
    },

    /** An API key or a machine client holds only permissions its maker holds (`held`). */
    mayDelegate(held: readonly string[], permissions: readonly string[]): void {
      if (!canGrant({ name: '', builtIn: false, permissions: held }, { name: '', builtIn: false, permissions })) throw new AppError('PERMISSIONS_ABOVE_OWN');
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
