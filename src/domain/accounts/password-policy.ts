// What a new password must be: at least GATEHOUSE_PASSWORD_MIN code points (and at most 256), and,
// with GATEHOUSE_PASSWORD_BLOCKLIST=common, none of the ~49,000 most common passwords (the list ships
// with @zxcvbn-ts/language-common; nothing is fetched) and not the person's own email or name.
import { fieldError } from '../errors.ts';
import { MAX_PASSWORD_LENGTH } from './passwords.ts';

export interface PasswordOwner {
  email?: string | null;
  firstName?: string | null;
  lastName?: string | null;
  username?: string | null;
}

const normalise = (value: string) => value.toLowerCase().replace(/\s+/g, '');

let commonPasswords: Promise<ReadonlySet<string>> | null = null;

function loadCommonPasswords(): Promise<ReadonlySet<string>> {
  commonPasswords ??= import('@zxcvbn-ts/language-common').then(({ dictionary }) => new Set(dictionary['passwords-common'].map(normalise)));
  return commonPasswords;
}

/** The forms of the owner's own details that cannot be their password. */
function ownDetails({ email, firstName, lastName, username }: PasswordOwner): string[] {
  const details = [email, email?.split('@')[0], username, firstName, lastName, firstName && lastName ? `${firstName}${lastName}` : null, firstName && lastName ? `${lastName}${firstName}` : null];
  return details.filter((detail): detail is string => Boolean(detail)).map(normalise);
}

export function passwordPolicyFactory({ min, blocklist }: { min: number; blocklist: 'off' | 'common' }) {
  return {
    /** Loads the list at start, so the first registration does not wait for it. */
    async ready(): Promise<void> {
      if (blocklist === 'common') await loadCommonPasswords();
    },

    /** Throws a 422 naming `field` when the password may not be used. */
    async check(password: string, owner: PasswordOwner, field = 'password'): Promise<void> {
      const length = [...password].length;
      if (length < min) throw fieldError(field, `Password must be at least ${min} characters`);
      if (length > MAX_PASSWORD_LENGTH) throw fieldError(field, `Password must be at most ${MAX_PASSWORD_LENGTH} characters`);
      if (blocklist === 'off') return;
      const candidate = normalise(password);
      if ((await loadCommonPasswords()).has(candidate)) throw fieldError(field, 'Password is too common: choose one that is harder to guess');
      if (ownDetails(owner).includes(candidate)) throw fieldError(field, 'Password must not be your email address or name');
    },
  };
}

export type PasswordPolicy = ReturnType<typeof passwordPolicyFactory>;
