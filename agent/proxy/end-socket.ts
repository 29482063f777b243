import type { Socket } from 'node:net';

// A peer that never closes after our FIN must not hold its socket forever.
const END_LINGER_MS = 5000;

/** Sends our FIN (after `last`), and destroys the socket if the peer never closes its side. */
export function endSocket(socket: Socket, last?: string): void {
  if (last === undefined) socket.end();
  else socket.end(last, 'latin1');
  setTimeout(() => socket.destroy(), END_LINGER_MS).unref();
}
