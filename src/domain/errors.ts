// One vocabulary of errors. Services throw AppError with a code from this registry; the HTTP error
// handler renders it in the API envelope and the compatibility route sets re-shape it.

export const ERRORS = {
  AUTHENTICATION_FAILED: { status: 401, message: 'Authentication failed' },
  AUTHENTICATION_REQUIRED: { status: 401, message: 'Authentication required' },
  INVALID_TOKEN: { status: 401, message: 'Invalid or expired token' },
  CREDENTIAL_NOT_ACCEPTED: { status: 401, message: 'API keys and machine clients are accepted on organisation routes only: this route takes a person’s access token' },
  INVALID_REFRESH_TOKEN: { status: 401, message: 'Invalid or expired refresh token' },
  MFA_REQUIRED: { status: 401, message: 'A second factor is required: this account signs in through POST /auth/login and POST /auth/mfa/verify' },
  INVALID_MFA_TOKEN: { status: 401, message: 'This sign-in attempt is invalid, has expired or was already used: sign in again' },
  INVALID_SECOND_FACTOR: { status: 401, message: 'The second factor is not valid' },
  REGISTRATION_FAILED: { status: 400, message: 'Registration unsuccessful' },
  INVALID_LINK_TOKEN: { status: 400, message: 'This link is invalid, has expired or was already used' },
  MALFORMED_JSON: { status: 400, message: 'The request body is not valid JSON' },
  BAD_REQUEST: { status: 400, message: 'Bad request' },
  INVALID_CLIENT_METADATA: { status: 400, message: 'A redirect URI must be an absolute http(s) URL without a fragment' },
  TOKEN_REQUIRED: { status: 400, message: 'Token is required' },
  NEW_PASSWORD_REQUIRED: { status: 400, message: 'New password is required' },
  EMAIL_REQUIRED: { status: 400, message: 'Email is required' },
  UNSTORABLE_TEXT: { status: 400, message: 'The request holds characters that cannot be stored' },
  EMAIL_NOT_VERIFIED: { status: 403, message: 'Confirm your email address before signing in: follow the link in the mail we sent' },
  INVITATION_FOR_ANOTHER_EMAIL: { status: 403, message: 'This invitation is for another email address: sign in with that address, verified' },
  INVITATION_EMAIL_UNVERIFIED: { status: 403, message: 'Confirm your email address first: follow the link in the confirmation mail (or ask for a new one), then accept the invitation' },
  INVITER_CANNOT_GRANT: { status: 403, message: 'Whoever invited you can no longer grant this role: ask for a new invitation' },
  ADMIN_PROTECTED: { status: 403, message: 'Admins cannot change or delete other admins' },
  CANNOT_DELETE_SELF: { status: 403, message: 'Admins cannot delete themselves' },
  FORBIDDEN: { status: 403, message: 'You do not have permission to do this' },
  STEP_UP_REQUIRED: { status: 403, message: 'Confirm it is you: check a second factor again with POST /auth/step-up, then retry' },
  ORG_REQUIRES_MFA: { status: 403, message: 'This organisation requires a second factor: add one (an authenticator app or a passkey) to your account, then sign in again' },
  // Not a passing outage (no 5xx): the server is configured without the key, until its operator sets one.
  SECOND_FACTORS_UNAVAILABLE: { status: 403, message: 'Authenticator apps are off on this server: it has no GATEHOUSE_SECRET_KEY to encrypt their secrets with (ask its operator)' },
  PLATFORM_REQUIRES_MFA: { status: 403, message: 'This platform requires a second factor for your account: add one (an authenticator app or a passkey), then sign in again' },
  CANNOT_SUSPEND_SELF: { status: 403, message: 'You cannot suspend yourself: leave the organisation instead' },
  PERSON_REQUIRED: { status: 403, message: 'Only a signed-in person can do this, not an API key or a machine client' },
  PERMISSIONS_ABOVE_OWN: { status: 403, message: 'An API key or machine client can hold only permissions you hold yourself' },
  ROLE_ABOVE_OWN: { status: 403, message: 'You cannot grant a role above your own' },
  NOT_FOUND: { status: 404, message: 'Not found' },
  SESSION_NOT_FOUND: { status: 404, message: 'Session not found' },
  ROUTE_NOT_FOUND: { status: 404, message: 'Route not found' },
  USER_NOT_FOUND: { status: 404, message: 'User not found' },
  MEMBER_NOT_FOUND: { status: 404, message: 'Member not found' },
  ROLE_NOT_FOUND: { status: 404, message: 'Role not found' },
  INVITATION_NOT_FOUND: { status: 404, message: 'Invitation not found' },
  ORGANISATION_NOT_FOUND: { status: 404, message: 'Organisation not found' },
  WEBHOOK_NOT_FOUND: { status: 404, message: 'Webhook not found' },
  DELIVERY_NOT_FOUND: { status: 404, message: 'Delivery not found' },
  API_KEY_NOT_FOUND: { status: 404, message: 'API key not found' },
  APPLICATION_NOT_FOUND: { status: 404, message: 'Application not found' },
  OIDC_CLIENT_NOT_FOUND: { status: 404, message: 'OpenID client not found' },
  OIDC_CLIENT_HAS_NO_SECRET: { status: 409, message: 'A public client has no secret to rotate' },
  PASSKEY_NOT_FOUND: { status: 404, message: 'Passkey not found' },
  TOTP_NOT_ENABLED: { status: 404, message: 'No authenticator app is set up on this account' },
  ALREADY_MEMBER: { status: 409, message: 'The user is already a member of this organisation' },
  PERSONAL_ORGANISATION: { status: 409, message: 'A personal organisation cannot be deleted' },
  NO_EMAIL: { status: 409, message: 'This account has no email address, so it cannot use email links' },
  LAST_OWNER: { status: 409, message: 'An organisation must keep at least one owner' },
  ROLE_IN_USE: { status: 409, message: 'Members hold this role: move them to another role first' },
  BUILT_IN_ROLE: { status: 409, message: 'Built-in roles cannot be changed or deleted' },
  INVITATION_NOT_PENDING: { status: 409, message: 'This invitation is no longer pending' },
  LAST_ADMIN: { status: 409, message: 'The platform must keep at least one active admin' },
  OWNS_ORGANISATIONS: { status: 409, message: 'This user is the last owner of organisations with other members' },
  PENDING_INVITATION_EXISTS: { status: 409, message: 'A pending invitation for this email exists already' },
  CONFLICT: { status: 409, message: 'The request conflicts with the current state' },
  TOTP_ALREADY_ENABLED: { status: 409, message: 'An authenticator app is set up already: turn it off first to set up another' },
  TOTP_NOT_PENDING: { status: 409, message: 'Start setting up an authenticator app first (POST /api/users/me/mfa/totp)' },
  NO_SECOND_FACTOR: { status: 409, message: 'This account has no second factor' },
  REQUEST_TIMEOUT: { status: 408, message: 'The request did not arrive in time' },
  BODY_TOO_LARGE: { status: 413, message: 'The request body is too large' },
  JSON_TOO_DEEP: { status: 413, message: 'The JSON body nests too deep' },
  JSON_OBJECT_TOO_LARGE: { status: 413, message: 'An object in the JSON body has too many keys' },
  JSON_TOO_MANY_KEYS: { status: 413, message: 'The JSON body has too many keys' },
  JSON_ARRAY_TOO_LONG: { status: 413, message: 'An array in the JSON body has too many entries' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Send the body as application/json' },
  HEADERS_TOO_LARGE: { status: 431, message: 'The request headers are too large' },
  TOO_MANY_REQUESTS: { status: 429, message: 'Too many requests' },
  INTERNAL: { status: 500, message: 'Something went wrong' },
  SERVICE_UNAVAILABLE: { status: 503, message: 'The service is temporarily unavailable' },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

export class AppError extends Error {
  readonly status: number;
  readonly code: ErrorCode;
  /** When the caller may try again: sent as Retry-After. */
  readonly retryAfterSeconds?: number;

  constructor(code: ErrorCode, message?: string, retryAfterSeconds?: number) {
    super(message ?? ERRORS[code].message);
    this.name = 'AppError';
    this.code = code;
    this.status = ERRORS[code].status;
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

export interface FieldError {
  field: string;
  message: string;
}

/** A 422: one entry per invalid field, in the order the route lists its fields. */
export class ValidationError extends Error {
  readonly errors: FieldError[];

  constructor(errors: FieldError[]) {
    super(errors.map((e) => `${e.field}: ${e.message}`).join('; '));
    this.name = 'ValidationError';
    this.errors = errors;
  }
}

export const fieldError = (field: string, message: string) => new ValidationError([{ field, message }]);
