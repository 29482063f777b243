import { describe, expect, it } from 'vitest';
import {
  BodyFraming,
  clientResponse,
  interimResponse,
  POD_HEADER,
  upstreamRequest,
} from '../../agent/proxy/forwarding.js';
import type { MessageHead } from '../../agent/proxy/http-parser.js';

// How heads are rewritten on their way through the agent, on MessageHead objects built by hand.

const POD = 'web-7d9f8b6c5d-x2x9q';

function req(rawHeaders: string[], over: Partial<MessageHead> = {}): MessageHead {
  return {
    versionMajor: 1,
    versionMinor: 1,
    rawHeaders,
    method: 'GET',
    url: '/path?q=1',
    status: 0,
    statusText: '',
    upgrade: false,
    keepAlive: true,
    ...over,
  };
}

function res(status: number, statusText: string, rawHeaders: string[]): MessageHead {
  return req(rawHeaders, { method: '', url: '', status, statusText });
}

interface Parsed {
  startLine: string;
  /** [name, value] in order, names as written. */
  headers: [string, string][];
}

/** Splits a head the agent built; fails the test if it is not well-formed. */
function parse(text: string): Parsed {
  expect(text.endsWith('\r\n\r\n')).toBe(true);
  const lines = text.slice(0, -4).split('\r\n');
  const headers = lines.slice(1).map((l): [string, string] => {
    const i = l.indexOf(': ');
    expect(i, l).toBeGreaterThan(0);
    return [l.slice(0, i), l.slice(i + 2)];
  });
  return { startLine: lines[0]!, headers };
}

function all(p: Parsed, name: string): string[] {
  return p.headers.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);
}

function names(p: Parsed): string[] {
  return p.headers.map(([n]) => n.toLowerCase());
}

