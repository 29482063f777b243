import { type Socket, connect as tcpConnect } from 'node:net';
import type { Duplex } from 'node:stream';
import type { HostPort } from '../../lib/values.js';
import {
  createResponseParser,
  type MessageHandlers,
  type MessageHead,
  type MessageParser,
} from './http-parser.js';

// Keep-alive connections from the agent to the app. One exchange at a time per connection (no
// pipelining towards the app); idle ones wait, most recently used first, until reused or closed
// by the app.

export interface UpstreamConnections {
  /** Open TCP connections from the agent to the app (pooled or busy), WebSockets included. */
  readonly open: number;
  track(socket: Duplex): void;
}

export function createUpstreamConnections(): UpstreamConnections {
  const sockets = new Set<Duplex>();
  return {
    get open() {
      return sockets.size;
    },
    track(socket) {
      if (sockets.has(socket)) return;
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    },
  };
}

/**
 * A raw byte connection to the app for a relay that passes each side's FIN on (`allowHalfOpen`: the
 * client's FIN does not end the app's side), tracked in `connections`. For the TCP tunnel and the
 * HTTP/2 relays; HTTP/1 exchanges use the pool's UpstreamConnection instead.
 */
export function dialRawUpstream(upstream: HostPort, connections: UpstreamConnections): Socket {
  const app = tcpConnect({ host: upstream.host, port: upstream.port, allowHalfOpen: true, noDelay: true });
  connections.track(app);
  return app;
}

/** The exchange a connection currently carries; it hears the app's response and the connection's end. */
export interface UpstreamUser {
  /** Return true when the response has no body whatever its head says (the request was HEAD). */
  onResponseHead(head: MessageHead): boolean;
  onResponseBody(chunk: Buffer): void;
  onResponseComplete(): void;
  /** The connection closed while carrying this exchange. */
  onUpstreamClosed(error: NodeJS.ErrnoException | undefined): void;
  /** The app read what we had queued: a paused client may send more. */
  onUpstreamDrain(): void;
}

const kUpstream = Symbol('drainwatch.upstreamConnection');
type UpstreamSocket = Socket & { [kUpstream]?: UpstreamConnection };

// Shared socket handlers that find their connection on the socket: no closures per connection.
// Responses are read with `onread` into one buffer shared by every connection to the app: no
// Buffer and no stream bookkeeping per read. Sharing is safe because llhttp consumes each read
// synchronously inside the callback and hands out body chunks as copies.
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

function onUpstreamRead(this: UpstreamSocket, nread: number, buffer: Uint8Array): boolean {
  this[kUpstream]?.data((buffer as Buffer).subarray(0, nread));
  return true;
}
function onUpstreamEnd(this: UpstreamSocket): void {
  this[kUpstream]?.ended();
}
function onUpstreamError(this: UpstreamSocket, err: NodeJS.ErrnoException): void {
  this[kUpstream]?.failed(err);
}
function onUpstreamDrain(this: UpstreamSocket): void {
  this[kUpstream]?.user?.onUpstreamDrain();
}
function onUpstreamClose(this: UpstreamSocket): void {
  this[kUpstream]?.closed();
}

export class UpstreamConnection implements MessageHandlers {
  readonly socket: Socket;
  user: UpstreamUser | undefined;
  /** Responses completed on this connection: more than none means it was reused. */
  responses = 0;
  /** The app's last response allows another exchange on this connection. */
  keepAlive = true;
  private error: NodeJS.ErrnoException | undefined;
  private ending = false;
  private gone = false;
  private readonly parser: MessageParser;

  constructor(
    private readonly pool: UpstreamPoolInternals,
    upstream: HostPort,
  ) {
    const socket: UpstreamSocket = tcpConnect({
      host: upstream.host,
      port: upstream.port,
      noDelay: true,
      onread: { buffer: READ_BUFFER, callback: onUpstreamRead },
    });
    this.socket = socket;
    this.parser = createResponseParser(this, pool.maxResponseHeaderBytes);
    socket[kUpstream] = this;
    socket.on('end', onUpstreamEnd);
    socket.on('error', onUpstreamError);
    socket.on('drain', onUpstreamDrain);
    socket.on('close', onUpstreamClose);
  }

