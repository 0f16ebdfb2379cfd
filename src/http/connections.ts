// How a listening Gatehouse closes connections, where Node's defaults would reset a client or keep a
// stopping process alive:
//
// - After an answer that ends the connection, Node destroys the socket at once. If the client is still
//   sending a body (Gatehouse answered 413, or 401, before reading it), the close turns into a TCP
//   reset, which can destroy the answer in the client's buffer: Node's http client and fetch got EPIPE
//   instead of a 413 about half the time. Here the close is staged, as RFC 9112 §9.6 asks: the server
//   half-closes, keeps reading (and dropping) what arrives until the client closes too, and gives up
//   after LINGER_MS.
// - When the listener closes, Node closes the connections idle between two requests, but leaves one
//   that has not sent its first request yet, and stops the headers timeout that would end it: a
//   client that connected and said nothing would keep the process from exiting. `stopListening` gives
//   such a connection `graceMs` to send its request (it is then served), and closes it after that.
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/** How long a closing connection keeps reading after its last answer, waiting for the client to close. */
export const LINGER_MS = 5000;

export interface GentleConnections {
  /** To call as the listener closes (Fastify's preClose). */
  stopListening(): void;
}

export function closeConnectionsGently(server: Server, { graceMs }: { graceMs: number }): GentleConnections {
  /** Every open connection, and whether it has sent a request yet. */
  const connections = new Map<Socket, { spoke: boolean }>();
  server.on('connection', (socket: Socket) => {
    connections.set(socket, { spoke: false });
    socket.once('close', () => connections.delete(socket));
    // Node's http server closes a connection after its last answer with destroySoon(); what still
    // arrives is read by the connection's parser and dropped.
    socket.destroySoon = () => {
      socket.end();
      const timer = setTimeout(() => socket.destroy(), LINGER_MS).unref();
      socket.once('close', () => clearTimeout(timer));
    };
  });
  server.on('request', (request) => {
    const connection = connections.get(request.socket);
    if (connection) connection.spoke = true;
  });
  return {
    stopListening() {
      for (const [socket, connection] of connections) {
        if (connection.spoke) continue;
        setTimeout(() => {
          if (!connection.spoke) socket.destroy();
        }, graceMs).unref();
      }
    },
  };
}
