import { createHash } from 'node:crypto';
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Rng } from '../../lib/random.js';
import { type PropagationRange, samplePropagation } from './propagation.js';

// The local stand-in for a Service plus its ingress: an HTTP and WebSocket-upgrade reverse proxy
// on loopback that balances each request over the endpoints it believes ready. It learns of every
// endpoint change (a pod became ready, a pod is terminating) only after a propagation delay, as
// kube-proxy and ingress controllers do; until then it keeps routing to a terminating pod and
// keeps reusing its open keep-alive connections to it, which is where late arrivals come from.

export const BALANCE_STRATEGIES = ['round-robin', 'least-connections', 'cookie', 'client-ip'] as const;
export type BalanceStrategy = (typeof BALANCE_STRATEGIES)[number];

/** The affinity cookie, named as ingress-nginx names it by default, so probes recognise it. */
export const AFFINITY_COOKIE = 'INGRESSCOOKIE';

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
  start(): Promise<{ url: string; port: number }>;
  /** Repeated calls return the same promise. */
  stop(): Promise<void>;
  /** The pod is ready: it becomes routable after a propagation delay. */
  addEndpoint(pod: string, port: number): void;
  /** The pod is terminating: it stops being routable after a propagation delay; resolves with that delay. */
  markTerminating(pod: string): Promise<number>;
  /** Pods routed to right now, in the order they became routable. */
  routable(): readonly string[];
  /** Requests and WebSockets routed to each pod since start. */
  counts(): ReadonlyMap<string, EndpointCounts>;
}

interface Endpoint {
  readonly pod: string;
  readonly port: number;
  readonly agent: Agent;
  routable: boolean;
  /** HTTP requests in flight. */
  active: number;
  openWebsockets: number;
  requests: number;
  websockets: number;
  failed: number;
  /** Changes are applied in the order they were made, even when a later one draws a shorter delay. */
  lastApplied: number;
}

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
]);

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The client address the balancer hashes: a forwarded one when the client sent it (probes on one host), else the peer. */
function clientAddress(req: IncomingMessage): string {
  const fwd = req.headers['x-forwarded-for'];
  const first = (Array.isArray(fwd) ? fwd[0] : fwd)?.split(',')[0]?.trim();
  return first || req.socket.remoteAddress || '';
}

function forwardedHeaders(req: IncomingMessage, keepUpgrade: boolean): IncomingHttpHeaders {
  const headers: IncomingHttpHeaders = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (!keepUpgrade && HOP_BY_HOP.has(k)) continue;
    headers[k] = v;
  }
  const peer = req.socket.remoteAddress ?? '';
  const prior = req.headers['x-forwarded-for'];
  headers['x-forwarded-for'] = prior ? `${prior}, ${peer}` : peer;
  headers['x-forwarded-proto'] = 'http';
  if (req.headers.host) headers['x-forwarded-host'] = req.headers.host;
  return headers;
}

function errorCode(err: unknown): string {
  const code = (err as { code?: string }).code ?? '';
  if (code === 'ECONNREFUSED') return 'refused';
  if (code === 'ECONNRESET' || code === 'EPIPE') return 'reset';
  return 'other';
}

