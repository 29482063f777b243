// A passive HPACK decoder (RFC 7541) for the agent's HTTP/2 relay: the agent forwards header
// blocks byte for byte and decodes a copy only to learn a stream's method, path, status and
// gRPC status. Every block of a direction must go through its decoder, in order, because the
// dynamic table (§2.3.2) is built by the blocks themselves; a block the decoder cannot read
// makes the connection's accounting stop (HpackError), never its traffic.

/** A header block did not decode (RFC 7541 §5, §6): the relay stops reading that connection. */
export class HpackError extends Error {
  readonly code = 'HPACK_DECODE';
}

// RFC 7541 Appendix A. Values are kept only for the names the agent reads.
const STATIC: readonly (readonly [string, string])[] = [
  ['', ''],
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ...[
    'accept-charset',
    'accept-encoding',
    'accept-language',
    'accept-ranges',
    'accept',
    'access-control-allow-origin',
    'age',
    'allow',
    'authorization',
    'cache-control',
    'content-disposition',
    'content-encoding',
    'content-language',
    'content-length',
    'content-location',
    'content-range',
    'content-type',
    'cookie',
    'date',
    'etag',
    'expect',
    'expires',
    'from',
    'host',
    'if-match',
    'if-modified-since',
    'if-none-match',
    'if-range',
    'if-unmodified-since',
    'last-modified',
    'link',
    'location',
    'max-forwards',
    'proxy-authenticate',
    'proxy-authorization',
    'range',
    'referer',
    'refresh',
    'retry-after',
    'server',
    'set-cookie',
    'strict-transport-security',
    'transfer-encoding',
    'user-agent',
    'vary',
    'via',
    'www-authenticate',
  ].map((n): [string, string] => [n, n === 'accept-encoding' ? 'gzip, deflate' : '']),
];
const STATIC_COUNT = STATIC.length - 1; // 61

// RFC 7541 Appendix B gives the Huffman code as a canonical code: from the code lengths of the
// 257 symbols (0-255 and EOS), in symbol order, the codes follow (shorter first, then by symbol).
const HUFFMAN_LENGTHS = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28,
  28, 28, 28, 28, 28, 6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7,
  8, 15, 6, 12, 10, 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19,
  13, 14, 6, 15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13,
  28, 20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21,
  22, 23, 22, 23, 23, 24, 22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23,
  22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23, 26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, 20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25,
  25, 24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, 30,
] as const;
const EOS = 256;

/** The canonical codes, `[code, length]` by symbol (exported for the test against RFC 7541 Appendix B). */
export function huffmanCodes(): [number, number][] {
  const order = HUFFMAN_LENGTHS.map((len, sym) => ({ len, sym })).sort(
    (a, b) => a.len - b.len || a.sym - b.sym,
  );
  const codes: [number, number][] = new Array(HUFFMAN_LENGTHS.length);
  let code = 0;
  let prevLen = order[0]!.len;
  for (const { len, sym } of order) {
    code *= 2 ** (len - prevLen);
    prevLen = len;
    codes[sym] = [code, len];
    code += 1;
  }
  return codes;
}

// The decoding tree as two arrays of children: node 0 is the root; a leaf holds -(symbol + 1).
function buildTree(): Int32Array {
  const tree = new Int32Array(2 * 2 * HUFFMAN_LENGTHS.length).fill(0);
  let next = 1;
  huffmanCodes().forEach(([code, len], sym) => {
    let node = 0;
    for (let bit = len - 1; bit >= 0; bit -= 1) {
      const b = Math.floor(code / 2 ** bit) % 2;
      const slot = node * 2 + b;
      if (bit === 0) tree[slot] = -(sym + 1);
      else {
        if (tree[slot] === 0) tree[slot] = next++;
        node = tree[slot]!;
      }
    }
  });
  return tree;
}
const TREE = buildTree();

