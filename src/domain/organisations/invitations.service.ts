// Invitations as a state machine: pending → accepted | revoked | expired (and expired or pending →
// pending again on resend). One pending invitation per organisation and email (a partial unique
// index); acceptance is one guarded UPDATE, so of many concurrent acceptances exactly one wins; the
// inviter's right to grant the role is checked again when the invitation is accepted.
import type { Db, Executor } from '../../db/database.js';
import type { InvitationStatus } from '../../db/schema.js';
import { usersRepo } from '../accounts/users.repo.js';
import { auditRepo } from '../audit/audit.repo.js';
import { addSeconds, type Clock } from '../clock.js';
import { AppError, fieldError } from '../errors.js';
import { messages } from '../mail/messages.js';
import { outboxRepo } from '../mail/outbox.repo.js';
import { DEFAULT_PAGE_SIZE, decodeCursor, page, type PageRequest } from '../pagination.js';
import { canGrant, DEFAULT_MEMBER_ROLE } from '../permissions.js';
import { hashOpaqueToken, newOpaqueToken } from '../sessions/opaque-tokens.js';
import type { AuthContext, ClientInfo } from '../sessions/sessions.service.js';
import { invitationsRepo } from './invitations.repo.js';
import { membersRepo } from './members.repo.js';
import { grantOf, granterOf } from './memberships.service.js';
import type { Actor, Membership } from './organisations.service.js';
import type { Throttles } from '../throttle/throttles.js';
import { organisationsRepo } from './organisations.repo.js';
import { rolesRepo } from './roles.repo.js';

export const INVITATION_TTL_SECONDS = 7 * 24 * 3600;

interface Deps {
  db: Db;
  clock: Clock;
  publicUrl: string;
  throttles: Throttles;
  mailQueued: () => void;
}

