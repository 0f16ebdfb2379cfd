// Verified API keys and machine tokens, kept in this process so that a request with one costs no
// database round trip. An entry lives a few seconds (ENTRY_TTL_MS), then the next request refills it
// from the database: that is when a key's owner's current permissions, an expiry, a deleted client or
// organisation are seen. Revocations do not wait for that: they evict the entries that name them on
// every node, through the revocation channel (Redis pub/sub with REDIS_URL; this process otherwise).
// Even a node that misses a message (Redis away) refills within ENTRY_TTL_MS, so a revoked key or
// token is refused everywhere within 5 seconds.
import type { Clock } from '../clock.ts';

/** How long a verified credential is believed without asking the database again. */
export const ENTRY_TTL_MS = 3000;
/** Entries kept at most; the oldest goes first. Unknown keys are remembered too (as null), so a flood of made-up keys cannot pass the cache. */
const MAX_ENTRIES = 10_000;

/** How revocations reach every node: each tag names a key, a token (jti) or a machine client. */
export interface RevocationChannel {
  publish(tags: readonly string[]): Promise<void>;
  subscribe(handler: (tags: readonly string[]) => void): void;
}

/** A single node's channel: a revocation reaches this process's caches, and nothing else needs to know. */
export function localRevocations(): RevocationChannel {
  const handlers: Array<(tags: readonly string[]) => void> = [];
  return {
    async publish(tags) {
      for (const handler of handlers) handler(tags);
    },
    subscribe(handler) {
      handlers.push(handler);
    },
  };
}

export interface Loaded<T> {
  value: T;
  /** What revokes it: evicting any of these tags drops the entry. */
  tags: readonly string[];
}

interface Entry<T> {
  loaded: Promise<Loaded<T> | null>;
  at: number;
  /** The tags once the fill is done; undefined while it runs. */
  tags?: readonly string[];
}

export function credentialCache<T>({ clock, channel, load }: { clock: Clock; channel: RevocationChannel; load: (key: string) => Promise<Loaded<T> | null> }) {
  const entries = new Map<string, Entry<T>>();

  function evict(tags: readonly string[]) {
    if (tags.length === 0) return;
    const wanted = new Set(tags);
    for (const [key, entry] of entries) {
      // A fill still under way is dropped too: it may have read the row before the revocation.
      if (entry.tags === undefined || wanted.has(key) || entry.tags.some((tag) => wanted.has(tag))) entries.delete(key);
    }
  }
  channel.subscribe(evict);

  return {
    /** The credential for `key`, from the cache while its entry is fresh; null when there is none. */
    async get(key: string): Promise<T | null> {
      const now = clock.now().getTime();
      let entry = entries.get(key);
      if (!entry || now - entry.at > ENTRY_TTL_MS || now < entry.at) {
        if (entries.size >= MAX_ENTRIES) entries.delete(entries.keys().next().value as string);
        const loaded = load(key);
        const fresh: Entry<T> = { loaded, at: now };
        entries.set(key, fresh);
        entry = fresh;
        loaded.then(
          (result) => {
            fresh.tags = result?.tags ?? [];
          },
          // A failed fill (the database away) is not remembered: the next request tries again.
          () => {
            if (entries.get(key) === fresh) entries.delete(key);
          },
        );
      }
      return (await entry.loaded)?.value ?? null;
    },

    /** Drops the entries named by these tags here and on every other node. Never throws: the entries' short life is the net. */
    async revoke(tags: readonly string[]): Promise<void> {
      evict(tags);
      await channel.publish(tags).catch(() => {});
    },
  };
}

export type CredentialCache<T> = ReturnType<typeof credentialCache<T>>;