  onHead(head: MessageHead): boolean {
    if (head.status >= 200) this.keepAlive = head.keepAlive;
    return this.user?.onResponseHead(head) ?? false;
  }

  onBody(chunk: Buffer): void {
    this.user?.onResponseBody(chunk);
  }

  onComplete(): void {
    this.user?.onResponseComplete();
  }

  data(chunk: Buffer): void {
    // Bytes nobody asked for: the connection's framing is lost.
    if (this.user === undefined) {
      this.socket.destroy();
      return;
    }
    try {
      this.parser.execute(chunk);
    } catch (err) {
      this.error = err as NodeJS.ErrnoException;
      this.socket.destroy();
    }
  }

  ended(): void {
    this.ending = true;
    try {
      // Completes a response whose body ends with the connection.
      this.parser.finish();
    } catch {
      // The app closed inside a response: a cut, not a response it sent wrong.
      this.error ??= Object.assign(new Error('the app closed the connection mid-response'), {
        code: 'ECONNRESET',
      });
    }
    this.socket.destroy();
  }

  failed(err: NodeJS.ErrnoException): void {
    this.error ??= err;
  }

  closed(): void {
    this.gone = true;
    this.pool.forget(this);
    this.parser.close();
    const user = this.user;
    this.user = undefined;
    user?.onUpstreamClosed(this.error);
  }

  /** True while the connection may carry another exchange. */
  get reusable(): boolean {
    return this.keepAlive && !this.ending && !this.gone;
  }
}

interface UpstreamPoolInternals {
  readonly maxResponseHeaderBytes: number;
  forget(conn: UpstreamConnection): void;
}

export interface UpstreamPool {
  /** An idle connection, or a new one (writes to it wait for the connect). */
  acquire(fresh?: boolean): UpstreamConnection;
  /** The exchange is over: keep the connection for the next one if the app allows it. */
  release(conn: UpstreamConnection): void;
  /** Destroys every connection (the agent stopped serving). */
  close(): void;
}

// Idle connections kept beyond this are closed on release: a burst of a thousand concurrent
// requests must not leave a thousand sockets (and their memory) waiting in the pool. Steady load
// needs as many as it has concurrent requests; nginx's `keepalive` directive is the same idea.
export const MAX_IDLE_UPSTREAM = 128;

/** `maxResponseHeaderBytes`: the largest response head read from the app (0: Node's 16 KiB). */
export function createUpstreamPool(
  upstream: HostPort,
  connections: UpstreamConnections,
  maxIdle = MAX_IDLE_UPSTREAM,
  maxResponseHeaderBytes = 0,
): UpstreamPool {
  const idle: UpstreamConnection[] = [];
  const all = new Set<UpstreamConnection>();
  let closed = false;
  const internals: UpstreamPoolInternals = {
    maxResponseHeaderBytes,
    forget(conn) {
      all.delete(conn);
      const i = idle.lastIndexOf(conn);
      if (i >= 0) idle.splice(i, 1);
    },
  };
  return {
    acquire(fresh = false) {
      if (!fresh) {
        const conn = idle.pop();
        if (conn !== undefined) return conn;
      }
      const conn = new UpstreamConnection(internals, upstream);
      all.add(conn);
      // Every connection to the app counts for exit detection ("no connection left").
      connections.track(conn.socket);
      if (closed) conn.socket.destroy();
      return conn;
    },
    release(conn) {
      conn.user = undefined;
      conn.responses += 1;
      if (closed || !conn.reusable || idle.length >= maxIdle) {
        conn.socket.destroy();
        return;
      }
      idle.push(conn);
    },
    close() {
      closed = true;
      for (const conn of all) conn.socket.destroy();
    },
  };
}
