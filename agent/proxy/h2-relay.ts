import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:net';
import type { RequestOutcome } from '../../contract/index.js';
import type { AgentMetrics } from '../metrics.js';
import type { RequestRecord, TcpRecord, Traffic } from '../traffic.js';
import { endSocket } from './end-socket.js';
import {
  buildFrame,
  CLIENT_PREFACE,
  createFrameSplitter,
  FLAG,
  FRAME,
  type FrameHeader,
  type FrameSplitter,
  goawayFrame,
  H2_ERROR,
  MAX_STREAM_ID,
} from './h2-frames.js';
import { createH2Streams, type H2Streams } from './h2-streams.js';
import { createHpackDecoder, type HpackDecoder } from './hpack.js';

// HTTP/2 cleartext through the agent: one connection to the app per client connection, every
// byte passed as it came (SETTINGS, flow control, RST_STREAM, GOAWAY and trailers reach the other
// side untouched), while the frames are read on the way to account for each stream. At drain the
// agent sends the client the graceful two-step GOAWAY (RFC 9113 §6.8; Envoy's and grpc-go's
// GracefulStop): a GOAWAY with the last stream id at 2^31-1 and a PING, then, once the PING comes
// back (the client has seen the first GOAWAY and opens no more streams), a GOAWAY with the real
// last stream id. Streams already open finish; the connection closes when none is left. The PING
// answer is the agent's own and never reaches the app, whose HTTP/2 stack would take an
// unrequested PING ACK as a protocol error.

/** How long the client may take to answer the drain PING before the final GOAWAY goes anyway (ms). */
const PING_TIMEOUT_MS = 2000;

export interface RelayContext {
  readonly traffic: Traffic;
  readonly metrics: AgentMetrics;
  readonly relays: Set<H2Relay>;
  draining: boolean;
}

export type ClosedBy = 'client' | 'app' | 'agent' | 'refused';

// A header block split over HEADERS/PUSH_PROMISE and CONTINUATION frames (RFC 9113 §6.10).
interface BlockInProgress {
  readonly streamId: number;
  readonly push: boolean;
  readonly endStream: boolean;
  readonly parts: Buffer[];
}

/** The header block fragment of a HEADERS or PUSH_PROMISE payload, without padding and priority. */
function fragmentOf(h: FrameHeader, p: Buffer): Buffer {
  let start = 0;
  let end = p.length;
  if (h.flags & FLAG.PADDED) {
    start = 1;
    end -= p[0]!;
  }
  if (h.type === FRAME.HEADERS && h.flags & FLAG.PRIORITY) start += 5;
  if (h.type === FRAME.PUSH_PROMISE) start += 4;
  if (end < start) throw new Error('bad padding');
  return p.subarray(start, end);
}

const HEADER_TYPES = (t: number) =>
  t === FRAME.HEADERS || t === FRAME.CONTINUATION || t === FRAME.PUSH_PROMISE || t === FRAME.RST_STREAM;

export class H2Relay {
  private readonly streams: H2Streams;
  private readonly toApp: FrameSplitter;
  private readonly toClient: FrameSplitter;
  private readonly decoders: { client: HpackDecoder; app: HpackDecoder };
  private blocks: { client?: BlockInProgress; app?: BlockInProgress } = {};
  /** Reading stopped after a frame the agent could not decode: bytes still pass, uncounted. */
  private blind = false;
  private closedBy: ClosedBy | undefined;
  private goawayBeforeClose: boolean | undefined;
  private serverPrefaceSeen = false;
  private goaway: 'none' | 'wanted' | 'first' | 'final' = 'none';
  /** The lowest last stream id any GOAWAY to the client carried (it may never grow, RFC 9113 §6.8). */
  private lastIdToClient = MAX_STREAM_ID + 1;
  private readonly ping = randomBytes(8);
  private pingTimer: NodeJS.Timeout | undefined;
  private done = false;
  /** The connection itself, counted with the tunnelled ones (open at SIGTERM, closed by whom). */
  private readonly record: TcpRecord;

