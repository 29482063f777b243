import type { Socket } from 'node:net';
import type { RequestOutcome } from '../../contract/index.js';
import type { HostPort } from '../../lib/values.js';
import type { AgentMetrics } from '../metrics.js';
import type { RequestRecord, Traffic } from '../traffic.js';
import { BodyFraming, clientResponse, interimResponse, POD_HEADER, upstreamRequest } from './forwarding.js';
import {
  createRequestParser,
  HttpParseError,
  type MessageHandlers,
  type MessageHead,
  type MessageParser,
} from './http-parser.js';
import {
  createUpstreamPool,
  type UpstreamConnection,
  type UpstreamConnections,
  type UpstreamPool,
  type UpstreamUser,
} from './upstream-pool.js';

// The HTTP/1.1 half of the proxy, on raw sockets: llhttp parses each client request, the agent
// rewrites its head and streams it to the app over a pooled connection, then streams the app's
// response back the same way. Each request's fate is recorded once (ok, app error, refused,
// reset, client abort). Requests a client pipelines wait their turn; responses leave in order.

/** A request whose head said Upgrade (or CONNECT): from here on the socket is a tunnel. */
export interface UpgradeRequest {
  readonly head: MessageHead;
  readonly socket: Socket;
  /** Bytes the client sent after the head, already read from the socket. */
  readonly rest: Buffer;
  /** The client connection carried a request before this one. */
  readonly reused: boolean;
}

export interface HttpProxyOptions {
  readonly upstream: HostPort;
  readonly pod: string;
  readonly traffic: Traffic;
  readonly metrics: AgentMetrics;
  readonly connections: UpstreamConnections;
  readonly onUpgrade: (request: UpgradeRequest) => void;
  /** A connection whose first bytes are not HTTP/1.x (`head`: the bytes read so far); without it all is parsed. */
  readonly onNotHttp1?: (socket: Socket, head: Buffer) => void;
  /** Idle client keep-alive connections are closed after this long (ms). */
  readonly keepAliveTimeoutMs?: number;
  /** The largest response head (bytes) read from the app; a larger one is answered 502. */
  readonly maxResponseHeaderBytes?: number;
}

export interface HttpProxy {
  /** Takes a new client connection from the listener. */
  accept(socket: Socket): void;
  /**
   * The pod is draining: idle client connections that have carried a request close at once and
   * every response from now on carries `Connection: close`, so clients move to another pod. A
   * connection that has not carried a request yet stays open for its first one (answered with
   * `Connection: close`): its client opened it to send that request, possibly already on its way,
   * and clients send a request again only when a reused connection closed under it (RFC 9112
   * §9.3.1; Node's http, undici and browsers), never a new one. New connections are still served.
   */
  drain(): void;
  /** Closes every idle connection, used or not, and new connections are refused from now on. */
  closeIdle(): void;
  /** Cuts every client connection and every connection to the app. */
  destroyAll(): void;
}

const DEFAULT_KEEP_ALIVE_TIMEOUT_MS = 3_600_000;
const DEFAULT_MAX_RESPONSE_HEADER_BYTES = 64 * 1024;
const SWEEP_MS = 1000;
// A peer that never closes after our FIN must not hold its socket forever.
const END_LINGER_MS = 5000;

/** Sends our FIN (after `last`), and destroys the socket if the peer never closes its side. */
export function endSocket(socket: Socket, last?: string): void {
  if (last === undefined) socket.end();
  else socket.end(last, 'latin1');
  setTimeout(() => socket.destroy(), END_LINGER_MS).unref();
}
// The last chunk of a chunked body, with no trailers.
const LAST_CHUNK = '0\r\n\r\n';
// Below this a response head and its first body chunk leave as one string in one write.
const COALESCE_MAX = 4096;

// RFC 9110 §9.2.2. Only these may be sent again after a stale connection failed: the app may have
// acted on the first copy, and "a proxy MUST NOT automatically retry non-idempotent requests"
// (RFC 9112 §9.3.1); a bodyless POST is still a POST.
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

// The HTTP/2 connection preface (RFC 9113 §3.4) as far as it tells HTTP/2 from an HTTP/1.x method.
const H2_PREFACE = Buffer.from('PRI * HTTP/2.0', 'latin1');
const A = 0x41;
const Z = 0x5a;
const CR = 0x0d;
const LF = 0x0a;

