// Passkeys as the domain sees them.

/** What a person sees of one of their passkeys. */
export interface Passkey {
  id: string;
  name: string;
  deviceType: string;
  backedUp: boolean;
  lastUsedAt: Date | null;
  createdAt: Date;
}

/** A passkey with what checking its signatures needs. */
export interface StoredPasskey extends Passkey {
  userId: string;
  /** base64url */
  credentialId: string;
  /** The COSE public key, base64url. */
  publicKey: string;
  counter: number;
  transports: string[];
}

/** Where passkeys are good: the relying party's id (PUBLIC_URL's host name), its name and its origin. */
export interface RelyingParty {
  id: string;
  name: string;
  origin: string;
}
