import type { Socket } from 'node:net';

// The client socket's events, delivered to its connection by handlers shared by every socket:
// the connection is found on the socket itself, so accepting one allocates no closures.

/** What a client connection hears from its socket. */
export interface ClientSocketEvents {
  data(chunk: Buffer): void;
  /** The client sent its FIN. */
  ended(): void;
  /** The socket wrote out what was queued. */
  drained(): void;
  closed(): void;
}

const kConnection = Symbol('drainwatch.clientConnection');
type ClientSocket = Socket & { [kConnection]?: ClientSocketEvents };

function onClientData(this: ClientSocket, chunk: Buffer): void {
  this[kConnection]?.data(chunk);
}
function onClientEnd(this: ClientSocket): void {
  this[kConnection]?.ended();
}
function onClientDrain(this: ClientSocket): void {
  this[kConnection]?.drained();
}
function onClientClose(this: ClientSocket): void {
  this[kConnection]?.closed();
}
function noop(): void {}

/** Routes `socket`'s events to `events`; socket errors are left to the 'close' that follows. */
export function listenClientSocket(socket: Socket, events: ClientSocketEvents): void {
  (socket as ClientSocket)[kConnection] = events;
  socket.on('data', onClientData);
  socket.on('end', onClientEnd);
  socket.on('drain', onClientDrain);
  socket.on('error', noop);
  socket.on('close', onClientClose);
}

/** Stops routing `socket`'s events (it becomes a tunnel's); its 'error' handler stays. */
export function unlistenClientSocket(socket: Socket): void {
  socket.off('data', onClientData);
  socket.off('end', onClientEnd);
  socket.off('drain', onClientDrain);
  socket.off('close', onClientClose);
}
