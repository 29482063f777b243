import { describe, expect, it } from 'vitest';
import {
  createRequestParser,
  createResponseParser,
  HttpParseError,
  type MessageHead,
  type MessageParser,
} from '../../agent/proxy/http-parser.js';

// The agent parses both sides of the proxy with llhttp through Node's internal `_http_common`
// binding. These tests pin what the wrapper relies on, so a Node upgrade that changes the binding
// (callback slots, argument order, the slow header path, upgrade offsets, error codes) fails here.

interface Message {
  head: MessageHead;
  body: Buffer;
  complete: boolean;
}

function collect(
  kind: 'request' | 'response',
  skipBody: (head: MessageHead) => boolean = () => false,
): {
  parser: MessageParser;
  messages: Message[];
} {
  const messages: Message[] = [];
  const handlers = {
    onHead(head: MessageHead) {
      messages.push({ head, body: Buffer.alloc(0), complete: false });
      return skipBody(head);
    },
    onBody(chunk: Buffer) {
      const m = messages.at(-1)!;
      // llhttp hands out views into the buffer being parsed: copy, as the agent writes at once.
      m.body = Buffer.concat([m.body, Buffer.from(chunk)]);
    },
    onComplete() {
      messages.at(-1)!.complete = true;
    },
  };
  const parser = kind === 'request' ? createRequestParser(handlers) : createResponseParser(handlers);
  return { parser, messages };
}

function headers(head: MessageHead): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < head.rawHeaders.length; i += 2)
    out.push([head.rawHeaders[i]!, head.rawHeaders[i + 1]!]);
  return out;
}

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

const latin1 = (s: string): Buffer => Buffer.from(s, 'latin1');

