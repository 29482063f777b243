import { createServer, type Server } from 'node:net';
import type { HostPort } from '../config.js';
import type { AgentMetrics } from '../metrics.js';
import type { Traffic } from '../traffic.js';
import { createHttpProxy } from './http-proxy.js';
import { createUpstreamConnections, type UpstreamConnections } from './upstream-pool.js';
import { createWebSocketProxy } from './websocket-proxy.js';

// The agent's traffic port: one TCP listener whose connections the HTTP/1.1 proxy takes, handing
// those that upgrade to the WebSocket tunnel. Both share the count of connections to the app.

export interface TrafficServerOptions {
  readonly upstream: HostPort;
  /** The pod's name, sent to the client in the x-drainwatch-pod response header. */
  readonly pod: string;
  readonly traffic: Traffic;
  readonly metrics: AgentMetrics;
  /** Idle client keep-alive connections are closed after this long, in ms. */
  readonly keepAliveTimeoutMs?: number;
  /** The largest response head from the app accepted, in bytes; a larger one answers 502. */
  readonly maxResponseHeaderBytes?: number;
}

export interface TrafficServer {
  /** Not listening yet: the agent calls listen() and close() on it. */
  readonly server: Server;
  /** Open TCP connections from the agent to the app, WebSockets included. */
  readonly connections: UpstreamConnections;
  /** From now on every response closes its connection; idle client connections close at once. */
  closeIdle(): void;
  /** The pod left `serving`: idle client connections close, busy ones close after their response. */
  drain(): void;
  /** Cuts every client connection, tunnel and connection to the app. */
  destroyAll(): void;
}

export function createTrafficServer(options: TrafficServerOptions): TrafficServer {
  const connections = createUpstreamConnections();
  const wsProxy = createWebSocketProxy({
    upstream: options.upstream,
    pod: options.pod,
    traffic: options.traffic,
    connections,
  });
  const httpProxy = createHttpProxy({
    upstream: options.upstream,
    pod: options.pod,
    traffic: options.traffic,
    metrics: options.metrics,
    connections,
    ...(options.keepAliveTimeoutMs !== undefined ? { keepAliveTimeoutMs: options.keepAliveTimeoutMs } : {}),
    ...(options.maxResponseHeaderBytes !== undefined
      ? { maxResponseHeaderBytes: options.maxResponseHeaderBytes }
      : {}),
    onUpgrade: (request) => {
      try {
        wsProxy.handleUpgrade(request);
      } catch (err) {
        // A bug in our bookkeeping must cost one connection, never the pod's whole traffic.
        process.emitWarning(`drainwatch agent: upgrade handling failed: ${(err as Error).message}`);
        request.socket.destroy();
      }
    },
  });
  // Half-open only so a WebSocket tunnel can pass each side's FIN on; plain HTTP treats a FIN as gone.
  const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket) => httpProxy.accept(socket));
  return {
    server,
    connections,
    closeIdle: () => httpProxy.closeIdle(),
    drain: () => httpProxy.drain(),
    destroyAll() {
      httpProxy.destroyAll();
      wsProxy.destroyAll();
    },
  };
}