  /** `upgraded`: the HTTP/1.1 request a `101` switched to HTTP/2 (its stream 1), if it was one. */
  constructor(
    private readonly ctx: RelayContext,
    readonly client: Socket,
    readonly app: Socket,
    upgraded?: RequestRecord,
  ) {
    this.record = ctx.traffic.tcpOpened();
    this.decoders = { client: createHpackDecoder(), app: createHpackDecoder() };
    // A connection opened during the preStop is served without GOAWAY until the pod drains
    // (H2Relays.drainOpen); its streams meanwhile say nothing about the entry point's endpoints.
    const heldThroughPrestop = ctx.traffic.phase === 'prestop' && !ctx.draining;
    this.streams = createH2Streams(
      ctx.traffic,
      () => this.idle(),
      () => !heldThroughPrestop || this.goaway !== 'none',
    );
    if (upgraded !== undefined) this.streams.upgraded(upgraded);
    this.toApp = createFrameSplitter({
      prefaceBytes: CLIENT_PREFACE.length,
      holds: (t) => t === FRAME.PING,
      captures: HEADER_TYPES,
      replace: (h, frame) => this.replaceFromClient(h, frame),
      onFrame: (h, p) => this.read('client', h, p),
      write: (b) => app.write(b),
    });
    this.toClient = createFrameSplitter({
      prefaceBytes: 0,
      holds: (t) => t === FRAME.GOAWAY,
      captures: HEADER_TYPES,
      replace: (h, frame) => this.replaceFromApp(h, frame),
      onFrame: (h, p) => this.read('app', h, p),
      write: (b) => client.write(b),
    });
  }

  fromClient(chunk: Buffer): void {
    if (!this.toApp.feed(chunk)) {
      this.client.pause();
      this.app.once('drain', () => this.client.resume());
    }
    this.streams.flush();
  }

  fromApp(chunk: Buffer): void {
    if (!this.toClient.feed(chunk)) {
      this.app.pause();
      this.client.once('drain', () => this.app.resume());
    }
    this.streams.flush();
    // A GOAWAY waiting for the end of a frame has gone out now: the connection may close.
    if (this.goaway === 'final') this.idle();
  }

  // The client's answer to the drain PING is the agent's: dropped, and the final GOAWAY follows.
  private replaceFromClient(h: FrameHeader, frame: Buffer): Buffer | undefined {
    if (h.flags & FLAG.ACK && h.length === 8 && frame.subarray(9).equals(this.ping)) {
      if (this.goaway === 'first') this.finalGoaway();
      return Buffer.alloc(0);
    }
    return undefined;
  }

  // The app's own GOAWAY passes, its last stream id lowered to what the client was already told.
  private replaceFromApp(h: FrameHeader, frame: Buffer): Buffer | undefined {
    if (h.length < 8) return undefined;
    const last = frame.readUInt32BE(9) & MAX_STREAM_ID;
    const code = frame.readUInt32BE(13);
    this.ctx.metrics.h2Goaway.labels({ sender: 'app', code: String(code) }).inc();
    if (!this.blind) this.streams.appGoaway(last);
    if (last < this.lastIdToClient) {
      this.lastIdToClient = last;
      // The app's graceful shutdown takes over from the agent's.
      if (last !== MAX_STREAM_ID) this.goaway = 'final';
      return undefined;
    }
    const copy = Buffer.from(frame);
    copy.writeUInt32BE(this.lastIdToClient, 9);
    return copy;
  }

  private read(from: 'client' | 'app', h: FrameHeader, p: Buffer | undefined): void {
    if (this.blind) return;
    try {
      this.readFrame(from, h, p);
    } catch (err) {
      // A frame we cannot read costs this connection's accounting, never its traffic.
      this.blind = true;
      process.emitWarning(`drainwatch agent: HTTP/2 frames not understood: ${(err as Error).message}`);
    }
  }

