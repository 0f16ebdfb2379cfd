// Organisations and adding members to them. Every method takes the acting principal and asks the
// policy first; the route hook asked the same question, so the answer is already known (one query).
import { randomUUID } from 'node:crypto';
import type { Db } from '../../db/database.ts';
import { usersRepo } from '../accounts/users.repo.ts';
import type { Clock } from '../clock.ts';
import { userActor } from '../events/catalogue.ts';
import type { EventStream } from '../events/event-stream.ts';
import { AppError, fieldError } from '../errors.ts';
import { decodeCursor, page, type PageRequest, DEFAULT_PAGE_SIZE } from '../pagination.ts';
import { DEFAULT_MEMBER_ROLE } from '../policy/permissions.ts';
import type { Policy } from '../policy/policy.ts';
import type { Principal } from '../principal.ts';
import { membersRepo } from './members.repo.ts';
import { organisationsRepo } from './organisations.repo.ts';
import { rolesRepo } from './roles.repo.ts';
import type { Member, MyOrganisation, Organisation } from './types.ts';

interface Deps {
  db: Db;
  clock: Clock;
  policy: Policy;
  events: EventStream;
}

export const organisationsServiceFactory = ({ db, clock, policy, events }: Deps) => ({
  /** Creates an organisation; the caller becomes its owner. One statement with its roles, owner and event. */
  async create(principal: Principal, input: { name: string; description?: string }): Promise<Organisation> {
    const user = policy.signedIn(principal);
    const id = randomUUID();
    const description = input.description ?? '';
    const created = events.rows({
      type: 'organisation.created',
      actor: userActor(user.userId),
      client: user.client,
      organisationId: id,
      subject: { type: 'organisation', id },
      data: { name: input.name, personal: false },
      after: { name: input.name, description },
    });
    const organisation = await organisationsRepo.create(db, { id, name: input.name, description, personal: false, ownerId: user.userId }, [created]);
    events.written(created, false);
    return organisation;
  },

  /** The organisations the caller belongs to, with their role in each; a token holder's session is checked in the same statement. */
  async listMine(principal: Principal, request: PageRequest): Promise<{ items: MyOrganisation[]; nextCursor: string | null }> {
    const holder = policy.holder(principal);
    const limit = request.limit ?? DEFAULT_PAGE_SIZE;
    const after = decodeCursor(request.cursor);
    const listPage = { limit, after: after && { joinedAt: after.at, orgId: after.id } };
    const rows =
      holder.kind === 'token'
        ? await organisationsRepo.listForSession(db, { sessionId: holder.sessionId, userId: holder.userId, now: clock.now() }, listPage)
        : await organisationsRepo.listForUser(db, holder.userId, listPage);
    if (rows === null) throw new AppError('INVALID_TOKEN');
    return page(rows, limit, (row) => ({ at: row.joinedAt, id: row.id }));
  },

  async get(principal: Principal, organisationId: string): Promise<Organisation> {
    const membership = await policy.member(principal, organisationId, 'member');
    const org = await organisationsRepo.findById(db, membership.organisationId);
    if (!org) throw new AppError('ORGANISATION_NOT_FOUND');
    return org;
  },

  async update(principal: Principal, { organisationId, changes }: { organisationId: string; changes: { name?: string; description?: string; requireMfa?: boolean } }): Promise<Organisation> {
    const membership = await policy.member(principal, organisationId, 'org:update');
    const id = membership.organisationId;
    if (changes.requireMfa !== undefined) policy.mayChangeMfaRule(principal, membership);
    const acting = policy.acting(principal);
    return db.transaction().execute(async (trx) => {
      const before = await organisationsRepo.findById(trx, id);
      const org = await organisationsRepo.update(trx, id, changes);
      if (!before || !org) throw new AppError('ORGANISATION_NOT_FOUND');
      await events.record(trx, {
        type: 'organisation.updated',
        actor: acting.actor,
        client: acting.client,
        organisationId: id,
        subject: { type: 'organisation', id },
        data: { fields: Object.keys(changes) },
        before: { name: before.name, description: before.description, ...(changes.requireMfa !== undefined ? { requireMfa: before.requireMfa } : {}) },
        after: { name: org.name, description: org.description, ...(changes.requireMfa !== undefined ? { requireMfa: org.requireMfa } : {}) },
      });
      return org;
    });
  },

  /** A personal organisation belongs to its user's account and goes only with it. */
  async delete(principal: Principal, organisationId: string): Promise<void> {
    const { organisationId: id } = await policy.member(principal, organisationId, 'org:delete');
    const acting = policy.acting(principal);
    await db.transaction().execute(async (trx) => {
      const org = await organisationsRepo.findById(trx, id);
      if (!org) throw new AppError('ORGANISATION_NOT_FOUND');
      if (org.personal) throw new AppError('PERSONAL_ORGANISATION');
      await organisationsRepo.delete(trx, id);
      await events.record(trx, {
        type: 'organisation.deleted',
        actor: acting.actor,
        client: acting.client,
        organisationId: id,
        subject: { type: 'organisation', id },
        data: { name: org.name },
        before: { name: org.name, description: org.description },
      });
    });
  },

  /** Adds an existing user with a role no higher than the granter's own, and welcomes them by mail. */
  async addUser(principal: Principal, { organisationId, ...input }: { organisationId: string; userId: string; role?: string }): Promise<{ userId: string; orgId: string; role: string }> {
    const granter = await policy.member(principal, organisationId, 'members:add');
    const acting = policy.acting(principal);
    const org = granter.organisationId;
    return db.transaction().execute(async (trx) => {
      const added = await usersRepo.findById(trx, input.userId);
      if (!added || added.status !== 'active') throw new AppError('USER_NOT_FOUND');
      const role = await rolesRepo.findByName(trx, org, input.role ?? DEFAULT_MEMBER_ROLE);
      if (!role) throw fieldError('role', 'Role does not exist in this organisation');
      policy.mayGrant(granter, role);
      await membersRepo.insert(trx, { organisationId: org, userId: added.id, roleId: role.id });
      const organisation = await organisationsRepo.findById(trx, org);
      await events.record(trx, {
        type: 'member.added',
        actor: acting.actor,
        client: acting.client,
        organisationId: org,
        subject: { type: 'user', id: added.id },
        data: { role: role.name },
        after: { role: role.name },
        notify: added.email && organisation ? { kind: 'welcome', to: added.email, name: added.firstName, organisation: organisation.name, role: role.name } : undefined,
      });
      return { userId: added.id, orgId: org, role: role.name };
    });
  },

  async listMembers(principal: Principal, { organisationId, ...request }: PageRequest & { organisationId: string }): Promise<{ items: Member[]; nextCursor: string | null }> {
    const { organisationId: id } = await policy.member(principal, organisationId, 'members:read');
    const limit = request.limit ?? DEFAULT_PAGE_SIZE;
    const after = decodeCursor(request.cursor);
    const rows = await membersRepo.list(db, id, { limit, after: after && { joinedAt: after.at, userId: after.id } });
    return page(rows, limit, (row) => ({ at: row.joinedAt, id: row.userId }));
  },
});

export type OrganisationsService = ReturnType<typeof organisationsServiceFactory>;
