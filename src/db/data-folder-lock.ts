// One process at a time owns an embedded data folder. PGlite is one PostgreSQL session inside one
// process, with no locking across processes: a second process opening the same files (a command
// while the server runs, a second server) works on its own copy, and whichever closes last
// overwrites the other's changes or leaves the folder corrupt. So the opener writes its pid into a
// lock file and every other opener refuses while that process is alive.
import { readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const LOCK_FILE = 'gatehouse.lock';

export class DataFolderInUseError extends Error {
  readonly dataDir: string;
  readonly pid: number | null;

  constructor(dataDir: string, pid: number | null) {
    super(
      `The data folder ${dataDir} is in use by a running Gatehouse process${pid ? ` (pid ${pid})` : ''}: stop that server first, or make the change through its API. ` +
        `(If no Gatehouse process is running, delete ${join(dataDir, LOCK_FILE)}.)`,
    );
    this.name = 'DataFolderInUseError';
    this.dataDir = dataDir;
    this.pid = pid;
  }
}

/** Folders this process holds: a lock bearing our own pid is ours only if we took it (a container restarts with the same pid). */
const held = new Set<string>();

/** Takes the folder's lock or throws DataFolderInUseError; returns the release, also run at process exit. */
export function lockDataFolder(dataDir: string): () => void {
  const path = resolve(dataDir, LOCK_FILE);
  // A few tries: the later ones follow the removal of a stale lock, or a lock released meanwhile.
  for (let attempt = 1; ; attempt++) {
    try {
      // 'wx' creates the file only if it does not exist: of two processes racing, one wins.
      writeFileSync(path, `${process.pid}\n`, { flag: 'wx' });
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const owner = readOwner(path);
      if (attempt >= 3 || !(owner === 'gone' || isStale(path, owner))) throw new DataFolderInUseError(dataDir, typeof owner === 'number' ? owner : null);
      // Between reading the dead pid and removing its file, a second opener could take the same stale
      // lock over: only two starts within the same instant after a crash can get there.
      if (owner !== 'gone') removeIfOwnedBy(path, owner);
    }
  }
  held.add(path);
  const release = () => {
    process.removeListener('exit', release);
    if (!held.delete(path)) return;
    removeIfOwnedBy(path, process.pid);
  };
  // process.exit skips close(); a crash or SIGKILL leaves the file, and the next opener finds its pid dead.
  process.on('exit', release);
  return release;
}

/** The pid in the lock file; null when it holds none; 'gone' when there is no file any more. */
function readOwner(path: string): number | null | 'gone' {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'gone';
    throw error;
  }
  const pid = Number(text.trim());
  return Number.isSafeInteger(pid) && pid > 0 ? pid : null;
}

function isStale(path: string, pid: number | null): boolean {
  // An empty file is an opener between creating and writing it: held.
  if (pid === null) return false;
  if (pid === process.pid) return !held.has(path);
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    // EPERM: the process exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function removeIfOwnedBy(path: string, pid: number | null) {
  if (readOwner(path) !== pid) return;
  try {
    unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
}
