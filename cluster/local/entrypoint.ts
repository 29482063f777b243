import { createHash } from 'node:crypto';
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Server as NetServer, Socket } from 'node:net';
import type { Rng } from '../../lib/random.js';
import { createEndpointTable } from './endpoint-table.js';
import type { EntryActivity, EntryKind } from './entry-activity.js';
import { AFFINITY_COOKIE, clientAddress, cookieValue, forwardedHeaders, HOP_BY_HOP } from './forwarding.js';
import type { PropagationRange } from './propagation.js';
import { proxyUpgrade, type UpgradeContext } from './upgrade.js';
import { type Endpoint, errorKind, readBody, retryDecision, upstreamIdleMs } from './upstream.js';

// The local stand-in for a Service plus its ingress: an HTTP and WebSocket-upgrade reverse proxy
// on loopback that balances each request over the endpoints it believes ready. It learns of every
// endpoint change (a pod became ready, a pod is terminating) only after a propagation delay, as
// kube-proxy and ingress controllers do; until then it keeps routing to a terminating pod and
// keeps reusing its open keep-alive connections to it, which is where late arrivals come from.

export const BALANCE_STRATEGIES = ['round-robin', 'least-connections', 'cookie', 'client-ip'] as const;
export type BalanceStrategy = (typeof BALANCE_STRATEGIES)[number];

export interface EntrypointOptions {
  readonly balance: BalanceStrategy;
  readonly propagation: PropagationRange;
  readonly rng: Rng;
  readonly host?: string;
}

export interface EndpointCounts {
  readonly requests: number;
  readonly websockets: number;
  readonly failed: number;
}

export interface Entrypoint {
  readonly kind: EntryKind;
  start(): Promise<{ url: string; port: number }>;
  /** Repeated calls return the same promise. */
  stop(): Promise<void>;
  /**
   * The pod is ready: it becomes routable after a propagation delay. `keepAliveTimeoutMs` is how
   * long the pod keeps an idle client connection; the entry point closes its own sooner
   * (upstreamIdleMs).
   */
  addEndpoint(pod: string, port: number, keepAliveTimeoutMs?: number): void;
  /** The pod is terminating: it stops being routable after a propagation delay; resolves with that delay. */
  markTerminating(pod: string): Promise<number>;
  /** Pods routed to right now, in the order they became routable. */
  routable(): readonly string[];
  /** Requests and WebSockets routed to each pod since start. */
  counts(): ReadonlyMap<string, EndpointCounts>;
  /** Retries, upstream errors and endpoint changes so far (entry-activity.ts). */
  activity(): Promise<EntryActivity>;
}

/**
 * Listens on a free port of `host` (default 127.0.0.1); resolves with the entry point's URL and
 * port, rejects with the listen error. Shared by the HTTP and the per-connection (entry-tcp.ts) modes.
 */
export function listenOnFreePort(
  server: NetServer,
  host = '127.0.0.1',
): Promise<{ url: string; port: number }> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => {
      server.off('error', reject);
      const { address, port } = server.address() as AddressInfo;
      resolve({ url: `http://${address}:${port}`, port });
    });
  });
}

