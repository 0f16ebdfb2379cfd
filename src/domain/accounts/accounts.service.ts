// Registration, sign-in, the caller's own profile, and the command line's way to a platform admin.
import { randomUUID } from 'node:crypto';
import type { Db, Executor } from '../../db/database.ts';
import type { LoginAlerts } from '../../config/config.ts';
import { addSeconds, type Clock } from '../clock.ts';
import { SYSTEM_ACTOR, userActor } from '../events/catalogue.ts';
import type { EventStream } from '../events/event-stream.ts';
import { AppError, fieldError } from '../errors.ts';
import { isUuid } from '../ids.ts';
import { EMAIL_VERIFICATION_TTL_SECONDS } from '../lifetimes.ts';
import { methodsOf, type Factors } from '../mfa/factors.ts';
import type { PasskeysService } from '../mfa/passkeys.service.ts';
import { mfaRepo } from '../mfa/mfa.repo.ts';
import { MFA_TOKEN_TTL_SECONDS, type FactorProof, type FirstFactor, type SecondFactorMethod } from '../mfa/types.ts';
import type { InvitationsService } from '../organisations/invitations.service.ts';
import { organisationsRepo } from '../organisations/organisations.repo.ts';
import type { Policy } from '../policy/policy.ts';
import { userPrincipal, type ClientInfo, type Principal, type UserPrincipal } from '../principal.ts';
import { hashOpaqueToken, newOpaqueToken } from '../sessions/opaque-tokens.ts';
import { sessionsRepo } from '../sessions/sessions.repo.ts';
import type { ActiveOrganisation } from '../sessions/access-tokens.ts';
import type { SessionsService } from '../sessions/sessions.service.ts';
import type { Throttles } from '../throttle/throttles.ts';
import type { PasswordPolicy } from './password-policy.ts';
import type { PasswordHasher } from './passwords.ts';
import { registrationRepo } from './registration.repo.ts';
import type { User } from './types.ts';
import { isValidUsername } from './username.ts';
import { usersRepo } from './users.repo.ts';

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

/** What a registration or a sign-in answers: tokens, the account, and who is now signed in. */
export interface SignedIn {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
  user: User;
  /** The new session's principal, for a request that goes on to act as the user (accepting an invitation). */
  principal: UserPrincipal;
}

/** A sign-in whose first factor passed, for an account with a second factor: no tokens yet. */
export interface SecondFactorRequired {
  mfaRequired: true;
  /** Names this attempt for `POST /auth/mfa/verify`: single use, five minutes, five wrong codes. */
  mfaToken: string;
  methods: SecondFactorMethod[];
}

interface LoginInput {
  email?: string;
  username?: string;
  password: string;
  orgId?: string | null;
}

interface Deps {
  db: Db;
  clock: Clock;
  policy: Policy;
  events: EventStream;
  sessions: SessionsService;
  invitations: InvitationsService;
  throttles: Throttles;
  passwordPolicy: PasswordPolicy;
  loginAlerts: LoginAlerts;
  requireVerifiedEmail: boolean;
  passwords: PasswordHasher;
  factors: Factors;
  /** Passkey ceremonies for the second step and for passwordless sign-in (src/domain/mfa/passkeys.service.ts). */
  passkeys: Pick<PasskeysService, 'secondFactor' | 'secondFactorOptions' | 'passwordless'>;
}

/** The account a request names, for throttling before (or without) finding it. */
const claimedAccount = (input: { email?: string; username?: string }) => input.email ?? `username:${input.username ?? ''}`;

export const personalOrganisationName = (user: { firstName: string; username: string | null; email: string | null }) =>
  `${user.firstName || user.username || user.email?.split('@')[0] || 'My'}'s Organisation`;

