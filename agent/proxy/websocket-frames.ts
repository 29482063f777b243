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
const VALID_OPCODES = new Set([0x0, 0x1, 0x2, 0x8, 0x9, 0xa]);

// A class, not closures: the agent holds two readers per open WebSocket, and a thousand sockets
// must cost kilobytes, not megabytes (state lives in fields, methods on the prototype).
class IncrementalFrameReader implements FrameReader {
  private state: State = State.Header;
  private readonly header = new Uint8Array(MAX_HEADER);
  private headerLen = 0;
  private frameCount = 0;
  private why: string | undefined;
  private closeInfo: CloseInfo | undefined;
  // The current frame, once its header is complete.
  private current: FrameHeader | undefined;
  // Where the mask key sits in `header`, or -1 for an unmasked frame.
  private maskAt = -1;
  private remaining = 0;
  private payloadOffset = 0;
  // A fragmented data message is in progress (its first frame had FIN=0).
  private inMessage = false;
  // The close frame's status code bytes, gathered across chunks.
  private closeCode = 0;
  private closeCodeBytes = 0;

  constructor(private readonly options: FrameReaderOptions) {}

  push(chunk: Uint8Array): void {
    if (this.state === State.Dead) return;
    try {
      this.consume(chunk);
    } catch (err) {
      // Only a callback can throw here; the stream is still forwarded, so stop reading it.
      this.die(`reader error: ${(err as Error).message}`);
    }
  }

  get frames(): number {
    return this.frameCount;
  }

  get close(): CloseInfo | undefined {
    return this.closeInfo;
  }

  get unparseable(): boolean {
    return this.state === State.Dead;
  }

  get reason(): string | undefined {
    return this.why;
  }

  private die(why: string): void {
    this.state = State.Dead;
    this.why = why;
  }

  /** Length of the full header given its first two bytes, or 2 when not yet known. */
  private neededHeaderLength(): number {
    if (this.headerLen < 2) return 2;
    const b1 = this.header[1]!;
    const len7 = b1 & 0x7f;
    const ext = len7 === 126 ? 2 : len7 === 127 ? 8 : 0;
    return 2 + ext + ((b1 & 0x80) !== 0 ? 4 : 0);
  }

  private finishHeader(): boolean {
    const header = this.header;
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
      length = (header[2]! << 8) | header[3]!;
      at = 4;
    } else if (len7 === 127) {
      const hi = ((header[2]! << 24) | (header[3]! << 16) | (header[4]! << 8) | header[5]!) >>> 0;
      const lo = ((header[6]! << 24) | (header[7]! << 16) | (header[8]! << 8) | header[9]!) >>> 0;
      // RFC 6455: the most significant bit must be 0; lengths past 2^53 cannot be real traffic.
      if (hi > 0x1fffff) {
        this.die('frame length out of range');
        return false;
      }
      length = hi * 0x1_0000_0000 + lo;
      at = 10;
    }
    if (masked !== this.options.expectMasked) {
      this.die(this.options.expectMasked ? 'unmasked client frame' : 'masked server frame');
      return false;
    }
    const isControl = (opcode & 0x8) !== 0;
    if (!VALID_OPCODES.has(opcode)) {
      this.die(`reserved opcode ${opcode}`);
      return false;
    }
    if (isControl && (!fin || length > 125)) {
      this.die('fragmented or oversized control frame');
      return false;
    }
    if (!isControl) {
      if (opcode === OPCODES.continuation && !this.inMessage) {
        this.die('continuation without a message');
        return false;
      }
      if (opcode !== OPCODES.continuation && this.inMessage) {
        this.die('new message inside a fragmented one');
        return false;
      }
      this.inMessage = !fin;
    }
    this.maskAt = masked ? at : -1;
    const current: FrameHeader = { fin, rsv, opcode, masked, length };
    this.current = current;
    this.remaining = length;
    this.payloadOffset = 0;
    this.closeCode = 0;
    this.closeCodeBytes = 0;
    this.frameCount += 1;
    this.options.onFrame?.(current);
    return true;
  }

  private endFrame(): void {
    if (this.current?.opcode === OPCODES.close && this.closeInfo === undefined) {
      this.closeInfo = this.closeCodeBytes >= 2 ? { code: this.closeCode } : {};
      this.options.onClose?.(this.closeInfo);
    }
    this.current = undefined;
    this.state = State.Header;
    this.headerLen = 0;
  }

  private consume(chunk: Uint8Array): void {
    let i = 0;
    while (i < chunk.length && this.state !== State.Dead) {
      if (this.state === State.Header) {
        const need = this.neededHeaderLength();
        while (this.headerLen < need && i < chunk.length) this.header[this.headerLen++] = chunk[i++]!;
        // The first two bytes decide the full header length: read on if it grew.
        if (this.headerLen < this.neededHeaderLength()) continue;
        if (!this.finishHeader()) return;
        if (this.remaining === 0) this.endFrame();
        else this.state = State.Payload;
        continue;
      }
      const take = Math.min(this.remaining, chunk.length - i);
      if (this.current?.opcode === OPCODES.close) {
        for (let k = 0; k < take && this.payloadOffset + k < 2; k++) {
          const byte = chunk[i + k]!;
          const key = this.maskAt < 0 ? 0 : this.header[this.maskAt + ((this.payloadOffset + k) & 3)]!;
          this.closeCode = (this.closeCode << 8) | (byte ^ key);
          this.closeCodeBytes += 1;
        }
      }
      i += take;
      this.remaining -= take;
      this.payloadOffset += take;
      if (this.remaining === 0) this.endFrame();
    }
  }
}

export function createFrameReader(options: FrameReaderOptions): FrameReader {
  return new IncrementalFrameReader(options);
}
