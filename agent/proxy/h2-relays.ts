import type { Socket } from 'node:net';
import type { HostPort } from '../../lib/values.js';
import type { AgentMetrics } from '../metrics.js';
import type { RequestRecord, Traffic } from '../traffic.js';
import { H2Relay, type RelayContext } from './h2-relay.js';
import { dialRawUpstream, type UpstreamConnections } from './upstream-pool.js';

// The HTTP/2 relays of the traffic port (one H2Relay per client connection, h2-relay.ts): wiring
// of the two sockets, the drain of every connection, and the cut at exit. A connection comes with
// the HTTP/2 preface (prior knowledge) or from an HTTP/1.1 `Upgrade: h2c` the app accepted.

/** A client connection the app switched to HTTP/2 with a `101` to an `Upgrade: h2c` request. */
export interface SwitchedConnection {
  readonly client: Socket;
  /** Connected, with the 101 already read. */
  readonly app: Socket;
  /** The upgrade request: stream 1 of the HTTP/2 connection. */
  readonly record: RequestRecord;
  /** What the app sent after its 101 head (its SETTINGS first). */
  readonly rest: Buffer;
}

export interface H2Relays {
  /** Relays a client connection whose first bytes (`head`) are the HTTP/2 preface. */
  relay(client: Socket, head: Buffer): void;
  /** Relays a connection from the app's `101` on (`Upgrade: h2c`, RFC 7540 §3.2). */
  adopt(switched: SwitchedConnection): void;
  /**
   * The preStop began: the connections open now get the two-step GOAWAY, so that their clients
   * reconnect while other pods are there; connections that arrive later (the entry point still
   * routes to the pod while its endpoint removal propagates) are served until drain().
   */
  drainOpen(): void;
  /** The pod drains (the preStop's wait ended, or the app is stopping): every connection, and every new one, gets the two-step GOAWAY. */
  drain(): void;
  /** Cuts every connection (the agent exits): open streams end as cut. */
  destroyAll(): void;
}

/** Passes each side's data, FIN, reset and close to the relay; `connected`: the app socket is. */
function wire(r: H2Relay, client: Socket, app: Socket, connected: boolean): void {
  let appConnected = connected;
  if (!connected)
    app.once('connect', () => {
      appConnected = true;
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
    r.ended(!appConnected && err.code === 'ECONNREFUSED' ? 'refused' : 'app');
    if (!client.destroyed) client.resetAndDestroy();
  });
  client.once('close', () => r.finished());
  app.once('close', () => r.finished());
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
      // The sniffed bytes (the preface at least) wait in the app socket's write queue.
      r.fromClient(head);
      if (ctx.draining) r.drain();
      wire(r, client, app, false);
    },
    adopt({ client, app, record, rest }) {
      const r = new H2Relay(ctx, client, app, record);
      ctx.relays.add(r);
      wire(r, client, app, true);
      if (closing) {
        r.cut();
        return;
      }
      // The drain's GOAWAY waits for the app's SETTINGS, the first frame after its 101.
      if (ctx.draining) r.drain();
      if (rest.length > 0) r.fromApp(rest);
    },
    drainOpen() {
      for (const r of ctx.relays) r.drain();
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