/** Decodes a Huffman-coded string (RFC 7541 §5.2), as latin1. */
export function huffmanDecode(buf: Buffer, start: number, end: number): string {
  let out = '';
  let node = 0;
  let depth = 0;
  let ones = true;
  for (let i = start; i < end; i += 1) {
    const byte = buf[i]!;
    for (let bit = 7; bit >= 0; bit -= 1) {
      const b = (byte >> bit) & 1;
      ones &&= b === 1;
      const child = TREE[node * 2 + b]!;
      depth += 1;
      if (child < 0) {
        const sym = -child - 1;
        if (sym === EOS) throw new HpackError('EOS in a Huffman string');
        out += String.fromCharCode(sym);
        node = 0;
        depth = 0;
        ones = true;
      } else if (child === 0) throw new HpackError('bad Huffman code');
      else node = child;
    }
  }
  // Padding is the most significant bits of EOS (all ones), shorter than 8 bits (§5.2).
  if (depth > 7 || !ones) throw new HpackError('bad Huffman padding');
  return out;
}

export interface HeaderField {
  readonly name: string;
  readonly value: string;
}

export interface HpackDecoder {
  /** Decodes one whole header block (HEADERS or PUSH_PROMISE plus its CONTINUATIONs). */
  decode(block: Buffer): HeaderField[];
}

/** A decoder for one direction of one connection; its dynamic table starts at 4,096 bytes (RFC 9113 §6.5.2). */
export function createHpackDecoder(): HpackDecoder {
  // Newest first, as HPACK indexes it (§2.3.3).
  const table: HeaderField[] = [];
  let size = 0;
  let maxSize = 4096;
  const evict = () => {
    while (size > maxSize && table.length > 0) {
      const e = table.pop()!;
      size -= e.name.length + e.value.length + 32;
    }
  };
  const at = (index: number): HeaderField => {
    if (index >= 1 && index <= STATIC_COUNT) {
      const [name, value] = STATIC[index]!;
      return { name, value };
    }
    const e = table[index - STATIC_COUNT - 1];
    if (e === undefined) throw new HpackError(`no table entry ${index}`);
    return e;
  };
  return {
    decode(block) {
      const out: HeaderField[] = [];
      const r = { pos: 0 };
      while (r.pos < block.length) {
        const b = block[r.pos]!;
        if (b & 0x80) {
          out.push(at(readInt(block, r, 7)));
        } else if ((b & 0xe0) === 0x20) {
          maxSize = readInt(block, r, 5);
          evict();
        } else {
          // Literal: with incremental indexing (01), without (0000) or never indexed (0001).
          const indexed = (b & 0xc0) === 0x40;
          const idx = readInt(block, r, indexed ? 6 : 4);
          const name = idx === 0 ? readString(block, r) : at(idx).name;
          const field = { name, value: readString(block, r) };
          out.push(field);
          if (indexed) {
            table.unshift(field);
            size += field.name.length + field.value.length + 32;
            evict();
          }
        }
      }
      return out;
    },
  };
}

// §5.1: an N-bit prefix integer.
function readInt(buf: Buffer, r: { pos: number }, prefix: number): number {
  const mask = (1 << prefix) - 1;
  let n = buf[r.pos]! & mask;
  r.pos += 1;
  if (n < mask) return n;
  let m = 0;
  for (;;) {
    if (r.pos >= buf.length || m > 28) throw new HpackError('bad integer');
    const b = buf[r.pos]!;
    r.pos += 1;
    n += (b & 0x7f) * 2 ** m;
    m += 7;
    if ((b & 0x80) === 0) return n;
  }
}

function readString(buf: Buffer, r: { pos: number }): string {
  if (r.pos >= buf.length) throw new HpackError('truncated string');
  const huffman = (buf[r.pos]! & 0x80) !== 0;
  const len = readInt(buf, r, 7);
  const end = r.pos + len;
  if (end > buf.length) throw new HpackError('truncated string');
  const s = huffman ? huffmanDecode(buf, r.pos, end) : buf.toString('latin1', r.pos, end);
  r.pos = end;
  return s;
}
