// The permission catalogue and the built-in roles every organisation gets: the vocabulary of the
// policy (./policy.ts), the only module that decides with it.
import type { RoleGrant } from '../organisations/types.ts';

export const PERMISSIONS = [
  'org:read',
  'org:update',
  'org:delete',
  'members:read',
  'members:add',
  'members:remove',
  'members:update-role',
  'invitations:create',
  'roles:manage',
  'stats:read',
  'audit:read',
  'api-keys:manage',
  'applications:manage',
  'webhooks:manage',
] as const;

export type Permission = (typeof PERMISSIONS)[number];

export const OWNER_ROLE = 'owner';

export const BUILT_IN_ROLES: ReadonlyArray<{ name: string; description: string; permissions: readonly Permission[] }> = [
  { name: OWNER_ROLE, description: 'Full control of the organisation', permissions: PERMISSIONS },
  {
    name: 'admin',
    description: 'Manages the organisation, its members and roles; cannot delete it or grant ownership',
    permissions: PERMISSIONS.filter((p) => p !== 'org:delete'),
  },
  { name: 'member', description: 'Reads the organisation and its members', permissions: ['org:read', 'members:read'] },
];

export const DEFAULT_MEMBER_ROLE = 'member';

export type { RoleGrant };

export function hasPermission(role: Pick<RoleGrant, 'permissions'>, permission: Permission): boolean {
  return role.permissions.includes(permission);
}

/**
 * Nobody grants a role above their own: the granted role's permissions must all be held by the
 * granter, and the built-in owner role is granted (or taken away) only by an owner.
 */
export function canGrant(granter: RoleGrant, granted: RoleGrant): boolean {
  if (isOwnerRole(granted) && !isOwnerRole(granter)) return false;
  return granted.permissions.every((permission) => granter.permissions.includes(permission));
}

export const isOwnerRole = (role: Pick<RoleGrant, 'name' | 'builtIn'>) => role.builtIn && role.name === OWNER_ROLE;