/**
 * What a connection's first bytes are: `http1` (a request line, or the empty lines RFC 9112 §2.2
 * lets precede one), `other` (the HTTP/2 preface, a TLS ClientHello, anything not starting like an
 * HTTP/1.x method), or `more` (a prefix of the HTTP/2 preface: read on). A malformed HTTP/1.x
 * request stays `http1` and is answered 400 as Node's server answers it.
 */
export function sniffProtocol(b: Buffer): 'http1' | 'other' | 'more' {
  const first = b[0]!;
  if (first === CR || first === LF) return 'http1';
  if (first < A || first > Z) return 'other';
  if (first !== H2_PREFACE[0]) return 'http1';
  const n = Math.min(b.length, H2_PREFACE.length);
  if (b.compare(H2_PREFACE, 0, n, 0, n) !== 0) return 'http1';
  return n === H2_PREFACE.length ? 'other' : 'more';
}

function outcomeOfUpstreamError(err: NodeJS.ErrnoException | undefined): RequestOutcome {
  if (err instanceof HttpParseError) return 'upstream-invalid';
  const code = err?.code ?? '';
  if (code === 'ECONNREFUSED') return 'upstream-refused';
  if (code === 'ETIMEDOUT') return 'upstream-timeout';
  return 'upstream-reset';
}

const BAD_GATEWAY_BODY: Partial<Record<RequestOutcome, string>> = {
  'upstream-refused': 'drainwatch: upstream refused the connection\n',
  'upstream-invalid': 'drainwatch: upstream sent a response the agent cannot relay\n',
};

function badGateway(outcome: RequestOutcome, pod: string, close: boolean): string {
  const body = BAD_GATEWAY_BODY[outcome] ?? 'drainwatch: upstream failed\n';
  return (
    'HTTP/1.1 502 Bad Gateway\r\ncontent-type: text/plain; charset=utf-8\r\n' +
    `content-length: ${Buffer.byteLength(body)}\r\n${POD_HEADER}: ${pod}\r\n` +
    `${close ? 'connection: close\r\n' : ''}\r\n${body}`
  );
}

interface ProxyContext {
  readonly pod: string;
  readonly traffic: Traffic;
  readonly metrics: AgentMetrics;
  readonly pool: UpstreamPool;
  readonly onUpgrade: (request: UpgradeRequest) => void;
  readonly onNotHttp1: ((socket: Socket, head: Buffer) => void) | undefined;
  readonly connections: Set<ClientConnection>;
  /** New connections are refused. */
  closing: boolean;
  /** Responses close their connection (the pod drains or the agent closes). */
  draining: boolean;
  tick: number;
}

// One object per request, methods on the prototype: the hot path allocates no closures.
class Exchange implements UpstreamUser {
  up: UpstreamConnection | undefined;
  /** The client's message (head and body) has been read in full. */
  requestDone = false;
  /** Body chunks that arrived before the exchange had its app connection (pipelined requests). */
  pending: Buffer[] | undefined;
  private settled = false;
  private retried = false;
  private responseStarted = false;
  private interim = false;
  private status = 0;
  private framing = BodyFraming.None;
  private keepAlive: boolean;
  private headText: string | undefined;

  constructor(
    private readonly conn: ClientConnection,
    readonly record: RequestRecord,
    private readonly method: string,
    private readonly headForApp: string,
    private readonly chunkedUpload: boolean,
    readonly hasBody: boolean,
    keepAlive: boolean,
    private readonly http10: boolean,
  ) {
    this.keepAlive = keepAlive;
  }

  /** Sends the head (and any body already read) to the app. */
  start(fresh = false): void {
    const up = this.conn.ctx.pool.acquire(fresh);
    this.up = up;
    up.user = this;
    const s = up.socket;
    s.write(this.headForApp, 'latin1');
    if (this.pending !== undefined) {
      for (const chunk of this.pending) this.writeBody(chunk);
      this.pending = undefined;
    }
    if (this.requestDone && this.chunkedUpload) s.write(LAST_CHUNK, 'latin1');
  }

  /** A piece of the client's body, decoded by llhttp. */
  requestBody(chunk: Buffer): void {
    if (this.settled) return;
    if (this.up === undefined) {
      this.pending ??= [];
      this.pending.push(chunk);
      return;
    }
    if (!this.writeBody(chunk)) this.conn.setUploadBlocked(true);
  }

