// A passive, incremental reader of RFC 6455 frames. It only watches bytes that are forwarded
// untouched elsewhere: it never buffers payloads (only the 14-byte header and the 2-byte close
// code), never unmasks data frames, and never throws. On bytes that cannot be WebSocket framing it
// stops reading that stream and says so, and the bytes keep flowing.

export const OPCODES = {
  continuation: 0x0,
  text: 0x1,
  binary: 0x2,
  close: 0x8,
  ping: 0x9,
  pong: 0xa,
} as const;

export interface FrameHeader {
  readonly fin: boolean;
  /** RSV1..3 as a 3-bit number; RSV1 is permessage-deflate's "compressed" bit, so it is allowed. */
  readonly rsv: number;
  readonly opcode: number;
  readonly masked: boolean;
  readonly length: number;
}

export interface CloseInfo {
  /** The status code, or undefined when the close frame carried none (1005 on the receiving side). */
  readonly code?: number;
}

export interface FrameReaderOptions {
  /** Client-to-server frames must be masked and server-to-client frames must not (RFC 6455 §5.1). */
  readonly expectMasked: boolean;
  readonly onFrame?: (frame: FrameHeader) => void;
  readonly onClose?: (close: CloseInfo) => void;
}

export interface FrameReader {
  /** Feeds the next chunk of the stream, in order. Never throws. */
  push(chunk: Uint8Array): void;
  /** Complete frames seen (headers parsed). */
  readonly frames: number;
  /** The first close frame seen, if any. */
  readonly close: CloseInfo | undefined;
  /** True once the stream was found not to be WebSocket framing; nothing more is parsed. */
  readonly unparseable: boolean;
  /** Why it became unparseable. */
  readonly reason: string | undefined;
}

const State = { Header: 0, Payload: 1, Dead: 2 } as const;
type State = (typeof State)[keyof typeof State];

const MAX_HEADER = 14;

export function createFrameReader(options: FrameReaderOptions): FrameReader {
  let state: State = State.Header;
  const header = Buffer.alloc(MAX_HEADER);
  let headerLen = 0;
  let frames = 0;
  let reason: string | undefined;
  let close: CloseInfo | undefined;
  // The current frame, once its header is complete.
  let current: FrameHeader | undefined;
  let mask: Uint8Array | undefined;
  let remaining = 0;
  let payloadOffset = 0;
  // A fragmented data message is in progress (its first frame had FIN=0).
  let inMessage = false;
  // The close frame's first two payload bytes (its status code), gathered across chunks.
  const closeBytes: number[] = [];

  const die = (why: string): void => {
    state = State.Dead;
    reason = why;
  };

  /** Length of the full header given its first two bytes, or 0 when not yet known. */
  const neededHeaderLength = (): number => {
    if (headerLen < 2) return 2;
    const len7 = header[1]! & 0x7f;
    const masked = (header[1]! & 0x80) !== 0;
    const ext = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
    return 2 + ext + (masked ? 4 : 0);
  };

  const finishHeader = (): boolean => {
    const b0 = header[0]!;
    const b1 = header[1]!;
    const fin = (b0 & 0x80) !== 0;
    const rsv = (b0 >> 4) & 0x7;
    const opcode = b0 & 0x0f;
    const masked = (b1 & 0x80) !== 0;
    const len7 = b1 & 0x7f;
    let length = len7;
    let at = 2;
    if (len7 === 126) {
      length = header.readUInt16BE(2);
      at = 4;
    } else if (len7 === 127) {
      const hi = header.readUInt32BE(2);
      const lo = header.readUInt32BE(6);
      // RFC 6455: the most significant bit must be 0; lengths past 2^53 cannot be real traffic.
      if (hi > 0x1fffff) {
        die('frame length out of range');
        return false;
      }
      length = hi * 0x1_0000_0000 + lo;
      at = 10;
    }
    if (masked !== options.expectMasked) {
      die(options.expectMasked ? 'unmasked client frame' : 'masked server frame');
      return false;
    }
    const isControl = (opcode & 0x8) !== 0;
    if (![0x0, 0x1, 0x2, 0x8, 0x9, 0xa].includes(opcode)) {
      die(`reserved opcode ${opcode}`);
      return false;
    }
    if (isControl && (!fin || length > 125)) {
      die('fragmented or oversized control frame');
      return false;
    }
    if (!isControl) {
      if (opcode === OPCODES.continuation && !inMessage) {
        die('continuation without a message');
        return false;
      }
      if (opcode !== OPCODES.continuation && inMessage) {
        die('new message inside a fragmented one');
        return false;
      }
      inMessage = !fin;
    }
    mask = masked ? header.subarray(at, at + 4) : undefined;
    current = { fin, rsv, opcode, masked, length };
    remaining = length;
    payloadOffset = 0;
    closeBytes.length = 0;
    frames += 1;
    options.onFrame?.(current);
    return true;
  };

  const endFrame = (): void => {
    if (current?.opcode === OPCODES.close && close === undefined) {
      close = closeBytes.length >= 2 ? { code: (closeBytes[0]! << 8) | closeBytes[1]! } : {};
      options.onClose?.(close);
    }
    current = undefined;
    state = State.Header;
    headerLen = 0;
  };

  const consume = (chunk: Uint8Array): void => {
    let i = 0;
    while (i < chunk.length && state !== State.Dead) {
      if (state === State.Header) {
        const need = neededHeaderLength();
        while (headerLen < need && i < chunk.length) header[headerLen++] = chunk[i++]!;
        // The first two bytes decide the full header length: read on if it grew.
        if (headerLen < neededHeaderLength()) continue;
        if (!finishHeader()) return;
        if (remaining === 0) endFrame();
        else state = State.Payload;
        continue;
      }
      const take = Math.min(remaining, chunk.length - i);
      if (current?.opcode === OPCODES.close) {
        for (let k = 0; k < take && payloadOffset + k < 2; k++) {
          const byte = chunk[i + k]!;
          closeBytes.push(mask ? byte ^ mask[(payloadOffset + k) & 3]! : byte);
        }
      }
      i += take;
      remaining -= take;
      payloadOffset += take;
      if (remaining === 0) endFrame();
    }
  };

  return {
    push(chunk) {
      if (state === State.Dead) return;
      try {
        consume(chunk);
      } catch (err) {
        // Only a callback can throw here; the stream is still forwarded, so stop reading it.
        die(`reader error: ${(err as Error).message}`);
      }
    },
    get frames() {
      return frames;
    },
    get close() {
      return close;
    },
    get unparseable() {
      return state === State.Dead;
    },
    get reason() {
      return reason;
    },
  };
}
