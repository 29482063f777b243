import { randomBytes } from 'node:crypto';
import {
  Agent,
  createServer,
  request as httpRequest,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';

// Real HTTP/WebSocket servers on loopback that speak the probe scenario of docs/architecture.md §3, and a small
// HTTP balancer in front of several of them, for the probe tests. Every server records what it did
// so a test can compute the expected result from the server's side, independently of the probe.

export type SessionStore = Map<string, string>;

export interface AppLogEntry {
  readonly pod: string;
  readonly kind: 'login' | 'auth';
  readonly path: string;
  readonly token: string;
  readonly ok: boolean;
}

export type PingVerdict = 'ack' | 'drop' | 'terminate';

export interface ScenarioAppOptions {
  readonly pod: string;
  /** Stores written at login. */
  readonly writeTo: readonly SessionStore[];
  /** The store sessions are looked up in. */
  readonly readFrom: SessionStore;
  /** Shared across replicas so a test sees every login and every authentication in order. */
  readonly log?: AppLogEntry[];
  /** Decides the fate of each ping; `connection` counts from 1 per app, `nth` from 1 per connection. */
  readonly onPing?: (ping: { connection: number; nth: number; id: string }) => PingVerdict;
  /** Every n-th /api/quote request answers 503. */
  readonly fail503Every?: number;
  /** `bearer`: no cookie is set and only `Authorization: Bearer` authenticates. */
  readonly sessions?: 'cookie' | 'bearer';
  /** /whoami answers another user's name: the identity check must catch it. */
  readonly whoamiLies?: boolean;
  /** A fixed port, to bring an app back where a stopped one was (default: any free port). */
  readonly port?: number;
  /** Milliseconds to wait before answering a request (not /healthz), by its probe id header. */
  readonly delayMs?: (request: { readonly path: string; readonly probeId: string | undefined }) => number;
}

export interface ScenarioApp {
  readonly url: string;
  readonly port: number;
  readonly pod: string;
  readonly dropped: Set<string>;
  readonly terminated: number;
  /** 503s answered because of fail503Every. */
  readonly failed503: number;
  readonly wsConnections: number;
  stop(): Promise<void>;
}

function listen(server: Server, port = 0): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const addr = server.address();
      resolve(typeof addr === 'object' && addr ? addr.port : 0);
    });
  });
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.once('error', reject);
  });
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return v.join('=');
  }
  return undefined;
}

function json(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

/** The example app's contract: POST /login, GET /whoami, GET /api/quote, /ws ping → ack. */
export async function startScenarioApp(options: ScenarioAppOptions): Promise<ScenarioApp> {
  const dropped = new Set<string>();
  let terminated = 0;
  let wsConnections = 0;
  let quotes = 0;
  let failed503 = 0;
  const auth = (req: IncomingMessage): string | undefined => {
    const bearer = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    const token = options.sessions === 'bearer' ? bearer : (bearer ?? cookieValue(req.headers.cookie, 'sid'));
    if (!token) return undefined;
    const user = options.readFrom.get(token);
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    options.log?.push({ pod: options.pod, kind: 'auth', path, token, ok: user !== undefined });
    return user;
  };
  const server = createServer(async (req, res) => {
    res.setHeader('x-drainwatch-pod', options.pod);
    const path = (req.url ?? '/').split('?')[0];
    const body = await readBody(req);
    const probeId = req.headers['x-drainwatch-probe'];
    const wait =
      path === '/healthz'
        ? 0
        : (options.delayMs?.({
            path: path ?? '/',
            probeId: typeof probeId === 'string' ? probeId : undefined,
          }) ?? 0);
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait).unref());
    if (req.method === 'POST' && path === '/login') {
      const user = String((JSON.parse(body || '{}') as { user?: unknown }).user ?? '');
      const token = randomBytes(12).toString('hex');
      for (const store of options.writeTo) store.set(token, user);
      options.log?.push({ pod: options.pod, kind: 'login', path: '/login', token, ok: true });
      const cookie: Record<string, string> =
        options.sessions === 'bearer' ? {} : { 'set-cookie': `sid=${token}; Path=/; HttpOnly` };
      json(res, 200, { user, token }, cookie);
      return;
    }
    if (path === '/healthz') return json(res, 200, { ok: true });
    const user = auth(req);
    if (user === undefined) return json(res, 401, { error: 'no session' });
    if (path === '/whoami') return json(res, 200, { user: options.whoamiLies ? `not-${user}` : user });
    if (path === '/api/quote') {
      quotes += 1;
      if (options.fail503Every && quotes % options.fail503Every === 0) {
        failed503 += 1;
        return json(res, 503, { error: 'unavailable' });
      }
      return json(res, 200, { quote: 42, user });
    }
    json(res, 404, { error: 'not found' });
  });
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false });
  wss.on('headers', (headers) => headers.push(`x-drainwatch-pod: ${options.pod}`));
  server.on('upgrade', (req, socket, head) => {
    wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      wsConnections += 1;
      const connection = wsConnections;
      let nth = 0;
      ws.on('message', (data) => {
        const msg = JSON.parse(data.toString()) as { type: string; id: string };
        if (msg.type !== 'ping') return;
        nth += 1;
        const verdict = options.onPing?.({ connection, nth, id: msg.id }) ?? 'ack';
        if (verdict === 'ack') ws.send(JSON.stringify({ type: 'ack', id: msg.id }));
        else if (verdict === 'drop') dropped.add(msg.id);
        else {
          // Gone without a close frame, as a process killed mid-connection.
          terminated += 1;
          ws.terminate();
        }
      });
    });
  });
  const port = await listen(server, options.port);
  let stopping: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    pod: options.pod,
    dropped,
    get terminated() {
      return terminated;
    },
    get failed503() {
      return failed503;
    },
    get wsConnections() {
      return wsConnections;
    },
    stop() {
      stopping ??= (async () => {
        for (const c of wss.clients) c.terminate();
        wss.close();
        await closeServer(server);
      })();
      return stopping;
    },
  };
}