  requestComplete(): void {
    this.requestDone = true;
    if (this.up !== undefined && this.chunkedUpload && !this.settled)
      this.up.socket.write(LAST_CHUNK, 'latin1');
  }

  private writeBody(chunk: Buffer): boolean {
    const s = this.up!.socket;
    if (!this.chunkedUpload) return s.write(chunk);
    s.cork();
    s.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
    s.write(chunk);
    const ok = s.write('\r\n', 'latin1');
    s.uncork();
    return ok;
  }

  onUpstreamDrain(): void {
    this.conn.setUploadBlocked(false);
  }

  onResponseHead(head: MessageHead): boolean {
    if (this.settled) return false;
    if (head.status < 200) {
      // 100 Continue and friends: the client hears them; the final response is still to come.
      this.interim = true;
      // HTTP/1.0 has no interim responses (RFC 9110 §15.2): such a client just waits for the final one.
      if (head.status !== 101 && !this.http10) this.conn.socket.write(interimResponse(head), 'latin1');
      return false;
    }
    this.status = head.status;
    this.responseStarted = true;
    const isHead = this.method === 'HEAD';
    const noBody = isHead || head.status === 204 || head.status === 304;
    // A client still sending a body the app did not wait for cannot keep its connection: the
    // rest of that body would be read as its next request.
    if (!this.requestDone || this.conn.ctx.draining) this.keepAlive = false;
    const r = clientResponse(head, this.conn.ctx.pod, noBody, this.keepAlive, this.http10);
    this.framing = r.framing;
    if (r.framing === BodyFraming.Close) this.keepAlive = false;
    this.headText = r.text;
    return isHead;
  }

  onResponseBody(chunk: Buffer): void {
    if (this.settled) return;
    const s = this.conn.socket;
    let ok: boolean;
    const head = this.headText;
    if (this.framing === BodyFraming.Chunked) {
      s.cork();
      if (head !== undefined) s.write(head, 'latin1');
      s.write(`${chunk.length.toString(16)}\r\n`, 'latin1');
      s.write(chunk);
      ok = s.write('\r\n', 'latin1');
      s.uncork();
    } else if (head === undefined) {
      ok = s.write(chunk);
    } else if (chunk.length <= COALESCE_MAX) {
      ok = s.write(head + chunk.toString('latin1'), 'latin1');
    } else {
      s.cork();
      s.write(head, 'latin1');
      ok = s.write(chunk);
      s.uncork();
    }
    this.headText = undefined;
    // Backpressure: the app's bytes wait in the kernel until the client has read ours.
    if (!ok) this.up?.socket.pause();
  }

  /** The client read what we had queued. */
  clientDrained(): void {
    this.up?.socket.resume();
  }

  onResponseComplete(): void {
    if (this.interim) {
      this.interim = false;
      return;
    }
    if (this.settled) return;
    const s = this.conn.socket;
    const head = this.headText ?? '';
    this.headText = undefined;
    if (this.framing === BodyFraming.Chunked) s.write(`${head}${LAST_CHUNK}`, 'latin1');
    else if (head !== '') s.write(head, 'latin1');
    this.settle(this.status >= 500 ? 'http-error' : 'ok', this.status);
    const up = this.up!;
    this.up = undefined;
    up.socket.resume();
    // The app answered before it had the whole body: that connection's framing is spent.
    if (!this.requestDone) up.keepAlive = false;
    this.conn.ctx.pool.release(up);
    this.conn.exchangeFinished(this, this.keepAlive);
  }

  onUpstreamClosed(error: NodeJS.ErrnoException | undefined): void {
    const up = this.up;
    this.up = undefined;
    if (this.settled) return;
    if (!this.responseStarted) {
      // A pooled connection the app had closed while idle: the request most likely never reached
      // it, so a bodyless idempotent request is sent again once (RFC 9112 §9.3.1).
      if (
        !this.retried &&
        !(error instanceof HttpParseError) &&
        !this.hasBody &&
        IDEMPOTENT.has(this.method) &&
        up !== undefined &&
        up.responses > 0
      ) {
        this.retried = true;
        this.start(true);
        return;
      }
      const outcome = outcomeOfUpstreamError(error);
      if (error instanceof HttpParseError) {
        this.conn.ctx.metrics.upstreamInvalid
          .labels({ reason: error.code === 'HPE_HEADER_OVERFLOW' ? 'header-overflow' : 'malformed' })
          .inc();
      }
      this.settle(outcome, 502);
      const close = !this.requestDone || this.conn.ctx.draining || !this.keepAlive;
      this.conn.socket.write(badGateway(outcome, this.conn.ctx.pod, close), 'latin1');
      this.conn.exchangeFinished(this, !close);
      return;
    }
    // The app went away mid-body: the client must see a broken response, not a short one.
    this.settle(outcomeOfUpstreamError(error), this.status);
    this.conn.socket.destroy();
  }