export function createEntrypoint(options: EntrypointOptions): Entrypoint {
  const table = createEndpointTable<Endpoint>(options.propagation, options.rng);
  const routableList = table.routableList;
  // What the entry point did, for the report (entry-activity.ts).
  const own = { retries: 0, retriedElsewhere: 0, upstreamErrors: {} as Record<string, number> };
  const upstreamError = (kind: string, retry: 'same' | 'elsewhere' | 'none'): void => {
    own.upstreamErrors[kind] = (own.upstreamErrors[kind] ?? 0) + 1;
    if (retry !== 'none') own.retries++;
    if (retry === 'elsewhere') own.retriedElsewhere++;
  };

  function pick(
    req: IncomingMessage,
    kind: 'request' | 'websocket',
  ): { endpoint: Endpoint; setCookie: boolean } | undefined {
    const list = routableList();
    if (list.length === 0) return undefined;
    switch (options.balance) {
      case 'least-connections': {
        // Requests and WebSockets are counted apart: a pod holding one more long-lived
        // WebSocket would otherwise lose every request to its neighbours. Ties go round-robin,
        // so an idle cluster still spreads its load.
        const load = (e: Endpoint): number => (kind === 'websocket' ? e.openWebsockets : e.active);
        return { endpoint: table.leastLoaded(list, load), setCookie: false };
      }
      case 'client-ip': {
        const h = createHash('sha1').update(clientAddress(req)).digest().readUInt32BE(0);
        return { endpoint: list[h % list.length]!, setCookie: false };
      }
      case 'cookie': {
        const wanted = cookieValue(req.headers.cookie, AFFINITY_COOKIE);
        const sticky = wanted ? list.find((e) => e.pod === wanted) : undefined;
        if (sticky) return { endpoint: sticky, setCookie: false };
        return { endpoint: table.nextInTurn(list), setCookie: true };
      }
      default:
        return { endpoint: table.nextInTurn(list), setCookie: false };
    }
  }

  function onRequest(req: IncomingMessage, res: ServerResponse): void {
    const choice = pick(req, 'request');
    if (!choice) {
      res.writeHead(503, { 'content-type': 'text/plain', 'x-drainwatch-entry-error': 'no-endpoints' });
      res.end('no ready endpoints\n');
      req.resume();
      return;
    }
    // The body is read whole first, as nginx does, so a failed attempt can be repeated.
    readBody(req).then(
      (body) => {
        if (body === undefined) {
          res.writeHead(413, { 'content-type': 'text/plain', 'x-drainwatch-entry-error': 'body-too-large' });
          res.end('request body above 1 MiB\n');
          return;
        }
        forward(req, res, body, choice.endpoint, choice.setCookie, { tried: new Set(), freshRetried: false });
      },
      () => res.destroy(),
    );
  }

  function forward(
    req: IncomingMessage,
    res: ServerResponse,
    body: Buffer,
    ep: Endpoint,
    setCookie: boolean,
    attempt: { tried: Set<string>; freshRetried: boolean; fresh?: boolean },
  ): void {
    attempt.tried.add(ep.pod);
    ep.active++;
    ep.requests++;
    let released = false;
    const release = (): void => {
      if (!released) {
        released = true;
        ep.active--;
      }
    };
    const upstream = httpRequest({
      host: '127.0.0.1',
      port: ep.port,
      method: req.method,
      path: req.url,
      headers: {
        ...forwardedHeaders(req, false),
        ...(body.length > 0 || req.headers['content-length'] !== undefined
          ? { 'content-length': String(body.length) }
          : {}),
      },
      // A repeat after a stale kept-alive connection goes on a new one.
      agent: attempt.fresh ? false : ep.agent,
    });
    let answered = false;
    upstream.on('response', (ures) => {
      answered = true;
      const headers: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(ures.headers)) {
        if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
      }
      if (setCookie) {
        const prior = headers['set-cookie'];
        const ours = `${AFFINITY_COOKIE}=${ep.pod}; Path=/; HttpOnly`;
        headers['set-cookie'] = prior ? [...(Array.isArray(prior) ? prior : [prior]), ours] : ours;
      }
      res.writeHead(ures.statusCode ?? 502, headers);
      ures.pipe(res);
      ures.on('error', () => res.destroy());
      ures.on('aborted', () => res.destroy());
    });
    upstream.on('error', (err) => {
      release();
      if (answered || res.headersSent) {
        ep.failed++;
        res.destroy();
        return;
      }
      if (res.destroyed) return;
      const decision = retryDecision(err, {
        reusedSocket: upstream.reusedSocket,
        method: req.method,
        freshRetried: attempt.freshRetried,
      });
      // A connection the pod had closed while it sat idle here is not the pod's failure.
      if (decision === 'fresh-connection') {
        upstreamError('stale-keepalive', 'same');
        forward(req, res, body, ep, setCookie, { ...attempt, freshRetried: true, fresh: true });
        return;
      }
      ep.failed++;
      const next =
        decision === 'next-endpoint' ? routableList().find((e) => !attempt.tried.has(e.pod)) : undefined;
      upstreamError(errorKind(err), next ? 'elsewhere' : 'none');
      if (next) {
        forward(req, res, body, next, options.balance === 'cookie', { ...attempt, fresh: false });
        return;
      }
      res.writeHead(502, { 'content-type': 'text/plain', 'x-drainwatch-entry-error': errorKind(err) });
      res.end(`upstream ${ep.pod}: ${errorKind(err)}\n`);
    });
    res.once('close', () => {
      release();
      if (!res.writableFinished) upstream.destroy();
    });
    upstream.end(body);
  }

  const upgradeContext: UpgradeContext = {
    routable: routableList,
    cookieOnRetry: options.balance === 'cookie',
    upstreamError: (kind, retried) => upstreamError(kind, retried ? 'elsewhere' : 'none'),
  };

  function onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const choice = pick(req, 'websocket');
    if (!choice) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    proxyUpgrade(upgradeContext, req, socket, head, choice.endpoint, choice.setCookie);
  }

  const server: Server = createServer({ keepAliveTimeout: 30_000 }, onRequest);
  server.on('upgrade', onUpgrade);
  server.on('clientError', (_err, socket) => socket.destroy());

  let stopping: Promise<void> | undefined;
  return {
    kind: 'local',
    start: () => listenOnFreePort(server, options.host),
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        table.stop();
        server.close(() => resolve());
        server.closeAllConnections();
        for (const e of table.all()) e.agent.destroy();
      });
      return stopping;
    },
    addEndpoint(pod, port, keepAliveTimeoutMs) {
      table.add({
        pod,
        port,
        // `timeout` closes a connection that stayed idle this long in the free list.
        agent: new Agent({ keepAlive: true, maxSockets: 64, timeout: upstreamIdleMs(keepAliveTimeoutMs) }),
        routable: false,
        active: 0,
        openWebsockets: 0,
        requests: 0,
        websockets: 0,
        failed: 0,
        lastApplied: 0,
      });
    },
    markTerminating(pod) {
      // Idle keep-alive sockets to it are dropped, as a proxy does when an upstream leaves its
      // list; requests still running on it finish.
      return table.markTerminating(pod, (ep) => {
        for (const sockets of Object.values(ep.agent.freeSockets)) for (const s of sockets ?? []) s.destroy();
      });
    },
    routable() {
      return routableList().map((e) => e.pod);
    },
    counts() {
      return new Map(
        table.all().map((e) => [e.pod, { requests: e.requests, websockets: e.websockets, failed: e.failed }]),
      );
    },
    async activity() {
      // Changes apply the moment their delay ends: nothing to reload.
      return {
        entry: 'local',
        version: 'drainwatch local entry point',
        retries: own.retries,
        retriedElsewhere: own.retriedElsewhere,
        upstreamErrors: { ...own.upstreamErrors },
        changes: [],
        applyP50Ms: 0,
        applyMaxMs: 0,
      };
    },
  };
}
