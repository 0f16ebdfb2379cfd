// A client that sends its body a byte at a time holds a connection, and a request's memory, for as
// long as it likes. The request timeout bounds that; this cuts it sooner: once a body has taken
// BODY_RATE_GRACE_SECONDS, it must have averaged the minimum rate, or the connection gets a 408 and
// is closed. Node has headers and request timeouts but no minimum rate.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

export const BODY_RATE_GRACE_SECONDS = 5;
const CHECK_EVERY_MS = 1000;

interface Watched {
  response: ServerResponse;
  startedAt: number;
  /** The socket's byte count when the request's headers had arrived. */
  bytesAtStart: number;
}

const sendsBody = (request: IncomingMessage) =>
  request.headers['transfer-encoding'] !== undefined || (request.headers['content-length'] !== undefined && request.headers['content-length'] !== '0');

/** Watches every request body on the server; the returned function stops watching. */
export function watchBodyRate(server: Server, minBytesPerSecond: number): () => void {
  if (minBytesPerSecond <= 0) return () => {};
  const watched = new Map<IncomingMessage, Watched>();
  const onRequest = (request: IncomingMessage, response: ServerResponse) => {
    if (request.complete || !sendsBody(request)) return;
    watched.set(request, { response, startedAt: Date.now(), bytesAtStart: request.socket.bytesRead });
  };
  server.on('request', onRequest);
  // One sweep for every body in flight, rather than a timer each.
  const timer = setInterval(() => {
    const now = Date.now();
    for (const [request, { response, startedAt, bytesAtStart }] of watched) {
      const socket = request.socket;
      if (request.complete || socket.destroyed) {
        watched.delete(request);
        continue;
      }
      const seconds = (now - startedAt) / 1000;
      if (seconds < BODY_RATE_GRACE_SECONDS || socket.bytesRead - bytesAtStart >= minBytesPerSecond * seconds) continue;
      watched.delete(request);
      // The same way out as Node's own request timeout (a 408, see answerClientError), unless an
      // answer has gone out already (a 413 whose body was being discarded): then only the close.
      if (response.headersSent) socket.destroy();
      else server.emit('clientError', Object.assign(new Error('The request body arrived too slowly'), { code: 'ERR_HTTP_REQUEST_TIMEOUT' }), socket);
    }
  }, CHECK_EVERY_MS).unref();
  return () => {
    clearInterval(timer);
    server.off('request', onRequest);
  };
}