export function createEntrypoint(options: EntrypointOptions): Entrypoint {
  const endpoints = new Map<string, Endpoint>();
  const timers = new Set<NodeJS.Timeout>();
  let changeSeq = 0;
  let rrNext = 0;

  const routableList = (): Endpoint[] => [...endpoints.values()].filter((e) => e.routable);

  const schedule = (apply: () => void): number => {
    const ms = samplePropagation(options.propagation, options.rng);
    const timer = setTimeout(() => {
      timers.delete(timer);
      apply();
    }, ms);
    timer.unref();
    timers.add(timer);
    return ms;
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
        const start = rrNext++ % list.length;
        let best = list[start]!;
        for (let i = 1; i < list.length; i++) {
          const e = list[(start + i) % list.length]!;
          if (load(e) < load(best)) best = e;
        }
        return { endpoint: best, setCookie: false };
      }
      case 'client-ip': {
        const h = createHash('sha1').update(clientAddress(req)).digest().readUInt32BE(0);
        return { endpoint: list[h % list.length]!, setCookie: false };
      }
      case 'cookie': {
        const wanted = cookieValue(req.headers.cookie, AFFINITY_COOKIE);
        const sticky = wanted ? list.find((e) => e.pod === wanted) : undefined;
        if (sticky) return { endpoint: sticky, setCookie: false };
        return { endpoint: list[rrNext++ % list.length]!, setCookie: true };
      }
      default:
        return { endpoint: list[rrNext++ % list.length]!, setCookie: false };
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
    const ep = choice.endpoint;
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
      headers: forwardedHeaders(req, false),
      agent: ep.agent,
    });
    upstream.on('response', (ures) => {
      const headers: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(ures.headers)) {
        if (v !== undefined && !HOP_BY_HOP.has(k)) headers[k] = v;
      }
      if (choice.setCookie) {
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
      ep.failed++;
      if (!res.headersSent) {
        res.writeHead(502, { 'content-type': 'text/plain', 'x-drainwatch-entry-error': errorCode(err) });
        res.end(`upstream ${ep.pod}: ${errorCode(err)}\n`);
      } else {
        res.destroy();
      }
    });
    res.on('close', () => {
      release();
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  }

  function onUpgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    const choice = pick(req, 'websocket');
    if (!choice) {
      socket.end('HTTP/1.1 503 Service Unavailable\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    const ep = choice.endpoint;
    ep.openWebsockets++;
    ep.websockets++;
    let released = false;
    const release = (): void => {
      if (!released) {
        released = true;
        ep.openWebsockets--;
      }
    };
    socket.once('close', release);
    const upstream = httpRequest({
      host: '127.0.0.1',
      port: ep.port,
      method: req.method,
      path: req.url,
      headers: forwardedHeaders(req, true),
      agent: false,
    });
    upstream.on('upgrade', (ures, usocket, uhead) => {
      const lines = [`HTTP/1.1 ${ures.statusCode} ${ures.statusMessage ?? 'Switching Protocols'}`];
      for (let i = 0; i < ures.rawHeaders.length; i += 2)
        lines.push(`${ures.rawHeaders[i]}: ${ures.rawHeaders[i + 1]}`);
      if (choice.setCookie) lines.push(`Set-Cookie: ${AFFINITY_COOKIE}=${ep.pod}; Path=/; HttpOnly`);
      socket.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (uhead.length) socket.write(uhead);
      if (head.length) usocket.write(head);
      usocket.on('error', () => socket.destroy());
      socket.on('error', () => usocket.destroy());
      // A FIN from either side is passed on as a FIN: a pod that dies without a close frame
      // looks to the client exactly as it would through a real load balancer.
      usocket.pipe(socket);
      socket.pipe(usocket);
      usocket.once('close', () => socket.destroy());
      socket.once('close', () => usocket.destroy());
    });
    upstream.on('response', (ures) => {
      socket.write(`HTTP/1.1 ${ures.statusCode} ${ures.statusMessage ?? ''}\r\nconnection: close\r\n\r\n`);
      ures.pipe(socket);
    });
    upstream.on('error', (err) => {
      ep.failed++;
      release();
      socket.end(
        `HTTP/1.1 502 Bad Gateway\r\nx-drainwatch-entry-error: ${errorCode(err)}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`,
      );
    });
    upstream.end();
  }

  const server: Server = createServer({ keepAliveTimeout: 30_000 }, onRequest);
  server.on('upgrade', onUpgrade);
  server.on('clientError', (_err, socket) => socket.destroy());

  let stopping: Promise<void> | undefined;
  return {
    start() {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(0, options.host ?? '127.0.0.1', () => {
          server.off('error', reject);
          const { address, port } = server.address() as AddressInfo;
          resolve({ url: `http://${address}:${port}`, port });
        });
      });
    },
    stop() {
      stopping ??= new Promise<void>((resolve) => {
        for (const t of timers) clearTimeout(t);
        timers.clear();
        server.close(() => resolve());
        server.closeAllConnections();
        for (const e of endpoints.values()) e.agent.destroy();
      });
      return stopping;
    },
    addEndpoint(pod, port) {
      const seq = ++changeSeq;
      const ep: Endpoint = {
        pod,
        port,
        agent: new Agent({ keepAlive: true, maxSockets: 64 }),
        routable: false,
        active: 0,
        openWebsockets: 0,
        requests: 0,
        websockets: 0,
        failed: 0,
        lastApplied: 0,
      };
      endpoints.set(pod, ep);
      schedule(() => {
        if (ep.lastApplied > seq) return;
        ep.lastApplied = seq;
        ep.routable = true;
      });
    },
    markTerminating(pod) {
      const ep = endpoints.get(pod);
      if (!ep) return Promise.resolve(0);
      const seq = ++changeSeq;
      return new Promise((resolve) => {
        const ms = schedule(() => {
          ep.lastApplied = seq;
          ep.routable = false;
          // Idle keep-alive sockets to it are dropped, as a proxy does when an upstream leaves its
          // list; requests still running on it finish.
          for (const sockets of Object.values(ep.agent.freeSockets))
            for (const s of sockets ?? []) s.destroy();
          resolve(ms);
        });
      });
    },
    routable() {
      return routableList().map((e) => e.pod);
    },
    counts() {
      return new Map(
        [...endpoints.values()].map((e) => [
          e.pod,
          { requests: e.requests, websockets: e.websockets, failed: e.failed },
        ]),
      );
    },
  };
}
