// Organisations, their roles, members and invitations as the domain sees them.
import type { InvitationStatus } from '../../db/schema.ts';

export interface Organisation {
  id: string;
  name: string;
  description: string;
  /** Every account's own organisation: it goes only with its account. */
  personal: boolean;
  /** Members without a second factor are refused on its routes. */
  requireMfa: boolean;
  createdAt: Date;
}

/** A role as the rules compare roles: what it grants, and whether it is the built-in owner. */
export interface RoleGrant {
  name: string;
  builtIn: boolean;
  permissions: readonly string[];
}

export interface Role extends RoleGrant {
  id: string;
  description: string;
  permissions: string[];
}

export interface RoleWithCount extends Role {
  memberCount: number;
}

export type MembershipStatus = 'active' | 'suspended';

/** One user's membership of one organisation, with the role it carries. */
export interface Membership {
  organisationId: string;
  userId: string;
  status: MembershipStatus;
  role: Role;
  /** The organisation's `requireMfa` (absent for an API key's or a machine client's stand-in membership). */
  requireMfa?: boolean;
}

/** A member as the member list shows them. */
export interface Member {
  userId: string;
  firstName: string;
  lastName: string;
  email: string | null;
  role: string;
  status: MembershipStatus;
  joinedAt: Date;
  /** Whether the member has a second factor. */
  mfa: boolean;
}

/**
 * One of a user's organisations as their list shows it, with their role in it: the hottest read
 * selects only what it answers.
 */
export interface MyOrganisation extends Pick<Organisation, 'id' | 'name' | 'description' | 'requireMfa'> {
  role: string;
  joinedAt: Date;
}

export interface Invitation {
  id: string;
  organisationId: string;
  email: string;
  roleId: string;
  role: string;
  status: InvitationStatus;
  invitedBy: string | null;
  expiresAt: Date;
  createdAt: Date;
}

export type { InvitationStatus };