  /** The request was malformed before it reached the app: the client gets `status`. */
  rejected(status: number): void {
    if (!this.settled) this.settle('bad-request', status);
  }

  /** The client connection closed before the response was complete. */
  clientGone(): void {
    if (this.settled) return;
    this.settle('client-aborted', this.responseStarted ? this.status : undefined);
    const up = this.up;
    this.up = undefined;
    if (up !== undefined) {
      up.user = undefined;
      up.socket.destroy();
    }
  }

  private settle(outcome: RequestOutcome, status?: number): void {
    this.settled = true;
    this.conn.ctx.traffic.end(this.record, outcome, status);
  }
}

const kConnection = Symbol('drainwatch.clientConnection');
type ClientSocket = Socket & { [kConnection]?: ClientConnection };

// Shared socket handlers that find their connection on the socket: no closures per connection.
function onClientData(this: ClientSocket, chunk: Buffer): void {
  this[kConnection]?.data(chunk);
}
function onClientEnd(this: ClientSocket): void {
  this[kConnection]?.ended();
}
function onClientDrain(this: ClientSocket): void {
  this[kConnection]?.drained();
}
function onClientClose(this: ClientSocket): void {
  this[kConnection]?.closed();
}

class ClientConnection implements MessageHandlers {
  private readonly parser: MessageParser;
  /** The exchange being answered; later pipelined ones wait in `queue`. */
  private current: Exchange | undefined;
  private queue: Exchange[] | undefined;
  /** The exchange whose request body is arriving (may be a queued one). */
  private receiving: Exchange | undefined;
  private upgrade: MessageHead | undefined;
  private requests = 0;
  /** Read in the current execute(); sent to the app only once the whole read parsed cleanly. */
  private toStart: Exchange | undefined;
  /** The client sent its FIN after whole requests: answer them, then close. */
  private clientEnded = false;
  private ending = false;
  private uploadBlocked = false;
  private detached = false;
  /** The first bytes have not been looked at yet (or were a prefix of the HTTP/2 preface). */
  private sniffing: boolean;
  private sniffed: Buffer | undefined;
  idleSince: number;

  constructor(
    readonly ctx: ProxyContext,
    readonly socket: Socket,
  ) {
    this.idleSince = ctx.tick;
    this.sniffing = ctx.onNotHttp1 !== undefined;
    this.parser = createRequestParser(this);
    (socket as ClientSocket)[kConnection] = this;
    socket.on('data', onClientData);
    socket.on('end', onClientEnd);
    socket.on('drain', onClientDrain);
    socket.on('error', noop);
    socket.on('close', onClientClose);
  }

  get idle(): boolean {
    return this.current === undefined && this.receiving === undefined;
  }

  data(chunk: Buffer): void {
    // After the response that closed the connection (or a 400/431) nothing more is a request
    // (RFC 9112 §9.6). Left to the parser, a request a keep-alive client sent before our FIN
    // reached it (the agent closes connections while draining) would still go to the app, its
    // answer written after our FIN, lost; and the rest of an oversize head would count again.
    if (this.ending) return;
    if (this.sniffing) {
      const seen = this.sniffed === undefined ? chunk : Buffer.concat([this.sniffed, chunk]);
      const kind = sniffProtocol(seen);
      if (kind === 'more') {
        this.sniffed = seen;
        return;
      }
      this.sniffing = false;
      this.sniffed = undefined;
      if (kind === 'other') {
        this.detach();
        this.ctx.onNotHttp1?.(this.socket, seen);
        return;
      }
      chunk = seen;
    }
    let parsed: number;
    try {
      parsed = this.parser.execute(chunk);
      // A head is sent on only after the rest of its read parsed: a request whose body is already
      // malformed is answered 400 without the app seeing a byte of it, as the bare app answers it.
      const ex = this.toStart;
      if (ex !== undefined) {
        this.toStart = undefined;
        ex.start();
      }
    } catch (err) {
      if (err instanceof HttpParseError) this.badRequest(err);
      else {
        // A bug in our bookkeeping must cost one connection, never the pod's whole traffic.
        process.emitWarning(`drainwatch agent: request handling failed: ${(err as Error).message}`);
        this.socket.destroy();
      }
      return;
    }
    if (this.upgrade !== undefined) this.handOver(chunk.subarray(parsed));
  }

