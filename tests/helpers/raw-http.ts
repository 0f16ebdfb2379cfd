// HTTP/1.1 spoken by hand over a TCP socket, for the tests of what a server does to slow, silent and
// oversized clients: what it answered, whether it closed, and whether the close was a reset.
import { connect, type Socket } from 'node:net';

export interface RawConnection {
  readonly socket: Socket;
  /** Everything the server sent so far. */
  received(): string;
  /** The status of the first answer, once it has arrived. */
  status(): number | null;
  /** The JSON body of the first answer, once it has arrived. */
  json(): Record<string, unknown> | null;
  /** Settles when the server closed the connection: with the error a reset gives, or null for a clean close. */
  readonly closed: Promise<Error | null>;
  /** Writes, ignoring a connection the server has already closed. */
  send(text: string | Buffer): void;
  /** Writes one byte every `everyMs` until the connection closes; returns a function that stops it. */
  trickle(everyMs: number, byte?: string): () => void;
}

export function openRaw(url: string): Promise<RawConnection> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let data = '';
    let failure: Error | null = null;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (data += chunk));
    socket.on('error', (error) => (failure = error));
    const closed = new Promise<Error | null>((settle) => socket.once('close', () => settle(failure)));
    socket.once('error', reject);
    socket.once('connect', () => {
      socket.off('error', reject);
      resolve({
        socket,
        received: () => data,
        status: () => {
          const match = /^HTTP\/1\.1 (\d{3}) /.exec(data);
          return match ? Number(match[1]) : null;
        },
        json: () => {
          const start = data.indexOf('\r\n\r\n');
          if (start === -1) return null;
          try {
            return JSON.parse(data.slice(start + 4)) as Record<string, unknown>;
          } catch {
            return null;
          }
        },
        closed,
        send: (text) => {
          if (!socket.destroyed && socket.writable) socket.write(text);
        },
        trickle: (everyMs, byte = 'a') => {
          const timer = setInterval(() => {
            if (socket.destroyed || !socket.writable) clearInterval(timer);
            else socket.write(byte);
          }, everyMs);
          void closed.then(() => clearInterval(timer));
          return () => clearInterval(timer);
        },
      });
    });
  });
}

/** Settles with the promise's value, or with 'timeout' after `ms` (a liveness bound, not a speed test). */
export async function within<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
