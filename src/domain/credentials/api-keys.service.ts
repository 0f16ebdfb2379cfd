// API keys (`gh_…`): an organisation's, or a person's own. A key is 256 random bits shown once and
// stored as its SHA-256 digest (a fast digest is right for a random secret, as for refresh tokens).
// Only a signed-in person makes, lists or revokes keys: a key never mints another. A key holds a
// subset of its creator's permissions when made, and acts with the part of it the creator still holds
// (read whenever the key cache refills, every few seconds): it dies when its creator leaves the
// organisation, is suspended or disabled, when it is revoked or expires, or with its organisation.
// Making one is a step-up (SPEC §6.1): a key outlives the session that made it.
import { randomBytes } from 'node:crypto';
import type { Db } from '../../db/database.ts';
import type { Clock } from '../clock.ts';
import { AppError, fieldError } from '../errors.ts';
import type { EventStream } from '../events/event-stream.ts';
import { isUuid } from '../ids.ts';
import { decodeCursor, page, type PageRequest } from '../pagination.ts';
import { narrowed, type Policy } from '../policy/policy.ts';
import type { ApiKeyPrincipal, ClientInfo, Principal } from '../principal.ts';
import { hashOpaqueToken } from '../sessions/opaque-tokens.ts';
import { apiKeysRepo, type KeyOwner } from './api-keys.repo.ts';
import { credentialCache, type RevocationChannel } from './credential-cache.ts';
import { API_KEY_PREFIX, type ApiKey } from './types.ts';

/** A use is recorded at most this often per key. */
const LAST_USED_EVERY_MS = 60_000;
/** Characters of a key kept to tell it apart in lists (the prefix and 6 of its 43 random ones). */
const SHOWN_LENGTH = API_KEY_PREFIX.length + 6;

interface Deps {
  db: Db;
  clock: Clock;
  policy: Policy;
  events: EventStream;
  revocations: RevocationChannel;
}

/** A key as the cache believes it. */
interface VerifiedKey {
  id: string;
  organisationId: string | null;
  userId: string;
  permissions: ApiKeyPrincipal['permissions'];
  expiresAt: Date | null;
  /** When this process last knew of a recorded use (ms). */
  lastUsedAt: number | null;
}

export interface KeyInput {
  name: string;
  permissions: string[];
  expiresAt?: string | null;
}