  onHead(head: MessageHead): boolean {
    this.requests += 1;
    const reused = this.requests > 1;
    if (head.upgrade) {
      this.upgrade = head;
      return false;
    }
    const forApp = upstreamRequest(head, this.socket.remoteAddress ?? '', this.ctx.pod, false);
    const record = this.ctx.traffic.begin({
      method: head.method,
      url: head.url,
      probeId: forApp.probeId,
      healthCheck: forApp.healthCheck,
      reused,
    });
    const http10 = head.versionMajor === 1 && head.versionMinor === 0;
    const ex = new Exchange(
      this,
      record,
      head.method,
      forApp.text,
      forApp.chunked,
      forApp.hasBody,
      head.keepAlive,
      http10,
    );
    this.receiving = ex;
    if (this.current === undefined) {
      this.current = ex;
      this.toStart = ex;
    } else {
      this.queue ??= [];
      this.queue.push(ex);
      // Pipelined requests: read no further until the earlier responses went out.
      this.socket.pause();
    }
    return false;
  }

  onBody(chunk: Buffer): void {
    this.receiving?.requestBody(chunk);
  }

  onComplete(): void {
    if (this.upgrade !== undefined) return;
    const ex = this.receiving;
    this.receiving = undefined;
    ex?.requestComplete();
  }

  private handOver(rest: Buffer): void {
    const head = this.upgrade!;
    if (this.current !== undefined || this.queue !== undefined) {
      // An upgrade pipelined behind unanswered requests: no order we could keep.
      this.ctx.metrics.badRequests.inc();
      this.socket.destroy();
      return;
    }
    this.detach();
    this.ctx.onUpgrade({ head, socket: this.socket, rest, reused: this.requests > 1 });
  }

  /** The socket belongs to someone else now (a tunnel). */
  private detach(): void {
    this.detached = true;
    this.socket.pause();
    this.socket.off('data', onClientData);
    this.socket.off('end', onClientEnd);
    this.socket.off('drain', onClientDrain);
    this.socket.off('close', onClientClose);
    this.ctx.connections.delete(this);
    this.parser.close();
  }

  private badRequest(err: HttpParseError): void {
    this.ctx.metrics.badRequests.inc();
    this.ending = true;
    const unsent = this.toStart;
    this.toStart = undefined;
    const overflow = err.code === 'HPE_HEADER_OVERFLOW';
    if (unsent !== undefined && unsent === this.current) {
      // Its head never left: the client hears the error as the app alone would have answered it.
      unsent.rejected(overflow ? 431 : 400);
      this.current = undefined;
      this.receiving = undefined;
    }
    if (this.current !== undefined || !this.socket.writable) {
      this.socket.destroy();
      return;
    }
    // Byte for byte what Node's http server answers (lib/_http_server.js).
    const status = overflow ? '431 Request Header Fields Too Large' : '400 Bad Request';
    endSocket(this.socket, `HTTP/1.1 ${status}\r\nConnection: close\r\n\r\n`);
  }

  setUploadBlocked(blocked: boolean): void {
    this.uploadBlocked = blocked;
    if (blocked) this.socket.pause();
    else if (this.queue === undefined) this.socket.resume();
  }

  drained(): void {
    this.current?.clientDrained();
  }

  exchangeFinished(ex: Exchange, keepAlive: boolean): void {
    if (this.current !== ex) return;
    this.current = undefined;
    if (this.receiving === ex && ex.requestDone) this.receiving = undefined;
    if (!keepAlive || this.ctx.draining) {
      this.endConnection();
      return;
    }
    const next = this.queue?.shift();
    if (this.queue?.length === 0) this.queue = undefined;
    if (next !== undefined) {
      this.current = next;
      next.start();
      if (this.queue === undefined && !this.uploadBlocked) this.socket.resume();
      return;
    }
    // Everything the half-closed client asked for has been answered.
    if (this.clientEnded) {
      this.endConnection();
      return;
    }
    this.idleSince = this.ctx.tick;
  }

