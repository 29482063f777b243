import type { Socket } from 'node:net';
import type { RequestOutcome } from '../../contract/index.js';
import type { AgentMetrics } from '../metrics.js';
import type { RequestRecord, Traffic } from '../traffic.js';
import { BodyFraming, clientResponse, interimResponse, upstreamRequest } from './forwarding.js';
import { HttpParseError, type MessageHead } from './http-parser.js';
import { badGateway, mayResend, outcomeOfUpstreamError } from './upstream-failure.js';
import type { UpstreamConnection, UpstreamPool, UpstreamUser } from './upstream-pool.js';

// One request and its response, relayed between a client connection and a pooled app connection:
// the rewritten head and the body go to the app, the app's response comes back reframed for the
// client, and the request's fate is recorded once (ok, app error, refused, reset, client abort).

// The last chunk of a chunked body, with no trailers.
const LAST_CHUNK = '0\r\n\r\n';
// Below this a response head and its first body chunk leave as one string in one write.
const COALESCE_MAX = 4096;

/** What an exchange reads of the proxy's shared state. */
export interface ExchangeContext {
  readonly pod: string;
  readonly traffic: Traffic;
  readonly metrics: AgentMetrics;
  readonly pool: UpstreamPool;
  /** Responses close their connection (the pod drains or the agent closes). */
  readonly draining: boolean;
}

/** The client connection an exchange answers on. */
export interface ExchangeOwner {
  readonly ctx: ExchangeContext;
  readonly socket: Socket;
  /** The app's connection is full (`true`) or drained (`false`): the client's reads pause or resume. */
  setUploadBlocked(blocked: boolean): void;
  /** The exchange is over; its connection may carry another request if `keepAlive`. */
  exchangeFinished(ex: Exchange, keepAlive: boolean): void;
}

// One object per request, methods on the prototype: the hot path allocates no closures.
export class Exchange implements UpstreamUser {
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
    private readonly conn: ExchangeOwner,
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
      if (!this.retried && mayResend(this.method, this.hasBody, error, up)) {
        this.retried = true;
        this.start(true);
        return;
      }
      this.answerBadGateway(error);
      return;
    }
    // The app went away mid-body: the client must see a broken response, not a short one.
    this.settle(outcomeOfUpstreamError(error), this.status);
    this.conn.socket.destroy();
  }

  /** The app failed before its response began: the client hears a 502 instead. */
  private answerBadGateway(error: NodeJS.ErrnoException | undefined): void {
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

/**
 * A request's head was read from `owner`'s client: the request is recorded as begun and its
 * exchange made (not started: its head goes to the app once the read it came in parsed cleanly).
 */
export function beginExchange(owner: ExchangeOwner, head: MessageHead, reused: boolean): Exchange {
  const forApp = upstreamRequest(head, owner.socket.remoteAddress ?? '', owner.ctx.pod, false);
  const record = owner.ctx.traffic.begin({
    method: head.method,
    url: head.url,
    probeId: forApp.probeId,
    healthCheck: forApp.healthCheck,
    reused,
  });
  const http10 = head.versionMajor === 1 && head.versionMinor === 0;
  return new Exchange(
    owner,
    record,
    head.method,
    forApp.text,
    forApp.chunked,
    forApp.hasBody,
    head.keepAlive,
    http10,
  );
}
