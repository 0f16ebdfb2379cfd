import type { Migration } from './migration.ts';

// The catalogue as it stands with this migration: 0001's and the three that manage how other software
// reaches an organisation (API keys, machine clients, webhooks). Frozen with it: later migrations may
// name this snapshot, never edit it.
export const PERMISSIONS_0007 = [
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
];
const ADDED = ['api-keys:manage', 'applications:manage', 'webhooks:manage'];
const list = (permissions: readonly string[]) => `array[${permissions.map((p) => `'${p}'`).join(', ')}]::text[]`;

/**
 * The permissions for API keys, machine clients and webhooks join the catalogue, and every
 * organisation's built-in owner and admin roles hold them, as new organisations' do.
 */
export const integrationPermissions: Migration = {
  name: '0007-integration-permissions',
  statements: [
    'alter table roles drop constraint roles_permissions_known',
    `alter table roles add constraint roles_permissions_known check (permissions <@ ${list(PERMISSIONS_0007)})`,
    `update roles set permissions = permissions || array(select p from unnest(${list(ADDED)}) p where p <> all (roles.permissions))
       where built_in and name in ('owner', 'admin')`,
  ],
};
