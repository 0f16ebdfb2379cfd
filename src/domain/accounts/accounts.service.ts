// Registration, sign-in and the caller's own profile.
import { randomUUID } from 'node:crypto';
import { sql, type SqlBool } from 'kysely';
import type { Db, Executor } from '../../db/database.js';
import { writeTogether, writeTogetherReturning } from '../../db/one-statement.js';
import { auditRepo } from '../audit/audit.repo.js';
import { AppError, fieldError } from '../errors.js';
import type { OrganisationsService } from '../organisations/organisations.service.js';
import type { AuthContext, ClientInfo, SessionsService } from '../sessions/sessions.service.js';
import type { InvitationsService } from '../organisations/invitations.service.js';
import { hashPassword, verifyDecoy, verifyPassword } from './passwords.js';
import type { PasswordPolicy } from './password-policy.js';
import { isValidUsername } from './username.js';
import { usersRepo, type UserProfile } from './users.repo.js';
import type { Clock } from '../clock.js';
import type { LoginAlerts } from '../../config/config.js';
import { messages } from '../mail/messages.js';
import { outboxRepo } from '../mail/outbox.repo.js';
import { sessionsRepo } from '../sessions/sessions.repo.js';
import type { RecoveryService } from './recovery.service.js';
import type { Throttles } from '../throttle/throttles.js';

export interface RegisterInput {
  firstName: string;
  lastName: string;
  /** Absent for a username-only account (the `basic` set): it cannot use the email flows. */
  email?: string;
  password: string;
  phone?: string;
  username?: string;
  inviteToken?: string;
  /** The organisation to create for the user; by default "<firstName>'s Organisation". */
  organisation?: { name: string; description?: string };
}

export interface ProfileChanges {
  firstName?: string;
  lastName?: string;
  phone?: string | null;
  username?: string | null;
}

interface Deps {
  db: Db;
  clock: Clock;
  sessions: SessionsService;
  organisations: OrganisationsService;
  recovery: RecoveryService;
  invitations: InvitationsService;
  throttles: Throttles;
  passwordPolicy: PasswordPolicy;
  loginAlerts: LoginAlerts;
  requireVerifiedEmail: boolean;
  mailQueued: () => void;
}

/** The account a request names, for throttling before (or without) finding it. */
const claimedAccount = (input: { email?: string; username?: string }) => input.email ?? `username:${input.username ?? ''}`;

export const personalOrganisationName = (user: { first_name: string; username: string | null; email: string | null }) =>
  `${user.first_name || user.username || user.email?.split('@')[0] || 'My'}'s Organisation`;

