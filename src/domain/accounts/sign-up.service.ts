// Creating an account from the hosted sign-up page of an OpenID sign-in: registration's own rules
// (password policy, personal organisation, verification mail through the outbox, throttling), and
// what the page may then do.
//
// When Gatehouse asks for a confirmed email before any sign-in (GATEHOUSE_REQUIRE_VERIFIED_EMAIL), the
// page never tells whether an address has an account: a new address and a taken one get the same
// answer ("check your mail") after the same work (a password hash). Without that setting, a new
// account is signed in at once, so a taken address cannot get that answer; it is told, as
// `POST /auth/register` tells it (SPEC §2), under the same registration throttle.
import type { Db } from '../../db/database.ts';
import type { Principal } from '../principal.ts';
import type { Throttles } from '../throttle/throttles.ts';
import type { AccountsService } from './accounts.service.ts';
import type { PasswordPolicy } from './password-policy.ts';
import type { PasswordHasher } from './passwords.ts';
import { usersRepo } from './users.repo.ts';
import type { SignedIn } from './accounts.service.ts';

interface Deps {
  db: Db;
  accounts: Pick<AccountsService, 'register'>;
  throttles: Pick<Throttles, 'register'>;
  passwordPolicy: PasswordPolicy;
  passwords: Pick<PasswordHasher, 'hash'>;
  requireVerifiedEmail: boolean;
}

export interface SignUpInput {
  firstName: string;
  lastName: string;
  email: string;
  password: string;
}

/** Signed in (go on with the sign-in), or asked to confirm the address first (the same for a taken one). */
export type SignUpOutcome = { signedIn: SignedIn } | { confirmEmail: true };

export const signUpServiceFactory = ({ db, accounts, throttles, passwordPolicy, passwords, requireVerifiedEmail }: Deps) => ({
  async signUp(principal: Principal, input: SignUpInput): Promise<SignUpOutcome> {
    if (requireVerifiedEmail && (await usersRepo.emailTaken(db, input.email))) {
      // The same steps registration takes before it writes, so that the answer and its cost match.
      await throttles.register(input.email, principal.client.ip);
      await passwordPolicy.check(input.password, input);
      await passwords.hash(input.password);
      return { confirmEmail: true };
    }
    const signedIn = await accounts.register(principal, input);
    // Such an account cannot sign in before its address is confirmed (the verification mail is queued).
    if (requireVerifiedEmail) return { confirmEmail: true };
    return { signedIn };
  },
});

export type SignUpService = ReturnType<typeof signUpServiceFactory>;
