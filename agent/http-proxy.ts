import {
  Agent as HttpAgent,
  type IncomingMessage,
  type ClientRequest,
  request as httpRequest,
  type Server,
  type ServerResponse,
} from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { RequestOutcome } from '../contract/events.js';
import type { HostPort } from './config.js';
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
]);
const FORWARDED = new Set(['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', POD_HEADER]);

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
  readonly pool: HttpAgent;
  handle(req: IncomingMessage, res: ServerResponse): void;
  /** Answers malformed client HTTP with 400 and counts it. */
  attach(server: Server): void;
}

export function forwardedHeaders(req: IncomingMessage, pod: string): string[] {
  const raw = req.rawHeaders;
  const out: string[] = [];
  let xff: string | undefined;
  let proto: string | undefined;
  let host: string | undefined;
  const connectionTokens = new Set(
    String(req.headers.connection ?? '')
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

function responseHeaders(raw: string[], pod: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < raw.length; i += 2) {
    const lower = raw[i]!.toLowerCase();
    if (HOP_BY_HOP.has(lower) || lower === POD_HEADER) continue;
    out.push(raw[i]!, raw[i + 1]!);
  }
  out.push(POD_HEADER, pod);
  return out;
}

function outcomeOfError(err: NodeJS.ErrnoException): RequestOutcome {
  if (err.code === 'ECONNREFUSED') return 'upstream-refused';
  if (err.code === 'ETIMEDOUT') return 'upstream-timeout';
  return 'upstream-reset';
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

export function createHttpProxy(options: HttpProxyOptions): HttpProxy {
  const { upstream, pod, traffic, metrics, connections } = options;
  const pool = new HttpAgent({ keepAlive: true, maxFreeSockets: 1024, scheduling: 'lifo' });

  const send = (
    req: IncomingMessage,
    res: ServerResponse,
    record: RequestRecord,
    headers: string[],
    retry: boolean,
  ): void => {
    let settled = false;
    const settle = (outcome: RequestOutcome, status?: number): void => {
      if (settled) return;
      settled = true;
      traffic.end(record, outcome, status);
    };
    const upReq: ClientRequest = httpRequest({
      host: upstream.host,
      port: upstream.port,
      method: req.method,
      path: req.url,
      headers: headers as unknown as Record<string, string>,
      agent: pool,
      setHost: false,
    });
    upReq.on('socket', (socket) => connections.track(socket));

    upReq.on('response', (upRes) => {
      const status = upRes.statusCode ?? 502;
      res.writeHead(status, upRes.statusMessage, responseHeaders(upRes.rawHeaders, pod));
      upRes.pipe(res);
      upRes.on('error', () => {
        // The app reset the connection mid-body: the client must see a broken response, not a short one.
        settle('upstream-reset', status);
        res.destroy();
      });
      upRes.on('aborted', () => {
        settle('upstream-reset', status);
        res.destroy();
      });
      res.once('finish', () => settle(status >= 500 ? 'http-error' : 'ok', status));
    });

    upReq.on('error', (err: NodeJS.ErrnoException) => {
      if (settled) return;
      // A pooled connection the app closed while idle: the request never reached it, so a
      // bodyless request is sent again once on a fresh connection (as Node's docs advise).
      if (retry && upReq.reusedSocket && err.code === 'ECONNRESET' && !res.headersSent) {
        send(req, res, record, headers, false);
        return;
      }
      const outcome = outcomeOfError(err);
      if (!res.headersSent) {
        const body = `drainwatch: upstream ${outcome === 'upstream-refused' ? 'refused the connection' : 'failed'}\n`;
        res.writeHead(502, {
          'content-type': 'text/plain; charset=utf-8',
          'content-length': Buffer.byteLength(body),
          [POD_HEADER]: pod,
        });
        res.end(body);
        settle(outcome, 502);
      } else {
        settle(outcome, res.statusCode);
        res.destroy();
      }
    });

    res.once('close', () => {
      if (settled) return;
      if (!res.writableFinished) {
        settle('client-aborted', res.headersSent ? res.statusCode : undefined);
        upReq.destroy();
      }
    });

    if (hasBody(req)) req.pipe(upReq);
    else upReq.end();
  };

  return {
    pool,
    handle(req, res) {
      const record = traffic.begin({
        method: req.method ?? 'GET',
        url: req.url ?? '/',
        probeId: probeIdOf(req),
        reused: isReusedConnection(req.socket),
      });
      send(req, res, record, forwardedHeaders(req, pod), !hasBody(req));
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
  };
}

function hasBody(req: IncomingMessage): boolean {
  const len = req.headers['content-length'];
  return (len !== undefined && len !== '0') || req.headers['transfer-encoding'] !== undefined;
}