export const invitationsServiceFactory = ({ db, clock, publicUrl, throttles, mailQueued }: Deps) => {
  const audit = (trx: Executor, actor: { userId: string } & ClientInfo, organisationId: string, action: string, invitationId: string, data: Record<string, unknown>) =>
    auditRepo.record(trx, { organisationId, actorUserId: actor.userId, action, targetType: 'invitation', targetId: invitationId, ip: actor.ip, userAgent: actor.userAgent, data });

  /** Mails a fresh link for the invitation, inside the caller's transaction. */
  async function mailLink(trx: Executor, invitation: { email: string; organisationId: string; role: string }, inviterId: string, token: string) {
    const [org, inviter] = await Promise.all([organisationsRepo.findById(trx, invitation.organisationId), usersRepo.findById(trx, inviterId)]);
    const inviterName = inviter ? `${inviter.first_name} ${inviter.last_name}`.trim() : '';
    const link = `${publicUrl}/accept-invite?token=${encodeURIComponent(token)}`;
    await outboxRepo.enqueue(trx, messages.invitation(invitation.email, inviterName, org?.name ?? '', invitation.role, link));
  }

  /** The invitation may still make its invitee a member: its inviter can still grant its role. */
  async function inviterCanStillGrant(trx: Executor, invitation: { organisation_id: string; invited_by: string | null; role_id: string }) {
    if (!invitation.invited_by) return false;
    const [inviter, role] = await Promise.all([
      membersRepo.findMembership(trx, invitation.organisation_id, invitation.invited_by),
      rolesRepo.findById(trx, invitation.organisation_id, invitation.role_id),
    ]);
    return inviter !== undefined && role !== undefined && canGrant(grantOf(inviter), grantOf(role));
  }

  /** Makes the user a member through the invitation, inside the caller's transaction. */
  async function join(trx: Executor, invitationId: string, user: { id: string; email: string; first_name: string }, client: ClientInfo) {
    const accepted = await invitationsRepo.accept(trx, invitationId, user.id, clock.now());
    if (!accepted) throw new AppError('INVITATION_NOT_PENDING');
    await membersRepo.insert(trx, { organisationId: accepted.organisation_id, userId: user.id, roleId: accepted.role_id });
    const [org, role] = await Promise.all([organisationsRepo.findById(trx, accepted.organisation_id), rolesRepo.findById(trx, accepted.organisation_id, accepted.role_id)]);
    const actor = { userId: user.id, ...client };
    await audit(trx, actor, accepted.organisation_id, 'invitation.accepted', invitationId, { role: role?.name });
    await auditRepo.record(trx, { organisationId: accepted.organisation_id, actorUserId: user.id, action: 'member.added', targetType: 'user', targetId: user.id, ...client, data: { role: role?.name, via: 'invitation' } });
    await outboxRepo.enqueue(trx, messages.welcome(user.email, user.first_name, org?.name ?? '', role?.name ?? ''));
    return { orgId: accepted.organisation_id, role: role?.name ?? '' };
  }

  return {
    /** Invites an email with a role no higher than the inviter's own; inviting again resends. */
    async create(actor: Actor, granter: Membership, input: { email: string; role?: string }) {
      await throttles.invite(actor.userId, actor.ip);
      const org = granter.organisationId;
      const token = newOpaqueToken();
      const result = await db.transaction().execute(async (trx) => {
        const now = clock.now();
        const role = await rolesRepo.findByName(trx, org, input.role ?? DEFAULT_MEMBER_ROLE);
        if (!role) throw fieldError('role', 'Role does not exist in this organisation');
        if (!canGrant(granterOf(granter), grantOf(role))) throw new AppError('ROLE_ABOVE_OWN');
        if (await membersRepo.isMemberByEmail(trx, org, input.email)) throw new AppError('ALREADY_MEMBER');
        await invitationsRepo.expireDue(trx, now, org);
        const expiresAt = addSeconds(now, INVITATION_TTL_SECONDS);
        const pending = await invitationsRepo.findPendingForEmail(trx, org, input.email);
        let invitationId: string;
        if (pending) {
          await invitationsRepo.reissue(trx, pending.id, { tokenHash: hashOpaqueToken(token), expiresAt, roleId: role.id, invitedBy: actor.userId });
          invitationId = pending.id;
        } else {
          invitationId = (await invitationsRepo.insert(trx, { organisationId: org, email: input.email, roleId: role.id, invitedBy: actor.userId, tokenHash: hashOpaqueToken(token), expiresAt })).id;
        }
        await mailLink(trx, { email: input.email, organisationId: org, role: role.name }, actor.userId, token);
        await audit(trx, actor, org, pending ? 'invitation.resent' : 'invitation.created', invitationId, { email: input.email, role: role.name });
        return { invitationId, email: input.email, role: role.name, status: 'pending' as const, expiresAt, created: !pending };
      });
      mailQueued();
      return result;
    },

    async list(organisationId: string, request: PageRequest & { status?: InvitationStatus }) {
      await invitationsRepo.expireDue(db, clock.now(), organisationId);
      const limit = request.limit ?? DEFAULT_PAGE_SIZE;
      const after = decodeCursor(request.cursor);
      const rows = await invitationsRepo.list(db, organisationId, { limit, status: request.status, after });
      return page(rows, limit, (row) => ({ at: row.created_at, id: row.id }));
    },

    revoke(actor: Actor, granter: Membership, invitationId: string) {
      return db.transaction().execute(async (trx) => {
        await invitationsRepo.expireDue(trx, clock.now(), granter.organisationId);
        const invitation = await invitationsRepo.findById(trx, granter.organisationId, invitationId);
        if (!invitation) throw new AppError('INVITATION_NOT_FOUND');
        const revoked = await invitationsRepo.revoke(trx, invitationId, clock.now());
        if (Number(revoked.numUpdatedRows) === 0) throw new AppError('INVITATION_NOT_PENDING');
        await audit(trx, actor, granter.organisationId, 'invitation.revoked', invitationId, { email: invitation.email });
      });
    },

    /** A new link (the old one stops working) and seven more days, for a pending or expired invitation. */
    async resend(actor: Actor, granter: Membership, invitationId: string) {
      await throttles.invite(actor.userId, actor.ip);
      const token = newOpaqueToken();
      const result = await db.transaction().execute(async (trx) => {
        const now = clock.now();
        await invitationsRepo.expireDue(trx, now, granter.organisationId);
        const invitation = await invitationsRepo.findById(trx, granter.organisationId, invitationId);
        if (!invitation) throw new AppError('INVITATION_NOT_FOUND');
        const role = await rolesRepo.findById(trx, granter.organisationId, invitation.role_id);
        if (!role || !canGrant(granterOf(granter), grantOf(role))) throw new AppError('ROLE_ABOVE_OWN');
        const expiresAt = addSeconds(now, INVITATION_TTL_SECONDS);
        const reissued = await invitationsRepo.reissue(trx, invitationId, { tokenHash: hashOpaqueToken(token), expiresAt, invitedBy: actor.userId });
        if (Number(reissued.numUpdatedRows) === 0) throw new AppError('INVITATION_NOT_PENDING');
        await mailLink(trx, { email: invitation.email, organisationId: granter.organisationId, role: role.name }, actor.userId, token);
        await audit(trx, actor, granter.organisationId, 'invitation.resent', invitationId, { email: invitation.email });
        return { invitationId, email: invitation.email, role: role.name, status: 'pending' as const, expiresAt };
      });
      mailQueued();
      return result;
    },

    /** What the accept page shows: the organisation, the role, who invited, and where it stands. */
    async describe(token: string) {
      if (!token) return null;
      const invitation = await invitationsRepo.findByTokenHash(db, hashOpaqueToken(token));
      if (!invitation) return null;
      const expired = invitation.status === 'expired' || (invitation.status === 'pending' && invitation.expires_at <= clock.now());
      const status: InvitationStatus = expired ? 'expired' : invitation.status;
      const hasAccount = await usersRepo.emailTaken(db, invitation.email);
      const inviter = `${invitation.inviter_first_name ?? ''} ${invitation.inviter_last_name ?? ''}`.trim();
      return { organisation: invitation.organisation, role: invitation.role, inviter, email: invitation.email, status, hasAccount };
    },

    /**
     * A signed-in user whose verified email is the invitation's joins the organisation. With
     * `passwordChecked` the caller has just proved the account's password as well as holding the
     * mailed token, which proves the mailbox: the email then counts as verified.
     */
    async accept(auth: Pick<AuthContext, 'userId'>, token: string, client: ClientInfo, passwordChecked = false) {
      const result = await db.transaction().execute(async (trx) => {
        const invitation = await invitationsRepo.findPendingByTokenHash(trx, hashOpaqueToken(token), clock.now());
        if (!invitation) throw new AppError('INVALID_LINK_TOKEN');
        const user = await usersRepo.findById(trx, auth.userId);
        if (!user?.email || user.email.toLowerCase() !== invitation.email.toLowerCase()) throw new AppError('INVITATION_FOR_ANOTHER_EMAIL');
        if (!user.email_verified_at) {
          if (!passwordChecked) throw new AppError('INVITATION_FOR_ANOTHER_EMAIL');
          await usersRepo.markEmailVerified(trx, user.id, user.email, clock.now());
        }
        if (!(await inviterCanStillGrant(trx, invitation))) throw new AppError('INVITER_CANNOT_GRANT');
        return join(trx, invitation.id, { id: user.id, email: user.email, first_name: user.first_name }, client);
      });
      mailQueued();
      return result;
    },

    /** The email a live invitation was sent to, or null. */
    async pendingEmail(token: string): Promise<string | null> {
      const invitation = await invitationsRepo.findPendingByTokenHash(db, hashOpaqueToken(token), clock.now());
      return invitation?.email ?? null;
    },

    /** Checks a registration's invitation before any work is spent on the registration. */
    async checkForRegistration(token: string, email: string): Promise<void> {
      const invitation = await invitationsRepo.findPendingByTokenHash(db, hashOpaqueToken(token), clock.now());
      if (!invitation || invitation.email.toLowerCase() !== email.toLowerCase()) {
        throw new AppError('REGISTRATION_FAILED', 'Registration unsuccessful: the invitation is invalid, has expired or is for another email');
      }
    },

    /**
     * Joins a newly registered user through their invitation, inside the registration's transaction.
     * The token proves the user reads that mailbox, so their email counts as verified.
     */
    async acceptAtRegistration(trx: Executor, token: string, user: { id: string; email: string; first_name: string }, client: ClientInfo) {
      const invitation = await invitationsRepo.findPendingByTokenHash(trx, hashOpaqueToken(token), clock.now());
      if (!invitation || invitation.email.toLowerCase() !== user.email.toLowerCase()) throw new AppError('REGISTRATION_FAILED', 'Registration unsuccessful: the invitation is invalid, has expired or is for another email');
      if (!(await inviterCanStillGrant(trx, invitation))) throw new AppError('REGISTRATION_FAILED', 'Registration unsuccessful: whoever invited you can no longer grant this role');
      await usersRepo.markEmailVerified(trx, user.id, user.email, clock.now());
      return join(trx, invitation.id, user, client);
    },
  };
};

export type InvitationsService = ReturnType<typeof invitationsServiceFactory>;