export interface BalancerRoute {
  /** Index of the backend that serves this request. */
  readonly backend: number;
  /** A Set-Cookie the balancer adds to the response (an affinity cookie). */
  readonly setCookie?: string;
}

export interface Balancer {
  readonly url: string;
  /** Requests forwarded to each backend, in backend order. */
  readonly forwarded: number[];
  stop(): Promise<void>;
}

/** An HTTP reverse proxy whose routing is the test's `route(req)`; backends are reached over keep-alive. */
export async function startBalancer(
  backends: readonly string[],
  route: (req: IncomingMessage) => BalancerRoute,
): Promise<Balancer> {
  const agent = new Agent({ keepAlive: true });
  const forwarded = backends.map(() => 0);
  const server = createServer((req, res) => {
    const r = route(req);
    forwarded[r.backend] = (forwarded[r.backend] ?? 0) + 1;
    const target = new URL(req.url ?? '/', backends[r.backend]);
    const upstream = httpRequest(
      target,
      { method: req.method, headers: { ...req.headers, host: target.host }, agent },
      (up) => {
        const headers = { ...up.headers };
        if (r.setCookie) {
          const existing = headers['set-cookie'] ?? [];
          headers['set-cookie'] = [...existing, r.setCookie];
        }
        res.writeHead(up.statusCode ?? 502, headers);
        up.pipe(res);
      },
    );
    upstream.once('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  const port = await listen(server);
  let stopping: Promise<void> | undefined;
  return {
    url: `http://127.0.0.1:${port}`,
    forwarded,
    stop() {
      stopping ??= closeServer(server).then(() => agent.destroy());
      return stopping;
    },
  };
}

/** Round-robin per request, like an L7 proxy without affinity. */
export function roundRobin(n: number): () => BalancerRoute {
  let next = 0;
  return () => {
    const backend = next % n;
    next += 1;
    return { backend };
  };
}

/** Pins each client with a `route` cookie; new clients are assigned along `pattern` in turn. */
export function affinityCookie(pattern: readonly number[]): (req: IncomingMessage) => BalancerRoute {
  let next = 0;
  return (req) => {
    const pinned = cookieValue(req.headers.cookie, 'route');
    if (pinned !== undefined) return { backend: Number(pinned) };
    const backend = pattern[next % pattern.length]!;
    next += 1;
    return { backend, setCookie: `route=${backend}; Path=/` };
  };
}

/** Picks a backend per client connection, like kube-proxy: keep-alive pins a client to one pod. */
export function perConnection(n: number): (req: IncomingMessage) => BalancerRoute {
  const bySocket = new WeakMap<Socket, number>();
  let next = 0;
  return (req) => {
    let backend = bySocket.get(req.socket);
    if (backend === undefined) {
      backend = next % n;
      next += 1;
      bySocket.set(req.socket, backend);
    }
    return { backend };
  };
}
