// Rotating the signing keys (`gatehouse rotate-keys`): a new key of an algorithm becomes the active
// one and the previous one is retired. A retired key stays published in /.well-known/jwks.json (and
// accepted by the node that signed with it) for its algorithm's overlap: the lifetime of the longest
// token it signs, plus the clock tolerance and the interval at which every node rereads the keys, so
// that a token signed just before a node noticed the rotation still verifies until it expires.
import { randomUUID } from 'node:crypto';
import { exportJWK, generateKeyPair } from 'jose';
import type { Db } from '../../db/database.ts';
import { addSeconds, type Clock } from '../clock.ts';
import { SYSTEM_ACTOR } from '../events/catalogue.ts';
import type { EventStream } from '../events/event-stream.ts';
import type { Policy } from '../policy/policy.ts';
import type { Principal } from '../principal.ts';
import { signingKeysRepo, type SigningAlgorithm } from './signing-keys.repo.ts';

export const SIGNING_ALGORITHMS: readonly SigningAlgorithm[] = ['EdDSA', 'RS256'];

/** A new key pair of the algorithm, as signing_keys keeps it: EdDSA on Ed25519, RS256 on 2048-bit RSA. */
export async function generateSigningKey(algorithm: SigningAlgorithm) {
  const { publicKey, privateKey } = algorithm === 'EdDSA' ? await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true }) : await generateKeyPair('RS256', { modulusLength: 2048, extractable: true });
  return { kid: randomUUID(), algorithm, publicJwk: await exportJWK(publicKey), privateJwk: await exportJWK(privateKey) };
}

interface Deps {
  db: Db;
  clock: Clock;
  policy: Pick<Policy, 'system'>;
  events: EventStream;
  /** How long each algorithm's retired key stays published (see the factories that load the keys). */
  overlapSeconds: Record<SigningAlgorithm, number>;
}

export const signingKeysServiceFactory = ({ db, clock, policy, events, overlapSeconds }: Deps) => ({
  /**
   * Makes a new active key of the algorithm and retires the previous one, in one transaction with its
   * event. Only Gatehouse itself (the command line) rotates keys. Every node picks the new key up
   * within a minute, without a restart.
   */
  async rotate(principal: Principal, algorithm: SigningAlgorithm): Promise<{ kid: string; previousValidUntil: Date }> {
    const { client } = policy.system(principal);
    const key = await generateSigningKey(algorithm);
    const now = clock.now();
    const previousValidUntil = addSeconds(now, overlapSeconds[algorithm]);
    await db.transaction().execute(async (trx) => {
      await signingKeysRepo.retireActive(trx, algorithm, now);
      await signingKeysRepo.insertActiveIfNone(trx, key);
      await events.record(trx, { type: 'signing_key.rotated', actor: SYSTEM_ACTOR, client, subject: { type: 'signing_key', id: key.kid }, data: { algorithm, previousValidUntil: previousValidUntil.toISOString() } });
    });
    return { kid: key.kid, previousValidUntil };
  },
});

export type SigningKeysService = ReturnType<typeof signingKeysServiceFactory>;