describe('upstreamRequest', () => {
  it('marks a kubelet health check by its User-Agent (kube-probe/…)', () => {
    const probe = upstreamRequest(
      req(['Host', 'h', 'User-Agent', 'kube-probe/1.31 (drainwatch-local)']),
      '10.0.0.9',
      POD,
      false,
    );
    const user = upstreamRequest(req(['Host', 'h', 'User-Agent', 'curl/8.5']), '10.0.0.9', POD, false);
    expect(probe.healthCheck).toBe(true);
    expect(user.healthCheck).toBe(false);
  });

  it('keeps the request line and end-to-end headers as received, names in their case', () => {
    const r = upstreamRequest(
      req(['Host', 'shop.example', 'Accept', 'text/html', 'X-Custom', 'Value With Case', 'Set-Thing', 'a']),
      '10.0.0.9',
      POD,
      false,
    );
    const p = parse(r.text);
    expect(p.startLine).toBe('GET /path?q=1 HTTP/1.1');
    expect(p.headers.slice(0, 4)).toEqual([
      ['Host', 'shop.example'],
      ['Accept', 'text/html'],
      ['X-Custom', 'Value With Case'],
      ['Set-Thing', 'a'],
    ]);
    expect(p.headers.slice(4)).toEqual([
      ['x-forwarded-for', '10.0.0.9'],
      ['x-forwarded-proto', 'http'],
      ['x-forwarded-host', 'shop.example'],
      [POD_HEADER, POD],
    ]);
    expect(r).toMatchObject({ probeId: undefined, chunked: false, hasBody: false });
  });

  it('speaks HTTP/1.1 to the app whatever the client spoke', () => {
    const r = upstreamRequest(
      req(['Host', 'h'], { versionMinor: 0, keepAlive: false }),
      '1.2.3.4',
      POD,
      false,
    );
    const p = parse(r.text);
    expect(p.startLine).toBe('GET /path?q=1 HTTP/1.1');
    expect(all(p, 'host')).toEqual(['h']);
  });

  it('gives an HTTP/1.0 request without Host the empty Host HTTP/1.1 requires', () => {
    const p = parse(upstreamRequest(req(['Accept', '*/*'], { versionMinor: 0 }), '1.2.3.4', POD, false).text);
    expect(all(p, 'host')).toEqual(['']);
    // Also on the Connection slow path.
    const q = parse(
      upstreamRequest(
        req(['Connection', 'keep-alive, X-A', 'X-A', '1'], { versionMinor: 0 }),
        '1.2.3.4',
        POD,
        false,
      ).text,
    );
    expect(all(q, 'host')).toEqual(['']);
    expect(names(q)).not.toContain('x-a');
    // An HTTP/1.1 request without Host is the client's error: the app answers it, as it would.
    const h11 = parse(upstreamRequest(req(['Accept', '*/*']), '1.2.3.4', POD, false).text);
    expect(names(h11)).not.toContain('host');
  });

  it('drops hop-by-hop headers, whatever their case', () => {
    const r = upstreamRequest(
      req([
        'Host',
        'h',
        'CONNECTION',
        'keep-alive',
        'Keep-Alive',
        'timeout=5',
        'Proxy-Connection',
        'keep-alive',
        'TE',
        'trailers',
        'Trailer',
        'X-Checksum',
        'Upgrade',
        'h2c',
        'X-Kept',
        'yes',
      ]),
      '1.2.3.4',
      POD,
      false,
    );
    const p = parse(r.text);
    for (const n of ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade'])
      expect(names(p), n).not.toContain(n);
    expect(all(p, 'x-kept')).toEqual(['yes']);
    expect(all(p, 'host')).toEqual(['h']);
  });

  it('drops the headers a Connection header names, and only those', () => {
    const r = upstreamRequest(
      req([
        'Host',
        'h',
        'Connection',
        'keep-alive, X-Secret',
        'x-secret',
        'hunter2',
        'X-Public',
        'ok',
        'X-SECRET',
        'again',
      ]),
      '1.2.3.4',
      POD,
      false,
    );
    const p = parse(r.text);
    expect(names(p)).not.toContain('x-secret');
    expect(names(p)).not.toContain('connection');
    expect(all(p, 'x-public')).toEqual(['ok']);
    expect(all(p, 'host')).toEqual(['h']);
    // The slow path still adds what the fast path adds.
    expect(all(p, 'x-forwarded-for')).toEqual(['1.2.3.4']);
    expect(all(p, POD_HEADER)).toEqual([POD]);
  });

  it('reads every Connection header for listed names', () => {
    const p = parse(
      upstreamRequest(
        req(['Connection', 'close', 'X-A', '1', 'Connection', 'X-A,  x-b ', 'X-B', '2', 'X-C', '3']),
        '1.2.3.4',
        POD,
        false,
      ).text,
    );
    expect(names(p)).not.toContain('x-a');
    expect(names(p)).not.toContain('x-b');
    expect(all(p, 'x-c')).toEqual(['3']);
  });

  it('leaves a Connection-listed x-forwarded-for or probe header out of the chain and the probe id', () => {
    const r = upstreamRequest(
      req([
        'Host',
        'h',
        'X-Forwarded-For',
        '6.6.6.6',
        'X-Drainwatch-Probe',
        'spoofed',
        'Connection',
        'X-Forwarded-For, x-drainwatch-probe',
      ]),
      '1.2.3.4',
      POD,
      false,
    );
    const p = parse(r.text);
    expect(all(p, 'x-forwarded-for')).toEqual(['1.2.3.4']);
    expect(names(p)).not.toContain('x-drainwatch-probe');
    expect(r.probeId).toBeUndefined();
  });

  it('keeps the forwarded x-forwarded-* and pod headers correct on the Connection slow path', () => {
    const p = parse(
      upstreamRequest(
        req([
          'Host',
          'h',
          'X-Forwarded-For',
          '10.0.0.1',
          'X-Forwarded-Proto',
          'https',
          'Connection',
          'X-Gone',
          'X-Gone',
          '1',
          POD_HEADER,
          'forged',
        ]),
        '1.2.3.4',
        POD,
        false,
      ).text,
    );
    expect(names(p)).not.toContain('x-gone');
    expect(all(p, 'x-forwarded-for')).toEqual(['10.0.0.1, 1.2.3.4']);
    expect(all(p, 'x-forwarded-proto')).toEqual(['https']);
    expect(all(p, POD_HEADER)).toEqual([POD]);
  });

  it('never lets a Connection header remove the body framing (request smuggling)', () => {
    // `Connection: Content-Length` must not make the app read the body as the next request.
    const r = upstreamRequest(
      req(['Host', 'h', 'Content-Length', '28', 'Connection', 'keep-alive, Content-Length'], {
        method: 'POST',
      }),
      '1.2.3.4',
      POD,
      false,
    );
    expect(r.hasBody).toBe(true);
    expect(r.chunked).toBe(false);
    expect(all(parse(r.text), 'content-length')).toEqual(['28']);
    const c = upstreamRequest(
      req(['Host', 'h', 'Transfer-Encoding', 'chunked', 'Connection', 'Transfer-Encoding'], {
        method: 'POST',
      }),
      '1.2.3.4',
      POD,
      false,
    );
    expect(c.chunked).toBe(true);
    expect(all(parse(c.text), 'transfer-encoding')).toEqual(['chunked']);
  });

  it('appends the client address to every incoming x-forwarded-for value, in order', () => {
    const p = parse(
      upstreamRequest(
        req([
          'X-Forwarded-For',
          '203.0.113.7, 10.0.0.1',
          'Host',
          'h',
          'x-forwarded-for',
          '10.0.0.2',
          'X-FORWARDED-FOR',
          '10.0.0.3',
        ]),
        '127.0.0.1',
        POD,
        false,
      ).text,
    );
    expect(all(p, 'x-forwarded-for')).toEqual(['203.0.113.7, 10.0.0.1, 10.0.0.2, 10.0.0.3, 127.0.0.1']);
  });

  it('keeps the client’s x-forwarded-proto and x-forwarded-host (an ingress knows better), first one wins', () => {
    const p = parse(
      upstreamRequest(
        req([
          'Host',
          'pod-ip:8080',
          'X-Forwarded-Proto',
          'https',
          'X-Forwarded-Host',
          'shop.example',
          'X-Forwarded-Proto',
          'http',
          'X-Forwarded-Host',
          'evil.example',
        ]),
        '1.2.3.4',
        POD,
        false,
      ).text,
    );
    expect(all(p, 'x-forwarded-proto')).toEqual(['https']);
    expect(all(p, 'x-forwarded-host')).toEqual(['shop.example']);
    expect(all(p, 'host')).toEqual(['pod-ip:8080']);
  });

  it('sets x-forwarded-host from Host, and leaves it out when there is no Host', () => {
    const withHost = parse(upstreamRequest(req(['Host', 'a.example']), '1.2.3.4', POD, false).text);
    expect(all(withHost, 'x-forwarded-host')).toEqual(['a.example']);
    expect(all(withHost, 'x-forwarded-proto')).toEqual(['http']);
    const noHost = parse(upstreamRequest(req([]), '1.2.3.4', POD, false).text);
    expect(names(noHost)).not.toContain('x-forwarded-host');
  });

  it('replaces a client’s pod header instead of adding a second one', () => {
    const p = parse(
      upstreamRequest(
        req(['Host', 'h', 'X-Drainwatch-Pod', 'forged-1', 'x-drainwatch-pod', 'forged-2']),
        '1.2.3.4',
        POD,
        false,
      ).text,
    );
    expect(all(p, POD_HEADER)).toEqual([POD]);
  });

  it('takes the first non-empty probe id, capped at 256 characters, and forwards the header', () => {
    const r = upstreamRequest(
      req(['X-Drainwatch-Probe', '', 'x-drainwatch-probe', 'p-1', 'X-Drainwatch-Probe', 'p-2']),
      '1.2.3.4',
      POD,
      false,
    );
    expect(r.probeId).toBe('p-1');
    expect(all(parse(r.text), 'x-drainwatch-probe')).toEqual(['', 'p-1', 'p-2']);
    const long = `${'a'.repeat(256)}bbbb`;
    expect(upstreamRequest(req(['x-drainwatch-probe', long]), '1.2.3.4', POD, false).probeId).toBe(
      'a'.repeat(256),
    );
    expect(
      upstreamRequest(req(['x-drainwatch-probe', 'a'.repeat(256)]), '1.2.3.4', POD, false).probeId,
    ).toHaveLength(256);
  });

  it('keeps Connection and Upgrade in tunnel mode (a WebSocket handshake) and still drops the rest', () => {
    const head = req(
      [
        'Host',
        'h',
        'Connection',
        'Upgrade',
        'Upgrade',
        'websocket',
        'Sec-WebSocket-Key',
        'dGhlIHNhbXBsZSBub25jZQ==',
        'Keep-Alive',
        'timeout=5',
      ],
      { upgrade: true },
    );
    const tunnel = parse(upstreamRequest(head, '1.2.3.4', POD, true).text);
    expect(all(tunnel, 'connection')).toEqual(['Upgrade']);
    expect(all(tunnel, 'upgrade')).toEqual(['websocket']);
    expect(all(tunnel, 'sec-websocket-key')).toEqual(['dGhlIHNhbXBsZSBub25jZQ==']);
    expect(names(tunnel)).not.toContain('keep-alive');
    const plain = parse(upstreamRequest(head, '1.2.3.4', POD, false).text);
    expect(names(plain)).not.toContain('connection');
    expect(names(plain)).not.toContain('upgrade');
    // A tunnel whose Connection header also lists a header: that one goes, the handshake stays.
    const listed = parse(
      upstreamRequest(
        req(['Connection', 'Upgrade, X-Hop', 'Upgrade', 'websocket', 'X-Hop', '1'], { upgrade: true }),
        '1.2.3.4',
        POD,
        true,
      ).text,
    );
    expect(all(listed, 'connection')).toEqual(['Upgrade, X-Hop']);
    expect(all(listed, 'upgrade')).toEqual(['websocket']);
    expect(names(listed)).not.toContain('x-hop');
    // An h2c upgrade's HTTP2-Settings is its handshake (RFC 7540 §3.2.1): kept in a tunnel only.
    const h2c = req(
      [
        'Connection',
        'Upgrade, HTTP2-Settings',
        'Upgrade',
        'h2c',
        'HTTP2-Settings',
        'AAMAAABkAAQCAAAAAAIAAAAA',
      ],
      { upgrade: true },
    );
    expect(all(parse(upstreamRequest(h2c, '1.2.3.4', POD, true).text), 'http2-settings')).toEqual([
      'AAMAAABkAAQCAAAAAAIAAAAA',
    ]);
    expect(names(parse(upstreamRequest(h2c, '1.2.3.4', POD, false).text))).not.toContain('http2-settings');
  });

  it('re-chunks a chunked body and says which requests have one', () => {
    const chunked = upstreamRequest(
      req(['Host', 'h', 'Transfer-Encoding', 'chunked'], { method: 'POST' }),
      '1.2.3.4',
      POD,
      false,
    );
    expect(chunked).toMatchObject({ chunked: true, hasBody: true });
    const p = parse(chunked.text);
    // Stated once, by the agent, last.
    expect(all(p, 'transfer-encoding')).toEqual(['chunked']);
    expect(p.headers.at(-1)).toEqual(['transfer-encoding', 'chunked']);

    const length = upstreamRequest(
      req(['Host', 'h', 'Content-Length', '5'], { method: 'PUT' }),
      '1.2.3.4',
      POD,
      false,
    );
    expect(length).toMatchObject({ chunked: false, hasBody: true });
    expect(all(parse(length.text), 'content-length')).toEqual(['5']);
    expect(names(parse(length.text))).not.toContain('transfer-encoding');

    expect(upstreamRequest(req(['Host', 'h']), '1.2.3.4', POD, false)).toMatchObject({
      chunked: false,
      hasBody: false,
    });
  });
});

describe('clientResponse', () => {
  const ok = (headers: string[]) => res(200, 'OK', headers);

  it('keeps the status line and end-to-end headers, drops hop-by-hop ones, adds the pod header', () => {
    const r = clientResponse(
      ok([
        'Content-Type',
        'text/plain',
        'Set-Cookie',
        'a=1',
        'Set-Cookie',
        'b=2',
        'Connection',
        'keep-alive',
        'Keep-Alive',
        'timeout=5',
        'Content-Length',
        '2',
      ]),
      POD,
      false,
      true,
      false,
    );
    const p = parse(r.text);
    expect(p.startLine).toBe('HTTP/1.1 200 OK');
    expect(p.headers).toEqual([
      ['Content-Type', 'text/plain'],
      ['Set-Cookie', 'a=1'],
      ['Set-Cookie', 'b=2'],
      ['Content-Length', '2'],
      [POD_HEADER, POD],
    ]);
    expect(r.framing).toBe(BodyFraming.Length);
  });

  it('replaces the app’s pod header instead of adding a second one', () => {
    const p = parse(
      clientResponse(ok(['X-Drainwatch-Pod', 'other', 'Content-Length', '0']), POD, false, true, false).text,
    );
    expect(all(p, POD_HEADER)).toEqual([POD]);
  });

  it('drops the headers the app’s Connection header names', () => {
    const p = parse(
      clientResponse(
        ok([
          'Connection',
          'close, X-Internal',
          'X-Internal',
          'secret',
          'X-Public',
          '1',
          'Content-Length',
          '0',
        ]),
        POD,
        false,
        true,
        false,
      ).text,
    );
    expect(names(p)).not.toContain('x-internal');
    expect(all(p, 'x-public')).toEqual(['1']);
    expect(all(p, POD_HEADER)).toEqual([POD]);
  });

  it('keeps the body framing even when the app’s Connection header names Content-Length', () => {
    const r = clientResponse(
      ok(['Content-Length', '2', 'Connection', 'Content-Length']),
      POD,
      false,
      true,
      false,
    );
    expect(r.framing).toBe(BodyFraming.Length);
    expect(all(parse(r.text), 'content-length')).toEqual(['2']);
  });

  it('frames no body for HEAD/204/304, keeping the content-length a HEAD response announces', () => {
    const head = clientResponse(ok(['Content-Length', '1234']), POD, true, true, false);
    expect(head.framing).toBe(BodyFraming.None);
    const p = parse(head.text);
    expect(all(p, 'content-length')).toEqual(['1234']);
    expect(names(p)).not.toContain('transfer-encoding');
    expect(names(p)).not.toContain('connection');

    const chunkedHead = clientResponse(ok(['Transfer-Encoding', 'chunked']), POD, true, true, false);
    expect(chunkedHead.framing).toBe(BodyFraming.None);
    expect(names(parse(chunkedHead.text))).not.toContain('transfer-encoding');

    const noContent = clientResponse(res(204, 'No Content', []), POD, true, true, false);
    expect(noContent.framing).toBe(BodyFraming.None);
    expect(parse(noContent.text).headers).toEqual([[POD_HEADER, POD]]);
    expect(parse(noContent.text).startLine).toBe('HTTP/1.1 204 No Content');
  });

  it('copies Content-Length framing and passes the body as it is', () => {
    const r = clientResponse(ok(['Content-Length', '10']), POD, false, true, false);
    expect(r.framing).toBe(BodyFraming.Length);
    expect(names(parse(r.text))).not.toContain('transfer-encoding');
  });

  it('chunks a body without length for an HTTP/1.1 client, stating Transfer-Encoding once', () => {
    for (const headers of [['Transfer-Encoding', 'chunked'], ['Content-Type', 'text/plain'], []]) {
      const r = clientResponse(ok(headers), POD, false, true, false);
      expect(r.framing, headers.join()).toBe(BodyFraming.Chunked);
      expect(all(parse(r.text), 'transfer-encoding')).toEqual(['chunked']);
      expect(names(parse(r.text))).not.toContain('connection');
    }
  });

  it('ends a body without length by closing for an HTTP/1.0 client, and says so', () => {
    for (const keepAlive of [true, false]) {
      const r = clientResponse(ok(['Transfer-Encoding', 'chunked']), POD, false, keepAlive, true);
      expect(r.framing).toBe(BodyFraming.Close);
      const p = parse(r.text);
      expect(names(p)).not.toContain('transfer-encoding');
      expect(all(p, 'connection')).toEqual(['close']);
    }
  });

  it('chooses the connection header from the client connection’s fate', () => {
    const conn = (noBody: boolean, length: boolean, keepAlive: boolean, http10: boolean): string[] =>
      all(
        parse(clientResponse(ok(length ? ['Content-Length', '2'] : []), POD, noBody, keepAlive, http10).text),
        'connection',
      );
    // HTTP/1.1: keep-alive is the default, only a close is stated.
    expect(conn(false, true, true, false)).toEqual([]);
    expect(conn(false, true, false, false)).toEqual(['close']);
    expect(conn(false, false, false, false)).toEqual(['close']);
    expect(conn(true, false, false, false)).toEqual(['close']);
    // HTTP/1.0: keep-alive must be stated, when the agent keeps the connection.
    expect(conn(false, true, true, true)).toEqual(['keep-alive']);
    expect(conn(true, false, true, true)).toEqual(['keep-alive']);
    expect(conn(false, true, false, true)).toEqual(['close']);
    expect(conn(false, false, true, true)).toEqual(['close']);
  });
});

describe('interimResponse', () => {
  it('relays a 1xx as the app sent it', () => {
    expect(interimResponse(res(100, 'Continue', []))).toBe('HTTP/1.1 100 Continue\r\n\r\n');
    expect(interimResponse(res(103, 'Early Hints', ['Link', '</a.css>; rel=preload']))).toBe(
      'HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n',
    );
  });
});
