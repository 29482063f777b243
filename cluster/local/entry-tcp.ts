import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import type { Rng } from '../../lib/random.js';
import { createEndpointTable, type TableEndpoint } from './endpoint-table.js';
import type { EntryActivity } from './entry-activity.js';
import {
  type BalanceStrategy,
  type EndpointCounts,
  type Entrypoint,
  listenOnFreePort,
} from './entrypoint.js';
import { LocalClusterConfigError } from './errors.js';
import type { PropagationRange } from './propagation.js';

// The local entry point in per-connection mode, as kube-proxy balances a ClusterIP Service: each
// new TCP connection goes to one ready endpoint and its bytes pass through untouched (HTTP/2,
// gRPC, anything). An endpoint that leaves the list only stops getting new connections; those
// already open to it stay open until one side closes them, as conntrack keeps established flows
// to a removed endpoint. That is why a long-lived HTTP/2 connection keeps its client on a
// terminating pod until the pod says GOAWAY or exits (the `stuck-connection` problem).

/** Per-connection balancing: what kube-proxy's iptables (random) and IPVS (rr, lc) modes do. */
export const TCP_BALANCE_STRATEGIES = [
  'round-robin',
  'least-connections',
] as const satisfies readonly BalanceStrategy[];

export interface TcpEntrypointOptions {
  readonly balance: BalanceStrategy;
  readonly propagation: PropagationRange;
  readonly rng: Rng;
  readonly host?: string;
}

interface TcpEndpoint extends TableEndpoint {
  readonly port: number;
  open: number;
  connections: number;
  failed: number;
}

/** Throws LocalClusterConfigError for a balance that needs HTTP (cookie, client-ip on loopback). */
export function checkTcpBalance(balance: BalanceStrategy): void {
  if (!(TCP_BALANCE_STRATEGIES as readonly string[]).includes(balance))
    throw new LocalClusterConfigError(
      'balance',
      `${balance} needs HTTP; per-connection (tcp) balancing takes ${TCP_BALANCE_STRATEGIES.join(' or ')}`,
    );
}

/** Ends `to` the way `from` ended: a FIN passes on as a FIN, a reset as a reset. */
function follow(from: Socket, to: Socket): void {
  from.once('end', () => to.end());
  from.on('error', () => to.resetAndDestroy());
  from.once('close', (hadError) => {
    if (hadError) to.resetAndDestroy();
    else if (!to.writableEnded) to.end();
  });
}

/**
 * A per-connection entry point. `counts()` reports connections under `requests` (a connection is
 * the unit it balances) and a connect that failed under `failed`. Throws LocalClusterConfigError
 * for a balance strategy other than TCP_BALANCE_STRATEGIES.
 */
export function createTcpEntrypoint(options: TcpEntrypointOptions): Entrypoint {
  checkTcpBalance(options.balance);
  const table = createEndpointTable<TcpEndpoint>(options.propagation, options.rng);
  const sockets = new Set<Socket>();
  const upstreamErrors: Record<string, number> = {};

  function pick(): TcpEndpoint | undefined {
    const list = table.routableList();
    if (list.length === 0) return undefined;
    if (options.balance === 'round-robin') return table.nextInTurn(list);
    return table.leastLoaded(list, (e) => e.open);
  }

  const track = (s: Socket): void => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  };

  function onConnection(client: Socket): void {
    track(client);
    client.setNoDelay(true);
    const ep = pick();
    if (!ep) {
      // No endpoint: kube-proxy rejects the connection (ICMP unreachable → the client's connect fails).
      upstreamErrors['no-endpoints'] = (upstreamErrors['no-endpoints'] ?? 0) + 1;
      client.resetAndDestroy();
      return;
    }
    ep.connections++;
    ep.open++;
    client.pause();
    const upstream = tcpConnect({ host: '127.0.0.1', port: ep.port, noDelay: true });
    track(upstream);
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
    upstream.once('error', (err: NodeJS.ErrnoException) => {
      if (connected) return;
      // A pod gone before the entry heard of it: the flow goes nowhere and the client's connection
      // fails; kube-proxy does not try another endpoint.
      ep.failed++;
      const kind = err.code === 'ECONNREFUSED' ? 'refused' : 'other';
      upstreamErrors[kind] = (upstreamErrors[kind] ?? 0) + 1;
    });
    upstream.once('close', () => {
      ep.open--;
    });
    follow(client, upstream);
    follow(upstream, client);
  }

  const server: Server = createServer({ allowHalfOpen: true, noDelay: true }, onConnection);
  let stopping: Promise<void> | undefined;
  return {
    kind: 'local',
    start: () => listenOnFreePort(server, options.host),
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        table.stop();
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      return stopping;
    },
    addEndpoint(pod, port) {
      table.add({ pod, port, routable: false, open: 0, connections: 0, failed: 0, lastApplied: 0 });
    },
    // New connections go elsewhere; open ones stay (conntrack keeps established flows).
    markTerminating: (pod) => table.markTerminating(pod),
    routable: () => table.routableList().map((e) => e.pod),
    counts(): ReadonlyMap<string, EndpointCounts> {
      return new Map(
        table.all().map((e) => [e.pod, { requests: e.connections, websockets: 0, failed: e.failed }]),
      );
    },
    async activity(): Promise<EntryActivity> {
      return {
        entry: 'local',
        version: 'drainwatch local entry point (per-connection TCP)',
        retries: 0,
        retriedElsewhere: 0,
        upstreamErrors: { ...upstreamErrors },
        changes: [],
        applyP50Ms: 0,
        applyMaxMs: 0,
      };
    },
  };
}
