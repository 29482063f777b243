import type { Socket } from 'node:net';
import type { HostPort } from '../../lib/values.js';
import type { AgentMetrics } from '../metrics.js';
import type { Traffic } from '../traffic.js';
import { H2Relay, type RelayContext } from './h2-relay.js';
import { dialRawUpstream, type UpstreamConnections } from './upstream-pool.js';

// The HTTP/2 relays of the traffic port (one H2Relay per client connection, h2-relay.ts): wiring
// of the two sockets, the drain of every connection, and the cut at exit.

export interface H2Relays {
  /** Relays a client connection whose first bytes (`head`) are the HTTP/2 preface. */
  relay(client: Socket, head: Buffer): void;
  /** The pod drains: every connection, and every new one, gets the two-step GOAWAY. */
  drain(): void;
  /** Cuts every connection (the agent exits): open streams end as cut. */
  destroyAll(): void;
}

export function createH2Relays(options: {
  readonly upstream: HostPort;
  readonly traffic: Traffic;
  readonly metrics: AgentMetrics;
  readonly connections: UpstreamConnections;
}): H2Relays {
  const ctx: RelayContext = {
    traffic: options.traffic,
    metrics: options.metrics,
    relays: new Set(),
    draining: false,
  };
  let closing = false;
  return {
    relay(client, head) {
      if (closing) {
        client.destroy();
        return;
      }
      client.pause();
      const app = dialRawUpstream(options.upstream, options.connections);
      const r = new H2Relay(ctx, client, app);
      ctx.relays.add(r);
      let connected = false;
      // The sniffed bytes (the preface at least) wait in the app socket's write queue.
      r.fromClient(head);
      if (ctx.draining) r.drain();
      app.once('connect', () => {
        connected = true;
        client.resume();
      });
      client.on('data', (c: Buffer) => r.fromClient(c));
      app.on('data', (c: Buffer) => r.fromApp(c));
      // Each side's FIN is passed on (both sockets are half-open), a reset answered with a reset.
      client.once('end', () => {
        r.ended('client');
        app.end();
      });
      app.once('end', () => {
        r.ended('app');
        client.end();
      });
      client.on('error', () => {
        r.ended('client');
        if (!app.destroyed) app.resetAndDestroy();
      });
      app.on('error', (err: NodeJS.ErrnoException) => {
        // What the bare pod would have done with this connect: refuse it. A reset is the nearest.
        r.ended(!connected && err.code === 'ECONNREFUSED' ? 'refused' : 'app');
        if (!client.destroyed) client.resetAndDestroy();
      });
      client.once('close', () => r.finished());
      app.once('close', () => r.finished());
    },
    drain() {
      ctx.draining = true;
      for (const r of ctx.relays) r.drain();
    },
    destroyAll() {
      closing = true;
      for (const r of [...ctx.relays]) r.cut();
    },
  };
}
