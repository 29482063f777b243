import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createRequire } from 'node:module';
import type { buildConnector as BuildConnector, Dispatcher, Pool as PoolClass } from 'undici';
import type { RequestOutcome } from '../contract/events.js';
import { formatHostPort, type HostPort } from './config.js';
import type { AgentMetrics } from './metrics.js';
import type { RequestRecord, Traffic } from './traffic.js';

// The HTTP/1.1 half of the proxy: every request is streamed to the app through a keep-alive pool
// and its fate recorded once (ok, app error, refused, reset, client abort).

export const POD_HEADER = 'x-drainwatch-pod';
export const PROBE_HEADER = 'x-drainwatch-probe';

// Hop-by-hop headers (RFC 9110 §7.6.1) belong to one connection, not to the message.
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  // The agent's own server already answered 100-continue to the client; the body just streams on.
  'expect',
]);
const FORWARDED = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', POD_HEADER]);

const NO_TOKENS: ReadonlySet<string> = new Set();

const requestCount = Symbol('drainwatch.requests');
type CountedSocket = Socket & { [requestCount]?: number };

export interface UpstreamConnections {
  /** Open TCP connections from the agent to the app (pooled or busy), WebSockets included. */
  readonly open: number;
  track(socket: Duplex): void;
}

export function createUpstreamConnections(): UpstreamConnections {
  const sockets = new Set<Duplex>();
  return {
    get open() {
      return sockets.size;
    },
    track(socket) {
      if (sockets.has(socket)) return;
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    },
  };
}

export interface HttpProxyOptions {
  readonly upstream: HostPort;
  readonly pod: string;
  readonly traffic: Traffic;
  readonly metrics: AgentMetrics;
  readonly connections: UpstreamConnections;
}

export interface HttpProxy {
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Answers malformed client HTTP with 400 and counts it. */
  attach(server: Server): void;
  /** Closes the upstream pool (the agent stopped serving). */
  close(): Promise<void>;
}

export function forwardedHeaders(req: IncomingMessage, pod: string): string[] {
  const raw = req.rawHeaders;
  const out: string[] = [];
  let xff: string | undefined;
  let proto: string | undefined;
  let host: string | undefined;
  const connection = req.headers.connection;
  // Names listed in Connection are hop-by-hop too; most requests name only keep-alive or close.
  const connectionTokens =
    connection === undefined
      ? NO_TOKENS
      : new Set(
          connection
            .toLowerCase()
            .split(',')
            .map((t) => t.trim())
            .filter(Boolean),
        );
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!;
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || connectionTokens.has(lower)) continue;
    if (FORWARDED.has(lower)) {
      if (lower === 'x-forwarded-for') xff = xff ? `${xff}, ${raw[i + 1]}` : raw[i + 1];
      else if (lower === 'x-forwarded-proto') proto ??= raw[i + 1];
      else if (lower === 'x-forwarded-host') host ??= raw[i + 1];
      continue;
    }
    out.push(name, raw[i + 1]!);
  }
  const client = req.socket.remoteAddress ?? '';
  out.push('x-forwarded-for', xff ? `${xff}, ${client}` : client);
  // An ingress in front of the pod knows the original scheme and host better than we do.
  out.push('x-forwarded-proto', proto ?? 'http');
  const h = host ?? req.headers.host;
  if (h) out.push('x-forwarded-host', h);
  out.push(POD_HEADER, pod);
  return out;
}

function responseHeaders(raw: Buffer[], pod: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toString('latin1');
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || lower === POD_HEADER) continue;
    out.push(name, raw[i + 1]!.toString('latin1'));
  }
  out.push(POD_HEADER, pod);
  return out;
}

export function probeIdOf(req: IncomingMessage): string | undefined {
  const v = req.headers[PROBE_HEADER];
  if (typeof v !== 'string' || v === '') return undefined;
  return v.length > 256 ? v.slice(0, 256) : v;
}

/** Counts requests per client socket, so each request knows if its connection was new or reused. */
export function isReusedConnection(socket: Socket): boolean {
  const s = socket as CountedSocket;
  const n = (s[requestCount] ?? 0) + 1;
  s[requestCount] = n;
  return n > 1;
}

// undici's index loads fetch, WebSocket, caches and more (≈ 5 MB of RSS the agent never uses):
// take only the pool and its connector. undici is pinned in package-lock.json; its package has no
// `exports` map, so these paths are public to require().
const requireUndici = createRequire(import.meta.url);
const Pool = requireUndici('undici/lib/dispatcher/pool.js') as typeof PoolClass;
const buildConnector = requireUndici('undici/lib/core/connect.js') as typeof BuildConnector;

// Why undici: its pooled HTTP/1.1 client parses responses with llhttp in one pass and needs no
// ClientRequest/IncomingMessage pair per request, which roughly doubles what one Node thread can
// proxy compared with http.request through an http.Agent (see docs/agent.md, benchmark).
const UPSTREAM_TIMEOUT_CODES = new Set(['ETIMEDOUT', 'UND_ERR_CONNECT_TIMEOUT']);

function outcomeOfUpstreamError(err: NodeJS.ErrnoException): RequestOutcome {
  const code = err.code ?? '';
  if (code === 'ECONNREFUSED') return 'upstream-refused';
  if (UPSTREAM_TIMEOUT_CODES.has(code)) return 'upstream-timeout';
  return 'upstream-reset';
}

