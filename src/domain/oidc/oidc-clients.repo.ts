import { sql, type Selectable } from 'kysely';
import type { Executor } from '../../db/database.ts';
import type { OidcClientsTable } from '../../db/schema.ts';

export interface OidcClient {
  id: string;
  clientId: string;
  name: string;
  type: 'public' | 'confidential';
  firstParty: boolean;
  redirectUris: string[];
  postLogoutRedirectUris: string[];
  backchannelLogoutUri: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** With its secrets' digests: the current one, and the one before the last rotation while it still works. */
export type OidcClientRow = OidcClient & { secretHash: string | null; previousSecretHash: string | null; previousSecretExpiresAt: Date | null };

const toClient = (row: Selectable<OidcClientsTable>): OidcClientRow => ({
  id: row.id,
  clientId: row.client_id,
  name: row.name,
  type: row.type,
  firstParty: row.first_party,
  redirectUris: row.redirect_uris,
  postLogoutRedirectUris: row.post_logout_redirect_uris,
  backchannelLogoutUri: row.backchannel_logout_uri,
  secretHash: row.secret_hash,
  previousSecretHash: row.previous_secret_hash,
  previousSecretExpiresAt: row.previous_secret_expires_at,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

export interface OidcClientChanges {
  name?: string;
  redirectUris?: string[];
  postLogoutRedirectUris?: string[];
  firstParty?: boolean;
  backchannelLogoutUri?: string | null;
}

export const oidcClientsRepo = {
  async insert(
    db: Executor,
    client: { clientId: string; name: string; type: 'public' | 'confidential'; firstParty: boolean; redirectUris: string[]; postLogoutRedirectUris: string[]; backchannelLogoutUri: string | null; secretHash: string | null; createdBy: string | null },
  ): Promise<OidcClientRow> {
    const row = await db
      .insertInto('oidc_clients')
      .values({
        client_id: client.clientId,
        name: client.name,
        type: client.type,
        first_party: client.firstParty,
        redirect_uris: client.redirectUris,
        post_logout_redirect_uris: client.postLogoutRedirectUris,
        backchannel_logout_uri: client.backchannelLogoutUri,
        secret_hash: client.secretHash,
        created_by: client.createdBy,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toClient(row);
  },

  async findByClientId(db: Executor, clientId: string): Promise<OidcClientRow | undefined> {
    const row = await db.selectFrom('oidc_clients').selectAll().where('client_id', '=', clientId).executeTakeFirst();
    return row && toClient(row);
  },

  async list(db: Executor, { limit, after }: { limit: number; after: { at: Date; id: string } | undefined }): Promise<OidcClientRow[]> {
    let query = db.selectFrom('oidc_clients').selectAll();
    if (after) query = query.where((eb) => eb.or([eb('created_at', '>', after.at), eb.and([eb('created_at', '=', after.at), eb('id', '>', after.id)])]));
    const rows = await query.orderBy('created_at').orderBy('id').limit(limit + 1).execute();
    return rows.map(toClient);
  },

  /** Locks the row for a change in the caller's transaction. */
  async findForUpdate(db: Executor, clientId: string): Promise<OidcClientRow | undefined> {
    const row = await db.selectFrom('oidc_clients').selectAll().where('client_id', '=', clientId).forUpdate().executeTakeFirst();
    return row && toClient(row);
  },

  async update(db: Executor, clientId: string, changes: OidcClientChanges): Promise<OidcClientRow> {
    const row = await db
      .updateTable('oidc_clients')
      .set({
        ...(changes.name !== undefined ? { name: changes.name } : {}),
        ...(changes.redirectUris !== undefined ? { redirect_uris: changes.redirectUris } : {}),
        ...(changes.postLogoutRedirectUris !== undefined ? { post_logout_redirect_uris: changes.postLogoutRedirectUris } : {}),
        ...(changes.firstParty !== undefined ? { first_party: changes.firstParty } : {}),
        ...(changes.backchannelLogoutUri !== undefined ? { backchannel_logout_uri: changes.backchannelLogoutUri } : {}),
      })
      .where('client_id', '=', clientId)
      .returningAll()
      .executeTakeFirstOrThrow();
    return toClient(row);
  },

  /**
   * A new current secret for a confidential client; the current one becomes the previous one until
   * `previousUntil` (one that was previous already stops). Answers the client, or undefined when
   * there is no confidential client of that id.
   */
  async rotateSecret(db: Executor, { clientId, secretHash, previousUntil }: { clientId: string; secretHash: string; previousUntil: Date }): Promise<OidcClientRow | undefined> {
    const row = await db
      .updateTable('oidc_clients')
      .set((eb) => ({ previous_secret_hash: eb.ref('secret_hash'), previous_secret_expires_at: previousUntil, secret_hash: secretHash }))
      .where('client_id', '=', clientId)
      .where('type', '=', 'confidential')
      .returningAll()
      .executeTakeFirst();
    return row && toClient(row);
  },

  async delete(db: Executor, clientId: string): Promise<OidcClientRow | undefined> {
    const row = await db.deleteFrom('oidc_clients').where('client_id', '=', clientId).returningAll().executeTakeFirst();
    return row && toClient(row);
  },

  /** What the provider holds for a deleted client's users: its grants' rows go with it. */
  async deletePayloadsOf(db: Executor, clientId: string): Promise<void> {
    await db.deleteFrom('oidc_payloads').where(sql<string>`payload->>'clientId'`, '=', clientId).execute();
  },
};
