// Custom roles. Built-in roles are fixed; a custom role holds only permissions its author holds too,
// and a role members hold cannot be deleted (the database refuses; its members must move first).
import type { Db, Executor } from '../../db/database.ts';
import type { EventStream } from '../events/event-stream.ts';
import { AppError, fieldError } from '../errors.ts';
import { isUuid } from '../ids.ts';
import type { Policy } from '../policy/policy.ts';
import type { Principal } from '../principal.ts';
import { confusableRole, normaliseRoleName, ROLE_NAME_MAX_LENGTH } from './role-names.ts';
import { rolesRepo } from './roles.repo.ts';
import type { Membership, Role, RoleWithCount } from './types.ts';

export interface RoleInput {
  name: string;
  description?: string;
  permissions: string[];
}

interface Deps {
  db: Db;
  policy: Policy;
  events: EventStream;
}

const described = (role: Role) => ({ name: role.name, description: role.description, permissions: role.permissions });

export const rolesServiceFactory = ({ db, policy, events }: Deps) => {
  /**
   * The name to store for a new or renamed role: normalised, and refused (422 naming `name`) when it
   * would pass for a built-in role or another of the organisation's roles. Renames in one
   * organisation take turns, so two look-alike names cannot both pass at once.
   */
  async function distinctName(trx: Executor, { organisationId, name, roleId }: { organisationId: string; name: string; roleId?: string }) {
    const normalised = normaliseRoleName(name);
    if (!normalised) throw fieldError('name', 'Name is required');
    if (Array.from(normalised).length > ROLE_NAME_MAX_LENGTH) throw fieldError('name', `Name must be at most ${ROLE_NAME_MAX_LENGTH} characters`);
    await rolesRepo.lockNames(trx, organisationId);
    const others = (await rolesRepo.names(trx, organisationId)).filter((role) => role.id !== roleId);
    const like = confusableRole(normalised, others);
    if (like === undefined) return normalised;
    if (like.toLowerCase() === normalised.toLowerCase()) throw fieldError('name', 'A role with this name already exists');
    throw fieldError('name', `This name looks like the role “${like}”: choose one that cannot be mistaken for it`);
  }


  /** The custom role, which the granter may edit: it is not above their own. */
  async function editable(trx: Executor, granter: Membership, roleId: string) {
    const role = await rolesRepo.findById(trx, granter.organisationId, roleId);
    if (!role) throw new AppError('ROLE_NOT_FOUND');
    if (role.builtIn) throw new AppError('BUILT_IN_ROLE');
    policy.mayGrant(granter, role);
    return role;
  }

  return {
    async list(principal: Principal, organisationId: string): Promise<RoleWithCount[]> {
      const { organisationId: id } = await policy.member(principal, organisationId, 'member');
      return rolesRepo.list(db, id);
    },

    async create(principal: Principal, { organisationId, ...input }: RoleInput & { organisationId: string }): Promise<Role> {
      const granter = await policy.member(principal, organisationId, 'roles:manage');
      const acting = policy.acting(principal);
      policy.mayGrantPermissions(granter, input.permissions);
      return db.transaction().execute(async (trx) => {
        const name = await distinctName(trx, { organisationId: granter.organisationId, name: input.name });
        const role = await rolesRepo.insert(trx, { organisationId: granter.organisationId, name, description: input.description ?? '', permissions: [...new Set(input.permissions)] });
        await events.record(trx, {
          type: 'role.created',
          actor: acting.actor,
          client: acting.client,
          organisationId: granter.organisationId,
          subject: { type: 'role', id: role.id },
          data: { name: role.name, permissions: role.permissions },
          after: described(role),
        });
        return role;
      });
    },

    async update(principal: Principal, { organisationId, roleId, changes }: { organisationId: string; roleId: string; changes: Partial<RoleInput> }): Promise<Role> {
      const granter = await policy.member(principal, organisationId, 'roles:manage');
      const acting = policy.acting(principal);
      if (!isUuid(roleId)) throw new AppError('ROLE_NOT_FOUND');
      if (changes.permissions) policy.mayGrantPermissions(granter, changes.permissions);
      return db.transaction().execute(async (trx) => {
        const current = await editable(trx, granter, roleId);
        const permissions = changes.permissions && [...new Set(changes.permissions)];
        const name = changes.name === undefined ? undefined : await distinctName(trx, { organisationId: granter.organisationId, name: changes.name, roleId });
        const role = await rolesRepo.update(trx, { organisationId: granter.organisationId, roleId, changes: { name, description: changes.description, permissions } });
        if (!role) throw new AppError('ROLE_NOT_FOUND');
        if (Object.values(changes).some((value) => value !== undefined)) {
          await events.record(trx, {
            type: 'role.updated',
            actor: acting.actor,
            client: acting.client,
            organisationId: granter.organisationId,
            subject: { type: 'role', id: roleId },
            data: { fields: Object.keys(changes) },
            before: described(current),
            after: described(role),
          });
        }
        return role;
      });
    },

    async delete(principal: Principal, { organisationId, roleId }: { organisationId: string; roleId: string }): Promise<void> {
      const granter = await policy.member(principal, organisationId, 'roles:manage');
      const acting = policy.acting(principal);
      if (!isUuid(roleId)) throw new AppError('ROLE_NOT_FOUND');
      await db.transaction().execute(async (trx) => {
        const role = await editable(trx, granter, roleId);
        await rolesRepo.delete(trx, granter.organisationId, roleId);
        await events.record(trx, {
          type: 'role.deleted',
          actor: acting.actor,
          client: acting.client,
          organisationId: granter.organisationId,
          subject: { type: 'role', id: roleId },
          data: { name: role.name },
          before: described(role),
        });
      });
    },
  };
};

export type RolesService = ReturnType<typeof rolesServiceFactory>;