/** A pooled connection the app had closed while idle: the error says it had carried a response before. */
function wasReusedSocket(err: unknown): boolean {
  const info = (err as { socket?: { bytesRead?: number } }).socket;
  return (info?.bytesRead ?? 0) > 0;
}

interface ForwardContext {
  readonly pool: PoolClass;
  readonly pod: string;
  readonly traffic: Traffic;
  readonly origin: string;
}

// One object per request, its methods on the prototype: the hot path allocates no closures.
class Forward implements Dispatcher.DispatchHandler {
  private settled = false;
  private abortUpstream: ((err?: Error) => void) | undefined;
  private aborted = false;
  private resume: (() => void) | undefined;
  private status = 0;

  constructor(
    private readonly ctx: ForwardContext,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    private readonly record: RequestRecord,
    private readonly headers: string[],
    private readonly withBody: boolean,
    private readonly retry: boolean,
  ) {}

  send(): void {
    this.ctx.pool.dispatch(
      {
        origin: this.ctx.origin,
        path: this.req.url ?? '/',
        method: (this.req.method ?? 'GET') as Dispatcher.HttpMethod,
        headers: this.headers,
        body: this.withBody ? this.req : null,
      },
      this,
    );
  }

  settle(outcome: RequestOutcome, status?: number): void {
    if (this.settled) return;
    this.settled = true;
    this.ctx.traffic.end(this.record, outcome, status);
  }

  /** The client went away (or the response finished): called from the response's 'close'. */
  clientClosed(): void {
    if (this.settled) return;
    const res = this.res;
    if (res.writableFinished) {
      this.settle(this.status >= 500 ? 'http-error' : 'ok', this.status);
      return;
    }
    this.settle('client-aborted', res.headersSent ? res.statusCode : undefined);
    this.aborted = true;
    this.abortUpstream?.();
  }

  onConnect(abort: (err?: Error) => void): void {
    if (this.aborted) abort();
    else this.abortUpstream = abort;
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void, statusText: string): boolean {
    if (this.settled) return false;
    this.status = statusCode;
    this.resume = resume;
    const res = this.res;
    res.writeHead(statusCode, statusText, responseHeaders(rawHeaders, this.ctx.pod));
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.settled) return false;
    if (this.res.write(chunk)) return true;
    // Backpressure: the app's bytes wait in the kernel until the client has read ours.
    this.res.once('drain', this.resume!);
    return false;
  }

  onComplete(): void {
    if (!this.settled) this.res.end();
  }

  onError(err: Error): void {
    if (this.settled) return;
    const res = this.res;
    if (!res.headersSent) {
      // A pooled connection the app closed while idle: the request never reached it, so a
      // bodyless request is sent again once (as an HTTP client should; RFC 9112 §9.3.1).
      if (this.retry && !this.withBody && !this.aborted && wasReusedSocket(err)) {
        new Forward(this.ctx, this.req, res, this.record, this.headers, false, false).sendRetry(this);
        return;
      }
      const outcome = outcomeOfUpstreamError(err as NodeJS.ErrnoException);
      const body = `drainwatch: upstream ${outcome === 'upstream-refused' ? 'refused the connection' : 'failed'}\n`;
      this.settle(outcome, 502);
      res.writeHead(502, {
        'content-type': 'text/plain; charset=utf-8',
        'content-length': Buffer.byteLength(body),
        [POD_HEADER]: this.ctx.pod,
      });
      res.end(body);
    } else {
      // The app reset the connection mid-body: the client must see a broken response, not a short one.
      this.settle(outcomeOfUpstreamError(err as NodeJS.ErrnoException), this.status);
      res.destroy();
    }
  }

  /** Takes over the client response from a first attempt that failed on a stale connection. */
  sendRetry(first: Forward): void {
    first.settled = true;
    this.res.removeListener('close', first.onClose);
    this.res.once('close', this.onClose);
    this.send();
  }

  readonly onClose = (): void => this.clientClosed();
}

export function createHttpProxy(options: HttpProxyOptions): HttpProxy {
  const { upstream, pod, traffic, metrics, connections } = options;
  const origin = `http://${formatHostPort(upstream)}`;
  const connector = buildConnector({});
  const pool = new Pool(origin, {
    // Like http.Agent before it: no deadline of ours on a slow app or a long stream.
    headersTimeout: 0,
    bodyTimeout: 0,
    connect(opts, callback) {
      connector(opts, (err, socket) => {
        if (err) {
          callback(err, null);
          return;
        }
        // Every connection to the app counts for exit detection ("no connection left").
        connections.track(socket!);
        callback(null, socket!);
      });
    },
  });
  const ctx: ForwardContext = { pool, pod, traffic, origin };

  return {
    handle(req, res) {
      const record = traffic.begin({
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        probeId: probeIdOf(req),
        reused: isReusedConnection(req.socket),
      });
      const withBody = hasBody(req);
      const forward = new Forward(ctx, req, res, record, forwardedHeaders(req, pod), withBody, !withBody);
      res.once('close', forward.onClose);
      forward.send();
    },
    attach(server) {
      server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
        // Parser errors are the client's malformed HTTP; resets and timeouts are not bad requests.
        if (err.code?.startsWith('HPE_')) {
          metrics.badRequests.inc();
          if (socket.writable) {
            socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
          }
        }
        socket.destroy();
      });
    },
    close() {
      return pool.destroy();
    },
  };
}

function hasBody(req: IncomingMessage): boolean {
  const len = req.headers['content-length'];
  return (len !== undefined && len !== '0') || req.headers['transfer-encoding'] !== undefined;
}
