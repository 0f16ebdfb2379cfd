// Machine clients (OAuth 2.0 client credentials, RFC 6749 §4.4) of an organisation: a client id and
// a secret of 256 random bits, shown once and stored as its SHA-256 digest. Only a signed-in person
// with `applications:manage` makes, lists, rotates or deletes them (a client never makes another),
// with permissions they hold themselves. A rotated-out secret keeps working for
// GATEHOUSE_SECRET_OVERLAP. Deleting a client kills its tokens: each token's client is looked up
// when the token cache refills (every few seconds), and the deletion evicts them on every node.
// Making one, or a new secret for one, is a step-up (SPEC §6.1): both hand out a working credential.
import { randomBytes } from 'node:crypto';
import type { Db } from '../../db/database.ts';
import { addSeconds, type Clock } from '../clock.ts';
import { AppError } from '../errors.ts';
import type { EventStream } from '../events/event-stream.ts';
import { isUuid } from '../ids.ts';
import { decodeCursor, page, type PageRequest } from '../pagination.ts';
import { narrowed, type Policy } from '../policy/policy.ts';
import type { ApplicationPrincipal, ClientInfo, Principal } from '../principal.ts';
import type { ClientClaims } from '../sessions/access-tokens.ts';
import { hashOpaqueToken } from '../sessions/opaque-tokens.ts';
import { applicationsRepo } from './applications.repo.ts';
import { credentialCache, type RevocationChannel } from './credential-cache.ts';
import type { Application } from './types.ts';

const CLIENT_ID_PREFIX = 'ghc_';
const SECRET_PREFIX = 'ghs_';

interface Deps {
  db: Db;
  clock: Clock;
  policy: Policy;
  events: EventStream;
  revocations: RevocationChannel;
  secretOverlapSeconds: number;
}

/** A machine token's client as the cache believes it. */
interface LiveClient {
  applicationId: string;
  organisationId: string;
  permissions: string[];
}

export const newClientSecret = () => `${SECRET_PREFIX}${randomBytes(32).toString('base64url')}`;

