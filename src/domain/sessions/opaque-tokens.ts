// Refresh, reset, verification and invitation tokens: 256 random bits, handed out once and stored
// only as a SHA-256 digest. A fast digest is right here: the input is random, not a password.
import { createHash, randomBytes } from 'node:crypto';

export const newOpaqueToken = () => randomBytes(32).toString('base64url');

export const hashOpaqueToken = (token: string) => createHash('sha256').update(token).digest('base64url');
