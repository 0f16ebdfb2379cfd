// Invitations as a state machine: pending → accepted | revoked | expired (and expired or pending →
// pending again on resend). One pending invitation per organisation and email (a partial unique
// index); acceptance is one guarded UPDATE, so of many concurrent acceptances exactly one wins; the
// inviter's right to grant the role is checked again when the invitation is accepted.
import type { Db, Executor } from '../../db/database.ts';
import type { User } from '../accounts/types.ts';
import { usersRepo } from '../accounts/users.repo.ts';
import { addSeconds, type Clock } from '../clock.ts';
import { userActor } from '../events/catalogue.ts';
import type { EventStream } from '../events/event-stream.ts';
import { AppError, fieldError } from '../errors.ts';
import { isUuid } from '../ids.ts';
import { INVITATION_TTL_SECONDS } from '../lifetimes.ts';
import { DEFAULT_PAGE_SIZE, decodeCursor, page, type PageRequest } from '../pagination.ts';
import { DEFAULT_MEMBER_ROLE } from '../policy/permissions.ts';
import type { Policy } from '../policy/policy.ts';
import type { ClientInfo, Principal } from '../principal.ts';
import { hashOpaqueToken, newOpaqueToken } from '../sessions/opaque-tokens.ts';
import type { Throttles } from '../throttle/throttles.ts';
import { invitationsRepo } from './invitations.repo.ts';
import { membersRepo } from './members.repo.ts';
import { organisationsRepo } from './organisations.repo.ts';
import { rolesRepo } from './roles.repo.ts';
import type { Invitation, InvitationStatus } from './types.ts';

/** An invitation as its inviter sees it after creating or resending it. */
export interface IssuedInvitation {
  invitationId: string;
  email: string;
  role: string;
  status: 'pending';
  expiresAt: Date;
}

/** What the accept page shows: the organisation, the role, who invited, and where it stands. */
export interface InvitationDescription {
  organisation: string;
  role: string;
  inviter: string;
  email: string;
  status: InvitationStatus;
  hasAccount: boolean;
}

interface Deps {
  db: Db;
  clock: Clock;
  policy: Policy;
  events: EventStream;
  throttles: Throttles;
}

