import { describe, expect, it } from 'vitest';
import { createFrameReader, type FrameHeader, OPCODES } from '../../agent/proxy/websocket-frames.js';
import {
  buildFrame,
  closePayload,
  createRng,
  invalidStream,
  randomChunks,
  validStream,
} from '../helpers/agent-frames.js';

function read(chunks: Buffer[], expectMasked: boolean) {
  const seen: FrameHeader[] = [];
  const reader = createFrameReader({ expectMasked, onFrame: (f) => seen.push(f) });
  for (const c of chunks) reader.push(c);
  return { reader, seen };
}

const key = Buffer.from([0x12, 0x34, 0x56, 0x78]);

describe('websocket frame reader', () => {
  it('reads a masked close frame split one byte at a time', () => {
    const frame = buildFrame({ opcode: OPCODES.close, payload: closePayload(1001, 'going away'), mask: key });
    const { reader } = read(
      [...frame].map((b) => Buffer.from([b])),
      true,
    );
    expect(reader.close).toEqual({ code: 1001 });
    expect(reader.frames).toBe(1);
    expect(reader.unparseable).toBe(false);
  });

  it('reads 16- and 64-bit lengths and skips payloads without buffering them', () => {
    const big = Buffer.alloc(70_000, 7);
    const frames = [
      buildFrame({ opcode: OPCODES.binary, payload: Buffer.alloc(300) }),
      buildFrame({ opcode: OPCODES.binary, payload: big }),
      buildFrame({ opcode: OPCODES.text, payload: Buffer.from('x'), lengthEncoding: 64 }),
      buildFrame({ opcode: OPCODES.close, payload: closePayload(1000) }),
    ];
    const { reader, seen } = read([Buffer.concat(frames)], false);
    expect(seen.map((f) => f.length)).toEqual([300, 70_000, 1, 2]);
    expect(reader.close).toEqual({ code: 1000 });
  });

  it('follows a fragmented message with control frames interleaved', () => {
    const frames = [
      buildFrame({ opcode: OPCODES.text, fin: false, rsv: 4, payload: Buffer.from('he'), mask: key }),
      buildFrame({ opcode: OPCODES.ping, payload: Buffer.from('p'), mask: key }),
      buildFrame({ opcode: OPCODES.continuation, fin: false, payload: Buffer.from('ll'), mask: key }),
      buildFrame({ opcode: OPCODES.pong, mask: key }),
      buildFrame({ opcode: OPCODES.continuation, fin: true, payload: Buffer.from('o'), mask: key }),
    ];
    const { reader, seen } = read([Buffer.concat(frames)], true);
    expect(reader.unparseable).toBe(false);
    expect(seen.map((f) => f.opcode)).toEqual([1, 9, 0, 10, 0]);
    expect(seen[0]?.rsv).toBe(4);
  });

  it('takes a close frame without a status code as a close with no code', () => {
    const { reader } = read([buildFrame({ opcode: OPCODES.close })], false);
    expect(reader.close).toEqual({});
  });

  it.each([
    ['an unmasked client frame', buildFrame({ opcode: OPCODES.text, payload: Buffer.from('a') }), true],
    ['a masked server frame', buildFrame({ opcode: OPCODES.text, mask: key }), false],
    ['a reserved opcode', buildFrame({ opcode: 3 }), false],
    ['a fragmented ping', buildFrame({ opcode: OPCODES.ping, fin: false }), false],
    ['a 126-byte ping', buildFrame({ opcode: OPCODES.ping, payload: Buffer.alloc(126) }), false],
    ['a continuation out of nowhere', buildFrame({ opcode: OPCODES.continuation }), false],
    ['HTTP instead of frames', Buffer.from('GET / HTTP/1.1\r\n\r\n'), false],
  ])('marks %s unparseable and stops reading', (_name, bytes, masked) => {
    const after = buildFrame({
      opcode: OPCODES.close,
      payload: closePayload(1000),
      ...(masked ? { mask: key } : {}),
    });
    const { reader } = read([bytes, after], masked);
    expect(reader.unparseable).toBe(true);
    expect(reader.reason).toBeTruthy();
    expect(reader.close).toBeUndefined();
  });

  it('survives a callback that throws: the stream is marked, push never throws', () => {
    const reader = createFrameReader({
      expectMasked: false,
      onFrame: () => {
        throw new Error('boom');
      },
    });
    expect(() => reader.push(buildFrame({ opcode: OPCODES.text }))).not.toThrow();
    expect(reader.unparseable).toBe(true);
  });

  it('fuzz: random valid streams in random chunks parse completely; invalid ones never throw', () => {
    for (let seed = 1; seed <= 300; seed++) {
      const rng = createRng(seed);
      const masked = rng.next() < 0.5;
      const gen = rng.next() < 0.6 ? validStream(rng, masked, rng.next() < 0.7) : invalidStream(rng, masked);
      let reader: ReturnType<typeof read>['reader'] | undefined;
      expect(() => {
        reader = read(randomChunks(rng, gen.bytes), masked).reader;
      }, `seed ${seed}`).not.toThrow();
      if (gen.valid) {
        expect(reader?.unparseable, `seed ${seed}: ${reader?.reason}`).toBe(false);
        expect(reader?.frames, `seed ${seed}`).toBe(gen.frames);
        expect(reader?.close?.code, `seed ${seed}`).toBe(gen.closeCode);
      } else if (gen.surelyInvalid) {
        expect(reader?.unparseable, `seed ${seed}`).toBe(true);
      }
    }
  });

  it('fuzz: pure random bytes never make it throw', () => {
    for (let seed = 1; seed <= 200; seed++) {
      const rng = createRng(seed * 7919);
      const reader = createFrameReader({ expectMasked: rng.next() < 0.5 });
      for (const c of randomChunks(rng, rng.bytes(rng.int(20_000))))
        expect(() => reader.push(c)).not.toThrow();
    }
  });
});
