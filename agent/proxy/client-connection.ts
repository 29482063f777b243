import type { Socket } from 'node:net';
import { type ClientSocketEvents, listenClientSocket, unlistenClientSocket } from './client-socket.js';
import { endSocket } from './end-socket.js';
import { beginExchange, type Exchange, type ExchangeContext } from './exchange.js';
import {
  createRequestParser,
  HttpParseError,
  type MessageHandlers,
  type MessageHead,
  type MessageParser,
} from './http-parser.js';
import { sniffProtocol } from './protocol-sniff.js';

// One client connection of the HTTP/1.1 proxy: llhttp parses its requests, each becomes an
// Exchange; requests a client pipelines wait their turn and responses leave in order. A request
// that asks for an Upgrade (or CONNECT), or first bytes that are not HTTP/1.x, hand the socket on.

/** A request whose head said Upgrade (or CONNECT): from here on the socket is a tunnel. */
export interface UpgradeRequest {
  readonly head: MessageHead;
  readonly socket: Socket;
  /** Bytes the client sent after the head, already read from the socket. */
  readonly rest: Buffer;
  /** The client connection carried a request before this one. */
  readonly reused: boolean;
}

/** The state every client connection of one proxy shares. */
export interface ProxyContext extends ExchangeContext {
  readonly onUpgrade: (request: UpgradeRequest) => void;
  readonly onNotHttp1: ((socket: Socket, head: Buffer) => void) | undefined;
  readonly connections: Set<ClientConnection>;
  /** New connections are refused. */
  closing: boolean;
  /** Responses close their connection (the pod drains or the agent closes). */
  draining: boolean;
  tick: number;
}

export class ClientConnection implements MessageHandlers, ClientSocketEvents {
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
    listenClientSocket(socket, this);
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
      const http1 = this.sniff(chunk);
      if (http1 === undefined) return;
      chunk = http1;
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

  /**
   * Looks at the first bytes: returns them all (with any held before) when they are HTTP/1.x,
   * or `undefined` when they were held to read on or the socket went to `onNotHttp1`.
   */
  private sniff(chunk: Buffer): Buffer | undefined {
    const seen = this.sniffed === undefined ? chunk : Buffer.concat([this.sniffed, chunk]);
    const kind = sniffProtocol(seen);
    if (kind === 'more') {
      this.sniffed = seen;
      return undefined;
    }
    this.sniffing = false;
    this.sniffed = undefined;
    if (kind === 'other') {
      this.detach();
      this.ctx.onNotHttp1?.(this.socket, seen);
      return undefined;
    }
    return seen;
  }

  onHead(head: MessageHead): boolean {
    this.requests += 1;
    if (head.upgrade) {
      this.upgrade = head;
      return false;
    }
    const ex = beginExchange(this, head, this.requests > 1);
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
    unlistenClientSocket(this.socket);
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