export const accountsServiceFactory = ({ db, clock, sessions, organisations, recovery, invitations, throttles, passwordPolicy, loginAlerts, requireVerifiedEmail, mailQueued }: Deps) => ({
  async register(input: RegisterInput, client: ClientInfo) {
    await throttles.register(claimedAccount(input), client.ip);
    // Friendly early answers; the unique indexes are what actually decide a race.
    if (input.email === undefined && input.username === undefined) throw fieldError('email', 'Email is required');
    if (input.email !== undefined && (await usersRepo.emailTaken(db, input.email))) throw fieldError('email', 'Email already exists');
    if (input.username !== undefined && (await usersRepo.usernameTaken(db, input.username))) throw fieldError('username', 'Username already exists');
    if (input.inviteToken !== undefined) await invitations.checkForRegistration(input.inviteToken, input.email ?? '');
    await passwordPolicy.check(input.password, input);
    const passwordHash = await hashPassword(input.password);
    // Everything a registration writes goes in one statement (src/db/one-statement.ts), with ids
    // chosen here; only joining through an invitation adds a transaction around it.
    const account = { id: randomUUID(), email: input.email ?? null, username: input.username ?? null, first_name: input.firstName, last_name: input.lastName, phone: input.phone ?? null, password_hash: passwordHash };
    const organisation = organisations.creation(
      { name: input.organisation?.name ?? personalOrganisationName(account), description: input.organisation?.description ?? '', personal: true, ownerId: account.id },
      client,
    );
    const opening = sessions.opening(account.id, client);
    const email = input.email;
    const inviteToken = email !== undefined ? input.inviteToken : undefined;
    const writes = [
      auditRepo.insertion(db, { actorUserId: account.id, action: 'user.registered', targetType: 'user', targetId: account.id, ...client }),
      organisation.main,
      ...organisation.writes,
      // An invitation's token proves the mailbox: that user joins and needs no verification mail.
      ...(email !== undefined && inviteToken === undefined ? recovery.firstVerification({ ...account, email }) : []),
      ...opening.writes,
    ];
    const create = async (executor: Executor) => {
      const [user] = await writeTogetherReturning(executor, writes, usersRepo.insertion(executor, account));
      if (!user) throw new Error('The account was not created');
      return user;
    };
    const user =
      email !== undefined && inviteToken !== undefined
        ? await db.transaction().execute(async (trx) => {
            const user = await create(trx);
            await invitations.acceptAtRegistration(trx, inviteToken, { ...user, email }, client);
            return user;
          })
        : await create(db);
    mailQueued();
    const access = await sessions.accessTokenFor(user, opening.session.id);
    return { accessToken: access.token, refreshToken: opening.refreshToken, expiresIn: access.expiresIn, user, organisationId: organisation.id };
  },

  /** The same answer, after the same work, for an unknown account, a wrong password or a disabled user. */
  async login(input: { email?: string; username?: string; password: string }, client: ClientInfo) {
    const user = await usersRepo.findCredentials(db, input.email !== undefined ? { email: input.email } : { username: input.username ?? '' });
    // Counted before the password check, so parallel guesses cannot get more checks than the limit.
    const account = user?.id ?? claimedAccount(input);
    await throttles.signIn(account, client.ip);
    const valid = user ? await verifyPassword(user.password_hash, input.password) : await verifyDecoy(input.password);
    if (!user || !valid || user.status !== 'active') throw new AppError('AUTHENTICATION_FAILED');
    await throttles.signedIn(account, client.ip);
    // Only after the password matched: a stranger learns nothing about the account from this.
    if (requireVerifiedEmail && user.email && !user.email_verified_at) throw new AppError('EMAIL_NOT_VERIFIED');
    // The session, its refresh token, the audit row and any alert: one statement (src/db/one-statement.ts).
    const opening = sessions.opening(user.id, client);
    const writes = [auditRepo.insertion(db, { actorUserId: user.id, action: 'user.signed_in', targetType: 'user', targetId: user.id, ...client }), ...opening.writes];
    let alerted = false;
    if (user.email !== null && loginAlerts !== 'off') {
      const mail = messages.loginAlert(user.email, user.first_name, clock.now(), client.ip, client.userAgent);
      // A new device is one this user has no session from yet, this one aside (the statement's parts see the sessions as they were before it).
      const when = loginAlerts === 'all' ? sql<SqlBool>`true` : sql<SqlBool>`not ${sessionsRepo.seenDevice(db, opening.session)}`;
      alerted = (await writeTogetherReturning(db, writes, outboxRepo.insertion(db, mail, when))).length > 0;
    } else {
      await writeTogether(db, writes);
    }
    if (alerted) mailQueued();
    const access = await sessions.accessTokenFor(user, opening.session.id);
    const { password_hash: _hash, ...profile } = user;
    return { accessToken: access.token, refreshToken: opening.refreshToken, expiresIn: access.expiresIn, user: profile };
  },

  /**
   * The `saas` set's acceptance: with the invitation's token and a password, creates the invited
   * account (when none has that email) or signs in to it, then joins. A wrong password is the same
   * 401 as a failed sign-in.
   */
  async acceptInvitationWithPassword(token: string, password: string, client: ClientInfo): Promise<void> {
    const email = await invitations.pendingEmail(token);
    if (!email) throw new AppError('INVALID_LINK_TOKEN');
    if (!(await usersRepo.emailTaken(db, email))) {
      await this.register({ firstName: '', lastName: '', email, password, inviteToken: token }, client);
      return;
    }
    const { user } = await this.login({ email, password }, client);
    await invitations.accept({ userId: user.id }, token, client, true);
  },

  findByUsername: (username: string) => usersRepo.findByUsername(db, username),

  async updateMe(userId: string, changes: ProfileChanges, client: ClientInfo): Promise<UserProfile> {
    if (changes.username && (await usersRepo.usernameTaken(db, changes.username, userId))) throw fieldError('username', 'Username already exists');
    return db.transaction().execute(async (trx) => {
      const user = await usersRepo.update(trx, userId, {
        first_name: changes.firstName,
        last_name: changes.lastName,
        phone: changes.phone,
        username: changes.username,
      });
      if (!user) throw new AppError('USER_NOT_FOUND');
      await auditRepo.record(trx, { actorUserId: userId, action: 'user.updated', targetType: 'user', targetId: userId, data: { fields: Object.keys(changes) }, ...client });
      return user;
    });
  },

  /**
   * The command line's way to a platform admin (the API has none without an admin): promotes an
   * existing account, or creates one with a verified email, since the operator vouches for it.
   */
  async createAdmin(input: { email?: string; username?: string; firstName?: string; lastName?: string }, readPassword: () => Promise<string>) {
    const existing = await usersRepo.findCredentials(db, input.email !== undefined ? { email: input.email } : { username: input.username ?? '' });
    if (existing) {
      await db.transaction().execute(async (trx) => {
        await usersRepo.update(trx, existing.id, { platform_role: 'admin' });
        await auditRepo.record(trx, { actorUserId: null, action: 'user.promoted', targetType: 'user', targetId: existing.id, data: { platformRole: 'admin', via: 'command line' } });
      });
      return { created: false, userId: existing.id };
    }
    if (input.email !== undefined && !/^[^\s@]+@[^\s@]+$/.test(input.email)) throw fieldError('email', 'Email must be a valid email address');
    if (input.username !== undefined && !isValidUsername(input.username)) throw fieldError('username', 'Username must be 3 to 50 letters, digits, dots, dashes or underscores');
    const password = await readPassword();
    await passwordPolicy.check(password, input);
    const passwordHash = await hashPassword(password);
    const user = await db.transaction().execute(async (trx) => {
      const user = await usersRepo.insert(trx, {
        email: input.email ?? null,
        username: input.username ?? null,
        first_name: input.firstName ?? 'Admin',
        last_name: input.lastName ?? '',
        password_hash: passwordHash,
        platform_role: 'admin',
        email_verified_at: input.email !== undefined ? clock.now() : null,
      });
      await auditRepo.record(trx, { actorUserId: null, action: 'user.registered', targetType: 'user', targetId: user.id, data: { platformRole: 'admin', via: 'command line' } });
      await organisations.createWith(trx, { name: personalOrganisationName(user), description: '', personal: true, ownerId: user.id }, { ip: null, userAgent: null });
      return user;
    });
    return { created: true, userId: user.id };
  },

  /** Another user's profile: visible to themselves, to anyone sharing an organisation, and to platform admins. */
  async visibleUser(viewer: AuthContext, userId: string): Promise<UserProfile> {
    const visible = viewer.userId === userId || viewer.platformRole === 'admin' || (await usersRepo.shareAnOrganisation(db, viewer.userId, userId));
    const user = visible ? await usersRepo.findById(db, userId) : undefined;
    if (!user) throw new AppError('USER_NOT_FOUND');
    return user;
  },
});

export type AccountsService = ReturnType<typeof accountsServiceFactory>;
