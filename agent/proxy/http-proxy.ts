import type { Socket } from 'node:net';
import type { HostPort } from '../../lib/values.js';
import type { AgentMetrics } from '../metrics.js';
import type { Traffic } from '../traffic.js';
import { ClientConnection, type ProxyContext, type UpgradeRequest } from './client-connection.js';
import { createUpstreamPool, type UpstreamConnections } from './upstream-pool.js';

// The HTTP/1.1 half of the proxy, on raw sockets: llhttp parses each client request, the agent
// rewrites its head and streams it to the app over a pooled connection, then streams the app's
// response back the same way. Each request's fate is recorded once (ok, app error, refused,
// reset, client abort). Requests a client pipelines wait their turn; responses leave in order.
// One connection's requests: client-connection.ts; one request and its response: exchange.ts.

export interface HttpProxyOptions {
  readonly upstream: HostPort;
  readonly pod: string;
  readonly traffic: Traffic;
  readonly metrics: AgentMetrics;
  readonly connections: UpstreamConnections;
  readonly onUpgrade: (request: UpgradeRequest) => void;
  /** A connection whose first bytes are not HTTP/1.x (`head`: the bytes read so far); without it all is parsed. */
  readonly onNotHttp1?: (socket: Socket, head: Buffer) => void;
  /** Idle client keep-alive connections are closed after this long (ms). */
  readonly keepAliveTimeoutMs?: number;
  /** The largest response head (bytes) read from the app; a larger one is answered 502. */
  readonly maxResponseHeaderBytes?: number;
}

export interface HttpProxy {
  /** Takes a new client connection from the listener. */
  accept(socket: Socket): void;
  /**
   * The pod is draining: idle client connections that have carried a request close at once and
   * every response from now on carries `Connection: close`, so clients move to another pod. A
   * connection that has not carried a request yet stays open for its first one (answered with
   * `Connection: close`): its client opened it to send that request, possibly already on its way,
   * and clients send a request again only when a reused connection closed under it (RFC 9112
   * §9.3.1; Node's http, undici and browsers), never a new one. New connections are still served.
   */
  drain(): void;
  /** Closes every idle connection, used or not, and new connections are refused from now on. */
  closeIdle(): void;
  /** Cuts every client connection and every connection to the app. */
  destroyAll(): void;
}

const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 3_600_000;
const DEFAULT_MAX_RESPONSE_HEADER_BYTES = 64 * 1024;
const SWEEP_MS = 1000;

export function createHttpProxy(options: HttpProxyOptions): HttpProxy {
  const {
    upstream,
    pod,
    traffic,
    metrics,
    connections: upstreamConnections,
    onUpgrade,
    onNotHttp1,
  } = options;
  const maxResponseHeaderBytes = options.maxResponseHeaderBytes ?? DEFAULT_MAX_RESPONSE_HEADER_BYTES;
  const keepAliveTicks = Math.max(
    1,
    Math.ceil((options.keepAliveTimeoutMs ?? DEFAULT_KEEP_ALIVE_TIMEOUT_MS) / SWEEP_MS),
  );
  const ctx: ProxyContext = {
    pod,
    traffic,
    metrics,
    pool: createUpstreamPool(upstream, upstreamConnections, undefined, maxResponseHeaderBytes),
    onUpgrade,
    onNotHttp1,
    connections: new Set(),
    closing: false,
    draining: false,
    tick: 0,
  };
  // One timer for all keep-alive deadlines instead of one per connection.
  const sweep = setInterval(() => {
    ctx.tick += 1;
    for (const conn of ctx.connections) {
      // Strictly more ticks than the timeout: a connection is never closed before it has been idle
      // that long, so a client with a shorter idle timeout of its own (undici: 4 s) closes first.
      if (conn.idle && ctx.tick - conn.idleSince > keepAliveTicks) conn.closeIfIdle();
    }
  }, SWEEP_MS);
  sweep.unref();

  return {
    accept(socket) {
      if (ctx.closing) {
        socket.destroy();
        return;
      }
      socket.setNoDelay(true);
      ctx.connections.add(new ClientConnection(ctx, socket));
    },
    drain() {
      ctx.draining = true;
      for (const conn of ctx.connections) conn.closeIfIdle(false);
    },
    closeIdle() {
      ctx.closing = true;
      ctx.draining = true;
      clearInterval(sweep);
      for (const conn of ctx.connections) conn.closeIfIdle();
    },
    destroyAll() {
      ctx.closing = true;
      clearInterval(sweep);
      for (const conn of ctx.connections) conn.socket.destroy();
      ctx.pool.close();
    },
  };
}
