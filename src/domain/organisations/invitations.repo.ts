import type { Executor } from '../../db/database.js';

export const invitationsRepo = {
  findPendingByTokenHash(db: Executor, tokenHash: string, now: Date) {
    return db
      .selectFrom('invitations')
      .select(['id', 'organisation_id', 'email', 'role_id', 'invited_by', 'expires_at'])
      .where('token_hash', '=', tokenHash)
      .where('status', '=', 'pending')
      .where('expires_at', '>', now)
      .executeTakeFirst();
  },
};
