// The permission catalogue, the built-in roles and the rule that nobody grants a role above their own.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BUILT_IN_ROLES, PERMISSIONS, canGrant, hasPermission, isOwnerRole, type RoleGrant } from '../../src/domain/policy/permissions.ts';

const builtIn = (name: string): RoleGrant => {
  const role = BUILT_IN_ROLES.find((r) => r.name === name);
  assert.ok(role, `no built-in role ${name}`);
  return { name: role.name, builtIn: true, permissions: role.permissions };
};
const custom = (name: string, permissions: string[]): RoleGrant => ({ name, builtIn: false, permissions });

const owner = builtIn('owner');
const admin = builtIn('admin');
const member = builtIn('member');

describe('permissions', () => {
  it('has exactly the catalogue of the specification', () => {
    assert.deepEqual(
      [...PERMISSIONS].sort(),
      ['api-keys:manage', 'applications:manage', 'audit:read', 'invitations:create', 'members:add', 'members:read', 'members:remove', 'members:update-role', 'org:delete', 'org:read', 'org:update', 'roles:manage', 'stats:read', 'webhooks:manage'],
    );
    assert.equal(new Set(PERMISSIONS).size, PERMISSIONS.length);
  });

  it('defines owner with every permission, admin with all but org:delete, member with org:read and members:read', () => {
    assert.deepEqual(BUILT_IN_ROLES.map((r) => r.name).sort(), ['admin', 'member', 'owner']);
    assert.deepEqual([...owner.permissions].sort(), [...PERMISSIONS].sort());
    assert.deepEqual([...admin.permissions].sort(), PERMISSIONS.filter((p) => p !== 'org:delete').sort());
    assert.deepEqual([...member.permissions].sort(), ['members:read', 'org:read']);
    for (const role of BUILT_IN_ROLES) assert.ok(role.description.length > 0, `${role.name} has no description`);
  });

  it('answers hasPermission from the role’s permissions', () => {
    for (const permission of PERMISSIONS) assert.equal(hasPermission(owner, permission), true, permission);
    assert.equal(hasPermission(admin, 'org:delete'), false);
    assert.equal(hasPermission(admin, 'roles:manage'), true);
    assert.equal(hasPermission(member, 'org:read'), true);
    assert.equal(hasPermission(member, 'members:read'), true);
    for (const permission of PERMISSIONS.filter((p) => p !== 'org:read' && p !== 'members:read')) {
      assert.equal(hasPermission(member, permission), false, permission);
    }
    assert.equal(hasPermission(custom('none', []), 'org:read'), false);
  });

  it('lets an owner grant any role, including owner and any custom role', () => {
    for (const granted of [owner, admin, member, custom('auditor', ['audit:read']), custom('everything', [...PERMISSIONS])]) {
      assert.equal(canGrant(owner, granted), true, granted.name);
    }
  });

  it('lets an admin grant admin and member, but not owner', () => {
    assert.equal(canGrant(admin, admin), true);
    assert.equal(canGrant(admin, member), true);
    assert.equal(canGrant(admin, owner), false);
  });

  it('lets a member grant nothing above member', () => {
    assert.equal(canGrant(member, member), true);
    assert.equal(canGrant(member, admin), false);
    assert.equal(canGrant(member, owner), false);
    assert.equal(canGrant(member, custom('reader-plus', ['org:read', 'members:read', 'stats:read'])), false);
  });

  it('refuses a custom role holding a permission the granter lacks, and allows one within the granter’s', () => {
    assert.equal(canGrant(admin, custom('deleter', ['org:read', 'org:delete'])), false);
    assert.equal(canGrant(admin, custom('auditor', ['audit:read', 'stats:read'])), true);
    assert.equal(canGrant(custom('auditor', ['audit:read']), custom('reporter', ['stats:read'])), false);
    assert.equal(canGrant(custom('auditor', ['audit:read', 'stats:read']), custom('reporter', ['stats:read'])), true);
  });

  it('treats only the built-in owner as the owner role: a custom role named owner grants no ownership', () => {
    assert.equal(isOwnerRole(owner), true);
    assert.equal(isOwnerRole(custom('owner', [...PERMISSIONS])), false);
    assert.equal(isOwnerRole(custom('Owner', [...PERMISSIONS])), false);
    assert.equal(canGrant(custom('owner', [...PERMISSIONS]), owner), false);
    assert.equal(canGrant(custom('superuser', [...PERMISSIONS]), owner), false);
  });
});
