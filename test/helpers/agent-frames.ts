import { OPCODES } from '../../agent/proxy/websocket-frames.js';
import { createRng as seededRandom } from '../../lib/random.js';

// Builds RFC 6455 frames byte by byte (independently of the reader under test) and random frame
// streams for the fuzz tests. A seeded PRNG makes a failing case reproducible from its seed.

export interface FrameSpec {
  readonly opcode: number;
  readonly payload?: Uint8Array;
  readonly fin?: boolean;
  readonly rsv?: number;
  /** A 4-byte key: the frame is masked (client to server). */
  readonly mask?: Uint8Array;
  /** Force a longer length encoding than needed (still valid framing). */
  readonly lengthEncoding?: 7 | 16 | 64;
}

export function buildFrame(spec: FrameSpec): Buffer {
  const payload = Buffer.from(spec.payload ?? new Uint8Array(0));
  const len = payload.length;
  const enc = spec.lengthEncoding ?? (len < 126 ? 7 : len < 65536 ? 16 : 64);
  const head: number[] = [((spec.fin ?? true) ? 0x80 : 0) | ((spec.rsv ?? 0) << 4) | spec.opcode];
  const maskBit = spec.mask ? 0x80 : 0;
  if (enc === 7) head.push(maskBit | len);
  else if (enc === 16) head.push(maskBit | 126, (len >> 8) & 0xff, len & 0xff);
  else {
    head.push(maskBit | 127);
    const hi = Math.floor(len / 0x1_0000_0000);
    for (const v of [hi, len >>> 0])
      head.push((v >>> 24) & 0xff, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff);
  }
  if (spec.mask) {
    head.push(...spec.mask);
    const masked = Buffer.alloc(len);
    for (let i = 0; i < len; i++) masked[i] = payload[i]! ^ spec.mask[i & 3]!;
    return Buffer.concat([Buffer.from(head), masked]);
  }
  return Buffer.concat([Buffer.from(head), payload]);
}

export function closePayload(code: number, reason = ''): Buffer {
  const b = Buffer.alloc(2 + Buffer.byteLength(reason));
  b.writeUInt16BE(code, 0);
  b.write(reason, 2);
  return b;
}

/** A seeded generator with the helpers a fuzzer needs. */
export function createRng(seed: number): {
  next(): number;
  int(max: number): number;
  bytes(n: number): Buffer;
} {
  const next = seededRandom(seed);
  return {
    next,
    int: (max) => Math.floor(next() * max),
    bytes: (n) => {
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = Math.floor(next() * 256);
      return b;
    },
  };
}

type Rng = ReturnType<typeof createRng>;

function randomLength(rng: Rng): number {
  const pick = rng.int(8);
  if (pick === 0) return 0;
  if (pick === 1) return 125;
  if (pick === 2) return 126;
  if (pick === 3) return 65535 + rng.int(3);
  if (pick === 4) return 70_000 + rng.int(100_000);
  return rng.int(2000);
}

export interface GeneratedStream {
  readonly bytes: Buffer;
  readonly frames: number;
  /** The close code this stream ends with, if it ends with a close frame. */
  readonly closeCode: number | undefined;
  readonly valid: boolean;
  /** An invalid stream whose broken part no reader can take for framing (random garbage might). */
  readonly surelyInvalid: boolean;
}

/** A random, valid stream of messages (fragmented, with control frames in between). */
export function validStream(rng: Rng, masked: boolean, withClose: boolean): GeneratedStream {
  const parts: Buffer[] = [];
  let frames = 0;
  const mask = (): Uint8Array | undefined => (masked ? rng.bytes(4) : undefined);
  const control = (): void => {
    parts.push(
      buildFrame({
        opcode: rng.next() < 0.5 ? OPCODES.ping : OPCODES.pong,
        payload: rng.bytes(rng.int(126)),
        mask: mask(),
      }),
    );
    frames += 1;
  };
  const messages = 1 + rng.int(12);
  for (let m = 0; m < messages; m++) {
    const opcode = rng.next() < 0.5 ? OPCODES.text : OPCODES.binary;
    // permessage-deflate marks compressed messages with RSV1 on their first frame.
    const rsv = rng.next() < 0.3 ? 4 : 0;
    const fragments = rng.next() < 0.3 ? 2 + rng.int(4) : 1;
    for (let f = 0; f < fragments; f++) {
      const enc = rng.next() < 0.1 ? 64 : undefined;
      parts.push(
        buildFrame({
          opcode: f === 0 ? opcode : OPCODES.continuation,
          fin: f === fragments - 1,
          rsv: f === 0 ? rsv : 0,
          payload: rng.bytes(randomLength(rng)),
          mask: mask(),
          ...(enc ? { lengthEncoding: enc } : {}),
        }),
      );
      frames += 1;
      if (rng.next() < 0.3) control();
    }
  }
  let closeCode: number | undefined;
  if (withClose) {
    closeCode = [1000, 1001, 1011, 1012, 4000 + rng.int(999)][rng.int(5)]!;
    parts.push(buildFrame({ opcode: OPCODES.close, payload: closePayload(closeCode, 'bye'), mask: mask() }));
    frames += 1;
  }
  return { bytes: Buffer.concat(parts), frames, closeCode, valid: true, surelyInvalid: false };
}

/** A stream that turns invalid somewhere: garbage, a wrong mask bit, a reserved opcode, a bad control frame. */
export function invalidStream(rng: Rng, masked: boolean): GeneratedStream {
  const prefix = validStream(rng, masked, false).bytes;
  const kind = rng.int(5);
  let tail: Buffer;
  if (kind === 0) tail = rng.bytes(1 + rng.int(5000));
  else if (kind === 1)
    tail = buildFrame({
      opcode: OPCODES.text,
      payload: rng.bytes(10),
      ...(masked ? {} : { mask: rng.bytes(4) }),
    });
  else if (kind === 2)
    tail = buildFrame({
      opcode: 3 + rng.int(5),
      payload: rng.bytes(5),
      mask: masked ? rng.bytes(4) : undefined,
    });
  else if (kind === 3)
    tail = buildFrame({
      opcode: OPCODES.ping,
      fin: false,
      payload: rng.bytes(5),
      mask: masked ? rng.bytes(4) : undefined,
    });
  else
    tail = buildFrame({
      opcode: OPCODES.continuation,
      payload: rng.bytes(5),
      mask: masked ? rng.bytes(4) : undefined,
    });
  // Whatever follows the broken part is never parsed, so it may even be a close frame.
  const after = buildFrame({
    opcode: OPCODES.close,
    payload: closePayload(1000),
    mask: masked ? rng.bytes(4) : undefined,
  });
  return {
    bytes: Buffer.concat([prefix, tail, after]),
    frames: -1,
    closeCode: undefined,
    valid: false,
    surelyInvalid: kind !== 0,
  };
}

/** Splits a buffer into random chunks (1 byte up to 8 KiB), as TCP might deliver it. */
export function randomChunks(rng: Rng, bytes: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; ) {
    const size = rng.next() < 0.2 ? 1 + rng.int(3) : 1 + rng.int(8192);
    out.push(bytes.subarray(i, i + size));
    i += size;
  }
  return out;
}
