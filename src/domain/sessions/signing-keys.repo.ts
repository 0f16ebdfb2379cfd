import { sql } from 'kysely';
import type { Executor } from '../../db/database.ts';

export const signingKeysRepo = {
  /** The active key and the retired ones whose tokens may still be live (retired after `since`). */
  listUsable(db: Executor, since: Date) {
    return db
      .selectFrom('signing_keys')
      .select(['kid', 'public_jwk', 'private_jwk', 'status'])
      .where((eb) => eb.or([eb('status', '=', 'active'), eb('retired_at', '>', since)]))
      .orderBy('created_at', 'desc')
      .execute();
  },

  /** Inserts the key as the active one unless another node got there first. */
  async insertActiveIfNone(db: Executor, key: { kid: string; publicJwk: object; privateJwk: object }): Promise<void> {
    await db
      .insertInto('signing_keys')
      .values({ kid: key.kid, public_jwk: JSON.stringify(key.publicJwk), private_jwk: JSON.stringify(key.privateJwk), status: 'active' })
      .onConflict((oc) => oc.expression(sql`(true)`).where('status', '=', 'active').doNothing())
      .execute();
  },

  retireActive(db: Executor, at: Date) {
    return db.updateTable('signing_keys').set({ status: 'retired', retired_at: at }).where('status', '=', 'active').execute();
  },
};
