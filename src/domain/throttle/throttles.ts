// Which attempts are counted, by what key, under which rule. Accounts are keyed by a digest of their
// id (or of the identifier given, when no account has it), so the counters hold no personal data and
// an unknown account is throttled exactly like a known one. Addresses are keyed by the network a
// client controls: an IPv4 address, or the /64 of an IPv6 one (see `addressBucket`).
import { createHash } from 'node:crypto';
import ipaddr from 'ipaddr.js';
import { Throttle, type ThrottleRule, type ThrottleStore } from './throttle.ts';

export interface ThrottlePolicy {
  /** Password checks for one account, whoever tries. */
  readonly signInAccount: ThrottleRule;
  /** Failed password checks from one address, whichever accounts it tries. */
  readonly signInAddress: ThrottleRule;
  /** Second-factor checks for one account (sign-in, step-up, enrolment), whoever tries. */
  readonly factorAccount: ThrottleRule;
  /** Second-factor checks from one address, whichever accounts it tries. */
  readonly factorAddress: ThrottleRule;
  /** Registrations of one email or username. */
  readonly registerAccount: ThrottleRule;
  readonly registerAddress: ThrottleRule;
  /** Requests about mailed links from one address: forgot, reset, verify, resend. */
  readonly linksAddress: ThrottleRule;
  /** Verification mails one signed-in user asks for. */
  readonly resendAccount: ThrottleRule;
  /** Invitations one member sends. */
  readonly inviteAccount: ThrottleRule;
  readonly inviteAddress: ThrottleRule;
  /** Profile changes that name a username: each tells whether that username is taken. */
  readonly usernameAccount: ThrottleRule;
  readonly usernameAddress: ThrottleRule;
}

const MINUTE = 60;
const HOUR = 3600;

/** The defaults SECURITY.md lists. */
export const DEFAULT_THROTTLE_POLICY: ThrottlePolicy = Object.freeze({
  signInAccount: { points: 5, windowSeconds: 15 * MINUTE, blockSeconds: MINUTE, maxBlockSeconds: HOUR },
  signInAddress: { points: 50, windowSeconds: 15 * MINUTE, blockSeconds: 5 * MINUTE, maxBlockSeconds: HOUR },
  factorAccount: { points: 5, windowSeconds: 15 * MINUTE, blockSeconds: MINUTE, maxBlockSeconds: HOUR },
  factorAddress: { points: 50, windowSeconds: 15 * MINUTE, blockSeconds: 5 * MINUTE, maxBlockSeconds: HOUR },
  registerAccount: { points: 5, windowSeconds: HOUR, blockSeconds: 0, maxBlockSeconds: 0 },
  registerAddress: { points: 20, windowSeconds: HOUR, blockSeconds: HOUR, maxBlockSeconds: 24 * HOUR },
  linksAddress: { points: 20, windowSeconds: 15 * MINUTE, blockSeconds: 15 * MINUTE, maxBlockSeconds: 24 * HOUR },
  resendAccount: { points: 5, windowSeconds: HOUR, blockSeconds: 0, maxBlockSeconds: 0 },
  inviteAccount: { points: 100, windowSeconds: HOUR, blockSeconds: 0, maxBlockSeconds: 0 },
  inviteAddress: { points: 200, windowSeconds: HOUR, blockSeconds: HOUR, maxBlockSeconds: 24 * HOUR },
  usernameAccount: { points: 10, windowSeconds: HOUR, blockSeconds: 0, maxBlockSeconds: 0 },
  usernameAddress: { points: 30, windowSeconds: HOUR, blockSeconds: HOUR, maxBlockSeconds: 24 * HOUR },
});

const digest = (value: string) => createHash('sha256').update(value).digest('base64url');
const accountKey = (id: string) => digest(`account:${id.toLowerCase()}`);
const addressKey = (ip: string | null) => digest(`address:${addressBucket(ip)}`);

/**
 * What one client controls: an IPv4 address (also when written IPv4-mapped, ::ffff:a.b.c.d), or the
 * /64 of an IPv6 address. A single IPv6 subscriber is routinely given a /64, 2^64 addresses: keyed on
 * the full address, every attempt could come from a fresh one.
 */
export function addressBucket(ip: string | null): string {
  if (ip === null || !ipaddr.isValid(ip)) return ip ?? 'unknown';
  const address = ipaddr.process(ip);
  if (!(address instanceof ipaddr.IPv6)) return address.toString();
  return `${new ipaddr.IPv6([...address.parts.slice(0, 4), 0, 0, 0, 0]).toString()}/64`;
}

export function throttlesFactory(store: ThrottleStore, policy: ThrottlePolicy = DEFAULT_THROTTLE_POLICY) {
  const rule = (name: keyof ThrottlePolicy) => new Throttle(store, name, policy[name]);
  const signInAccount = rule('signInAccount');
  const signInAddress = rule('signInAddress');
  const factorAccount = rule('factorAccount');
  const factorAddress = rule('factorAddress');
  const registerAccount = rule('registerAccount');
  const registerAddress = rule('registerAddress');
  const linksAddress = rule('linksAddress');
  const resendAccount = rule('resendAccount');
  const inviteAccount = rule('inviteAccount');
  const inviteAddress = rule('inviteAddress');
  const usernameAccount = rule('usernameAccount');
  const usernameAddress = rule('usernameAddress');

  return {
    /**
     * Before a password check. The address is counted first, so an address already refused cannot
     * add to an account's lockout.
     */
    async signIn(account: string, ip: string | null): Promise<void> {
      await signInAddress.take(addressKey(ip));
      await signInAccount.take(accountKey(account));
    },

    /** The password matched: the account starts afresh and the address gets its attempt back. */
    async signedIn(account: string, ip: string | null): Promise<void> {
      await Promise.all([signInAccount.clear(accountKey(account)), signInAddress.giveBack(addressKey(ip))]);
    },

    /** Before a second-factor check: a six-digit code falls to guessing without this. */
    async factor(userId: string, ip: string | null): Promise<void> {
      await factorAddress.take(addressKey(ip));
      await factorAccount.take(accountKey(`factor:${userId}`));
    },

    /** The factor matched: the account starts afresh and the address gets its attempt back. */
    async factorPassed(userId: string, ip: string | null): Promise<void> {
      await Promise.all([factorAccount.clear(accountKey(`factor:${userId}`)), factorAddress.giveBack(addressKey(ip))]);
    },

    /** A reset proved the mailbox: whoever was locked out by a guesser can sign in again. */
    passwordReplaced: (account: string) => signInAccount.clear(accountKey(account)),

    async register(account: string, ip: string | null): Promise<void> {
      await registerAddress.take(addressKey(ip));
      await registerAccount.take(accountKey(account));
    },

    linkRequest: (ip: string | null) => linksAddress.take(addressKey(ip)),

    async resendVerification(userId: string, ip: string | null): Promise<void> {
      await linksAddress.take(addressKey(ip));
      await resendAccount.take(accountKey(userId));
    },

    async invite(userId: string, ip: string | null): Promise<void> {
      await inviteAddress.take(addressKey(ip));
      await inviteAccount.take(accountKey(userId));
    },

    /** Before a profile change names a username: whether it is taken is an answer worth probing for. */
    async usernameCheck(userId: string, ip: string | null): Promise<void> {
      await usernameAddress.take(addressKey(ip));
      await usernameAccount.take(accountKey(userId));
    },
  };
}

export type Throttles = ReturnType<typeof throttlesFactory>;
