// Failures a person can fix get one line saying what to do; a stack trace would bury it. Anything
// else is a fault in Gatehouse, and keeps its stack.
import { ConfigError } from '../config/config.ts';
import { DataFolderInUseError } from '../db/data-folder-lock.ts';
import { ValidationError } from '../domain/errors.ts';

interface SystemError extends Error {
  code?: string;
  syscall?: string;
  address?: string;
  port?: number;
}

/** PostgreSQL's answers to a wrong DATABASE_URL: bad password, unknown role, unknown database. */
const POSTGRES_SETUP_CODES = new Set(['28P01', '28000', '3D000']);
const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ETIMEDOUT']);

/** The one line for a failure the user can fix, or null for a fault. */
export function failureMessage(error: unknown): string | null {
  if (error instanceof ConfigError || error instanceof DataFolderInUseError || error instanceof ValidationError) return error.message;
  if (!(error instanceof Error)) return null;
  const { code, syscall, address, port } = error as SystemError;
  if (syscall === 'listen') {
    const where = `${address ?? ''}:${port ?? ''}`;
    if (code === 'EADDRINUSE') return `Cannot listen on ${where}: another process uses that port. Stop it, or set PORT to a free port.`;
    if (code === 'EACCES') return `Cannot listen on ${where}: permission denied. Set PORT to 1024 or above.`;
    if (code === 'EADDRNOTAVAIL') return `Cannot listen on ${where}: HOST is not an address of this machine.`;
  }
  // The message names the host or the database, never the password of the URL.
  if ((code && UNREACHABLE_CODES.has(code)) || (code && POSTGRES_SETUP_CODES.has(code))) {
    return `Cannot use the database of DATABASE_URL: ${error.message || code}`;
  }
  return null;
}