export const apiKeysServiceFactory = ({ db, clock, policy, events, revocations }: Deps) => {
  const cache = credentialCache<VerifiedKey>({
    clock,
    channel: revocations,
    async load(keyHash) {
      const row = await apiKeysRepo.findForAuthentication(db, keyHash);
      if (!row || (row.expires_at !== null && row.expires_at <= clock.now())) return null;
      // An organisation key acts only while its creator is an active member, with what they hold today.
      if (row.organisation_id !== null && row.owner_permissions === null) return null;
      const permissions = narrowed(row.permissions, row.organisation_id === null ? row.permissions : (row.owner_permissions ?? []));
      return {
        value: { id: row.id, organisationId: row.organisation_id, userId: row.user_id, permissions, expiresAt: row.expires_at, lastUsedAt: row.last_used_at?.getTime() ?? null },
        tags: [row.id, row.user_id, ...(row.organisation_id ? [row.organisation_id] : [])],
      };
    },
  });

  /** Who may manage the keys of `owner` (an organisation's: `api-keys:manage`; personal: oneself), and what they may put in one. */
  async function manager(principal: Principal, organisationId: string | null) {
    if (organisationId === null) {
      const person = policy.person(principal);
      return { person, owner: { userId: person.userId } as KeyOwner, held: await apiKeysRepo.heldPermissions(db, person.userId) };
    }
    const granter = await policy.member(principal, organisationId, 'api-keys:manage');
    const person = policy.person(principal);
    return { person, owner: { organisationId: granter.organisationId } as KeyOwner, held: granter.role.permissions, granter };
  }

  function expiry(raw: string | null | undefined): Date | null {
    if (raw === undefined || raw === null) return null;
    const at = new Date(raw);
    if (Number.isNaN(at.getTime())) throw fieldError('expiresAt', 'Expiry must be a date and time (ISO 8601)');
    if (at <= clock.now()) throw fieldError('expiresAt', 'Expiry must be in the future');
    return at;
  }

  return {
    /** Makes a key; its secret is in the answer and nowhere else. */
    async create(principal: Principal, { organisationId, ...input }: KeyInput & { organisationId: string | null }): Promise<ApiKey & { key: string }> {
      const { person, held } = await manager(principal, organisationId);
      // Step-up: a key outlives the session that made it, so a stolen session must not mint one.
      policy.recentlyVerified(person);
      const permissions = [...new Set(input.permissions)];
      policy.mayDelegate(held, permissions);
      const expiresAt = expiry(input.expiresAt);
      const key = `${API_KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
      return db.transaction().execute(async (trx) => {
        const created = await apiKeysRepo.insert(trx, { organisationId, userId: person.userId, name: input.name, prefix: key.slice(0, SHOWN_LENGTH), keyHash: hashOpaqueToken(key), permissions, expiresAt });
        const acting = policy.acting(person);
        await events.record(trx, {
          type: 'api_key.created',
          actor: acting.actor,
          client: acting.client,
          organisationId,
          subject: { type: 'api_key', id: created.id },
          data: { name: created.name, permissions: created.permissions, personal: organisationId === null, expiresAt: expiresAt?.toISOString() ?? null },
          after: { name: created.name, permissions: created.permissions, expiresAt: expiresAt?.toISOString() ?? null },
        });
        return { ...created, key };
      });
    },

    async list(principal: Principal, { organisationId, ...request }: PageRequest & { organisationId: string | null }): Promise<{ items: ApiKey[]; nextCursor: string | null }> {
      const { owner } = await manager(principal, organisationId);
      const limit = request.limit ?? 50;
      const rows = await apiKeysRepo.list(db, owner, { limit, after: decodeCursor(request.cursor) });
      return page(rows, limit, (row) => ({ at: row.createdAt, id: row.id }));
    },

    /** Revokes a key: refused on every node within seconds (at once on this one). */
    async revoke(principal: Principal, { organisationId, apiKeyId }: { organisationId: string | null; apiKeyId: string }): Promise<void> {
      const { person, owner } = await manager(principal, organisationId);
      if (!isUuid(apiKeyId)) throw new AppError('API_KEY_NOT_FOUND');
      await db.transaction().execute(async (trx) => {
        const revoked = await apiKeysRepo.revoke(trx, owner, apiKeyId, clock.now());
        if (!revoked) throw new AppError('API_KEY_NOT_FOUND');
        const acting = policy.acting(person);
        await events.record(trx, {
          type: 'api_key.revoked',
          actor: acting.actor,
          client: acting.client,
          organisationId,
          subject: { type: 'api_key', id: revoked.id },
          data: { name: revoked.name, personal: organisationId === null },
          before: { name: revoked.name, permissions: revoked.permissions },
        });
      });
      await cache.revoke([apiKeyId]);
    },

    /** The principal of a key sent as a Bearer token: from the cache, costing no query while its entry is fresh. */
    async authenticate(key: string, client: ClientInfo): Promise<ApiKeyPrincipal> {
      const found = await cache.get(hashOpaqueToken(key));
      const now = clock.now();
      if (!found || (found.expiresAt !== null && found.expiresAt <= now)) throw new AppError('INVALID_TOKEN');
      if (found.lastUsedAt === null || now.getTime() - found.lastUsedAt >= LAST_USED_EVERY_MS) {
        found.lastUsedAt = now.getTime();
        await apiKeysRepo.touch(db, found.id, now);
      }
      return { kind: 'api_key', apiKeyId: found.id, organisationId: found.organisationId, userId: found.userId, permissions: found.permissions, client, memberships: new Map() };
    },
  };
};

export type ApiKeysService = ReturnType<typeof apiKeysServiceFactory>;
