// Platform administration. The rules (the policy's): an admin changes themselves and ordinary users,
// never another admin; deletes only ordinary users, never themselves; the platform keeps an active
// admin. Disabling or deleting a user ends their sessions at once, so their access tokens stop on the
// next request.
import type { Db } from '../../db/database.ts';
import type { PlatformRole, User, UserStatus } from '../accounts/types.ts';
import { usersRepo } from '../accounts/users.repo.ts';
import { auditRepo } from '../audit/audit.repo.ts';
import type { AuditEntry } from '../audit/types.ts';
import type { Clock } from '../clock.ts';
import { userActor } from '../events/catalogue.ts';
import type { EventStream } from '../events/event-stream.ts';
import { AppError, fieldError } from '../errors.ts';
import { isUuid } from '../ids.ts';
import { organisationsRepo } from '../organisations/organisations.repo.ts';
import { DEFAULT_PAGE_SIZE, decodeCursor, decodeIdCursor, page, pageById, type PageRequest } from '../pagination.ts';
import { OWNER, PLATFORM_ADMIN, type Policy } from '../policy/policy.ts';
import type { Principal } from '../principal.ts';
import { sessionsRepo } from '../sessions/sessions.repo.ts';
import { adminRepo, type AdminOrganisation } from './admin.repo.ts';

export interface AdminUserChanges {
  status?: UserStatus;
  platformRole?: PlatformRole;
  firstName?: string;
  lastName?: string;
  phone?: string | null;
  username?: string | null;
}

export class OwnsOrganisationsError extends AppError {
  readonly organisations: Array<{ id: string; name: string }>;

  constructor(organisations: Array<{ id: string; name: string }>) {
    super('OWNS_ORGANISATIONS', `This user is the last owner of: ${organisations.map((o) => o.name).join(', ')}. Give those organisations another owner first.`);
    this.organisations = organisations;
  }
}

interface Deps {
  db: Db;
  clock: Clock;
  policy: Policy;
  events: EventStream;
}

export const adminServiceFactory = ({ db, clock, policy, events }: Deps) => ({
  async listUsers(principal: Principal, request: PageRequest & { search?: string; status?: UserStatus; role?: PlatformRole }): Promise<{ items: User[]; nextCursor: string | null }> {
    policy.platformAdmin(principal);
    const limit = request.limit ?? DEFAULT_PAGE_SIZE;
    const rows = await adminRepo.searchUsers(db, { search: request.search, status: request.status, role: request.role, limit, after: decodeCursor(request.cursor) });
    return page(rows, limit, (row) => ({ at: row.createdAt, id: row.id }));
  },

  async getUser(principal: Principal, userId: string): Promise<User> {
    policy.platformAdmin(principal);
    const user = isUuid(userId) ? await usersRepo.findById(db, userId) : undefined;
    if (!user) throw new AppError('USER_NOT_FOUND');
    return user;
  },

  async updateUser(principal: Principal, { userId, changes }: { userId: string; changes: AdminUserChanges }): Promise<User> {
    policy.platformAdmin(principal);
    if (!isUuid(userId)) throw new AppError('USER_NOT_FOUND');
    if (changes.username && (await usersRepo.usernameTaken(db, changes.username, userId))) throw fieldError('username', 'Username already exists');
    return db.transaction().execute(async (trx) => {
      const steppingDown = changes.platformRole === 'user' || changes.status === 'disabled';
      // Counted under the admins' row locks, so two admins stepping down at once take turns.
      const activeAdmins = steppingDown ? await adminRepo.lockAndCountActiveAdmins(trx, PLATFORM_ADMIN) : 0;
      const user = await usersRepo.findById(trx, userId);
      if (!user) throw new AppError('USER_NOT_FOUND');
      const admin = policy.adminMayChange(principal, user);
      policy.keepsAnAdmin(user, changes, activeAdmins);
      const updated = await usersRepo.update(trx, userId, changes);
      if (!updated) throw new AppError('USER_NOT_FOUND');
      if (changes.status === 'disabled' && user.status !== 'disabled') await sessionsRepo.revokeAllForUser(trx, { userId, now: clock.now(), reason: 'disabled_by_admin' });
      const fields = Object.keys(changes) as Array<keyof AdminUserChanges>;
      await events.record(trx, {
        type: 'admin.user_updated',
        actor: userActor(admin.userId),
        client: admin.client,
        subject: { type: 'user', id: userId },
        data: { fields, ...(changes.status ? { status: changes.status } : {}), ...(changes.platformRole ? { platformRole: changes.platformRole } : {}) },
        before: Object.fromEntries(fields.map((field) => [field, user[field]])),
        after: Object.fromEntries(fields.map((field) => [field, updated[field]])),
      });
      return updated;
    });
  },

  /** Deletes an ordinary user with their personal organisation and any where nobody else is a member. */
  async deleteUser(principal: Principal, userId: string): Promise<void> {
    policy.platformAdmin(principal);
    if (!isUuid(userId)) throw new AppError('USER_NOT_FOUND');
    await db.transaction().execute(async (trx) => {
      const user = await usersRepo.findById(trx, userId);
      if (!user) throw new AppError('USER_NOT_FOUND');
      const admin = policy.adminMayDelete(principal, user);
      const owned = await adminRepo.soleOwnerWithOthers(trx, userId, OWNER);
      if (owned.length > 0) throw new OwnsOrganisationsError(owned);
      const going = await adminRepo.goingWith(trx, userId);
      for (const org of going) await organisationsRepo.delete(trx, org.id);
      await sessionsRepo.revokeAllForUser(trx, { userId, now: clock.now(), reason: 'deleted_by_admin' });
      await usersRepo.delete(trx, userId);
      await events.record(trx, {
        type: 'admin.user_deleted',
        actor: userActor(admin.userId),
        client: admin.client,
        subject: { type: 'user', id: userId },
        data: { email: user.email, username: user.username, organisationsDeleted: going.length },
        before: { email: user.email, username: user.username, platformRole: user.platformRole, status: user.status },
      });
    });
  },

  async listOrganisations(principal: Principal, request: PageRequest & { search?: string }): Promise<{ items: AdminOrganisation[]; nextCursor: string | null }> {
    policy.platformAdmin(principal);
    const limit = request.limit ?? DEFAULT_PAGE_SIZE;
    const rows = await adminRepo.listOrganisations(db, { search: request.search, limit, after: decodeCursor(request.cursor) });
    return page(rows, limit, (row) => ({ at: row.createdAt, id: row.id }));
  },

  async auditLog(principal: Principal, request: PageRequest & { action?: string }): Promise<{ items: AuditEntry[]; nextCursor: string | null }> {
    policy.platformAdmin(principal);
    const limit = request.limit ?? DEFAULT_PAGE_SIZE;
    return pageById(await auditRepo.list(db, { limit, beforeId: decodeIdCursor(request.cursor), action: request.action }), limit);
  },
});

export type AdminService = ReturnType<typeof adminServiceFactory>;
