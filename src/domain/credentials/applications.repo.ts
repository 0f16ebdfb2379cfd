import { sql } from 'kysely';
import type { Executor } from '../../db/database.ts';
import type { Position } from '../pagination.ts';
import type { Application } from './types.ts';

const VIEW = ['id', 'organisation_id', 'client_id', 'name', 'permissions', 'created_by', 'created_at'] as const;

const toApplication = (row: { id: string; organisation_id: string; client_id: string; name: string; permissions: string[]; created_by: string | null; created_at: Date }): Application => ({
  id: row.id,
  organisationId: row.organisation_id,
  clientId: row.client_id,
  name: row.name,
  permissions: row.permissions,
  createdBy: row.created_by,
  createdAt: row.created_at,
});

export const applicationsRepo = {
  /** The client and its first secret's digest. */
  async insert(db: Executor, application: { organisationId: string; clientId: string; name: string; permissions: string[]; createdBy: string; secretHash: string }): Promise<Application> {
    const row = await db
      .insertInto('applications')
      .values({ organisation_id: application.organisationId, client_id: application.clientId, name: application.name, permissions: application.permissions, created_by: application.createdBy })
      .returning(VIEW)
      .executeTakeFirstOrThrow();
    await db.insertInto('application_secrets').values({ application_id: row.id, secret_hash: application.secretHash }).execute();
    return toApplication(row);
  },

  async list(db: Executor, organisationId: string, page: { limit: number; after?: Position }): Promise<Application[]> {
    let query = db.selectFrom('applications').select(VIEW).where('organisation_id', '=', organisationId);
    if (page.after) {
      const { at, id } = page.after;
      query = query.where((eb) => eb(eb.refTuple('created_at', 'id'), '<', eb.tuple(at, id)));
    }
    return (await query.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(page.limit + 1).execute()).map(toApplication);
  },

  /** Deletes one of the organisation's clients, its secrets with it; answers it, or undefined when there is none. */
  async delete(db: Executor, organisationId: string, id: string): Promise<Application | undefined> {
    const row = await db.deleteFrom('applications').where('id', '=', id).where('organisation_id', '=', organisationId).returning(VIEW).executeTakeFirst();
    return row && toApplication(row);
  },

  /**
   * A new current secret; the current one keeps working until `previousUntil`. Secrets past their
   * overlap are deleted on the way. The client is locked, so two rotations take turns.
   */
  async rotateSecret(db: Executor, { organisationId, id, secretHash, now, previousUntil }: { organisationId: string; id: string; secretHash: string; now: Date; previousUntil: Date }): Promise<Application | undefined> {
    const row = await db.selectFrom('applications').select(VIEW).where('id', '=', id).where('organisation_id', '=', organisationId).forUpdate().executeTakeFirst();
    if (!row) return undefined;
    await db.deleteFrom('application_secrets').where('application_id', '=', id).where('expires_at', '<=', now).execute();
    await db.updateTable('application_secrets').set({ expires_at: previousUntil }).where('application_id', '=', id).where('expires_at', 'is', null).execute();
    await db.insertInto('application_secrets').values({ application_id: id, secret_hash: secretHash }).execute();
    return toApplication(row);
  },

  /** The client of a client id whose secret (by digest) is current, or within its overlap. One statement: the token endpoint's check. */
  async findByCredentials(db: Executor, { clientId, secretHash, now }: { clientId: string; secretHash: string; now: Date }): Promise<Application | undefined> {
    const row = await db
      .selectFrom('applications as a')
      .innerJoin('application_secrets as s', 's.application_id', 'a.id')
      .select(['a.id', 'a.organisation_id', 'a.client_id', 'a.name', 'a.permissions', 'a.created_by', 'a.created_at'])
      .where('a.client_id', '=', clientId)
      .where('s.secret_hash', '=', secretHash)
      .where((eb) => eb.or([eb('s.expires_at', 'is', null), eb('s.expires_at', '>', now)]))
      .executeTakeFirst();
    return row && toApplication(row);
  },

  /** A machine token's client as it stands, and whether the token was revoked. One statement: this fills the token cache. */
  async findForToken(db: Executor, { clientId, jti }: { clientId: string; jti: string }) {
    return db
      .selectFrom('applications')
      .select(['id', 'organisation_id', 'permissions', sql<boolean>`exists (select 1 from revoked_tokens where jti = ${jti}::uuid)`.as('revoked')])
      .where('client_id', '=', clientId)
      .executeTakeFirst();
  },

  /** Remembers a revoked token until it would have expired anyway; forgets those that have. */
  async revokeToken(db: Executor, { jti, expiresAt, now }: { jti: string; expiresAt: Date; now: Date }): Promise<void> {
    await db.deleteFrom('revoked_tokens').where('expires_at', '<', now).execute();
    await db.insertInto('revoked_tokens').values({ jti, expires_at: expiresAt }).onConflict((oc) => oc.column('jti').doNothing()).execute();
  },
};
