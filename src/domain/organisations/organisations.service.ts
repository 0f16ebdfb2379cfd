// Organisations and their members. Who may do what is decided by the caller's membership, which
// the HTTP layer loads (and refuses with 404 for a non-member) before any of these run.
import { randomUUID } from 'node:crypto';
import type { Db, Executor } from '../../db/database.js';
import { writeTogetherReturning, type Write } from '../../db/one-statement.js';
import { auditRepo } from '../audit/audit.repo.js';
import { messages } from '../mail/messages.js';
import { outboxRepo } from '../mail/outbox.repo.js';
import { AppError, fieldError } from '../errors.js';
import { decodeCursor, page, type PageRequest, DEFAULT_PAGE_SIZE } from '../pagination.js';
import { BUILT_IN_ROLES, canGrant, DEFAULT_MEMBER_ROLE, OWNER_ROLE } from '../permissions.js';
import type { Clock } from '../clock.js';
import type { ClientInfo, TokenHolder } from '../sessions/sessions.service.js';
import { usersRepo } from '../accounts/users.repo.js';
import { membersRepo } from './members.repo.js';
import { organisationsRepo } from './organisations.repo.js';
import { rolesRepo } from './roles.repo.js';

export interface Membership {
  organisationId: string;
  userId: string;
  roleId: string;
  roleName: string;
  builtIn: boolean;
  permissions: string[];
}

/** Who is acting, for the rules and for the audit log. */
export interface Actor extends ClientInfo {
  userId: string;
}

interface Deps {
  db: Db;
  clock: Clock;
  /** Wakes the outbox worker once a transaction that queued mail has committed. */
  mailQueued: () => void;
}

