// The relying parties of Gatehouse's OpenID Provider, registered by platform admins (or the command
// line) — never dynamically. A confidential client gets a secret of 256 random bits, shown once and
// stored as its SHA-256 digest: the provider compares digests (src/domain/oidc/provider.ts), so a
// leaked table gives no one a working secret. A public client (a browser or mobile app) has none and
// must use PKCE. A first-party client skips the consent page; a third-party one asks.
import { randomBytes } from 'node:crypto';
import type { Db } from '../../db/database.ts';
import { addSeconds, type Clock } from '../clock.ts';
import { AppError } from '../errors.ts';
import { SYSTEM_ACTOR } from '../events/catalogue.ts';
import type { EventStream } from '../events/event-stream.ts';
import { decodeCursor, page, type PageRequest } from '../pagination.ts';
import type { Policy } from '../policy/policy.ts';
import type { Principal } from '../principal.ts';
import { hashOpaqueToken } from '../sessions/opaque-tokens.ts';
import { oidcClientsRepo, type OidcClient, type OidcClientChanges, type OidcClientRow } from './oidc-clients.repo.ts';

const CLIENT_ID_PREFIX = 'gho_';
const SECRET_PREFIX = 'ghos_';

export type { OidcClient };

interface Deps {
  db: Db;
  clock: Clock;
  policy: Policy;
  events: EventStream;
  /** How long a rotated-out secret keeps working (GATEHOUSE_SECRET_OVERLAP), as a machine client's does. */
  secretOverlapSeconds: number;
}

export interface NewOidcClient {
  name: string;
  redirectUris: string[];
  postLogoutRedirectUris?: string[];
  type: 'public' | 'confidential';
  firstParty?: boolean;
  backchannelLogoutUri?: string | null;
}

/** An absolute http(s) URL without a fragment (OpenID Connect Core §3.1.2.1). */
function checkUris(uris: readonly string[] | undefined | null) {
  for (const uri of uris ?? []) {
    const url = URL.parse(uri);
    if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.hash !== '' || uri.includes('#')) throw new AppError('INVALID_CLIENT_METADATA');
  }
}

const newSecret = () => `${SECRET_PREFIX}${randomBytes(32).toString('base64url')}`;

const publicView = ({ secretHash: _secret, previousSecretHash: _previous, previousSecretExpiresAt: _until, ...client }: OidcClientRow): OidcClient => client;

