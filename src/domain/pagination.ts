// Keyset pagination: a cursor names the last row of the previous page (its sort time and id), so
// pages stay stable while rows are added, and each page is one index range scan.
import { fieldError } from './errors.ts';
import { isUuid } from './ids.ts';

export const MAX_PAGE_SIZE = 100;
export const DEFAULT_PAGE_SIZE = 50;

export interface PageRequest {
  limit?: number;
  cursor?: string;
}

export interface Position {
  at: Date;
  id: string;
}

export function encodeCursor(position: Position): string {
  return Buffer.from(JSON.stringify([position.at.toISOString(), position.id])).toString('base64url');
}

export function decodeCursor(cursor: string | undefined): Position | undefined {
  if (cursor === undefined) return undefined;
  try {
    const [at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [unknown, unknown];
    const date = typeof at === 'string' ? new Date(at) : new Date(NaN);
    // Everything the database would refuse (a year it cannot store, an id that is no uuid) is refused here.
    const year = date.getUTCFullYear();
    if (Number.isNaN(date.getTime()) || year < 1 || year > 9999 || typeof id !== 'string' || !isUuid(id)) throw new Error('bad cursor');
    return { at: date, id };
  } catch {
    throw fieldError('cursor', 'Cursor is invalid');
  }
}

/** A cursor for lists ordered by a growing integer id, newest first (audit logs). */
export const encodeIdCursor = (id: number) => Buffer.from(String(id)).toString('base64url');

export function decodeIdCursor(cursor: string | undefined): number | undefined {
  if (cursor === undefined) return undefined;
  const id = Number(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!Number.isSafeInteger(id) || id <= 0) throw fieldError('cursor', 'Cursor is invalid');
  return id;
}

/** Splits the one-extra row a repository fetched into the page and the cursor of the next one. */
export function page<T>(rows: T[], limit: number, position: (row: T) => Position): { items: T[]; nextCursor: string | null } {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last ? encodeCursor(position(last)) : null };
}

/** The same for lists ordered by a growing integer id, newest first (audit logs). */
export function pageById<T extends { id: number }>(rows: T[], limit: number): { items: T[]; nextCursor: string | null } {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, nextCursor: rows.length > limit && last ? encodeIdCursor(last.id) : null };
}
