// Passkeys with `@simplewebauthn/server`: registration, the list, renaming and removal; the checks of
// an assertion as a second factor (sign-in, step-up) and as a passwordless sign-in with a
// discoverable credential. The relying party id and origin come from PUBLIC_URL, never a request.
// Challenges are kept in the database (any node checks the answer) and spent on first use; signature
// counters must move forward (a cloned authenticator shows itself by going back).
import type {
  AuthenticationResponseJSON,
  PublicKeyCredentialCreationOptionsJSON,
  PublicKeyCredentialRequestOptionsJSON,
  RegistrationResponseJSON,
} from '@simplewebauthn/server';
import type { Db } from '../../db/database.ts';
import type { WebauthnPurpose } from '../../db/schema.ts';
import { addSeconds, type Clock } from '../clock.ts';
import { AppError, fieldError } from '../errors.ts';
import { userActor } from '../events/catalogue.ts';
import type { EventStream } from '../events/event-stream.ts';
import { isUuid } from '../ids.ts';
import type { Policy } from '../policy/policy.ts';
import type { Principal } from '../principal.ts';
import { hasFactor } from './factors.ts';
import { factorAdded, factorAlert } from './mfa.service.ts';
import { mfaRepo } from './mfa.repo.ts';
import type { Passkey, RelyingParty, StoredPasskey } from './passkey-types.ts';
import { passkeysRepo } from './passkeys.repo.ts';

/** How long a ceremony may take between its options and its response. */
const CHALLENGE_TTL_SECONDS = 5 * 60;
const TIMEOUT_MS = CHALLENGE_TTL_SECONDS * 1000;

interface Deps {
  db: Db;
  clock: Clock;
  policy: Policy;
  events: EventStream;
  rp: RelyingParty;
}

/** RFC 8176: a synced (multi-device) passkey is a software-held key, a device-bound one a hardware key. */
const methodOf = (deviceType: string): 'hwk' | 'swk' => (deviceType === 'multiDevice' ? 'swk' : 'hwk');

const shown = (passkey: StoredPasskey): Passkey => ({ id: passkey.id, name: passkey.name, deviceType: passkey.deviceType, backedUp: passkey.backedUp, lastUsedAt: passkey.lastUsedAt, createdAt: passkey.createdAt });

/** The credential id a response names, or nothing usable. */
function credentialIdOf(response: unknown): string {
  const id = (response as { id?: unknown } | null)?.id;
  if (typeof id !== 'string' || id === '' || id.length > 1024) throw fieldError('response', 'Response must be a WebAuthn response');
  return id;
}


