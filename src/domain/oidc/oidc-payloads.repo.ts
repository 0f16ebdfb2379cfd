// What oidc-provider stores through its adapter interface: one row per model and id. The provider
// decides what a payload holds; this keeps it, with the lookups it makes (by grant, uid, user code),
// and hides expired rows as if they were gone.
import { sql } from 'kysely';
import type { Executor } from '../../db/database.ts';

export interface StoredPayload {
  payload: Record<string, unknown>;
  consumedAt: Date | null;
}

const live = (now: Date) => sql<boolean>`(expires_at is null or expires_at > ${now})`;

export const oidcPayloadsRepo = {
  async upsert(db: Executor, row: { model: string; id: string; payload: Record<string, unknown>; expiresAt: Date | null }): Promise<void> {
    const text = (name: string) => (typeof row.payload[name] === 'string' ? (row.payload[name] as string) : null);
    const values = { payload: JSON.stringify(row.payload), grant_id: text('grantId'), uid: text('uid'), user_code: text('userCode'), expires_at: row.expiresAt };
    await db
      .insertInto('oidc_payloads')
      .values({ model: row.model, id: row.id, ...values })
      .onConflict((oc) => oc.columns(['model', 'id']).doUpdateSet(values))
      .execute();
  },

  async find(db: Executor, by: { model: string; now: Date } & ({ id: string } | { uid: string } | { userCode: string })): Promise<StoredPayload | undefined> {
    let query = db.selectFrom('oidc_payloads').select(['payload', 'consumed_at']).where('model', '=', by.model).where(live(by.now));
    if ('id' in by) query = query.where('id', '=', by.id);
    else if ('uid' in by) query = query.where('uid', '=', by.uid);
    else query = query.where('user_code', '=', by.userCode);
    const row = await query.limit(1).executeTakeFirst();
    return row && { payload: row.payload, consumedAt: row.consumed_at };
  },

  async consume(db: Executor, { model, id, now }: { model: string; id: string; now: Date }): Promise<void> {
    await db.updateTable('oidc_payloads').set({ consumed_at: now }).where('model', '=', model).where('id', '=', id).execute();
  },

  async destroy(db: Executor, { model, id }: { model: string; id: string }): Promise<void> {
    await db.deleteFrom('oidc_payloads').where('model', '=', model).where('id', '=', id).execute();
  },

  /** Every model's rows of a grant: a code used twice revokes what it gave. */
  async revokeByGrantId(db: Executor, grantId: string): Promise<void> {
    await db.deleteFrom('oidc_payloads').where('grant_id', '=', grantId).execute();
  },

  /** Deletes expired rows (which `find` already treats as gone). */
  async sweep(db: Executor, now: Date): Promise<number> {
    const result = await db.deleteFrom('oidc_payloads').where('expires_at', '<=', now).executeTakeFirst();
    return Number(result.numDeletedRows);
  },
};
