// The HTTP/2 connection preface (RFC 9113 §3.4) as far as it tells HTTP/2 from an HTTP/1.x method.
const H2_PREFACE = Buffer.from('PRI * HTTP/2.0', 'latin1');
const A = 0x41;
const Z = 0x5a;
const CR = 0x0d;
const LF = 0x0a;

/**
 * What a connection's first bytes are: `http1` (a request line, or the empty lines RFC 9112 §2.2
 * lets precede one), `other` (the HTTP/2 preface, a TLS ClientHello, anything not starting like an
 * HTTP/1.x method), or `more` (a prefix of the HTTP/2 preface: read on). A malformed HTTP/1.x
 * request stays `http1` and is answered 400 as Node's server answers it.
 */
export function sniffProtocol(b: Buffer): 'http1' | 'other' | 'more' {
  const first = b[0]!;
  if (first === CR || first === LF) return 'http1';
  if (first < A || first > Z) return 'other';
  if (first !== H2_PREFACE[0]) return 'http1';
  const n = Math.min(b.length, H2_PREFACE.length);
  if (b.compare(H2_PREFACE, 0, n, 0, n) !== 0) return 'http1';
  return n === H2_PREFACE.length ? 'other' : 'more';
}
