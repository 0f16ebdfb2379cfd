// The claim-and-lease machinery both kinds of outgoing work share: mail (src/domain/mail) and webhook
// deliveries (src/domain/webhooks). Every process runs one loop per kind. A loop looks for due work
// every `pollMs`, and shortly after a request queued some (`wake`); a round claims a batch with a
// lease (each kind's repository does, FOR UPDATE SKIP LOCKED), works it, and goes again at once while
// batches come back full. Work whose sender dies is claimed again when its lease runs out, so each
// item is done at least once and, while its sender lives, by one sender only.
import type { Logger } from 'pino';

/**
 * How long a wake waits before looking: work queued by a burst of requests is claimed and marked
 * in one round rather than one round per item.
 */
export const WAKE_DELAY_MS = 50;

interface Options {
  /** For the log: 'outbox', 'webhooks'. */
  name: string;
  /** Claims and works one batch; answers how many items it claimed. */
  round: () => Promise<number>;
  /** A round that claimed this many may have left more behind. */
  batch: number;
  logger: Pick<Logger, 'warn'>;
  /** How often to look for due work when nothing wakes the loop. */
  pollMs: number;
}

export function workerLoop({ name, round, batch, logger, pollMs }: Options) {
  let timer: NodeJS.Timeout | null = null;
  let waking: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;
  let stopped = true;
  let again = false;

  async function cycle() {
    do {
      again = false;
      try {
        while (!stopped && (await round()) >= batch);
      } catch (error) {
        logger.warn({ err: error }, `${name} worker could not reach the database`);
      }
    } while (again && !stopped);
  }

  function run() {
    if (running) {
      again = true;
      return running;
    }
    running = cycle().finally(() => {
      running = null;
      schedule();
    });
    return running;
  }

  function schedule() {
    if (stopped) return;
    timer = setTimeout(() => void run(), pollMs);
    timer.unref();
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      schedule();
    },
    /** Looks for work shortly (WAKE_DELAY_MS) rather than at the next poll: called after a request queued some. */
    wake() {
      if (stopped || waking) return;
      waking = setTimeout(() => {
        waking = null;
        void run();
      }, WAKE_DELAY_MS);
      waking.unref();
    },
    /** Stops looking and waits for a round in progress to finish. */
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      if (waking) clearTimeout(waking);
      waking = null;
      await running;
    },
  };
}

export type WorkerLoop = ReturnType<typeof workerLoop>;

/** A retry's delay with ±10 % jitter, so that retries of many items do not arrive together. */
export const withJitter = (seconds: number, random: () => number = Math.random) => seconds * (0.9 + 0.2 * random());
