// An account as the domain sees it. Repositories map rows to these; services and routes never see rows.
import type { PlatformRole, UserStatus } from '../../db/schema.ts';

export interface User {
  id: string;
  /** Absent for a username-only account (the `basic` set): it cannot use the email flows. */
  email: string | null;
  username: string | null;
  firstName: string;
  lastName: string;
  phone: string | null;
  platformRole: PlatformRole;
  status: UserStatus;
  emailVerifiedAt: Date | null;
  createdAt: Date;
}

/** An account with its password hash: only sign-in and the password checks read one. */
export interface Credentials extends User {
  passwordHash: string;
}

export type { PlatformRole, UserStatus };