export const oidcClientsServiceFactory = ({ db, clock, policy, events, secretOverlapSeconds }: Deps) => ({
  async create(principal: Principal, input: NewOidcClient): Promise<OidcClient & { clientSecret: string | null }> {
    const acting = principal.kind === 'system' ? { actor: SYSTEM_ACTOR, client: policy.system(principal).client } : policy.acting(policy.platformAdmin(principal));
    checkUris(input.redirectUris);
    checkUris(input.postLogoutRedirectUris);
    checkUris(input.backchannelLogoutUri ? [input.backchannelLogoutUri] : []);
    const clientId = `${CLIENT_ID_PREFIX}${randomBytes(16).toString('base64url')}`;
    const clientSecret = input.type === 'confidential' ? newSecret() : null;
    const firstParty = input.firstParty ?? false;
    return db.transaction().execute(async (trx) => {
      const created = await oidcClientsRepo.insert(trx, {
        clientId,
        name: input.name,
        type: input.type,
        firstParty,
        redirectUris: [...new Set(input.redirectUris)],
        postLogoutRedirectUris: [...new Set(input.postLogoutRedirectUris ?? [])],
        backchannelLogoutUri: input.backchannelLogoutUri ?? null,
        secretHash: clientSecret ? hashOpaqueToken(clientSecret) : null,
        createdBy: acting.actor.type === 'user' ? acting.actor.id : null,
      });
      const view = publicView(created);
      await events.record(trx, {
        type: 'oidc_client.created',
        actor: acting.actor,
        client: acting.client,
        subject: { type: 'oidc_client', id: created.id },
        data: { name: input.name, clientId, type: input.type, firstParty },
        after: { name: view.name, clientId, type: view.type, firstParty, redirectUris: view.redirectUris, postLogoutRedirectUris: view.postLogoutRedirectUris },
      });
      return { ...view, clientSecret };
    });
  },

  async list(principal: Principal, request: PageRequest): Promise<{ items: OidcClient[]; nextCursor: string | null }> {
    policy.platformAdmin(principal);
    const limit = request.limit ?? 50;
    const rows = await oidcClientsRepo.list(db, { limit, after: decodeCursor(request.cursor) });
    const paged = page(rows, limit, (row) => ({ at: row.createdAt, id: row.id }));
    return { items: paged.items.map(publicView), nextCursor: paged.nextCursor };
  },

  async get(principal: Principal, clientId: string): Promise<OidcClient> {
    policy.platformAdmin(principal);
    const found = await oidcClientsRepo.findByClientId(db, clientId);
    if (!found) throw new AppError('OIDC_CLIENT_NOT_FOUND');
    return publicView(found);
  },

  async update(principal: Principal, clientId: string, changes: OidcClientChanges): Promise<OidcClient> {
    const acting = policy.acting(policy.platformAdmin(principal));
    checkUris(changes.redirectUris);
    checkUris(changes.postLogoutRedirectUris);
    checkUris(changes.backchannelLogoutUri ? [changes.backchannelLogoutUri] : []);
    const updated = await db.transaction().execute(async (trx) => {
      const before = await oidcClientsRepo.findForUpdate(trx, clientId);
      if (!before) throw new AppError('OIDC_CLIENT_NOT_FOUND');
      const after = await oidcClientsRepo.update(trx, clientId, changes);
      const fields = (Object.keys(changes) as Array<keyof OidcClientChanges>).filter((field) => changes[field] !== undefined);
      const pick = (client: OidcClientRow) => Object.fromEntries(fields.map((field) => [field, client[field]]));
      await events.record(trx, {
        type: 'oidc_client.updated',
        actor: acting.actor,
        client: acting.client,
        subject: { type: 'oidc_client', id: before.id },
        data: { fields, clientId },
        before: pick(before),
        after: pick(after),
      });
      return after;
    });
    return publicView(updated);
  },

  /**
   * A new secret for a confidential client, shown once; the previous one keeps working for the
   * overlap (GATEHOUSE_SECRET_OVERLAP), so the client's servers can change over without a gap. A
   * public client has none (409); an unknown one is not found.
   */
  async rotateSecret(principal: Principal, clientId: string): Promise<{ clientSecret: string; previousSecretExpiresAt: Date }> {
    const acting = policy.acting(policy.platformAdmin(principal));
    const clientSecret = newSecret();
    const previousUntil = addSeconds(clock.now(), secretOverlapSeconds);
    await db.transaction().execute(async (trx) => {
      const before = await oidcClientsRepo.findForUpdate(trx, clientId);
      if (!before) throw new AppError('OIDC_CLIENT_NOT_FOUND');
      const rotated = await oidcClientsRepo.rotateSecret(trx, { clientId, secretHash: hashOpaqueToken(clientSecret), previousUntil });
      if (!rotated) throw new AppError('OIDC_CLIENT_HAS_NO_SECRET');
      await events.record(trx, {
        type: 'oidc_client.secret_rotated',
        actor: acting.actor,
        client: acting.client,
        subject: { type: 'oidc_client', id: rotated.id },
        data: { clientId, previousSecretExpiresAt: previousUntil.toISOString() },
      });
    });
    return { clientSecret, previousSecretExpiresAt: previousUntil };
  },

  /** Deletes a client, and with it every grant, code and token the provider holds for it. */
  async delete(principal: Principal, clientId: string): Promise<void> {
    const acting = policy.acting(policy.platformAdmin(principal));
    await db.transaction().execute(async (trx) => {
      const deleted = await oidcClientsRepo.delete(trx, clientId);
      if (!deleted) throw new AppError('OIDC_CLIENT_NOT_FOUND');
      await oidcClientsRepo.deletePayloadsOf(trx, clientId);
      await events.record(trx, {
        type: 'oidc_client.deleted',
        actor: acting.actor,
        client: acting.client,
        subject: { type: 'oidc_client', id: deleted.id },
        data: { name: deleted.name, clientId },
        before: { name: deleted.name, clientId, type: deleted.type },
      });
    });
  },

  /** The client as the provider needs it (with its secret's digest), or undefined. */
  async forProvider(clientId: string): Promise<OidcClientRow | undefined> {
    return oidcClientsRepo.findByClientId(db, clientId);
  },
});

export type OidcClientsService = ReturnType<typeof oidcClientsServiceFactory>;
