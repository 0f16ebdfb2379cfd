// Passkeys (WebAuthn credentials) and the challenges their ceremonies answer, in SQL. A challenge is
// spent in one conditional update, so a response is accepted once, on whichever node it reaches.
import type { Executor } from '../../db/database.ts';
import type { WebauthnPurpose } from '../../db/schema.ts';
import type { Passkey, StoredPasskey } from './passkey-types.ts';

const COLUMNS = ['id', 'user_id', 'credential_id', 'public_key', 'counter', 'transports', 'device_type', 'backed_up', 'name', 'last_used_at', 'created_at'] as const;

type Row = { id: string; user_id: string; credential_id: string; public_key: string; counter: number; transports: string[]; device_type: string; backed_up: boolean; name: string; last_used_at: Date | null; created_at: Date };

const toPasskey = (row: Row): StoredPasskey => ({
  id: row.id,
  userId: row.user_id,
  credentialId: row.credential_id,
  publicKey: row.public_key,
  counter: Number(row.counter),
  transports: row.transports,
  deviceType: row.device_type,
  backedUp: row.backed_up,
  name: row.name,
  lastUsedAt: row.last_used_at,
  createdAt: row.created_at,
});

export const passkeysRepo = {
  async insert(db: Executor, passkey: Omit<StoredPasskey, 'id' | 'lastUsedAt' | 'createdAt'>): Promise<StoredPasskey> {
    const row = await db
      .insertInto('passkeys')
      .values({
        user_id: passkey.userId,
        credential_id: passkey.credentialId,
        public_key: passkey.publicKey,
        counter: passkey.counter,
        transports: passkey.transports,
        device_type: passkey.deviceType,
        backed_up: passkey.backedUp,
        name: passkey.name,
      })
      .returning(COLUMNS)
      .executeTakeFirstOrThrow();
    return toPasskey(row);
  },

  async listForUser(db: Executor, userId: string): Promise<StoredPasskey[]> {
    const rows = await db.selectFrom('passkeys').select(COLUMNS).where('user_id', '=', userId).orderBy('created_at').orderBy('id').limit(100).execute();
    return rows.map(toPasskey);
  },

  /** A passkey by its credential id; of one user only when `userId` is given. */
  async findByCredential(db: Executor, credentialId: string, userId: string | null): Promise<StoredPasskey | undefined> {
    let query = db.selectFrom('passkeys').select(COLUMNS).where('credential_id', '=', credentialId);
    if (userId !== null) query = query.where('user_id', '=', userId);
    const row = await query.executeTakeFirst();
    return row && toPasskey(row);
  },

  async rename(db: Executor, { userId, id, name }: { userId: string; id: string; name: string }): Promise<Passkey | undefined> {
    const row = await db.updateTable('passkeys').set({ name }).where('id', '=', id).where('user_id', '=', userId).returning(COLUMNS).executeTakeFirst();
    return row && toPasskey(row);
  },

  async delete(db: Executor, { userId, id }: { userId: string; id: string }): Promise<Passkey | undefined> {
    const row = await db.deleteFrom('passkeys').where('id', '=', id).where('user_id', '=', userId).returning(COLUMNS).executeTakeFirst();
    return row && toPasskey(row);
  },

  async deleteAllForUser(db: Executor, userId: string): Promise<number> {
    const result = await db.deleteFrom('passkeys').where('user_id', '=', userId).executeTakeFirst();
    return Number(result.numDeletedRows);
  },

  /**
   * Records a use with the authenticator's new signature counter, only while the stored counter is
   * the one the check saw: of two concurrent uses of one signature, one wins.
   */
  async recordUse(db: Executor, { id, seenCounter, newCounter, now }: { id: string; seenCounter: number; newCounter: number; now: Date }): Promise<boolean> {
    const result = await db.updateTable('passkeys').set({ counter: newCounter, last_used_at: now }).where('id', '=', id).where('counter', '=', seenCounter).executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  },

  async openChallenge(db: Executor, challenge: { challenge: string; purpose: WebauthnPurpose; userId: string | null; expiresAt: Date }): Promise<void> {
    await db.insertInto('webauthn_challenges').values({ challenge: challenge.challenge, purpose: challenge.purpose, user_id: challenge.userId, expires_at: challenge.expiresAt }).execute();
  },

  /** Spends a live challenge of these purposes (and of this user, or of nobody); false when there is none. */
  async spendChallenge(db: Executor, { challenge, purposes, userId, now }: { challenge: string; purposes: readonly WebauthnPurpose[]; userId: string | null; now: Date }): Promise<boolean> {
    let query = db
      .updateTable('webauthn_challenges')
      .set({ used_at: now })
      .where('challenge', '=', challenge)
      .where('purpose', 'in', [...purposes])
      .where('used_at', 'is', null)
      .where('expires_at', '>', now);
    query = userId === null ? query.where('user_id', 'is', null) : query.where('user_id', '=', userId);
    const result = await query.executeTakeFirst();
    return Number(result.numUpdatedRows) > 0;
  },

  /** Challenges past their time can never be answered; answers how many went. */
  async deleteExpiredChallenges(db: Executor, now: Date): Promise<number> {
    const result = await db.deleteFrom('webauthn_challenges').where('expires_at', '<', now).executeTakeFirst();
    return Number(result.numDeletedRows);
  },
};
