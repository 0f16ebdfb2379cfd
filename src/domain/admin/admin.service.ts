// Platform administration. The rules: an admin changes themselves and ordinary users, never another
// admin; deletes only ordinary users, never themselves; the platform keeps an active admin. Disabling
// or deleting a user ends their sessions at once, so their access tokens stop on the next request.
import type { Db, Executor } from '../../db/database.js';
import type { PlatformRole, UserStatus } from '../../db/schema.js';
import { usersRepo } from '../accounts/users.repo.js';
import { auditRepo } from '../audit/audit.repo.js';
import type { Clock } from '../clock.js';
import { AppError, fieldError } from '../errors.js';
import { eventPage } from '../audit/audit.service.js';
import { DEFAULT_PAGE_SIZE, decodeCursor, decodeIdCursor, page, type PageRequest } from '../pagination.js';
import { sessionsRepo } from '../sessions/sessions.repo.js';
import type { Actor } from '../organisations/organisations.service.js';
import { organisationsRepo } from '../organisations/organisations.repo.js';
import { adminRepo } from './admin.repo.js';

export interface AdminUserChanges {
  status?: UserStatus;
  platformRole?: PlatformRole;
  firstName?: string;
  lastName?: string;
  phone?: string | null;
  username?: string | null;
}

export class OwnsOrganisationsError extends AppError {
  constructor(readonly organisations: Array<{ id: string; name: string }>) {
    super('OWNS_ORGANISATIONS', `This user is the last owner of: ${organisations.map((o) => o.name).join(', ')}. Give those organisations another owner first.`);
  }
}

export const adminServiceFactory = ({ db, clock }: { db: Db; clock: Clock }) => {
  const audit = (trx: Executor, actor: Actor, action: string, userId: string, data: Record<string, unknown>) =>
    auditRepo.record(trx, { actorUserId: actor.userId, action, targetType: 'user', targetId: userId, ip: actor.ip, userAgent: actor.userAgent, data });

  /** The target as the actor may touch it; another admin is refused. */
  async function target(trx: Executor, actor: Actor, userId: string) {
    const user = await usersRepo.findById(trx, userId);
    if (!user) throw new AppError('USER_NOT_FOUND');
    if (user.platform_role === 'admin' && user.id !== actor.userId) throw new AppError('ADMIN_PROTECTED');
    return user;
  }

  return {
    async listUsers(request: PageRequest & { q?: string; status?: UserStatus; role?: PlatformRole }) {
      const limit = request.limit ?? DEFAULT_PAGE_SIZE;
      const rows = await adminRepo.searchUsers(db, { q: request.q, status: request.status, role: request.role, limit, after: decodeCursor(request.cursor) });
      return page(rows, limit, (row) => ({ at: row.created_at, id: row.id }));
    },

    async getUser(userId: string) {
      const user = await usersRepo.findById(db, userId);
      if (!user) throw new AppError('USER_NOT_FOUND');
      return user;
    },

    async updateUser(actor: Actor, userId: string, changes: AdminUserChanges) {
      if (changes.username && (await usersRepo.usernameTaken(db, changes.username, userId))) throw fieldError('username', 'Username already exists');
      return db.transaction().execute(async (trx) => {
        const steppingDown = changes.platformRole === 'user' || changes.status === 'disabled';
        // Counted under the admins' row locks, so two admins stepping down at once take turns.
        const activeAdmins = steppingDown ? await adminRepo.lockAndCountActiveAdmins(trx) : 0;
        const user = await target(trx, actor, userId);
        if (steppingDown && user.platform_role === 'admin' && user.status === 'active' && activeAdmins <= 1) throw new AppError('LAST_ADMIN');
        const updated = await usersRepo.update(trx, userId, {
          first_name: changes.firstName,
          last_name: changes.lastName,
          phone: changes.phone,
          username: changes.username,
          platform_role: changes.platformRole,
          status: changes.status,
        });
        if (!updated) throw new AppError('USER_NOT_FOUND');
        if (changes.status === 'disabled' && user.status !== 'disabled') await sessionsRepo.revokeAllForUser(trx, userId, clock.now(), 'disabled_by_admin');
        await audit(trx, actor, 'admin.user_updated', userId, { fields: Object.keys(changes), ...(changes.status ? { status: changes.status } : {}), ...(changes.platformRole ? { platformRole: changes.platformRole } : {}) });
        return updated;
      });
    },

    /** Deletes an ordinary user with their personal organisation and any where nobody else is a member. */
    deleteUser(actor: Actor, userId: string) {
      return db.transaction().execute(async (trx) => {
        if (userId === actor.userId) throw new AppError('CANNOT_DELETE_SELF');
        const user = await target(trx, actor, userId);
        if (user.platform_role === 'admin') throw new AppError('ADMIN_PROTECTED');
        const owned = await adminRepo.soleOwnerWithOthers(trx, userId);
        if (owned.length > 0) throw new OwnsOrganisationsError(owned);
        const going = await adminRepo.goingWith(trx, userId);
        for (const org of going) await organisationsRepo.delete(trx, org.id);
        await sessionsRepo.revokeAllForUser(trx, userId, clock.now(), 'deleted_by_admin');
        await trx.deleteFrom('users').where('id', '=', userId).execute();
        await audit(trx, actor, 'admin.user_deleted', userId, { email: user.email, username: user.username, organisationsDeleted: going.length });
      });
    },

    async listOrganisations(request: PageRequest & { q?: string }) {
      const limit = request.limit ?? DEFAULT_PAGE_SIZE;
      const rows = await adminRepo.listOrganisations(db, { q: request.q, limit, after: decodeCursor(request.cursor) });
      return page(rows, limit, (row) => ({ at: row.created_at, id: row.id }));
    },

    async auditLog(request: PageRequest & { action?: string }) {
      const limit = request.limit ?? DEFAULT_PAGE_SIZE;
      return eventPage(await adminRepo.auditLog(db, { limit, beforeId: decodeIdCursor(request.cursor), action: request.action }), limit);
    },
  };
};

export type AdminService = ReturnType<typeof adminServiceFactory>;