/** `@simplewebauthn/server`, loaded with the first passkey ceremony rather than when Gatehouse starts. */
const webauthn = () => import('@simplewebauthn/server');
export const passkeysServiceFactory = ({ db, clock, policy, events, rp }: Deps) => {
  async function remember(challenge: string, purpose: WebauthnPurpose, userId: string | null) {
    await passkeysRepo.openChallenge(db, { challenge, purpose, userId, expiresAt: addSeconds(clock.now(), CHALLENGE_TTL_SECONDS) });
  }

  /** The challenge check a verification runs: the response's challenge is one of ours, live and unused, and it is spent now. */
  const spending = (purposes: readonly WebauthnPurpose[], userId: string | null) => (challenge: string) => passkeysRepo.spendChallenge(db, { challenge, purposes, userId, now: clock.now() });

  async function authenticationOptions(purpose: WebauthnPurpose, userId: string | null): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const allowCredentials = userId === null ? [] : (await passkeysRepo.listForUser(db, userId)).map((p) => ({ id: p.credentialId, transports: p.transports }));
    if (userId !== null && allowCredentials.length === 0) throw new AppError('NO_SECOND_FACTOR');
    const options = await (await webauthn()).generateAuthenticationOptions({
      rpID: rp.id,
      allowCredentials,
      timeout: TIMEOUT_MS,
      // Passwordless: the passkey is the only factor, so the authenticator must check its user too.
      userVerification: purpose === 'passwordless' ? 'required' : 'preferred',
    });
    await remember(options.challenge, purpose, userId);
    return options;
  }

  /**
   * Checks an assertion: of one of `userId`'s passkeys (a second factor, a step-up), or of any
   * discoverable passkey (passwordless, user verification required). Anything wrong is
   * INVALID_SECOND_FACTOR: an unknown or other account's passkey, a spent or foreign challenge, a bad
   * signature, a counter that did not move forward.
   */
  async function assertion(purposes: readonly WebauthnPurpose[], userId: string | null, response: unknown): Promise<{ userId: string; method: 'hwk' | 'swk' }> {
    const passkey = await passkeysRepo.findByCredential(db, credentialIdOf(response), userId);
    if (!passkey) throw new AppError('INVALID_SECOND_FACTOR');
    const passwordless = purposes.includes('passwordless');
    let verified;
    try {
      verified = await (await webauthn()).verifyAuthenticationResponse({
        response: response as AuthenticationResponseJSON,
        expectedChallenge: spending(purposes, userId),
        expectedOrigin: rp.origin,
        expectedRPID: rp.id,
        credential: { id: passkey.credentialId, publicKey: new Uint8Array(Buffer.from(passkey.publicKey, 'base64url')), counter: passkey.counter, transports: passkey.transports as never },
        requireUserVerification: passwordless,
      });
    } catch {
      throw new AppError('INVALID_SECOND_FACTOR');
    }
    if (!verified.verified) throw new AppError('INVALID_SECOND_FACTOR');
    const recorded = await passkeysRepo.recordUse(db, { id: passkey.id, seenCounter: passkey.counter, newCounter: verified.authenticationInfo.newCounter, now: clock.now() });
    if (!recorded) throw new AppError('INVALID_SECOND_FACTOR');
    return { userId: passkey.userId, method: methodOf(verified.authenticationInfo.credentialDeviceType) };
  }

  const service = {
    /** Registration options for the caller; an account that has a factor proves it again first. */
    async registrationOptions(principal: Principal): Promise<PublicKeyCredentialCreationOptionsJSON> {
      const me = policy.recentlyVerified(principal);
      const existing = await passkeysRepo.listForUser(db, me.userId);
      const options = await (await webauthn()).generateRegistrationOptions({
        rpName: rp.name,
        rpID: rp.id,
        userName: me.user.email ?? me.user.username ?? me.userId,
        userDisplayName: [me.user.firstName, me.user.lastName].filter(Boolean).join(' ') || (me.user.email ?? me.user.username ?? ''),
        // The WebAuthn user handle: the account's id, so a discoverable passkey names its account.
        userID: new TextEncoder().encode(me.userId),
        timeout: TIMEOUT_MS,
        attestationType: 'none',
        excludeCredentials: existing.map((p) => ({ id: p.credentialId, transports: p.transports })),
        authenticatorSelection: { residentKey: 'preferred', userVerification: 'preferred' },
      });
      await remember(options.challenge, 'registration', me.userId);
      return options;
    },

    async register(principal: Principal, { response, name }: { response: unknown; name?: string }): Promise<Passkey> {
      const me = policy.recentlyVerified(principal);
      credentialIdOf(response);
      let verified;
      try {
        verified = await (await webauthn()).verifyRegistrationResponse({
          response: response as RegistrationResponseJSON,
          expectedChallenge: spending(['registration'], me.userId),
          expectedOrigin: rp.origin,
          expectedRPID: rp.id,
          requireUserVerification: false,
        });
      } catch {
        throw fieldError('response', 'The passkey’s response could not be verified: start again from the options');
      }
      if (!verified.verified) throw fieldError('response', 'The passkey’s response could not be verified: start again from the options');
      const { credential, credentialDeviceType, credentialBackedUp } = verified.registrationInfo;
      return db.transaction().execute(async (trx) => {
        const before = await mfaRepo.summary(trx, me.userId);
        const created = await passkeysRepo.insert(trx, {
          userId: me.userId,
          credentialId: credential.id,
          publicKey: Buffer.from(credential.publicKey).toString('base64url'),
          counter: credential.counter,
          transports: credential.transports ?? [],
          deviceType: credentialDeviceType,
          backedUp: credentialBackedUp,
          name: name ?? `Passkey ${before.passkeys + 1}`,
        });
        await factorAdded(trx, { me, before, methods: [methodOf(credentialDeviceType)], now: clock.now() });
        await events.record(trx, {
          type: 'mfa.enabled',
          actor: userActor(me.userId),
          client: me.client,
          subject: { type: 'user', id: me.userId },
          data: { method: 'passkey', passkeyId: created.id },
          notify: factorAlert(me, 'passkey_added', clock.now()),
        });
        return shown(created);
      });
    },

    async list(principal: Principal): Promise<Passkey[]> {
      return (await passkeysRepo.listForUser(db, policy.person(principal).userId)).map(shown);
    },

    async rename(principal: Principal, { passkeyId, name }: { passkeyId: string; name: string }): Promise<Passkey> {
      const me = policy.person(principal);
      if (!isUuid(passkeyId)) throw new AppError('PASSKEY_NOT_FOUND');
      return db.transaction().execute(async (trx) => {
        const renamed = await passkeysRepo.rename(trx, { userId: me.userId, id: passkeyId, name });
        if (!renamed) throw new AppError('PASSKEY_NOT_FOUND');
        await events.record(trx, { type: 'mfa.passkey_renamed', actor: userActor(me.userId), client: me.client, subject: { type: 'user', id: me.userId }, data: { passkeyId }, after: { name } });
        return renamed;
      });
    },

    /** Removes a passkey (step-up). With no factor left, the recovery codes go too. */
    async remove(principal: Principal, passkeyId: string): Promise<void> {
      const me = policy.recentlyVerified(principal);
      if (!isUuid(passkeyId)) throw new AppError('PASSKEY_NOT_FOUND');
      await db.transaction().execute(async (trx) => {
        if (!(await passkeysRepo.delete(trx, { userId: me.userId, id: passkeyId }))) throw new AppError('PASSKEY_NOT_FOUND');
        if (!hasFactor(await mfaRepo.summary(trx, me.userId))) await mfaRepo.replaceRecoveryCodes(trx, me.userId, []);
        await events.record(trx, {
          type: 'mfa.disabled',
          actor: userActor(me.userId),
          client: me.client,
          subject: { type: 'user', id: me.userId },
          data: { method: 'passkey', passkeyId },
          notify: factorAlert(me, 'passkey_removed', clock.now()),
        });
      });
    },

    /** Options for a second factor of this user (the second step of a sign-in, or a step-up). */
    secondFactorOptions: (userId: string) => authenticationOptions('second_factor', userId),

    async stepUpOptions(principal: Principal): Promise<PublicKeyCredentialRequestOptionsJSON> {
      return authenticationOptions('step_up', policy.person(principal).userId);
    },

    /** Options for a passwordless sign-in: any discoverable passkey of this relying party. */
    passwordlessOptions: () => authenticationOptions('passwordless', null),

    /** An assertion of one of the user's passkeys, as a second factor: its RFC 8176 method. */
    async secondFactor(userId: string, response: unknown): Promise<'hwk' | 'swk'> {
      return (await assertion(['second_factor', 'step_up'], userId, response)).method;
    },

    /** A passwordless assertion (user verified): whose passkey it is, and its method. */
    passwordless: (response: unknown) => assertion(['passwordless'], null, response),
  };
  return service;
};

export type PasskeysService = ReturnType<typeof passkeysServiceFactory>;
