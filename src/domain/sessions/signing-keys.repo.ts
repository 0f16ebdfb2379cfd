import type { Executor } from '../../db/database.ts';

/** EdDSA signs access tokens; RS256 signs ID tokens (OpenID Connect requires it). One active key of each. */
export type SigningAlgorithm = 'EdDSA' | 'RS256';

export const signingKeysRepo = {
  /** The algorithm's active key and its retired ones whose tokens may still be live (retired after `since`). */
  listUsable(db: Executor, algorithm: SigningAlgorithm, since: Date) {
    return db
      .selectFrom('signing_keys')
      .select(['kid', 'public_jwk', 'private_jwk', 'status'])
      .where('algorithm', '=', algorithm)
      .where((eb) => eb.or([eb('status', '=', 'active'), eb('retired_at', '>', since)]))
      .orderBy('created_at', 'desc')
      .execute();
  },

  /** Inserts the key as its algorithm's active one unless another node got there first. */
  async insertActiveIfNone(db: Executor, key: { kid: string; algorithm: SigningAlgorithm; publicJwk: object; privateJwk: object }): Promise<void> {
    await db
      .insertInto('signing_keys')
      .values({ kid: key.kid, algorithm: key.algorithm, public_jwk: JSON.stringify(key.publicJwk), private_jwk: JSON.stringify(key.privateJwk), status: 'active' })
      .onConflict((oc) => oc.column('algorithm').where('status', '=', 'active').doNothing())
      .execute();
  },

  retireActive(db: Executor, algorithm: SigningAlgorithm, at: Date) {
    return db.updateTable('signing_keys').set({ status: 'retired', retired_at: at }).where('status', '=', 'active').where('algorithm', '=', algorithm).execute();
  },
};
