import { sql } from 'kysely';
import type { Executor } from '../../db/database.ts';
import type { Position } from '../pagination.ts';
import type { ApiKey } from './types.ts';

const VIEW = ['id', 'organisation_id', 'user_id', 'name', 'prefix', 'permissions', 'expires_at', 'last_used_at', 'created_at'] as const;

const toApiKey = (row: { id: string; organisation_id: string | null; user_id: string; name: string; prefix: string; permissions: string[]; expires_at: Date | null; last_used_at: Date | null; created_at: Date }): ApiKey => ({
  id: row.id,
  organisationId: row.organisation_id,
  userId: row.user_id,
  name: row.name,
  prefix: row.prefix,
  permissions: row.permissions,
  expiresAt: row.expires_at,
  lastUsedAt: row.last_used_at,
  createdAt: row.created_at,
});

/** Whose keys: an organisation's, or a person's own (personal keys have no organisation). */
export type KeyOwner = { organisationId: string } | { userId: string };

export const apiKeysRepo = {
  async insert(db: Executor, key: { organisationId: string | null; userId: string; name: string; prefix: string; keyHash: string; permissions: string[]; expiresAt: Date | null }): Promise<ApiKey> {
    const row = await db
      .insertInto('api_keys')
      .values({ organisation_id: key.organisationId, user_id: key.userId, name: key.name, prefix: key.prefix, key_hash: key.keyHash, permissions: key.permissions, expires_at: key.expiresAt })
      .returning(VIEW)
      .executeTakeFirstOrThrow();
    return toApiKey(row);
  },

  /** The owner's keys that are not revoked, newest first, after `after` when given. */
  async list(db: Executor, owner: KeyOwner, page: { limit: number; after?: Position }): Promise<ApiKey[]> {
    let query = db.selectFrom('api_keys').select(VIEW).where('revoked_at', 'is', null);
    query = 'organisationId' in owner ? query.where('organisation_id', '=', owner.organisationId) : query.where('user_id', '=', owner.userId).where('organisation_id', 'is', null);
    if (page.after) {
      const { at, id } = page.after;
      query = query.where((eb) => eb(eb.refTuple('created_at', 'id'), '<', eb.tuple(at, id)));
    }
    return (await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(page.limit + 1).execute()).map(toApiKey);
  },

  /** Revokes one of the owner's keys; answers it (with its digest, which names it in the caches) or undefined when there is none. */
  async revoke(db: Executor, owner: KeyOwner, id: string, now: Date): Promise<(ApiKey & { keyHash: string }) | undefined> {
    let query = db.updateTable('api_keys').set({ revoked_at: now }).where('id', '=', id).where('revoked_at', 'is', null);
    query = 'organisationId' in owner ? query.where('organisation_id', '=', owner.organisationId) : query.where('user_id', '=', owner.userId).where('organisation_id', 'is', null);
    const row = await query.returning([...VIEW, 'key_hash']).executeTakeFirst();
    return row && { ...toApiKey(row), keyHash: row.key_hash };
  },

  /**
   * A key that is not revoked, by its digest, with what its owner holds today: the key dies with its
   * owner's account being disabled, and an organisation key with its owner's active membership (the
   * role's permissions bound the key's). One statement: this fills the key cache.
   */
  async findForAuthentication(db: Executor, keyHash: string) {
    return db
      .selectFrom('api_keys as k')
      .innerJoin('users as u', (join) => join.onRef('u.id', '=', 'k.user_id').on('u.status', '=', 'active'))
      .leftJoin('members as m', (join) => join.onRef('m.organisation_id', '=', 'k.organisation_id').onRef('m.user_id', '=', 'k.user_id').on('m.status', '=', 'active'))
      .leftJoin('roles as r', 'r.id', 'm.role_id')
      .select(['k.id', 'k.organisation_id', 'k.user_id', 'k.permissions', 'k.expires_at', 'k.last_used_at', 'r.permissions as owner_permissions'])
      .where('k.key_hash', '=', keyHash)
      .where('k.revoked_at', 'is', null)
      .executeTakeFirst();
  },

  /** Every permission the user holds in some organisation, as an active member: what a personal key may hold. */
  async heldPermissions(db: Executor, userId: string): Promise<string[]> {
    const rows = await db
      .selectFrom('members')
      .innerJoin('roles', 'roles.id', 'members.role_id')
      .select(sql<string>`unnest(roles.permissions)`.as('permission'))
      .where('members.user_id', '=', userId)
      .where('members.status', '=', 'active')
      .distinct()
      .execute();
    return rows.map((row) => row.permission);
  },

  /** Records a use, unless one was recorded in the last minute (by any node). */
  async touch(db: Executor, id: string, now: Date): Promise<void> {
    await db
      .updateTable('api_keys')
      .set({ last_used_at: now })
      .where('id', '=', id)
      .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<', sql<Date>`${now}::timestamptz - interval '1 minute'`)]))
      .execute();
  },
};
