import type { Socket } from 'node:net';
import type { TcpClosedBy } from '../../contract/index.js';
import type { HostPort } from '../../lib/values.js';
import type { TcpRecord, Traffic } from '../traffic.js';
import { dialRawUpstream, type UpstreamConnections } from './upstream-pool.js';

// Traffic the agent does not parse (HTTP/2 prior knowledge, TLS, NATS, Redis, anything not
// HTTP/1.x) goes through as TCP, byte for byte: one connection to the app per client connection,
// each side's FIN passed on (half-close), a reset answered with a reset, and nothing read or
// written by the agent itself. Only the connection is counted: opened, ended by whom, open when
// the app got SIGTERM, cut when the agent exits.

export interface TcpTunnels {
  /**
   * Tunnels `client` to the app. `head` is what the agent already read from it (the bytes it
   * sniffed); the connection to the app is opened at once, so a server that speaks first (NATS
   * sends INFO before the client writes) is heard without waiting for the client.
   */
  tunnel(client: Socket, head?: Buffer): void;
  /** Cuts every tunnel (the agent is exiting): counted as closed by the agent. */
  destroyAll(): void;
}

interface TunnelEnds {
  readonly traffic: Traffic;
  readonly tunnels: Set<TcpTunnel>;
}

class TcpTunnel {
  private closedBy: TcpClosedBy | undefined;
  private connected = false;

  constructor(
    private readonly ctx: TunnelEnds,
    readonly client: Socket,
    readonly app: Socket,
    private readonly record: TcpRecord,
  ) {}

  /** The first side to end (FIN, reset or error) is who closed the connection. */
  ended(by: TcpClosedBy): void {
    this.closedBy ??= by;
  }

  appConnected(): void {
    this.connected = true;
    this.client.resume();
  }

  appFailed(err: NodeJS.ErrnoException): void {
    if (!this.connected && err.code === 'ECONNREFUSED') {
      // What the bare pod would have done with this connect: refuse it. A reset is the nearest.
      this.ended('refused');
    } else this.ended('app');
    this.client.resetAndDestroy();
  }

  clientFailed(): void {
    this.ended('client');
    if (!this.app.destroyed) this.app.resetAndDestroy();
  }

  finished(): void {
    if (!this.client.destroyed || !this.app.destroyed) return;
    if (!this.ctx.tunnels.delete(this)) return;
    this.ctx.traffic.tcpClosed(this.record, this.closedBy ?? 'client');
  }

  cut(): void {
    this.ended('agent');
    this.client.destroy();
    this.app.destroy();
  }
}

export function createTcpTunnels(options: {
  readonly upstream: HostPort;
  readonly traffic: Traffic;
  readonly connections: UpstreamConnections;
}): TcpTunnels {
  const ctx: TunnelEnds = { traffic: options.traffic, tunnels: new Set() };
  let closing = false;
  return {
    tunnel(client, head) {
      if (closing) {
        client.destroy();
        return;
      }
      client.pause();
      const app = dialRawUpstream(options.upstream, options.connections);
      const t = new TcpTunnel(ctx, client, app, options.traffic.tcpOpened());
      ctx.tunnels.add(t);
      // Bytes sniffed before the app answered wait in the app socket's write queue.
      if (head !== undefined && head.length > 0) app.write(head);
      app.once('connect', () => t.appConnected());
      // pipe() carries backpressure both ways and passes each FIN on (both sockets are half-open).
      client.pipe(app);
      app.pipe(client);
      client.once('end', () => t.ended('client'));
      app.once('end', () => t.ended('app'));
      client.on('error', () => t.clientFailed());
      app.on('error', (err: NodeJS.ErrnoException) => t.appFailed(err));
      client.once('close', () => t.finished());
      app.once('close', () => t.finished());
    },
    destroyAll() {
      closing = true;
      for (const t of [...ctx.tunnels]) t.cut();
    },
  };
}