export const applicationsServiceFactory = ({ db, clock, policy, events, revocations, secretOverlapSeconds }: Deps) => {
  // Keyed by "client_id jti": a token's entry answers for that token only.
  const cache = credentialCache<LiveClient>({
    clock,
    channel: revocations,
    async load(key) {
      const [clientId = '', jti = ''] = key.split(' ');
      if (!isUuid(jti)) return null;
      const row = await applicationsRepo.findForToken(db, { clientId, jti });
      if (!row || row.revoked) return null;
      return { value: { applicationId: row.id, organisationId: row.organisation_id, permissions: row.permissions }, tags: [row.id, jti, row.organisation_id] };
    },
  });

  async function manager(principal: Principal, organisationId: string) {
    const granter = await policy.member(principal, organisationId, 'applications:manage');
    return { granter, person: policy.person(principal) };
  }

  return {
    async create(principal: Principal, { organisationId, name, permissions: wanted }: { organisationId: string; name: string; permissions: string[] }): Promise<Application & { clientSecret: string }> {
      const { granter, person } = await manager(principal, organisationId);
      // Step-up: a client outlives the session that made it, so a stolen session must not make one.
      policy.recentlyVerified(person);
      const permissions = [...new Set(wanted)];
      policy.mayDelegate(granter.role.permissions, permissions);
      const clientId = `${CLIENT_ID_PREFIX}${randomBytes(16).toString('base64url')}`;
      const clientSecret = newClientSecret();
      return db.transaction().execute(async (trx) => {
        const created = await applicationsRepo.insert(trx, { organisationId: granter.organisationId, clientId, name, permissions, createdBy: person.userId, secretHash: hashOpaqueToken(clientSecret) });
        const acting = policy.acting(person);
        await events.record(trx, {
          type: 'application.created',
          actor: acting.actor,
          client: acting.client,
          organisationId: granter.organisationId,
          subject: { type: 'application', id: created.id },
          data: { name, clientId, permissions },
          after: { name, clientId, permissions },
        });
        return { ...created, clientSecret };
      });
    },

    async list(principal: Principal, { organisationId, ...request }: PageRequest & { organisationId: string }): Promise<{ items: Application[]; nextCursor: string | null }> {
      const { granter } = await manager(principal, organisationId);
      const limit = request.limit ?? 50;
      const rows = await applicationsRepo.list(db, granter.organisationId, { limit, after: decodeCursor(request.cursor) });
      return page(rows, limit, (row) => ({ at: row.createdAt, id: row.id }));
    },

    /** Deletes a client: its secrets stop at once, its tokens on every node within seconds. */
    async delete(principal: Principal, { organisationId, applicationId }: { organisationId: string; applicationId: string }): Promise<void> {
      const { granter, person } = await manager(principal, organisationId);
      if (!isUuid(applicationId)) throw new AppError('APPLICATION_NOT_FOUND');
      await db.transaction().execute(async (trx) => {
        const deleted = await applicationsRepo.delete(trx, granter.organisationId, applicationId);
        if (!deleted) throw new AppError('APPLICATION_NOT_FOUND');
        const acting = policy.acting(person);
        await events.record(trx, {
          type: 'application.deleted',
          actor: acting.actor,
          client: acting.client,
          organisationId: granter.organisationId,
          subject: { type: 'application', id: applicationId },
          data: { name: deleted.name, clientId: deleted.clientId },
          before: { name: deleted.name, clientId: deleted.clientId, permissions: deleted.permissions },
        });
      });
      await cache.revoke([applicationId]);
    },

    /** A new secret, shown once; the previous one keeps working for the overlap. */
    async rotateSecret(principal: Principal, { organisationId, applicationId }: { organisationId: string; applicationId: string }): Promise<{ clientSecret: string; previousSecretExpiresAt: Date }> {
      const { granter, person } = await manager(principal, organisationId);
      // Step-up: a new secret is as good as a new client to whoever holds it, and outlives the session too.
      policy.recentlyVerified(person);
      if (!isUuid(applicationId)) throw new AppError('APPLICATION_NOT_FOUND');
      const clientSecret = newClientSecret();
      const now = clock.now();
      const previousUntil = addSeconds(now, secretOverlapSeconds);
      await db.transaction().execute(async (trx) => {
        const rotated = await applicationsRepo.rotateSecret(trx, { organisationId: granter.organisationId, id: applicationId, secretHash: hashOpaqueToken(clientSecret), now, previousUntil });
        if (!rotated) throw new AppError('APPLICATION_NOT_FOUND');
        const acting = policy.acting(person);
        await events.record(trx, {
          type: 'application.secret_rotated',
          actor: acting.actor,
          client: acting.client,
          organisationId: granter.organisationId,
          subject: { type: 'application', id: applicationId },
          data: { clientId: rotated.clientId, previousSecretExpiresAt: previousUntil.toISOString() },
        });
      });
      return { clientSecret, previousSecretExpiresAt: previousUntil };
    },

    /**
     * The principal of a machine token whose signature and lifetime were checked: while its client
     * exists in the token's organisation and the token is not revoked, with the token's scope as far as
     * the client still holds it. From the cache while its entry is fresh.
     */
    async authenticate(claims: ClientClaims, client: ClientInfo): Promise<ApplicationPrincipal> {
      const live = await cache.get(`${claims.client_id} ${claims.jti}`);
      if (!live || live.organisationId !== claims.org_id) throw new AppError('INVALID_TOKEN');
      const permissions = narrowed(claims.scope.split(' '), live.permissions);
      return { kind: 'application', applicationId: live.applicationId, clientId: claims.client_id, organisationId: live.organisationId, permissions, client };
    },

    /** Evicts a revoked token everywhere (its jti is in the database already). */
    async forget(jti: string): Promise<void> {
      await cache.revoke([jti]);
    },
  };
};

export type ApplicationsService = ReturnType<typeof applicationsServiceFactory>;