export const organisationsServiceFactory = ({ db, clock, mailQueued }: Deps) => {
  const audit = (trx: Executor, actor: Actor, organisationId: string, action: string, target: { type: string; id: string }, data?: Record<string, unknown>) =>
    auditRepo.record(trx, { organisationId, actorUserId: actor.userId, action, targetType: target.type, targetId: target.id, ip: actor.ip, userAgent: actor.userAgent, data });

  return {
    /**
     * The writes that create an organisation with its built-in roles, its owner and the audit row,
     * for one statement (src/db/one-statement.ts); `main` returns the organisation.
     */
    creation(input: { name: string; description: string; personal: boolean; ownerId: string }, client: ClientInfo) {
      const id = randomUUID();
      const roleIds = Object.fromEntries(BUILT_IN_ROLES.map((role) => [role.name, randomUUID()]));
      const ownerRoleId = roleIds[OWNER_ROLE];
      if (!ownerRoleId) throw new Error('The built-in roles have no owner role');
      const writes: Write[] = [
        rolesRepo.builtInsInsertion(db, id, roleIds),
        membersRepo.insertion(db, { organisationId: id, userId: input.ownerId, roleId: ownerRoleId }),
        auditRepo.insertion(db, { organisationId: id, actorUserId: input.ownerId, action: 'organisation.created', targetType: 'organisation', targetId: id, ip: client.ip, userAgent: client.userAgent, data: { name: input.name, personal: input.personal } }),
      ];
      return { id, main: organisationsRepo.insertion(db, { id, name: input.name, description: input.description, personal: input.personal, createdBy: input.ownerId }), writes };
    },

    /** Creates an organisation with its built-in roles and the owner, in one statement. */
    async createWith(executor: Executor, input: { name: string; description: string; personal: boolean; ownerId: string }, client: ClientInfo) {
      const { main, writes } = this.creation(input, client);
      const [org] = await writeTogetherReturning(executor, writes, main);
      if (!org) throw new Error('The organisation was not created');
      return org;
    },

    create(actor: Actor, input: { name: string; description?: string }) {
      return this.createWith(db, { name: input.name, description: input.description ?? '', personal: false, ownerId: actor.userId }, actor);
    },

    /**
     * The organisations the holder of an access token belongs to, with their role in each. The session
     * is checked in the same statement: the most frequent read of every product behind Gatehouse costs
     * one round trip, not two.
     */
    async listForHolder(holder: TokenHolder, request: PageRequest) {
      const limit = request.limit ?? DEFAULT_PAGE_SIZE;
      const after = decodeCursor(request.cursor);
      const rows = await organisationsRepo.listForSession(db, { ...holder, now: clock.now() }, { limit, after: after && { joinedAt: after.at, orgId: after.id } });
      if (rows.length === 0) throw new AppError('INVALID_TOKEN');
      const listed = rows.filter((row): row is typeof row & { id: string; name: string; description: string; role: string; joined_at: Date } => row.id !== null);
      return page(listed, limit, (row) => ({ at: row.joined_at, id: row.id }));
    },

    async membership(organisationId: string, userId: string): Promise<Membership | null> {
      const row = await membersRepo.findMembership(db, organisationId, userId);
      if (!row) return null;
      return { organisationId: row.organisation_id, userId: row.user_id, roleId: row.role_id, roleName: row.role_name, builtIn: row.built_in, permissions: row.permissions };
    },

    async get(organisationId: string) {
      const org = await organisationsRepo.findById(db, organisationId);
      if (!org) throw new AppError('ORGANISATION_NOT_FOUND');
      return org;
    },

    update(actor: Actor, organisationId: string, changes: { name?: string; description?: string }) {
      return db.transaction().execute(async (trx) => {
        const org = await organisationsRepo.update(trx, organisationId, changes);
        if (!org) throw new AppError('ORGANISATION_NOT_FOUND');
        await audit(trx, actor, organisationId, 'organisation.updated', { type: 'organisation', id: organisationId }, { fields: Object.keys(changes) });
        return org;
      });
    },

    /** A personal organisation belongs to its user's account and goes only with it. */
    delete(actor: Actor, organisationId: string) {
      return db.transaction().execute(async (trx) => {
        const org = await organisationsRepo.findById(trx, organisationId);
        if (!org) throw new AppError('ORGANISATION_NOT_FOUND');
        if (org.personal) throw new AppError('PERSONAL_ORGANISATION');
        await organisationsRepo.delete(trx, organisationId);
        await audit(trx, actor, organisationId, 'organisation.deleted', { type: 'organisation', id: organisationId }, { name: org.name });
      });
    },

    /** Adds an existing user with a role no higher than the granter's own, and welcomes them by mail. */
    async addUser(actor: Actor, granter: Membership, input: { userId: string; role?: string }) {
      const added = await db.transaction().execute(async (trx) => {
        const user = await usersRepo.findById(trx, input.userId);
        if (!user || user.status !== 'active') throw new AppError('USER_NOT_FOUND');
        const role = await rolesRepo.findByName(trx, granter.organisationId, input.role ?? DEFAULT_MEMBER_ROLE);
        if (!role) throw fieldError('role', 'Role does not exist in this organisation');
        const granterRole = { name: granter.roleName, builtIn: granter.builtIn, permissions: granter.permissions };
        if (!canGrant(granterRole, { name: role.name, builtIn: role.built_in, permissions: role.permissions })) throw new AppError('ROLE_ABOVE_OWN');
        await membersRepo.insert(trx, { organisationId: granter.organisationId, userId: user.id, roleId: role.id });
        await audit(trx, actor, granter.organisationId, 'member.added', { type: 'user', id: user.id }, { role: role.name });
        const org = await organisationsRepo.findById(trx, granter.organisationId);
        if (user.email && org) await outboxRepo.enqueue(trx, messages.welcome(user.email, user.first_name, org.name, role.name));
        return { userId: user.id, role: role.name };
      });
      mailQueued();
      return added;
    },

    async listMembers(organisationId: string, request: PageRequest) {
      const limit = request.limit ?? DEFAULT_PAGE_SIZE;
      const after = decodeCursor(request.cursor);
      const rows = await membersRepo.list(db, organisationId, { limit, after: after && { joinedAt: after.at, userId: after.id } });
      return page(rows, limit, (row) => ({ at: row.joined_at, id: row.user_id }));
    },
  };
};

export type OrganisationsService = ReturnType<typeof organisationsServiceFactory>;
