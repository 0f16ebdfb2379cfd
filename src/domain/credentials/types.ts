// API keys and machine clients as the domain sees them: never their secrets, only their digests' owners.

export interface ApiKey {
  id: string;
  /** Null for a personal key. */
  organisationId: string | null;
  /** Who created it; it acts for them and dies with their access. */
  userId: string;
  name: string;
  /** The key's first characters, to tell keys apart in a list. */
  prefix: string;
  permissions: string[];
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  createdAt: Date;
}

export interface Application {
  id: string;
  organisationId: string;
  clientId: string;
  name: string;
  permissions: string[];
  createdBy: string | null;
  createdAt: Date;
}

/** Every API key starts so: a Bearer token that does is a key, never a JWT. */
export const API_KEY_PREFIX = 'gh_';
