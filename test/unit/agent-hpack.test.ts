import { describe, expect, it } from 'vitest';
import { createFrameSplitter, FRAME, goawayFrame } from '../../agent/proxy/h2-frames.js';
import { createHpackDecoder, HpackError, huffmanCodes } from '../../agent/proxy/hpack.js';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('HPACK decoder (RFC 7541)', () => {
  it('builds the canonical Huffman code of Appendix B', () => {
    const codes = huffmanCodes();
    // Entries as Appendix B lists them: [symbol, code, bits].
    const listed: [number, number, number][] = [
      [0, 0x1ff8, 13],
      [1, 0x7fffd8, 23],
      [32, 0x14, 6],
      [48, 0x0, 5],
      [97, 0x3, 5],
      [92, 0x7fff0, 19],
      [200, 0x3ffffe2, 26],
      [255, 0x3ffffee, 26],
      [256, 0x3fffffff, 30],
    ];
    for (const [sym, code, bits] of listed) expect(codes[sym], `symbol ${sym}`).toEqual([code, bits]);
  });

  it('decodes the Huffman-coded requests of Appendix C.4 with one dynamic table', () => {
    const d = createHpackDecoder();
    const pairs = (b: Buffer) => d.decode(b).map((f) => [f.name, f.value]);
    expect(pairs(hex('8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff'))).toEqual([
      [':method', 'GET'],
      [':scheme', 'http'],
      [':path', '/'],
      [':authority', 'www.example.com'],
    ]);
    expect(pairs(hex('8286 84be 5886 a8eb 1064 9cbf'))).toEqual([
      [':method', 'GET'],
      [':scheme', 'http'],
      [':path', '/'],
      [':authority', 'www.example.com'],
      ['cache-control', 'no-cache'],
    ]);
    expect(pairs(hex('8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf'))).toEqual([
      [':method', 'GET'],
      [':scheme', 'https'],
      [':path', '/index.html'],
      [':authority', 'www.example.com'],
      ['custom-key', 'custom-value'],
    ]);
  });

  it('refuses an index past its table', () => {
    expect(() => createHpackDecoder().decode(hex('be'))).toThrow(HpackError);
  });
});

describe('HTTP/2 frame splitter', () => {
  it('passes bytes unchanged however they are cut, drops what replace() drops, injects between frames', () => {
    const headers = Buffer.concat([Buffer.from([0, 0, 3, FRAME.HEADERS, 4, 0, 0, 0, 1]), hex('828684')]);
    const ping = Buffer.concat([Buffer.from([0, 0, 8, FRAME.PING, 1, 0, 0, 0, 0]), Buffer.from('dwdwdwdw')]);
    const data = Buffer.concat([Buffer.from([0, 0, 5, FRAME.DATA, 1, 0, 0, 0, 1]), Buffer.from('hello')]);
    const wire = Buffer.concat([headers, ping, data]);
    for (let cut = 1; cut < wire.length; cut += 1) {
      const out: Buffer[] = [];
      const seen: number[] = [];
      const s = createFrameSplitter({
        prefaceBytes: 0,
        holds: (t) => t === FRAME.PING,
        captures: (t) => t === FRAME.HEADERS,
        replace: () => Buffer.alloc(0),
        onFrame: (h, p) => {
          seen.push(h.type);
          if (h.type === FRAME.HEADERS) expect(p).toEqual(hex('828684'));
        },
        write: (b) => {
          out.push(Buffer.from(b));
          return true;
        },
      });
      s.feed(wire.subarray(0, cut));
      s.inject(goawayFrame(1, 0));
      s.feed(wire.subarray(cut));
      expect(seen).toEqual([FRAME.HEADERS, FRAME.PING, FRAME.DATA]);
      const joined = Buffer.concat(out);
      // The GOAWAY went at the first frame boundary after inject(); the PING is gone.
      const withoutGoaway = Buffer.concat([headers, data]);
      expect(joined.length).toBe(withoutGoaway.length + 17);
      const at = joined.indexOf(goawayFrame(1, 0));
      expect([0, headers.length, headers.length + data.length]).toContain(at);
      expect(Buffer.concat([joined.subarray(0, at), joined.subarray(at + 17)])).toEqual(withoutGoaway);
    }
  });
});