describe('llhttp binding as the agent uses it', () => {
  it('assembles one head with every header and the url from a request fed one byte at a time', () => {
    const raw = latin1(
      'POST /a/long/path?with=query&and=more HTTP/1.1\r\nHost: shop.example\r\nX-Case: Mixed Value\r\n' +
        'Content-Length: 5\r\nX-Empty: \r\n\r\nhello',
    );
    const { parser, messages } = collect('request');
    let consumed = 0;
    for (const b of raw) consumed += parser.execute(Buffer.from([b]));
    expect(consumed).toBe(raw.length);
    expect(messages).toHaveLength(1);
    const m = messages[0]!;
    expect(m.head.method).toBe('POST');
    expect(m.head.url).toBe('/a/long/path?with=query&and=more');
    expect(m.head.versionMajor).toBe(1);
    expect(m.head.versionMinor).toBe(1);
    expect(m.head.keepAlive).toBe(true);
    expect(m.head.upgrade).toBe(false);
    expect(headers(m.head)).toEqual([
      ['Host', 'shop.example'],
      ['X-Case', 'Mixed Value'],
      ['Content-Length', '5'],
      ['X-Empty', ''],
    ]);
    expect(m.body.toString()).toBe('hello');
    expect(m.complete).toBe(true);
  });

  it('delivers all of more than 32 headers (the kOnHeaders batching path), in order', () => {
    const names = Array.from({ length: 75 }, (_, i) => `X-H${i}`);
    const raw = `GET /many HTTP/1.1\r\nHost: h\r\n${names.map((n, i) => `${n}: v${i}\r\n`).join('')}\r\n`;
    // Once in one buffer, once split in the middle of the header block.
    for (const chunks of [[raw], [raw.slice(0, 200), raw.slice(200, 700), raw.slice(700)]]) {
      const { parser, messages } = collect('request');
      for (const c of chunks) parser.execute(latin1(c));
      expect(messages).toHaveLength(1);
      const m = messages[0]!;
      expect(m.head.url).toBe('/many');
      expect(headers(m.head)).toEqual([
        ['Host', 'h'],
        ...names.map((n, i): [string, string] => [n, `v${i}`]),
      ]);
      expect(m.complete).toBe(true);
    }
  });

  it('gives one head per pipelined request found in one buffer', () => {
    const { parser, messages } = collect('request');
    const raw = latin1(
      'GET /one HTTP/1.1\r\nHost: h\r\n\r\nPOST /two HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc' +
        'DELETE /three HTTP/1.1\r\nHost: h\r\n\r\n',
    );
    expect(parser.execute(raw)).toBe(raw.length);
    expect(messages.map((m) => [m.head.method, m.head.url, m.body.toString(), m.complete])).toEqual([
      ['GET', '/one', '', true],
      ['POST', '/two', 'abc', true],
      ['DELETE', '/three', '', true],
    ]);
  });

  it('decodes a chunked body, chunk extensions and trailers included', () => {
    const { parser, messages } = collect('request');
    parser.execute(
      latin1(
        'POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n' +
          '5\r\nhello\r\n1;ext=1\r\n \r\n6\r\nworld!\r\n0\r\nX-Trailer: t\r\n\r\n',
      ),
    );
    expect(messages).toHaveLength(1);
    expect(messages[0]!.body.toString()).toBe('hello world!');
    expect(messages[0]!.complete).toBe(true);
  });

  it('does not carry a message’s trailers into the next message’s head', () => {
    const names = Array.from({ length: 40 }, (_, i) => `X-H${i}`);
    const { parser, messages } = collect('response');
    parser.execute(
      latin1(
        'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nX-Trailer: leaked\r\n\r\n' +
          // The next head takes the batching path: the trailers must not be prepended to it.
          `HTTP/1.1 200 OK\r\nContent-Length: 0\r\n${names.map((n) => `${n}: v\r\n`).join('')}\r\n`,
      ),
    );
    expect(messages).toHaveLength(2);
    expect(messages[1]!.head.rawHeaders).not.toContain('X-Trailer');
    expect(headers(messages[1]!.head)).toHaveLength(41);
    // Requests: Node flushes the trailers with the previous request's url, which must not be
    // prepended to the next url either.
    const b = collect('request');
    b.parser.execute(
      latin1(
        'POST /first HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-Trailer: leaked\r\n\r\n' +
          'GET /fast HTTP/1.1\r\nHost: h\r\n\r\n' +
          `GET /slow HTTP/1.1\r\nHost: h\r\n${names.map((n) => `${n}: v\r\n`).join('')}\r\n`,
      ),
    );
    expect(b.messages.map((m) => m.head.url)).toEqual(['/first', '/fast', '/slow']);
    expect(headers(b.messages[1]!.head)).toEqual([['Host', 'h']]);
    expect(b.messages[2]!.head.rawHeaders).not.toContain('X-Trailer');
    expect(headers(b.messages[2]!.head)).toHaveLength(41);
  });

  it('stops at the end of an Upgrade head and returns the offset of the first byte after it', () => {
    const head =
      'GET /ws HTTP/1.1\r\nHost: h\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n';
    const frameBytes = Buffer.from([0x81, 0x85, 1, 2, 3, 4, 0x69, 0x67, 0x6f, 0x68, 0x6e]);
    const { parser, messages } = collect('request');
    const buf = Buffer.concat([latin1(head), frameBytes]);
    const n = parser.execute(buf);
    expect(n).toBe(Buffer.byteLength(head));
    expect(buf.subarray(n)).toEqual(frameBytes);
    expect(messages).toHaveLength(1);
    expect(messages[0]!.head.upgrade).toBe(true);
    expect(messages[0]!.head.url).toBe('/ws');
    // The frame bytes were not taken for a body.
    expect(messages[0]!.body.length).toBe(0);
  });

  it('completes a response to HEAD without a body when onHead says skipBody', () => {
    const { parser, messages } = collect('response', () => true);
    const next = 'HTTP/1.1 204 No Content\r\n\r\n';
    const raw = latin1(`HTTP/1.1 200 OK\r\nContent-Length: 1234\r\nContent-Type: text/plain\r\n\r\n${next}`);
    expect(parser.execute(raw)).toBe(raw.length);
    expect(messages).toHaveLength(2);
    expect(messages[0]!.head.status).toBe(200);
    expect(messages[0]!.head.statusText).toBe('OK');
    expect(headers(messages[0]!.head)).toContainEqual(['Content-Length', '1234']);
    expect(messages[0]!.body.length).toBe(0);
    expect(messages[0]!.complete).toBe(true);
    // The bytes after the head were read as the next response, not as 1234 bytes of body.
    expect(messages[1]!.head.status).toBe(204);
    expect(messages[1]!.complete).toBe(true);
  });

  it('knows 1xx, 204 and 304 responses have no body, whatever their head says', () => {
    const { parser, messages } = collect('response');
    parser.execute(
      latin1(
        'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 304 Not Modified\r\nContent-Length: 50\r\n\r\n' +
          'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok',
      ),
    );
    expect(messages.map((m) => [m.head.status, m.body.toString(), m.complete])).toEqual([
      [100, '', true],
      [304, '', true],
      [200, 'ok', true],
    ]);
  });

  it('completes a close-delimited response on finish(), and throws when a framed one was cut', () => {
    const { parser, messages } = collect('response');
    parser.execute(latin1('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\npart one, '));
    parser.execute(latin1('part two'));
    expect(messages[0]!.complete).toBe(false);
    expect(messages[0]!.head.keepAlive).toBe(false);
    parser.finish();
    expect(messages[0]!.complete).toBe(true);
    expect(messages[0]!.body.toString()).toBe('part one, part two');

    const cut = collect('response');
    cut.parser.execute(latin1('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort'));
    const err = thrown(() => cut.parser.finish());
    expect(err).toBeInstanceOf(HttpParseError);
    expect((err as HttpParseError).code).toMatch(/^HPE_/);
    expect(cut.messages[0]!.complete).toBe(false);
  });

  it('throws HttpParseError with an HPE_* code on malformed input', () => {
    for (const raw of [
      'GARBAGE / NOT-HTTP\r\n\r\n',
      'GET / HTTP/1.1\r\nBad Header Name: x\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: h\r\nContent-Length: abc\r\n\r\n',
      // A bare LF ending a header line (lenient flags off).
      'GET / HTTP/1.1\nHost: h\n\n',
    ]) {
      const { parser, messages } = collect('request');
      const err = thrown(() => parser.execute(latin1(raw)));
      expect(err, raw).toBeInstanceOf(HttpParseError);
      expect((err as HttpParseError).code, raw).toMatch(/^HPE_[A-Z_]+$/);
      expect((err as HttpParseError).name).toBe('HttpParseError');
      expect(
        messages.filter((m) => m.complete),
        raw,
      ).toHaveLength(0);
    }
  });

  it('reports a header block over the limit as HPE_HEADER_OVERFLOW', () => {
    const { parser } = collect('request');
    const err = thrown(() =>
      parser.execute(latin1(`GET / HTTP/1.1\r\nHost: h\r\nX-Big: ${'a'.repeat(64 * 1024)}\r\n\r\n`)),
    );
    expect(err).toBeInstanceOf(HttpParseError);
    expect((err as HttpParseError).code).toBe('HPE_HEADER_OVERFLOW');
  });

  it('rejects Content-Length together with Transfer-Encoding (request smuggling)', () => {
    for (const raw of [
      'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n',
      // Two different lengths.
      'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
      // chunked not last: the length of the body is unknowable.
      'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n0\r\n\r\n',
    ]) {
      const { parser, messages } = collect('request');
      const err = thrown(() => parser.execute(latin1(raw)));
      expect(err, raw).toBeInstanceOf(HttpParseError);
      expect((err as HttpParseError).code, raw).toMatch(/^HPE_/);
      expect(
        messages.filter((m) => m.complete),
        raw,
      ).toHaveLength(0);
    }
  });

  it('says keepAlive for HTTP/1.0 only when the request asked for it', () => {
    const a = collect('request');
    a.parser.execute(latin1('GET / HTTP/1.0\r\n\r\n'));
    const b = collect('request');
    b.parser.execute(latin1('GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n'));
    const c = collect('request');
    c.parser.execute(latin1('GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n'));
    expect([a, b, c].map((x) => [x.messages[0]!.head.versionMinor, x.messages[0]!.head.keepAlive])).toEqual([
      [0, false],
      [0, true],
      [1, false],
    ]);
  });
});
