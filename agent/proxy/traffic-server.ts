import { createServer, type Server } from 'node:net';
import type { AgentProtocol, Phase } from '../../contract/index.js';
import type { HostPort } from '../../lib/values.js';
import type { AgentMetrics } from '../metrics.js';
import type { Traffic } from '../traffic.js';
import { CLIENT_PREFACE } from './h2-frames.js';
import { createH2Relays } from './h2-relays.js';
import { createHttpProxy } from './http-proxy.js';
import { createTcpTunnels } from './tcp-tunnel.js';
import { createUpstreamConnections, type UpstreamConnections } from './upstream-pool.js';
import { createWebSocketProxy } from './websocket-proxy.js';

// The agent's traffic port: one TCP listener. In `http` mode the HTTP/1.1 proxy takes each
// connection, handing those that upgrade to the WebSocket tunnel, those that start with the
// HTTP/2 preface (prior knowledge, h2c) to the HTTP/2 relay and the rest that are not HTTP/1.x
// (TLS, …) to the TCP tunnel. In `tcp` mode every connection is
// tunnelled from its accept, so a server that speaks first is heard at once. All share the count
// of connections to the app.

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
  /** http (default): parse HTTP/1.x, tunnel the rest; tcp: tunnel every connection. */
  readonly protocol?: AgentProtocol;
}

export interface TrafficServer {
  /** Not listening yet: the agent calls listen() and close() on it. */
  readonly server: Server;
  /** Open TCP connections from the agent to the app, WebSockets included. */
  readonly connections: UpstreamConnections;
  /** From now on every response closes its connection; idle client connections close at once. */
  closeIdle(): void;
  /**
   * The pod left `serving`: idle client connections close, busy ones close after their response,
   * one that has not carried a request yet after its first (HttpProxy.drain).
   * In `prestop` only the HTTP/2 connections open now get GOAWAY, later ones at the next phase
   * (H2Relays.drainOpen: the endpoint removal is still propagating).
   */
  drain(phase: Phase): void;
  /** Cuts every client connection, tunnel and connection to the app. */
  destroyAll(): void;
}

export function createTrafficServer(options: TrafficServerOptions): TrafficServer {
  const connections = createUpstreamConnections();
  const tcp = createTcpTunnels({ upstream: options.upstream, traffic: options.traffic, connections });
  const h2 = createH2Relays({
    upstream: options.upstream,
    traffic: options.traffic,
    metrics: options.metrics,
    connections,
  });
  const wsProxy = createWebSocketProxy({
    upstream: options.upstream,
    pod: options.pod,
    traffic: options.traffic,
    connections,
    // An `Upgrade: h2c` the app accepts (RFC 7540 §3.2) is relayed as HTTP/2 from its 101 on.
    onH2cSwitch: (switched) => h2.adopt(switched),
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
    // HTTP/2 with prior knowledge is relayed frame by frame; TLS and the rest as TCP.
    onNotHttp1: (socket, head) => (isH2Preface(head) ? h2.relay(socket, head) : tcp.tunnel(socket, head)),
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
  const server =
    options.protocol === 'tcp'
      ? createServer({ allowHalfOpen: true, noDelay: true }, (socket) => tcp.tunnel(socket))
      : createServer({ allowHalfOpen: true, noDelay: true }, (socket) => httpProxy.accept(socket));
  return {
    server,
    connections,
    closeIdle() {
      httpProxy.closeIdle();
      h2.drain();
    },
    drain(phase) {
      httpProxy.drain();
      if (phase === 'prestop') h2.drainOpen();
      else h2.drain();
    },
    destroyAll() {
      httpProxy.destroyAll();
      h2.destroyAll();
      wsProxy.destroyAll();
      tcp.destroyAll();
    },
  };
}

// sniffProtocol answers `other` once the first 14 bytes are the preface's; the rest of the
// 24-byte preface is the relay's to check (the app rejects a wrong one as the bare app would).
function isH2Preface(head: Buffer): boolean {
  const n = Math.min(head.length, CLIENT_PREFACE.length);
  return n >= 14 && head.compare(CLIENT_PREFACE, 0, n, 0, n) === 0;
}
