// How a listening Gatehouse closes connections. Node gets two things wrong for a server that must
// never reset a client:
//
// - After an answer that ends the connection, Node destroys the socket at once. If the client is still
//   sending a body (Gatehouse answered 413, or 401, before reading it), the close turns into a TCP
//   reset, which can destroy the answer in the client's buffer: Node's http client and fetch got EPIPE
//   instead of a 413 about half the time. Here the close is staged, as RFC 9112 §9.6 asks: the server
//   half-closes, keeps reading (and dropping) what arrives until the client closes too, and gives up
//   after LINGER_MS.
// - server.close() closes every idle connection, and counts as idle one that was accepted but whose
//   request has not been read yet: when the event loop is busy (the embedded database works on it),
//   that is a client that has sent its request and gets a reset. Here only a connection that has been
//   answered and waits for its next request is closed then; an accepted one that has not delivered a
//   request keeps up to `graceMs` to do so, and is then served like any other.
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/** How long a closing connection keeps reading after its last answer, waiting for the client to close. */
export const LINGER_MS = 5000;

interface Connection {
  requests: number;
  /** Requests whose answer has not finished. */
  open: number;
}

export function closeConnectionsGently(server: Server, { graceMs }: { graceMs: number }) {
  const connections = new Map<Socket, Connection>();
  server.on('connection', (socket: Socket) => {
    connections.set(socket, { requests: 0, open: 0 });
    socket.once('close', () => connections.delete(socket));
    // Node's http server closes a connection after its last answer with destroySoon(); what still
    // arrives is read by the connection's parser and dropped.
    socket.destroySoon = () => {
      socket.end();
      const timer = setTimeout(() => socket.destroy(), LINGER_MS).unref();
      socket.once('close', () => clearTimeout(timer));
    };
  });
  server.on('request', (request, response) => {
    const connection = connections.get(request.socket);
    if (!connection) return;
    connection.requests++;
    connection.open++;
    response.once('close', () => connection.open--);
  });
  // server.close() calls this once, as the listener closes.
  server.closeIdleConnections = () => {
    for (const [socket, connection] of connections) {
      if (connection.open > 0) continue;
      if (connection.requests > 0) {
        socket.destroy();
        continue;
      }
      // server.close() also stops Node's headers timeout: this bounds a connection that never speaks.
      setTimeout(() => {
        if (connection.requests === 0) socket.destroy();
      }, graceMs).unref();
    }
  };
}
