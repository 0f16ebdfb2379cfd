// Maps a violated database constraint, by its name, to the domain error it means. The database is
// the guard (two racing requests cannot both pass it); this turns its verdict into a clear 4xx.
import { AppError, fieldError } from './errors.ts';

const CONSTRAINT_ERRORS: Record<string, () => Error> = {
  users_email_key: () => fieldError('email', 'Email already exists'),
  users_username_key: () => fieldError('username', 'Username already exists'),
  users_identifier_present: () => fieldError('username', 'An account needs an email or a username: this one would have neither'),
  users_username_format: () => fieldError('username', 'Username must be 3 to 50 letters, digits, dots, dashes or underscores'),
  members_organisation_user_key: () => new AppError('ALREADY_MEMBER'),
  organisations_keep_an_owner: () => new AppError('LAST_OWNER'),
  members_role_fkey: () => new AppError('ROLE_IN_USE'),
  roles_name_key: () => fieldError('name', 'A role with this name already exists'),
  invitations_pending_key: () => new AppError('PENDING_INVITATION_EXISTS'),
  organisations_name_length: () => fieldError('name', 'Name must be 1 to 200 characters'),
  passkeys_credential_id_key: () => fieldError('response', 'This passkey is registered already'),
  passkeys_name_length: () => fieldError('name', 'Name must be 1 to 100 characters'),
};

const INTEGRITY_VIOLATION = /^23/;

/** The domain error for a constraint violation, or null when the error is something else. */
export function mapConstraintError(error: unknown): Error | null {
  if (typeof error !== 'object' || error === null) return null;
  const { code, constraint } = error as { code?: unknown; constraint?: unknown };
  if (typeof code !== 'string' || !INTEGRITY_VIOLATION.test(code)) return null;
  const known = typeof constraint === 'string' ? CONSTRAINT_ERRORS[constraint] : undefined;
  return known ? known() : new AppError('CONFLICT');
}

/** True when `error` is the database refusing a statement by the named rule (a constraint or a `gatehouse_check`). */
export function refusedBy(error: unknown, rule: string): boolean {
  return typeof error === 'object' && error !== null && (error as { constraint?: unknown }).constraint === rule;
}
