// HTTP/2 framing (RFC 9113 §4.1) for the agent's relay: each direction of a connection is cut
// into frames as it passes, without being re-encoded. Bytes go on as they arrive (a DATA frame's
// payload is never held back); only a frame header split across reads, and the few frames the
// relay may drop or rewrite, wait until they are whole. The relay can also slip a frame of its
// own in between two frames (GOAWAY and PING at drain).

export const FRAME = {
  DATA: 0x0,
  HEADERS: 0x1,
  PRIORITY: 0x2,
  RST_STREAM: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  PING: 0x6,
  GOAWAY: 0x7,
  WINDOW_UPDATE: 0x8,
  CONTINUATION: 0x9,
} as const;

export const FLAG = { END_STREAM: 0x1, ACK: 0x1, END_HEADERS: 0x4, PADDED: 0x8, PRIORITY: 0x20 } as const;

/** RFC 9113 §7 error codes the relay names. */
export const H2_ERROR = { NO_ERROR: 0x0, REFUSED_STREAM: 0x7, CANCEL: 0x8 } as const;

/** The client connection preface (RFC 9113 §3.4), 24 bytes before the first frame. */
export const CLIENT_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/** The largest stream id (2^31-1), the first GOAWAY of a graceful shutdown (RFC 9113 §6.8). */
export const MAX_STREAM_ID = 0x7fffffff;

const HEADER_BYTES = 9;

export interface FrameHeader {
  /** Payload length in bytes. */
  readonly length: number;
  readonly type: number;
  readonly flags: number;
  readonly streamId: number;
}

/** Builds a frame (header and payload) the relay sends itself. */
export function buildFrame(type: number, flags: number, streamId: number, payload: Buffer): Buffer {
  const b = Buffer.allocUnsafe(HEADER_BYTES + payload.length);
  b.writeUIntBE(payload.length, 0, 3);
  b[3] = type;
  b[4] = flags;
  b.writeUInt32BE(streamId & MAX_STREAM_ID, 5);
  payload.copy(b, HEADER_BYTES);
  return b;
}

/** A GOAWAY frame: last stream id, error code, no debug data. */
export function goawayFrame(lastStreamId: number, errorCode: number): Buffer {
  const p = Buffer.alloc(8);
  p.writeUInt32BE(lastStreamId & MAX_STREAM_ID, 0);
  p.writeUInt32BE(errorCode, 4);
  return buildFrame(FRAME.GOAWAY, 0, 0, p);
}

export interface FrameSplitterOptions {
  /** Bytes to pass before the first frame (the client preface). */
  readonly prefaceBytes: number;
  /** Frames held until whole, then offered to `replace` (PING, GOAWAY). */
  readonly holds: (type: number) => boolean;
  /** Frames whose payload `onFrame` needs (HEADERS, RST_STREAM…); DATA payloads are never copied. */
  readonly captures: (type: number) => boolean;
  /** A held frame, whole (header included): what to send instead; undefined sends it as it is. */
  readonly replace: (h: FrameHeader, frame: Buffer) => Buffer | undefined;
  /** Every frame once it has passed, with its payload when captured. */
  readonly onFrame: (h: FrameHeader, payload: Buffer | undefined) => void;
  /** Writes to the other side; false asks the source to pause (backpressure). */
  readonly write: (b: Buffer) => boolean;
}

export interface FrameSplitter {
  /** Passes a chunk read from one side; returns write()'s verdict on the last write. */
  feed(chunk: Buffer): boolean;
  /** Sends `frame` at the next frame boundary (at once when between frames). */
  inject(frame: Buffer): void;
  /** No frame is half passed: an injected frame would go at once. */
  readonly atBoundary: boolean;
}

export function createFrameSplitter(o: FrameSplitterOptions): FrameSplitter {
  let preface = o.prefaceBytes;
  let held: Buffer | undefined; // a partial header, or a partial held frame
  let remaining = 0; // payload bytes of the current passing frame
  let current: FrameHeader | undefined;
  let capture: Buffer[] | undefined;
  let pending: Buffer[] | undefined;
  let ok = true;

  const finish = (payload: Buffer | undefined) => {
    const h = current!;
    current = undefined;
    capture = undefined;
    o.onFrame(h, payload);
  };

  const feed = (chunk: Buffer): boolean => {
    let buf = held === undefined ? chunk : Buffer.concat([held, chunk]);
    held = undefined;
    let pos = 0;
    let from = 0;
    const flush = (to: number) => {
      if (to > from) ok = o.write(buf.subarray(from, to));
      from = to;
    };
    if (preface > 0) {
      const n = Math.min(preface, buf.length);
      preface -= n;
      pos = n;
    }
    while (pos < buf.length) {
      if (remaining > 0) {
        const n = Math.min(remaining, buf.length - pos);
        if (capture !== undefined) capture.push(Buffer.from(buf.subarray(pos, pos + n)));
        pos += n;
        remaining -= n;
        if (remaining === 0) finish(capture === undefined ? undefined : Buffer.concat(capture));
        continue;
      }
      if (pending !== undefined) {
        flush(pos);
        for (const f of pending) ok = o.write(f);
        pending = undefined;
      }
      if (buf.length - pos < HEADER_BYTES) break;
      const h: FrameHeader = {
        length: buf.readUIntBE(pos, 3),
        type: buf[pos + 3]!,
        flags: buf[pos + 4]!,
        streamId: buf.readUInt32BE(pos + 5) & MAX_STREAM_ID,
      };
      const end = pos + HEADER_BYTES + h.length;
      if (o.holds(h.type)) {
        if (end > buf.length) break;
        const frame = buf.subarray(pos, end);
        const instead = o.replace(h, frame);
        if (instead !== undefined) {
          flush(pos);
          if (instead.length > 0) ok = o.write(instead);
          from = end;
        }
        pos = end;
        o.onFrame(h, frame.subarray(HEADER_BYTES));
        continue;
      }
      current = h;
      pos += HEADER_BYTES;
      remaining = h.length;
      if (o.captures(h.type)) capture = [];
      if (remaining === 0) finish(capture === undefined ? undefined : Buffer.alloc(0));
    }
    // What is left is a partial header or a partial held frame: it waits for the next read.
    if (pos < buf.length) {
      flush(pos);
      held = Buffer.from(buf.subarray(pos));
      buf = buf.subarray(0, pos);
    }
    flush(buf.length);
    if (pending !== undefined && remaining === 0 && held === undefined) {
      for (const f of pending) ok = o.write(f);
      pending = undefined;
    }
    return ok;
  };

  return {
    feed,
    inject(frame) {
      if (remaining === 0 && held === undefined && preface === 0) ok = o.write(frame);
      else {
        pending ??= [];
        pending.push(frame);
      }
    },
    get atBoundary() {
      return remaining === 0 && held === undefined;
    },
  };
}