export const invitationsServiceFactory = ({ db, clock, policy, events, throttles }: Deps) => {
  /** The inviter's notice of a fresh link, for the event that issues it. */
  async function invitationNotice(trx: Executor, inviter: Principal, invitation: { email: string; organisationId: string; role: string }, token: string) {
    const org = await organisationsRepo.findById(trx, invitation.organisationId);
    // An API key invites in its owner's name.
    const person = inviter.kind === 'user' ? inviter.user : inviter.kind === 'api_key' ? await usersRepo.findById(trx, inviter.userId) : undefined;
    const inviterName = person ? `${person.firstName} ${person.lastName}`.trim() : '';
    return { kind: 'invitation' as const, to: invitation.email, inviter: inviterName, organisation: org?.name ?? '', role: invitation.role, token };
  }

  /** The invitation may still make its invitee a member: its inviter can still grant its role. */
  async function inviterCanStillGrant(trx: Executor, invitation: Invitation) {
    if (!invitation.invitedBy) return false;
    const [inviter, role] = await Promise.all([membersRepo.findActiveMembership(trx, invitation.organisationId, invitation.invitedBy), rolesRepo.findById(trx, invitation.organisationId, invitation.roleId)]);
    return policy.inviterMayStillGrant(inviter, role);
  }

  /** Makes the user a member through the invitation, inside the caller's transaction. */
  async function join(trx: Executor, invitationId: string, user: User & { email: string }, client: ClientInfo) {
    const accepted = await invitationsRepo.accept(trx, { id: invitationId, userId: user.id, now: clock.now() });
    if (!accepted) throw new AppError('INVITATION_NOT_PENDING');
    await membersRepo.insert(trx, { organisationId: accepted.organisationId, userId: user.id, roleId: accepted.roleId });
    const [org, role] = await Promise.all([organisationsRepo.findById(trx, accepted.organisationId), rolesRepo.findById(trx, accepted.organisationId, accepted.roleId)]);
    const roleName = role?.name ?? '';
    const common = { actor: userActor(user.id), client, organisationId: accepted.organisationId };
    await events.record(trx, { ...common, type: 'invitation.accepted', subject: { type: 'invitation', id: invitationId }, data: { role: roleName } });
    await events.record(trx, {
      ...common,
      type: 'member.added',
      subject: { type: 'user', id: user.id },
      data: { role: roleName, via: 'invitation' },
      after: { role: roleName },
      notify: { kind: 'welcome', to: user.email, name: user.firstName, organisation: org?.name ?? '', role: roleName },
    });
    return { orgId: accepted.organisationId, role: roleName };
  }

  const sameEmail = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();

  return {
    /** Invites an email with a role no higher than the inviter's own; inviting again resends. */
    async create(principal: Principal, { organisationId, ...input }: { organisationId: string; email: string; role?: string }): Promise<IssuedInvitation & { created: boolean }> {
      const granter = await policy.member(principal, organisationId, 'invitations:create');
      const inviter = policy.onBehalfOf(principal);
      await throttles.invite(inviter.userId, inviter.client.ip);
      const org = granter.organisationId;
      const token = newOpaqueToken();
      return db.transaction().execute(async (trx) => {
        const now = clock.now();
        const role = await rolesRepo.findByName(trx, org, input.role ?? DEFAULT_MEMBER_ROLE);
        if (!role) throw fieldError('role', 'Role does not exist in this organisation');
        policy.mayGrant(granter, role);
        if (await membersRepo.isMemberByEmail(trx, org, input.email)) throw new AppError('ALREADY_MEMBER');
        await invitationsRepo.expireDue(trx, now, org);
        const expiresAt = addSeconds(now, INVITATION_TTL_SECONDS);
        const pending = await invitationsRepo.findPendingForEmail(trx, org, input.email);
        let invitationId: string;
        if (pending) {
          await invitationsRepo.reissue(trx, pending.id, { tokenHash: hashOpaqueToken(token), expiresAt, roleId: role.id, invitedBy: inviter.userId });
          invitationId = pending.id;
        } else {
          invitationId = (await invitationsRepo.insert(trx, { organisationId: org, email: input.email, roleId: role.id, invitedBy: inviter.userId, tokenHash: hashOpaqueToken(token), expiresAt })).id;
        }
        await events.record(trx, {
          type: pending ? 'invitation.resent' : 'invitation.created',
          actor: inviter.actor,
          client: inviter.client,
          organisationId: org,
          subject: { type: 'invitation', id: invitationId },
          data: { email: input.email, role: role.name },
          after: { email: input.email, role: role.name, status: 'pending', expiresAt: expiresAt.toISOString() },
          notify: await invitationNotice(trx, principal, { email: input.email, organisationId: org, role: role.name }, token),
        });
        return { invitationId, email: input.email, role: role.name, status: 'pending' as const, expiresAt, created: !pending };
      });
    },

    async list(principal: Principal, { organisationId, ...request }: PageRequest & { organisationId: string; status?: InvitationStatus }): Promise<{ items: Invitation[]; nextCursor: string | null }> {
      const { organisationId: org } = await policy.member(principal, organisationId, 'invitations:create');
      await invitationsRepo.expireDue(db, clock.now(), org);
      const limit = request.limit ?? DEFAULT_PAGE_SIZE;
      const after = decodeCursor(request.cursor);
      const rows = await invitationsRepo.list(db, org, { limit, status: request.status, after });
      return page(rows, limit, (row) => ({ at: row.createdAt, id: row.id }));
    },

    async revoke(principal: Principal, { organisationId, invitationId }: { organisationId: string; invitationId: string }): Promise<void> {
      const { organisationId: org } = await policy.member(principal, organisationId, 'invitations:create');
      const acting = policy.acting(principal);
      await db.transaction().execute(async (trx) => {
        await invitationsRepo.expireDue(trx, clock.now(), org);
        const invitation = isUuid(invitationId) ? await invitationsRepo.findById(trx, org, invitationId) : undefined;
        if (!invitation) throw new AppError('INVITATION_NOT_FOUND');
        if (!(await invitationsRepo.revoke(trx, invitationId, clock.now()))) throw new AppError('INVITATION_NOT_PENDING');
        await events.record(trx, {
          type: 'invitation.revoked',
          actor: acting.actor,
          client: acting.client,
          organisationId: org,
          subject: { type: 'invitation', id: invitationId },
          data: { email: invitation.email },
          before: { status: invitation.status },
          after: { status: 'revoked' },
        });
      });
    },

    /** A new link (the old one stops working) and seven more days, for a pending or expired invitation. */
    async resend(principal: Principal, { organisationId, invitationId }: { organisationId: string; invitationId: string }): Promise<IssuedInvitation> {
      const granter = await policy.member(principal, organisationId, 'invitations:create');
      const inviter = policy.onBehalfOf(principal);
      await throttles.invite(inviter.userId, inviter.client.ip);
      const org = granter.organisationId;
      const token = newOpaqueToken();
      return db.transaction().execute(async (trx) => {
        const now = clock.now();
        await invitationsRepo.expireDue(trx, now, org);
        const invitation = isUuid(invitationId) ? await invitationsRepo.findById(trx, org, invitationId) : undefined;
        if (!invitation) throw new AppError('INVITATION_NOT_FOUND');
        const role = await rolesRepo.findById(trx, org, invitation.roleId);
        if (!role) throw new AppError('ROLE_ABOVE_OWN');
        policy.mayGrant(granter, role);
        const expiresAt = addSeconds(now, INVITATION_TTL_SECONDS);
        if (!(await invitationsRepo.reissue(trx, invitationId, { tokenHash: hashOpaqueToken(token), expiresAt, invitedBy: inviter.userId }))) throw new AppError('INVITATION_NOT_PENDING');
        await events.record(trx, {
          type: 'invitation.resent',
          actor: inviter.actor,
          client: inviter.client,
          organisationId: org,
          subject: { type: 'invitation', id: invitationId },
          data: { email: invitation.email },
          before: { status: invitation.status, expiresAt: invitation.expiresAt.toISOString() },
          after: { status: 'pending', expiresAt: expiresAt.toISOString() },
          notify: await invitationNotice(trx, principal, { email: invitation.email, organisationId: org, role: role.name }, token),
        });
        return { invitationId, email: invitation.email, role: role.name, status: 'pending' as const, expiresAt };
      });
    },

    /** What the accept page shows, for whoever holds the link; null for a token that names nothing. */
    async describe(token: string): Promise<InvitationDescription | null> {
      if (!token) return null;
      const invitation = await invitationsRepo.findByTokenHash(db, hashOpaqueToken(token));
      if (!invitation) return null;
      const expired = invitation.status === 'expired' || (invitation.status === 'pending' && invitation.expiresAt <= clock.now());
      const status: InvitationStatus = expired ? 'expired' : invitation.status;
      const hasAccount = await usersRepo.emailTaken(db, invitation.email);
      return { organisation: invitation.organisation, role: invitation.role, inviter: invitation.inviterName, email: invitation.email, status, hasAccount };
    },

    /**
     * A signed-in user whose verified email is the invitation's joins the organisation. With
     * `passwordChecked` the caller has just proved the account's password as well as holding the
     * mailed token, which proves the mailbox: the email then counts as verified.
     */
    async accept(principal: Principal, { token, passwordChecked = false }: { token: string; passwordChecked?: boolean }): Promise<{ orgId: string; role: string }> {
      const caller = policy.signedIn(principal);
      return db.transaction().execute(async (trx) => {
        const invitation = await invitationsRepo.findPendingByTokenHash(trx, hashOpaqueToken(token), clock.now());
        if (!invitation) throw new AppError('INVALID_LINK_TOKEN');
        const user = await usersRepo.findById(trx, caller.userId);
        const email = user?.email;
        if (!user || !email || !sameEmail(email, invitation.email)) throw new AppError('INVITATION_FOR_ANOTHER_EMAIL');
        if (!user.emailVerifiedAt) {
          if (!passwordChecked) throw new AppError('INVITATION_EMAIL_UNVERIFIED');
          await usersRepo.markEmailVerified(trx, { id: user.id, email, at: clock.now() });
        }
        if (!(await inviterCanStillGrant(trx, invitation))) throw new AppError('INVITER_CANNOT_GRANT');
        return join(trx, invitation.id, { ...user, email }, caller.client);
      });
    },

    /** The email a live invitation was sent to, or null. */
    async pendingEmail(token: string): Promise<string | null> {
      const invitation = await invitationsRepo.findPendingByTokenHash(db, hashOpaqueToken(token), clock.now());
      return invitation?.email ?? null;
    },

    /** Checks a registration's invitation before any work is spent on the registration. */
    async checkForRegistration(token: string, email: string): Promise<void> {
      const invitation = await invitationsRepo.findPendingByTokenHash(db, hashOpaqueToken(token), clock.now());
      if (!invitation || !sameEmail(invitation.email, email)) throw new AppError('REGISTRATION_FAILED', 'Registration unsuccessful: the invitation is invalid, has expired or is for another email');
    },

    /**
     * Joins a newly registered user through their invitation, inside the registration's transaction.
     * The token proves the user reads that mailbox, so their email counts as verified.
     */
    async acceptAtRegistration(trx: Executor, { token, user, client }: { token: string; user: User & { email: string }; client: ClientInfo }) {
      const invitation = await invitationsRepo.findPendingByTokenHash(trx, hashOpaqueToken(token), clock.now());
      if (!invitation || !sameEmail(invitation.email, user.email)) throw new AppError('REGISTRATION_FAILED', 'Registration unsuccessful: the invitation is invalid, has expired or is for another email');
      if (!(await inviterCanStillGrant(trx, invitation))) throw new AppError('REGISTRATION_FAILED', 'Registration unsuccessful: whoever invited you can no longer grant this role');
      await usersRepo.markEmailVerified(trx, { id: user.id, email: user.email, at: clock.now() });
      return join(trx, invitation.id, user, client);
    },
  };
};

export type InvitationsService = ReturnType<typeof invitationsServiceFactory>;
