// oidc-provider's storage interface on Gatehouse's database: every model in one table
// (oidc_payloads), except clients, which are the rows platform admins register (oidc_clients).
// Nothing lives only in this process, so any node continues any flow.
import type { Adapter, AdapterPayload } from 'oidc-provider';
import type { Db } from '../../db/database.ts';
import { addSeconds, type Clock } from '../clock.ts';
import type { OidcClientRow } from './oidc-clients.repo.ts';
import { oidcPayloadsRepo, type StoredPayload } from './oidc-payloads.repo.ts';

/** A registered client as the provider's metadata: code flow only, PKCE, and its secret's digest. */
export function clientMetadata(client: OidcClientRow): AdapterPayload {
  return {
    client_id: client.clientId,
    client_name: client.name,
    ...(client.secretHash ? { client_secret: client.secretHash, token_endpoint_auth_method: 'client_secret_basic' } : { token_endpoint_auth_method: 'none' }),
    redirect_uris: client.redirectUris,
    post_logout_redirect_uris: client.postLogoutRedirectUris,
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    ...(client.backchannelLogoutUri ? { backchannel_logout_uri: client.backchannelLogoutUri, backchannel_logout_session_required: true } : {}),
    gatehouse_first_party: client.firstParty,
  } as AdapterPayload;
}

const withConsumed = (stored: StoredPayload | undefined): AdapterPayload | undefined =>
  stored && ({ ...stored.payload, ...(stored.consumedAt ? { consumed: Math.floor(stored.consumedAt.getTime() / 1000) } : {}) } as AdapterPayload);

export function adapterFactory({ db, clock, findClient }: { db: Db; clock: Clock; findClient: (clientId: string) => Promise<OidcClientRow | undefined> }) {
  return (model: string): Adapter => {
    if (model === 'Client') {
      return {
        async find(id) {
          const client = await findClient(id);
          return client && clientMetadata(client);
        },
        // Clients are registered through Gatehouse's API only (dynamic registration is off).
        async upsert() {},
        async findByUid() {
          return undefined;
        },
        async findByUserCode() {
          return undefined;
        },
        async consume() {},
        async destroy() {},
        async revokeByGrantId() {},
      };
    }
    return {
      async upsert(id, payload, expiresIn) {
        await oidcPayloadsRepo.upsert(db, { model, id, payload: payload as Record<string, unknown>, expiresAt: expiresIn ? addSeconds(clock.now(), expiresIn) : null });
      },
      async find(id) {
        return withConsumed(await oidcPayloadsRepo.find(db, { model, id, now: clock.now() }));
      },
      async findByUid(uid) {
        return withConsumed(await oidcPayloadsRepo.find(db, { model, uid, now: clock.now() }));
      },
      async findByUserCode(userCode) {
        return withConsumed(await oidcPayloadsRepo.find(db, { model, userCode, now: clock.now() }));
      },
      async consume(id) {
        await oidcPayloadsRepo.consume(db, { model, id, now: clock.now() });
      },
      async destroy(id) {
        await oidcPayloadsRepo.destroy(db, { model, id });
      },
      async revokeByGrantId(grantId) {
        await oidcPayloadsRepo.revokeByGrantId(db, grantId);
      },
    };
  };
}
