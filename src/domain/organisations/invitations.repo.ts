import { sql } from 'kysely';
import type { Executor } from '../../db/database.ts';
import type { InvitationStatus } from '../../db/schema.ts';
import type { Invitation } from './types.ts';

const VIEW = ['invitations.id', 'invitations.organisation_id', 'invitations.email', 'invitations.status', 'invitations.expires_at', 'invitations.created_at', 'invitations.invited_by', 'invitations.role_id', 'roles.name as role'] as const;

type InvitationRow = { id: string; organisation_id: string; email: string; status: InvitationStatus; expires_at: Date; created_at: Date; invited_by: string | null; role_id: string; role: string };

const toInvitation = (row: InvitationRow): Invitation => ({
  id: row.id,
  organisationId: row.organisation_id,
  email: row.email,
  roleId: row.role_id,
  role: row.role,
  status: row.status,
  invitedBy: row.invited_by,
  expiresAt: row.expires_at,
  createdAt: row.created_at,
});

/** What a person needs to decide on an invitation they hold the link of. */
export interface InvitationView extends Invitation {
  organisation: string;
  inviterName: string;
}

export const invitationsRepo = {
  async insert(db: Executor, invitation: { organisationId: string; email: string; roleId: string; invitedBy: string; tokenHash: string; expiresAt: Date }): Promise<{ id: string }> {
    return db
      .insertInto('invitations')
      .values({ organisation_id: invitation.organisationId, email: invitation.email, role_id: invitation.roleId, invited_by: invitation.invitedBy, token_hash: invitation.tokenHash, expires_at: invitation.expiresAt })
      .returning(['id'])
      .executeTakeFirstOrThrow();
  },

  /** Marks every pending invitation past its expiry as expired: expired is a status, not only a date. */
  expireDue(db: Executor, now: Date, organisationId?: string) {
    let query = db.updateTable('invitations').set({ status: 'expired' }).where('status', '=', 'pending').where('expires_at', '<=', now);
    if (organisationId) query = query.where('organisation_id', '=', organisationId);
    return query.execute();
  },

  findPendingForEmail(db: Executor, organisationId: string, email: string) {
    return db
      .selectFrom('invitations')
      .select(['id'])
      .where('organisation_id', '=', organisationId)
      .where(sql`lower(email)`, '=', email.toLowerCase())
      .where('status', '=', 'pending')
      .executeTakeFirst();
  },

  async findById(db: Executor, organisationId: string, id: string): Promise<Invitation | undefined> {
    const row = await db.selectFrom('invitations').innerJoin('roles', 'roles.id', 'invitations.role_id').select(VIEW).where('invitations.organisation_id', '=', organisationId).where('invitations.id', '=', id).executeTakeFirst();
    return row && toInvitation(row);
  },

  /** An invitation by its token, whatever its status, with what a person needs to decide on it. */
  async findByTokenHash(db: Executor, tokenHash: string): Promise<InvitationView | undefined> {
    const row = await db
      .selectFrom('invitations')
      .innerJoin('roles', 'roles.id', 'invitations.role_id')
      .innerJoin('organisations', 'organisations.id', 'invitations.organisation_id')
      .leftJoin('users as inviter', 'inviter.id', 'invitations.invited_by')
      .select([...VIEW, 'organisations.name as organisation', 'inviter.first_name as inviter_first_name', 'inviter.last_name as inviter_last_name'])
      .where('invitations.token_hash', '=', tokenHash)
      .executeTakeFirst();
    return row && { ...toInvitation(row), organisation: row.organisation, inviterName: `${row.inviter_first_name ?? ''} ${row.inviter_last_name ?? ''}`.trim() };
  },

  async findPendingByTokenHash(db: Executor, tokenHash: string, now: Date): Promise<Invitation | undefined> {
    const row = await db
      .selectFrom('invitations')
      .innerJoin('roles', 'roles.id', 'invitations.role_id')
      .select(VIEW)
      .where('invitations.token_hash', '=', tokenHash)
      .where('invitations.status', '=', 'pending')
      .where('invitations.expires_at', '>', now)
      .executeTakeFirst();
    return row && toInvitation(row);
  },

  async list(db: Executor, organisationId: string, page: { limit: number; status?: InvitationStatus; after?: { at: Date; id: string } }): Promise<Invitation[]> {
    let query = db.selectFrom('invitations').innerJoin('roles', 'roles.id', 'invitations.role_id').select(VIEW).where('invitations.organisation_id', '=', organisationId);
    if (page.status) query = query.where('invitations.status', '=', page.status);
    if (page.after) {
      const { at, id } = page.after;
      query = query.where((eb) => eb(eb.refTuple('invitations.created_at', 'invitations.id'), '<', eb.tuple(at, id)));
    }
    return (await query.orderBy('invitations.created_at', 'desc').orderBy('invitations.id', 'desc').limit(page.limit + 1).execute()).map(toInvitation);
  },

  /** A fresh token and expiry for a pending or expired invitation (resend, or inviting again). */
  async reissue(db: Executor, id: string, changes: { tokenHash: string; expiresAt: Date; roleId?: string; invitedBy?: string }): Promise<boolean> {
    const result = await db
      .updateTable('invitations')
      .set({ token_hash: changes.tokenHash, expires_at: changes.expiresAt, status: 'pending', ...(changes.roleId ? { role_id: changes.roleId } : {}), ...(changes.invitedBy ? { invited_by: changes.invitedBy } : {}) })
      .where('id', '=', id)
      .where('status', 'in', ['pending', 'expired'])
      .executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  },

  async revoke(db: Executor, id: string, now: Date): Promise<boolean> {
    const result = await db.updateTable('invitations').set({ status: 'revoked', revoked_at: now }).where('id', '=', id).where('status', '=', 'pending').executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  },

  /** Accepts in one statement: of any number of concurrent acceptances, exactly one gets the row. */
  async accept(db: Executor, { id, userId, now }: { id: string; userId: string; now: Date }): Promise<{ organisationId: string; roleId: string } | undefined> {
    const row = await db
      .updateTable('invitations')
      .set({ status: 'accepted', accepted_at: now, accepted_by: userId })
      .where('id', '=', id)
      .where('status', '=', 'pending')
      .where('expires_at', '>', now)
      .returning(['organisation_id', 'role_id'])
      .executeTakeFirst();
    return row && { organisationId: row.organisation_id, roleId: row.role_id };
  },
};