  private endConnection(): void {
    if (this.ending) return;
    this.ending = true;
    // Requests read behind the one that closed the connection are never answered.
    for (const ex of this.queue ?? []) ex.clientGone();
    this.queue = undefined;
    endSocket(this.socket);
  }

  // A client's FIN after whole requests is a half-close (BusyBox wget, `nc -N`): it still reads,
  // and RFC 9112 §9.6 asks a server to answer what it received. Its requests are served, then
  // the connection closes. A FIN inside a request (a cut head or body) ends everything.
  ended(): void {
    if (this.sniffed !== undefined) {
      // A FIN inside what might have been the HTTP/2 preface: HTTP/1.x it is, as the app would parse it.
      const seen = this.sniffed;
      this.sniffing = false;
      this.sniffed = undefined;
      this.data(seen);
      if (this.detached) return;
    }
    let cut = this.receiving !== undefined && !this.receiving.requestDone;
    if (!cut) {
      try {
        // Throws when the FIN fell inside a head.
        this.parser.finish();
      } catch {
        cut = true;
      }
    }
    if (cut) {
      this.abortAll();
      this.endConnection();
      return;
    }
    this.clientEnded = true;
    if (this.idle && this.queue === undefined) this.endConnection();
  }

  private abortAll(): void {
    this.current?.clientGone();
    for (const ex of this.queue ?? []) ex.clientGone();
    if (this.receiving !== this.current) this.receiving?.clientGone();
    this.current = undefined;
    this.queue = undefined;
    this.receiving = undefined;
  }

  closed(): void {
    this.ctx.connections.delete(this);
    this.abortAll();
    if (!this.detached) this.parser.close();
  }

  /**
   * Ends the connection if it is idle (the agent is closing, or keep-alive ran out); with
   * `unused: false`, only if it has carried a request (the drain: HttpProxy.drain).
   */
  closeIfIdle(unused = true): void {
    if (this.idle && !this.ending && (unused || this.requests > 0)) this.endConnection();
  }
}

function noop(): void {}

export function createHttpProxy(options: HttpProxyOptions): HttpProxy {
  const {
    upstream,
    pod,
    traffic,
    metrics,
    connections: upstreamConnections,
    onUpgrade,
    onNotHttp1,
  } = options;
  const maxResponseHeaderBytes = options.maxResponseHeaderBytes ?? DEFAULT_MAX_RESPONSE_HEADER_BYTES;
  const keepAliveTicks = Math.max(
    1,
    Math.ceil((options.keepAliveTimeoutMs ?? DEFAULT_KEEP_ALIVE_TIMEOUT_MS) / SWEEP_MS),
  );
  const ctx: ProxyContext = {
    pod,
    traffic,
    metrics,
    pool: createUpstreamPool(upstream, upstreamConnections, undefined, maxResponseHeaderBytes),
    onUpgrade,
    onNotHttp1,
    connections: new Set(),
    closing: false,
    draining: false,
    tick: 0,
  };
  // One timer for all keep-alive deadlines instead of one per connection.
  const sweep = setInterval(() => {
    ctx.tick += 1;
    for (const conn of ctx.connections) {
      // Strictly more ticks than the timeout: a connection is never closed before it has been idle
      // that long, so a client with a shorter idle timeout of its own (undici: 4 s) closes first.
      if (conn.idle && ctx.tick - conn.idleSince > keepAliveTicks) conn.closeIfIdle();
    }
  }, SWEEP_MS);
  sweep.unref();

  return {
    accept(socket) {
      if (ctx.closing) {
        socket.destroy();
        return;
      }
      socket.setNoDelay(true);
      ctx.connections.add(new ClientConnection(ctx, socket));
    },
    drain() {
      ctx.draining = true;
      for (const conn of ctx.connections) conn.closeIfIdle(false);
    },
    closeIdle() {
      ctx.closing = true;
      ctx.draining = true;
      clearInterval(sweep);
      for (const conn of ctx.connections) conn.closeIfIdle();
    },
    destroyAll() {
      ctx.closing = true;
      clearInterval(sweep);
      for (const conn of ctx.connections) conn.socket.destroy();
      ctx.pool.close();
    },
  };
}
