import type { AddressInfo } from 'node:net';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import type { PodRef } from '../adapter.js';

// The container in front of the app in each local pod. Phase by phase it mirrors a native
// sidecar: started before the app is routable, asked for preStop, told how the app exited, and
// stopped last. The real one is drainwatch's agent (rehearse/agent-sidecar.ts); `passthrough`
// is a plain TCP forwarder for rehearsing without the agent (no evidence, same traffic path).

export interface AppExit {
  readonly code: number | null;
  readonly signal: string | null;
  readonly killedAtGrace: boolean;
}

export interface SidecarSpec {
  readonly pod: PodRef;
  /** Where the app listens, on 127.0.0.1. */
  readonly appPort: number;
  readonly graceMs: number;
}

export interface Sidecar {
  /** Where traffic for the pod arrives (127.0.0.1). */
  readonly trafficPort: number;
  /** How long the sidecar keeps an idle client connection (ms); absent when it does not know (a plain forwarder). */
  readonly keepAliveTimeoutMs?: number;
  /** The preStop hook: resolves when the app may get SIGTERM. */
  prestop(): Promise<void>;
  appExited(exit: AppExit): Promise<void>;
  /** Repeated calls return the same promise. */
  stop(): Promise<void>;
  /** Teardown: ends the sidecar at once, without its own shutdown (no events, no flush). */
  kill?(): Promise<void>;
}

export interface SidecarLauncher {
  readonly name: string;
  launch(spec: SidecarSpec): Promise<Sidecar>;
}

export interface PassthroughOptions {
  /** A plain `sleep` preStop hook of this many ms (0: none), as a pod without the agent would have. */
  readonly prestopMs?: number;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** A TCP forwarder: one upstream connection per client connection, half-closes passed on. */
export function createPassthroughLauncher(options: PassthroughOptions = {}): SidecarLauncher {
  const prestopMs = options.prestopMs ?? 0;
  return {
    name: prestopMs > 0 ? `passthrough(prestop ${prestopMs}ms)` : 'passthrough',
    async launch(spec) {
      const open = new Set<Socket>();
      const server: Server = createServer((client) => {
        const upstream = tcpConnect({ host: '127.0.0.1', port: spec.appPort });
        open.add(client);
        open.add(upstream);
        client.once('close', () => open.delete(client));
        upstream.once('close', () => open.delete(upstream));
        client.on('error', () => upstream.destroy());
        // A refused or reset upstream becomes a reset for the client, as it would through a
        // pod's network namespace.
        upstream.on('error', () => client.resetAndDestroy());
        client.pipe(upstream);
        upstream.pipe(client);
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, '127.0.0.1', () => resolve());
      });
      const trafficPort = (server.address() as AddressInfo).port;
      let stopping: Promise<void> | undefined;
      return {
        trafficPort,
        prestop: () => sleep(prestopMs),
        appExited: async () => {},
        stop() {
          stopping ??= new Promise<void>((resolve) => {
            server.close(() => resolve());
            for (const s of open) s.destroy();
          });
          return stopping;
        },
      };
    },
  };
}