export const accountsServiceFactory = ({ db, clock, policy, events, sessions, invitations, throttles, passwordPolicy, passwords, loginAlerts, requireVerifiedEmail, factors, passkeys }: Deps) => {
  /** Signs the access token of a session that was just written, and the principal it makes. */
  async function signedIn(
    user: User,
    opening: { session: { id: string; amr: readonly string[]; authTime: Date }; refreshToken: string },
    client: ClientInfo,
    organisation: ActiveOrganisation | null = null,
  ): Promise<SignedIn> {
    const authentication = { amr: opening.session.amr, authTime: opening.session.authTime };
    const access = await sessions.accessTokenFor(user, opening.session.id, organisation, authentication);
    const secondFactor = authentication.amr.includes('mfa');
    return { accessToken: access.token, refreshToken: opening.refreshToken, expiresIn: access.expiresIn, user, principal: userPrincipal({ user, sessionId: opening.session.id, client, authentication: { ...authentication, secondFactor } }) };
  }

  /**
   * The first factor: the same answer, after the same work, for an unknown account, a wrong password
   * or a disabled user. Counted before the password check, so parallel guesses cannot get more checks than the limit.
   */
  async function passwordChecked(client: ClientInfo, input: LoginInput): Promise<User> {
    const found = await usersRepo.findCredentials(db, input.email !== undefined ? { email: input.email } : { username: input.username ?? '' });
    const account = found?.id ?? claimedAccount(input);
    await throttles.signIn(account, client.ip);
    const valid = found ? await passwords.verify(found.passwordHash, input.password) : await passwords.verifyDecoy(input.password);
    if (!found || !valid || found.status !== 'active') throw new AppError('AUTHENTICATION_FAILED');
    await throttles.signedIn(account, client.ip);
    // Only after the password matched: a stranger learns nothing about the account from this.
    if (requireVerifiedEmail && found.email && !found.emailVerifiedAt) throw new AppError('EMAIL_NOT_VERIFIED');
    const { passwordHash: _hash, ...user } = found;
    return user;
  }

  /**
   * Opens a session for a user who passed every factor their account asks for, with its sign-in event
   * (and alert). With `withoutSecondFactor`, only while the account has no second factor: null otherwise.
   */
  async function openSession(
    user: User,
    client: ClientInfo,
    organisation: ActiveOrganisation | null,
    amr: readonly string[],
    { spend, withoutSecondFactor = false }: { spend?: (trx: Executor) => Promise<boolean>; withoutSecondFactor?: boolean } = {},
  ): Promise<SignedIn | null> {
    const opening = sessions.opening(user.id, client, organisation?.id ?? null, amr);
    const event = events.rows({
      type: 'user.signed_in',
      actor: userActor(user.id),
      client,
      subject: { type: 'user', id: user.id },
      data: {},
      notify:
        user.email !== null && loginAlerts !== 'off'
          ? { kind: 'login_alert', to: user.email, name: user.firstName, at: clock.now(), ip: client.ip, device: client.userAgent, newDeviceOnly: loginAlerts !== 'all' }
          : undefined,
    });
    // The session, its refresh token, the audit row and any alert: one statement (with the attempt it spends, one transaction).
    const { opened, mailed } = spend
      ? await db.transaction().execute(async (trx) => {
          if (!(await spend(trx))) throw new AppError('INVALID_MFA_TOKEN');
          return sessionsRepo.openForSignIn(trx, opening, event);
        })
      : await sessionsRepo.openForSignIn(db, opening, event, { withoutSecondFactor });
    if (!opened) return null;
    events.written(event, mailed);
    return signedIn(user, opening, client, organisation);
  }

  /** Opens a session that cannot be refused (every factor the account asks for was passed). */
  async function openCheckedSession(...args: Parameters<typeof openSession>): Promise<SignedIn> {
    const session = await openSession(...args);
    if (!session) throw new Error('A session opened after every factor was refused');
    return session;
  }

  /**
   * After the first factor: tokens, or, for an account with a second factor, an attempt waiting for
   * it. A sign-in on the password alone is the account's lookup and one statement that opens the
   * session only if the account has no second factor; the attempt is made when it has one.
   */
  async function afterFirstFactor(user: User, client: ClientInfo, orgId: string | null | undefined, firstFactor: FirstFactor): Promise<SignedIn | SecondFactorRequired> {
    const organisation = await sessions.chosenOrganisation(user.id, orgId);
    const signedInNow = await openSession(user, client, organisation, [firstFactor], { withoutSecondFactor: true });
    if (signedInNow) return signedInNow;
    const summary = await factors.summary(user.id);
    const mfaToken = newOpaqueToken();
    await mfaRepo.openChallenge(db, {
      tokenHash: hashOpaqueToken(mfaToken),
      userId: user.id,
      firstFactor,
      organisationId: organisation?.id ?? null,
      ip: client.ip,
      userAgent: client.userAgent,
      expiresAt: addSeconds(clock.now(), MFA_TOKEN_TTL_SECONDS),
    });
    return { mfaRequired: true, mfaToken, methods: methodsOf(summary) };
  }

  const service = {
    async register(principal: Principal, input: RegisterInput): Promise<SignedIn & { organisationId: string }> {
      const { client } = principal;
      await throttles.register(claimedAccount(input), client.ip);
      // Friendly early answers; the unique indexes are what actually decide a race.
      if (input.email === undefined && input.username === undefined) throw fieldError('email', 'Email is required');
      if (input.email !== undefined && (await usersRepo.emailTaken(db, input.email))) throw fieldError('email', 'Email already exists');
      if (input.username !== undefined && (await usersRepo.usernameTaken(db, input.username))) throw fieldError('username', 'Username already exists');
      if (input.inviteToken !== undefined) await invitations.checkForRegistration(input.inviteToken, input.email ?? '');
      await passwordPolicy.check(input.password, input);
      const passwordHash = await passwords.hash(input.password);
      const account = { id: randomUUID(), email: input.email ?? null, username: input.username ?? null, firstName: input.firstName, lastName: input.lastName, phone: input.phone ?? null, passwordHash };
      const organisation = {
        id: randomUUID(),
        name: input.organisation?.name ?? personalOrganisationName(account),
        description: input.organisation?.description ?? '',
        personal: true,
        ownerId: account.id,
      };
      const opening = sessions.opening(account.id, client);
      const email = input.email;
      const inviteToken = email !== undefined ? input.inviteToken : undefined;
      // An invitation's token proves the mailbox: that user joins and needs no verification mail.
      const verifyToken = email !== undefined && inviteToken === undefined ? newOpaqueToken() : null;
      const actor = userActor(account.id);
      const registered = events.rows({
        type: 'user.registered',
        actor,
        client,
        subject: { type: 'user', id: account.id },
        data: {},
        // What a webhook receiver needs to provision the account without asking again.
        after: { email: account.email, username: account.username, firstName: account.firstName, lastName: account.lastName },
        notify: email !== undefined && verifyToken ? { kind: 'email_verification', to: email, name: account.firstName, token: verifyToken } : undefined,
      });
      const orgCreated = events.rows({
        type: 'organisation.created',
        actor,
        client,
        organisationId: organisation.id,
        subject: { type: 'organisation', id: organisation.id },
        data: { name: organisation.name, personal: true },
      });
      const registration = {
        account,
        organisation,
        opening,
        verification:
          email !== undefined && verifyToken
            ? { userId: account.id, purpose: 'email_verification' as const, tokenHash: hashOpaqueToken(verifyToken), email, expiresAt: addSeconds(clock.now(), EMAIL_VERIFICATION_TTL_SECONDS) }
            : null,
        events: [registered, orgCreated],
      };
      const user =
        email !== undefined && inviteToken !== undefined
          ? await db.transaction().execute(async (trx) => {
              const user = await registrationRepo.create(trx, registration);
              await invitations.acceptAtRegistration(trx, { token: inviteToken, user: { ...user, email }, client });
              return user;
            })
          : await registrationRepo.create(db, registration);
      // The verification mail may have been held back by its cap: a wake with nothing due costs one look.
      events.written(registered, true);
      events.written(orgCreated, false);
      return { ...(await signedIn(user, opening, client)), organisationId: organisation.id };
    },

    /**
     * Sign-in in one step, for the callers that have no second step (the seed-compatible sets, the
     * `saas` invitation acceptance): an account with a second factor is refused (MFA_REQUIRED), never
     * given tokens. `orgId` chooses the active organisation the tokens name: one the user is an active
     * member of, or it is not found.
     */
    async login(principal: Principal, input: LoginInput): Promise<SignedIn> {
      const user = await passwordChecked(principal.client, input);
      const outcome = await afterFirstFactor(user, principal.client, input.orgId, 'pwd');
      if ('mfaRequired' in outcome) throw new AppError('MFA_REQUIRED');
      return outcome;
    },

    /** Sign-in as a flow (`POST /auth/login`): tokens, or the attempt that waits for the second factor. */
    async signIn(principal: Principal, input: LoginInput): Promise<SignedIn | SecondFactorRequired> {
      return afterFirstFactor(await passwordChecked(principal.client, input), principal.client, input.orgId, 'pwd');
    },

    /**
     * The second step (`POST /auth/mfa/verify`): the attempt's account proves a second factor, and the
     * attempt is spent with the session it opens. A wrong factor counts against the attempt (the fifth
     * ends it) and against the account's and the address's throttles.
     */
    async completeSignIn(principal: Principal, { mfaToken, ...proof }: FactorProof & { mfaToken: string }): Promise<SignedIn> {
      const { client } = principal;
      const attempt = await mfaRepo.findChallenge(db, hashOpaqueToken(mfaToken), clock.now());
      if (!attempt) throw new AppError('INVALID_MFA_TOKEN');
      let methods: string[];
      try {
        methods = await factors.check(attempt.userId, client, proof, passkeys.secondFactor);
      } catch (error) {
        if (error instanceof AppError && error.code === 'INVALID_SECOND_FACTOR') await mfaRepo.failChallenge(db, attempt.id);
        throw error;
      }
      const user = await usersRepo.findById(db, attempt.userId);
      if (!user || user.status !== 'active') throw new AppError('INVALID_MFA_TOKEN');
      const organisation = await sessions.chosenOrganisation(user.id, attempt.organisationId);
      const amr = [...new Set([attempt.firstFactor, ...methods, 'mfa'])];
      return openCheckedSession(user, client, organisation, amr, { spend: (trx) => mfaRepo.spendChallenge(trx, attempt.id, clock.now()) });
    },

    /** A sign-in attempt still waiting for its second step, with the ways its account has; null when spent, ended or expired. */
    async pendingSignIn(mfaToken: string): Promise<{ methods: SecondFactorMethod[] } | null> {
      const attempt = await mfaRepo.findChallenge(db, hashOpaqueToken(mfaToken), clock.now());
      return attempt ? { methods: methodsOf(await factors.summary(attempt.userId)) } : null;
    },

    /** WebAuthn options for the second step of a sign-in: the attempt's account's passkeys. */
    async secondFactorOptions(mfaToken: string) {
      const attempt = await mfaRepo.findChallenge(db, hashOpaqueToken(mfaToken), clock.now());
      if (!attempt) throw new AppError('INVALID_MFA_TOKEN');
      return passkeys.secondFactorOptions(attempt.userId);
    },

    /**
     * Passwordless sign-in with a discoverable passkey whose authenticator verified its user: two
     * factors in one (`amr`: the key's method and `mfa`), so no second step follows. A passkey that
     * is unknown, of a disabled account, or whose check fails is the same 401 as a failed sign-in.
     */
    async passkeySignIn(principal: Principal, response: unknown): Promise<SignedIn> {
      const { client } = principal;
      await throttles.factor('passwordless', client.ip);
      let found: { userId: string; method: 'hwk' | 'swk' };
      try {
        found = await passkeys.passwordless(response);
      } catch (error) {
        if (error instanceof AppError && error.code === 'INVALID_SECOND_FACTOR') throw new AppError('AUTHENTICATION_FAILED');
        throw error;
      }
      const user = await usersRepo.findById(db, found.userId);
      if (!user || user.status !== 'active') throw new AppError('AUTHENTICATION_FAILED');
      if (requireVerifiedEmail && user.email && !user.emailVerifiedAt) throw new AppError('EMAIL_NOT_VERIFIED');
      return openCheckedSession(user, client, null, [found.method, 'mfa']);
    },

    /**
     * The `saas` set's acceptance: with the invitation's token and a password, creates the invited
     * account (when none has that email) or signs in to it, then joins. A wrong password is the same
     * 401 as a failed sign-in.
     */
    async acceptInvitationWithPassword(principal: Principal, { token, password }: { token: string; password: string }): Promise<void> {
      const email = await invitations.pendingEmail(token);
      if (!email) throw new AppError('INVALID_LINK_TOKEN');
      if (!(await usersRepo.emailTaken(db, email))) {
        await service.register(principal, { firstName: '', lastName: '', email, password, inviteToken: token });
        return;
      }
      const signIn = await service.login(principal, { email, password });
      await invitations.accept(signIn.principal, { token, passwordChecked: true });
    },

    /** The caller's own account, as read with their session when the request was authenticated. */
    me(principal: Principal): User {
      return policy.signedIn(principal).user;
    },

    /** The account of a username, for the `user-api` set, which names accounts by username: as the policy lets the caller see it. */
    async findByUsername(principal: Principal, username: string): Promise<User> {
      return policy.selfOrAdmin(principal, await usersRepo.findByUsername(db, username));
    },

    async updateMe(principal: Principal, changes: ProfileChanges): Promise<User> {
      const me = policy.signedIn(principal);
      // "Already exists" tells whether an account has that username: counted, so it cannot be probed in bulk.
      if (changes.username && changes.username.toLowerCase() !== me.user.username?.toLowerCase()) await throttles.usernameCheck(me.userId, me.client.ip);
      if (changes.username && (await usersRepo.usernameTaken(db, changes.username, me.userId))) throw fieldError('username', 'Username already exists');
      return db.transaction().execute(async (trx) => {
        const user = await usersRepo.update(trx, me.userId, changes);
        if (!user) throw new AppError('USER_NOT_FOUND');
        const fields = Object.keys(changes) as Array<keyof ProfileChanges>;
        await events.record(trx, {
          type: 'user.updated',
          actor: userActor(me.userId),
          client: me.client,
          subject: { type: 'user', id: me.userId },
          data: { fields },
          before: Object.fromEntries(fields.map((field) => [field, me.user[field]])),
          after: Object.fromEntries(fields.map((field) => [field, user[field]])),
        });
        return user;
      });
    },

    /**
     * The command line's way to a platform admin (the API has none without an admin): promotes an
     * existing account, or creates one with a verified email, since the operator vouches for it.
     */
    async createAdmin(principal: Principal, { readPassword, ...input }: { email?: string; username?: string; firstName?: string; lastName?: string; readPassword: () => Promise<string> }) {
      const system = policy.system(principal);
      const existing = await usersRepo.findCredentials(db, input.email !== undefined ? { email: input.email } : { username: input.username ?? '' });
      if (existing) {
        await db.transaction().execute(async (trx) => {
          await usersRepo.update(trx, existing.id, { platformRole: 'admin' });
          await events.record(trx, {
            type: 'user.promoted',
            actor: SYSTEM_ACTOR,
            client: system.client,
            subject: { type: 'user', id: existing.id },
            data: { platformRole: 'admin', via: system.via },
            before: { platformRole: existing.platformRole },
            after: { platformRole: 'admin' },
          });
        });
        return { created: false, userId: existing.id };
      }
      if (input.email !== undefined && !/^[^\s@]+@[^\s@]+$/.test(input.email)) throw fieldError('email', 'Email must be a valid email address');
      if (input.username !== undefined && !isValidUsername(input.username)) throw fieldError('username', 'Username must be 3 to 50 letters, digits, dots, dashes or underscores');
      const password = await readPassword();
      await passwordPolicy.check(password, input);
      const passwordHash = await passwords.hash(password);
      const account = {
        id: randomUUID(),
        email: input.email ?? null,
        username: input.username ?? null,
        firstName: input.firstName ?? 'Admin',
        lastName: input.lastName ?? '',
        phone: null,
        passwordHash,
        platformRole: 'admin' as const,
        emailVerifiedAt: input.email !== undefined ? clock.now() : null,
      };
      await db.transaction().execute(async (trx) => {
        const user = await usersRepo.insert(trx, account);
        await events.record(trx, { type: 'user.registered', actor: SYSTEM_ACTOR, client: system.client, subject: { type: 'user', id: user.id }, data: { platformRole: 'admin', via: system.via } });
        const organisationId = randomUUID();
        const name = personalOrganisationName(user);
        const created = events.rows({
          type: 'organisation.created',
          actor: userActor(user.id),
          client: system.client,
          organisationId,
          subject: { type: 'organisation', id: organisationId },
          data: { name, personal: true },
        });
        await organisationsRepo.create(trx, { id: organisationId, name, description: '', personal: true, ownerId: user.id }, [created]);
        events.written(created, false);
      });
      return { created: true, userId: account.id };
    },

    /** Another user's profile: visible to themselves, to anyone sharing an organisation, and to platform admins. */
    async visibleUser(principal: Principal, userId: string): Promise<User> {
      const visible = isUuid(userId) && (await policy.mayView(principal, userId));
      const user = visible ? await usersRepo.findById(db, userId) : undefined;
      if (!user) throw new AppError('USER_NOT_FOUND');
      return user;
    },
  };
  return service;
};

export type AccountsService = ReturnType<typeof accountsServiceFactory>;