  private readFrame(from: 'client' | 'app', h: FrameHeader, p: Buffer | undefined): void {
    const s = this.streams;
    switch (h.type) {
      case FRAME.DATA:
        if (h.flags & FLAG.END_STREAM) from === 'client' ? s.clientEnd(h.streamId) : s.appEnd(h.streamId);
        return;
      case FRAME.HEADERS:
      case FRAME.PUSH_PROMISE: {
        const block: BlockInProgress = {
          streamId: h.streamId,
          push: h.type === FRAME.PUSH_PROMISE,
          endStream: h.type === FRAME.HEADERS && (h.flags & FLAG.END_STREAM) !== 0,
          parts: [fragmentOf(h, p!)],
        };
        if (h.flags & FLAG.END_HEADERS) this.headerBlock(from, block);
        else this.blocks[from] = block;
        return;
      }
      case FRAME.CONTINUATION: {
        const block = this.blocks[from];
        if (block === undefined) throw new Error('CONTINUATION without HEADERS');
        block.parts.push(p!);
        if (h.flags & FLAG.END_HEADERS) {
          this.blocks[from] = undefined;
          this.headerBlock(from, block);
        }
        return;
      }
      case FRAME.RST_STREAM:
        if (p!.length >= 4) s.reset(h.streamId, from, p!.readUInt32BE(0));
        return;
      case FRAME.SETTINGS:
        if (from === 'app' && !this.serverPrefaceSeen) {
          this.serverPrefaceSeen = true;
          if (this.goaway === 'wanted') this.startGoaway();
        }
        return;
      default:
    }
  }

  private headerBlock(from: 'client' | 'app', b: BlockInProgress): void {
    const fields = this.decoders[from].decode(b.parts.length === 1 ? b.parts[0]! : Buffer.concat(b.parts));
    if (b.push) return; // decoded only to keep the table in step
    if (from === 'client') this.streams.clientHeaders(b.streamId, fields, b.endStream);
    else this.streams.appHeaders(b.streamId, fields, b.endStream);
  }

  /** The pod drains: first GOAWAY (2^31-1) and a PING, once the app's SETTINGS went first. */
  drain(): void {
    if (this.goaway !== 'none' || this.done) return;
    this.goaway = 'wanted';
    if (this.serverPrefaceSeen) this.startGoaway();
  }

  private startGoaway(): void {
    if (this.lastIdToClient <= MAX_STREAM_ID) {
      // The app already said GOAWAY; its own shutdown goes on.
      this.goaway = 'final';
      this.idle();
      return;
    }
    this.goaway = 'first';
    this.sendGoaway(MAX_STREAM_ID);
    this.toClient.inject(buildFrame(FRAME.PING, 0, 0, this.ping));
    this.pingTimer = setTimeout(() => this.finalGoaway(), PING_TIMEOUT_MS);
    this.pingTimer.unref();
  }

  private finalGoaway(): void {
    if (this.goaway !== 'first') return;
    clearTimeout(this.pingTimer);
    this.goaway = 'final';
    this.sendGoaway(Math.min(this.streams.maxClientId, this.lastIdToClient));
    this.idle();
  }

  private sendGoaway(last: number): void {
    this.lastIdToClient = last;
    this.ctx.metrics.h2Goaway.labels({ sender: 'agent', code: String(H2_ERROR.NO_ERROR) }).inc();
    this.toClient.inject(goawayFrame(last, H2_ERROR.NO_ERROR));
  }

  /** After the final GOAWAY, the connection closes once no stream is open. */
  private idle(): void {
    if (this.goaway !== 'final' || this.streams.open > 0 || this.done) return;
    if (!this.toClient.atBoundary) return;
    if (this.closedBy === undefined) this.closedBy = 'agent';
    endSocket(this.client);
    endSocket(this.app);
  }

  ended(by: ClosedBy): void {
    this.closedBy ??= by;
    // Whether a GOAWAY went before the close began: one the drain sends as the app's exit is noticed
    // comes too late to have warned the client.
    this.goawayBeforeClose ??= this.lastIdToClient <= MAX_STREAM_ID;
  }

  finished(): void {
    if (!this.client.destroyed || !this.app.destroyed || this.done) return;
    this.done = true;
    clearTimeout(this.pingTimer);
    this.ctx.relays.delete(this);
    const by = this.closedBy ?? 'client';
    const outcome: RequestOutcome =
      by === 'client' ? 'client-aborted' : by === 'refused' ? 'upstream-refused' : 'upstream-reset';
    // lastIdToClient drops to a real stream id with the first GOAWAY either side sent the client.
    this.streams.closeAll(outcome, this.goawayBeforeClose ?? this.lastIdToClient <= MAX_STREAM_ID);
    this.ctx.traffic.tcpClosed(this.record, by);
  }

  cut(): void {
    this.ended('agent');
    this.client.destroy();
    this.app.destroy();
  }
}
