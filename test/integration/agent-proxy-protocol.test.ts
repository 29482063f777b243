import { createHash, randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type AddressInfo, createServer as createNetServer, type Server as NetServer } from 'node:net';
import type { NatsConnection } from '@nats-io/transport-node';
import { Registry } from 'prom-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createAgentMetrics } from '../../agent/metrics.js';
import { createHttpProxy, type HttpProxy } from '../../agent/proxy/http-proxy.js';
import { createUpstreamConnections } from '../../agent/proxy/upstream-pool.js';
import { createTraffic } from '../../agent/traffic.js';
import { pollUntil } from '../../lib/wait.js';
import {
  type AgentUnderTest,
  createTestStream,
  startAgentUnderTest,
  startUpstreamApp,
  type UpstreamApp,
} from '../helpers/agent-harness.js';
import { RawClient } from '../helpers/raw-http.js';
import { natsClient, startTestServers, type TestServers } from '../helpers/servers.js';

// The agent's HTTP/1.1 proxy at the byte level: a real agent in front of a real Node app, clients
// on raw sockets so framing (pipelining, HEAD, 1xx, chunked, close-delimited, HTTP/1.0) is seen
// exactly as it leaves the agent.

let servers: TestServers;
let nc: NatsConnection;
let app: UpstreamApp;
let a: AgentUnderTest;
const clients: RawClient[] = [];

beforeAll(async () => {
  servers = await startTestServers();
  nc = await natsClient(servers.nats);
  app = await startUpstreamApp();
  a = await startAgentUnderTest({ upstreamPort: app.port, natsUrl: servers.nats.url });
  await createTestStream(nc, a.ns);
});

afterEach(() => {
  for (const c of clients.splice(0)) c.destroy();
});

afterAll(async () => {
  await a?.agent.stop({ immediate: true });
  await app?.close();
  await nc?.close();
  await servers?.stop();
});

async function client(options: { allowHalfOpen?: boolean } = {}): Promise<RawClient> {
  const c = await RawClient.connect(a.trafficPort, options);
  clients.push(c);
  return c;
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

/** Writes `data` in pieces of varying size, waiting whenever the socket asks. */
async function writeInPieces(res: ServerResponse, data: Buffer): Promise<void> {
  const sizes = [1, 10, 1000, 16_384, 65_536 + 13, 200_000];
  let pos = 0;
  for (let i = 0; pos < data.length; i++) {
    const piece = data.subarray(pos, pos + sizes[i % sizes.length]!);
    pos += piece.length;
    if (!res.write(piece)) await new Promise((resolve) => res.once('drain', resolve));
  }
}

function headersOf(raw: string[]): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i]!.toLowerCase();
    m.set(k, [...(m.get(k) ?? []), raw[i + 1]!]);
  }
  return m;
}

async function badRequests(): Promise<number> {
  const text = await a.registry.getSingleMetricAsString('drainwatch_agent_bad_requests_total');
  const m = /^drainwatch_agent_bad_requests_total (\d+)$/m.exec(text);
  return m ? Number(m[1]) : 0;
}

function completed(): number {
  const r = a.agent.state().requests.requests;
  return r.serving + r.prestop + r.draining + r.exited;
}

// A few MB, the same bytes for the app and the client.
const DATA = randomBytes(3 * 1024 * 1024 + 123);
const DATA_SHA = sha(DATA);

describe('agent HTTP/1.1 proxy, at the byte level', () => {
  it('answers pipelined requests in order, one at a time to the app, each with its own body', async () => {
    const big = DATA.subarray(0, 1024 * 1024);
    const seen: string[] = [];
    let active = 0;
    let maxActive = 0;
    app.setHandler(async (req, res) => {
      active += 1;
      maxActive = Math.max(maxActive, active);
      res.on('finish', () => {
        active -= 1;
      });
      const body = await readBody(req);
      seen.push(`${req.method} ${req.url} ${body.toString()}`);
      if (req.url === '/p/1') {
        // The first answer is the slowest: streamed, a MB.
        res.writeHead(200, { 'content-length': String(big.length) });
        await writeInPieces(res, big);
        res.end();
        return;
      }
      const reply = `${req.method} ${req.url} got ${JSON.stringify(body.toString())}`;
      // Stated for HEAD too (Node leaves it out when end() gets no body to send).
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(reply) });
      res.end(req.method === 'HEAD' ? undefined : reply);
    });
    const c = await client();
    await c.write(
      'GET /p/1 HTTP/1.1\r\nHost: x\r\n\r\n' +
        'POST /p/2 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello' +
        'POST /p/3 HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n' +
        'HEAD /p/4 HTTP/1.1\r\nHost: x\r\n\r\n' +
        'GET /p/5 HTTP/1.1\r\nHost: x\r\n\r\n',
    );
    const r1 = await c.response();
    expect(r1.status).toBe(200);
    expect(sha(r1.body)).toBe(sha(big));
    const r2 = await c.response();
    expect(r2.body.toString()).toBe('POST /p/2 got "hello"');
    const r3 = await c.response();
    expect(r3.body.toString()).toBe('POST /p/3 got "abcdefg"');
    const r4 = await c.response({ noBody: true });
    expect(r4.status).toBe(200);
    expect(r4.get('content-length')).toBe(String(Buffer.byteLength('HEAD /p/4 got ""')));
    const r5 = await c.response();
    expect(r5.body.toString()).toBe('GET /p/5 got ""');
    for (const r of [r1, r2, r3, r4, r5]) expect(r.get('x-drainwatch-pod')).toBe('web-7d9f8b6c5d-x2x9q');
    expect(seen).toEqual(['GET /p/1 ', 'POST /p/2 hello', 'POST /p/3 abcdefg', 'HEAD /p/4 ', 'GET /p/5 ']);
    expect(maxActive).toBe(1);
    // Nothing else was sent.
    expect(c.pending.length).toBe(0);
    expect(c.ended).toBe(false);
  });

  it('keeps a HEAD response’s content-length and sends no body, also when the app chunks', async () => {
    app.setHandler((req, res) => {
      if (req.url === '/h/chunked') {
        // No length: Node announces chunked and, for HEAD, sends no chunk.
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('hello');
        res.end(' world');
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '11' });
      res.end(req.method === 'HEAD' ? undefined : 'hello world');
    });
    const c = await client();
    await c.write('HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n');
    const head = await c.response({ noBody: true });
    expect(head.status).toBe(200);
    expect(head.get('content-length')).toBe('11');
    expect(head.all('transfer-encoding')).toEqual([]);
    await c.write('HEAD /h/chunked HTTP/1.1\r\nHost: x\r\n\r\n');
    const chunkedHead = await c.response({ noBody: true });
    expect(chunkedHead.status).toBe(200);
    // Body bytes after a HEAD response would be read here as the next status line.
    await c.write('GET /h HTTP/1.1\r\nHost: x\r\n\r\n');
    const get = await c.response();
    expect(get.body.toString()).toBe('hello world');
    expect(c.pending.length).toBe(0);
  });

  it('relays 204 and 304 without a body and keeps the connection', async () => {
    app.setHandler((req, res) => {
      if (req.url === '/204') res.writeHead(204, { 'x-kind': 'none' }).end();
      else if (req.url === '/304') res.writeHead(304, { etag: '"v1"', 'cache-control': 'max-age=60' }).end();
      else res.end('after');
    });
    const c = await client();
    await c.write('DELETE /204 HTTP/1.1\r\nHost: x\r\n\r\n');
    const noContent = await c.response();
    expect(noContent.statusLine).toBe('HTTP/1.1 204 No Content');
    expect(noContent.get('x-kind')).toBe('none');
    expect(noContent.all('transfer-encoding')).toEqual([]);
    await c.write('GET /304 HTTP/1.1\r\nHost: x\r\nIf-None-Match: "v1"\r\n\r\n');
    const notModified = await c.response();
    expect(notModified.statusLine).toBe('HTTP/1.1 304 Not Modified');
    expect(notModified.get('etag')).toBe('"v1"');
    expect(notModified.all('transfer-encoding')).toEqual([]);
    await c.write('GET /after HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await c.response()).body.toString()).toBe('after');
    expect(c.pending.length).toBe(0);
  });

  it('forwards Expect: 100-continue and relays the app’s 100 Continue before the final response', async () => {
    let headSeenByApp: Record<string, unknown> | undefined;
    let bodyStarted = false;
    app.setHandler(async (req, res) => {
      headSeenByApp = { ...req.headers };
      req.once('data', () => {
        bodyStarted = true;
      });
      const body = await readBody(req);
      res.end(JSON.stringify({ n: body.length, sha: sha(body) }));
    });
    const body = DATA.subarray(0, 100_000);
    const c = await client();
    await c.write(
      `PUT /continue HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: ${body.length}\r\n\r\n`,
    );
    const interim = await c.waitForText(/^HTTP\/1\.1 100 Continue\r\n(?:[^\r\n]+\r\n)*\r\n/);
    expect(headSeenByApp?.expect).toBe('100-continue');
    expect(bodyStarted).toBe(false);
    c.consume(Buffer.byteLength(interim, 'latin1'));
    await c.write(body);
    const final = await c.response();
    expect(final.status).toBe(200);
    expect(JSON.parse(final.body.toString())).toEqual({ n: body.length, sha: sha(body) });
    expect(c.pending.length).toBe(0);
  });

  it('streams a chunked upload and a content-length upload of a few MB to the app intact', async () => {
    app.setHandler(async (req, res) => {
      const body = await readBody(req);
      res.end(
        JSON.stringify({
          n: body.length,
          sha: sha(body),
          te: req.headers['transfer-encoding'] ?? null,
          cl: req.headers['content-length'] ?? null,
        }),
      );
    });
    const c = await client();
    await c.write('POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n');
    const sizes = [1, 7, 1000, 16_384, 65_549, 300_000];
    let pos = 0;
    for (let i = 0; pos < DATA.length; i++) {
      const piece = DATA.subarray(pos, pos + sizes[i % sizes.length]!);
      pos += piece.length;
      await c.write(
        Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')]),
      );
    }
    await c.write('0\r\n\r\n');
    const chunked = await c.response({ timeoutMs: 60_000 });
    expect(JSON.parse(chunked.body.toString())).toEqual({
      n: DATA.length,
      sha: DATA_SHA,
      te: 'chunked',
      cl: null,
    });

    await c.write(`POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: ${DATA.length}\r\n\r\n`);
    for (let p = 0; p < DATA.length; p += 100_000) await c.write(DATA.subarray(p, p + 100_000));
    const length = await c.response({ timeoutMs: 60_000 });
    expect(JSON.parse(length.body.toString())).toEqual({
      n: DATA.length,
      sha: DATA_SHA,
      te: null,
      cl: String(DATA.length),
    });
  });

  it('streams a chunked and a content-length response of a few MB to the client intact', async () => {
    app.setHandler(async (req, res) => {
      if (req.url === '/stream/length') res.setHeader('content-length', String(DATA.length));
      res.setHeader('content-type', 'application/octet-stream');
      await writeInPieces(res, DATA);
      res.end();
    });
    const c = await client();
    await c.write('GET /stream/chunked HTTP/1.1\r\nHost: x\r\n\r\n');
    const chunked = await c.response({ timeoutMs: 60_000 });
    expect(chunked.framing).toBe('chunked');
    expect(chunked.all('transfer-encoding')).toEqual(['chunked']);
    expect(chunked.body.length).toBe(DATA.length);
    expect(sha(chunked.body)).toBe(DATA_SHA);
    await c.write('GET /stream/length HTTP/1.1\r\nHost: x\r\n\r\n');
    const length = await c.response({ timeoutMs: 60_000 });
    expect(length.framing).toBe('length');
    expect(sha(length.body)).toBe(DATA_SHA);
  });

  it('re-frames a response the app ends by closing: chunked for HTTP/1.1, close-delimited for HTTP/1.0', async () => {
    const body = DATA.subarray(0, 300_000);
    app.setHandler((req, res) => {
      if (req.url !== '/eof') {
        res.end('after');
        return;
      }
      // No length, no chunking: the body ends with the connection (RFC 9112 §6.3, last case).
      const s = res.socket!;
      s.write('HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n\r\n', 'latin1');
      s.write(body.subarray(0, 1000));
      s.end(body.subarray(1000));
    });
    const c11 = await client();
    await c11.write('GET /eof HTTP/1.1\r\nHost: x\r\n\r\n');
    const r11 = await c11.response();
    expect(r11.framing).toBe('chunked');
    expect(sha(r11.body)).toBe(sha(body));
    expect(r11.all('connection')).toEqual([]);
    // The client keeps its connection: the agent, not the app's close, delimited the body.
    await c11.write('GET /after HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await c11.response()).body.toString()).toBe('after');
    expect(c11.ended).toBe(false);

    for (const ask of ['', 'Connection: keep-alive\r\n']) {
      const c10 = await client();
      await c10.write(`GET /eof HTTP/1.0\r\n${ask}\r\n`);
      const r10 = await c10.response();
      expect(r10.framing, ask).toBe('close');
      expect(r10.all('transfer-encoding')).toEqual([]);
      expect(r10.all('content-length')).toEqual([]);
      expect(r10.all('connection')).toEqual(['close']);
      expect(sha(r10.body)).toBe(sha(body));
      expect(c10.ended).toBe(true);
    }
  });

  it('keeps an HTTP/1.0 connection that asked for keep-alive, and says so', async () => {
    // HTTP/1.0 requests may come without Host; the app, spoken to in HTTP/1.1, gets an empty one.
    app.setHandler((req, res) =>
      res.end(`v${req.httpVersion} ${req.url} host=${JSON.stringify(req.headers.host)}`),
    );
    const c = await client();
    for (const n of [1, 2]) {
      await c.write(`GET /ka/${n} HTTP/1.0\r\nConnection: keep-alive\r\n\r\n`);
      const r = await c.response();
      expect(r.status).toBe(200);
      expect(r.framing).toBe('length');
      expect(r.all('connection')).toEqual(['keep-alive']);
      // The app is spoken to in HTTP/1.1 whatever the client spoke.
      expect(r.body.toString()).toBe(`v1.1 /ka/${n} host=""`);
    }
    await c.write('GET /ka/3 HTTP/1.0\r\n\r\n');
    const last = await c.response();
    expect(last.all('connection')).toEqual(['close']);
    await c.waitEnded();
  });

  it('answers an oversize head with 431, counts it once, never reaches the app, and keeps serving', async () => {
    let hits = 0;
    app.setHandler((_req, res) => {
      hits += 1;
      res.end('ok');
    });
    const before = await badRequests();
    const c = await client({ allowHalfOpen: true });
    await c.write(`GET /big HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(64 * 1024)}`);
    const r = await c.response();
    expect(r.status).toBe(431);
    expect(r.all('connection')).toEqual(['close']);
    await c.waitEnded();
    // The rest of the oversize head arrives after the answer: it is the same bad request.
    await c.write(`${'a'.repeat(64 * 1024)}\r\n\r\nGET /next HTTP/1.1\r\nHost: x\r\n\r\n`);
    c.socket.end();
    await c.waitClosed();
    expect(await badRequests()).toBe(before + 1);
    expect(hits).toBe(0);
    const d = await client();
    await d.write('GET /fine HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await d.response()).body.toString()).toBe('ok');
  });

  it('does not let a header named in Connection reach the app, nor a Content-Length it names be dropped', async () => {
    const seen: { url: string; headers: Map<string, string[]>; body: string }[] = [];
    app.setHandler(async (req, res) => {
      const body = (await readBody(req)).toString();
      seen.push({ url: req.url ?? '', headers: headersOf(req.rawHeaders), body });
      res.end(`got ${body.length}`);
    });
    const c = await client();
    await c.write(
      'GET /hop HTTP/1.1\r\nHost: x\r\nConnection: keep-alive, X-Secret\r\nX-Secret: hunter2\r\nX-Public: yes\r\n\r\n',
    );
    expect((await c.response()).status).toBe(200);
    expect(seen[0]!.headers.has('x-secret')).toBe(false);
    expect(seen[0]!.headers.has('connection')).toBe(false);
    expect(seen[0]!.headers.get('x-public')).toEqual(['yes']);

    // Were Content-Length dropped, the app would read this body as a second request.
    const smuggled = 'GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n';
    await c.write(
      `POST /carrier HTTP/1.1\r\nHost: x\r\nConnection: Content-Length\r\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}`,
    );
    const carrier = await c.response();
    expect(carrier.body.toString()).toBe(`got ${smuggled.length}`);
    await c.write('GET /after HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.response();
    expect(seen.map((s) => s.url)).toEqual(['/hop', '/carrier', '/after']);
    expect(seen[1]!.body).toBe(smuggled);
    expect(seen[1]!.headers.get('content-length')).toEqual([String(smuggled.length)]);
  });

  it('does not carry an app response’s trailers into the next response on the same app connection', async () => {
    const many = Array.from({ length: 40 }, (_, i) => `x-h${i}`);
    app.setHandler((req, res) => {
      if (req.url === '/trailers') {
        res.writeHead(200, { trailer: 'X-Checksum' });
        res.write('data');
        res.addTrailers({ 'X-Checksum': 'abc' });
        res.end();
        return;
      }
      // More than 32 headers: llhttp hands them over in batches.
      for (const h of many) res.setHeader(h, 'v');
      res.end('many');
    });
    const c = await client();
    await c.write('GET /trailers HTTP/1.1\r\nHost: x\r\n\r\n');
    expect((await c.response()).body.toString()).toBe('data');
    await c.write('GET /many HTTP/1.1\r\nHost: x\r\n\r\n');
    const r = await c.response();
    expect(r.body.toString()).toBe('many');
    expect(r.all('x-checksum')).toEqual([]);
    for (const h of many) expect(r.all(h), h).toEqual(['v']);
  });

  it('retries a bodyless idempotent request once on a stale app connection, never a POST', async () => {
    // An app connection that dies when its next request arrives: the agent cannot know whether the
    // app acted on it.
    const doomed = new WeakSet<object>();
    const hits: string[] = [];
    app.setHandler((req, res) => {
      hits.push(req.url ?? '');
      if (doomed.has(req.socket)) {
        req.socket.destroy();
        return;
      }
      if (req.url === '/arm') doomed.add(req.socket);
      res.end('ok');
    });
    const c = await client();
    // The pool hands out the connection used last: /arm's.
    await c.write('GET /arm HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.response();
    await c.write('GET /read HTTP/1.1\r\nHost: x\r\n\r\n');
    const get = await c.response();
    expect(get.status).toBe(200);
    expect(hits).toEqual(['/arm', '/read', '/read']);

    hits.length = 0;
    await c.write('GET /arm HTTP/1.1\r\nHost: x\r\n\r\n');
    await c.response();
    await c.write('POST /charge HTTP/1.1\r\nHost: x\r\n\r\n');
    const post = await c.response();
    // RFC 9112 §9.3.1: a proxy must not retry a non-idempotent request on its own.
    expect(post.status).toBe(502);
    expect(hits).toEqual(['/arm', '/charge']);
  });

  it('processes nothing a client sends after the response that closed its connection', async () => {
    const bad = await badRequests();
    const hits: string[] = [];
    app.setHandler((req, res) => {
      hits.push(req.url ?? '');
      res.end('ok');
    });
    const before = completed();
    const c = await client({ allowHalfOpen: true });
    await c.write('GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const r = await c.response();
    expect(r.all('connection')).toEqual(['close']);
    await c.waitEnded();
    // Sent after the agent's FIN: RFC 9112 §9.6, no further request on that connection.
    await c.write('POST /after-close HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi');
    c.socket.end();
    await c.waitClosed();
    expect(completed() - before).toBe(1);
    expect(hits).toEqual(['/last']);
    // Nor is it a malformed request.
    expect(await badRequests()).toBe(bad);
  });

  it('passes a slow client’s backpressure on to the app instead of buffering the response', async () => {
    // 64 MiB offered by the app; if the agent read on while the client reads nothing, the app would
    // finish writing it all into the agent's memory.
    const total = 64 * 1024 * 1024;
    const piece = Buffer.alloc(64 * 1024, 0x61);
    let written = 0;
    let blocked = false;
    let done = false;
    app.setHandler((_req, res) => {
      res.writeHead(200, { 'content-length': total });
      const pump = (): void => {
        while (written < total) {
          written += piece.length;
          if (!res.write(piece)) {
            blocked = true;
            res.once('drain', pump);
            return;
          }
        }
        res.end();
        done = true;
      };
      pump();
    });
    const c = await client();
    c.socket.pause();
    await c.write('GET /big HTTP/1.1\r\nHost: t\r\n\r\n');
    // The kernel buffers on both hops hold a few MiB; the rest must wait in the app.
    // Settled: no progress over 20 polls in a row. An agent buffering the response settles only at
    // the end, with everything written.
    let last = -1;
    let same = 0;
    await pollUntil(
      () => {
        if (written === last) same += 1;
        else [last, same] = [written, 0];
        return same >= 20;
      },
      { timeoutMs: 20_000, intervalMs: 25, what: 'the app’s writes to settle' },
    );
    expect(blocked).toBe(true);
    expect(done).toBe(false);
    expect(written).toBeLessThan(total / 2);
    // Reading again lets the whole body through, byte count intact.
    let received = 0;
    c.socket.removeAllListeners('data');
    c.socket.on('data', (chunk: Buffer) => {
      received += chunk.length;
    });
    c.socket.resume();
    await pollUntil(() => done && received > total, { timeoutMs: 30_000, what: 'the whole body' });
    expect(received - total).toBeGreaterThan(0);
    expect(received - total).toBeLessThan(2048);
  });
});

describe('client keep-alive timeout', () => {
  it('follows DRAINWATCH_KEEPALIVE_TIMEOUT: an idle connection closes after it, not before', async () => {
    const b = await startAgentUnderTest({
      upstreamPort: app.port,
      natsUrl: servers.nats.url,
      env: { DRAINWATCH_KEEPALIVE_TIMEOUT: '1s' },
    });
    try {
      expect(b.config.keepAliveTimeoutMs).toBe(1000);
      app.setHandler((_req, res) => res.end('ok'));
      const c = await RawClient.connect(b.trafficPort);
      clients.push(c);
      await c.write('GET /ka HTTP/1.1\r\nHost: t\r\n\r\n');
      expect((await c.response()).status).toBe(200);
      const idleFrom = performance.now();
      await pollUntil(() => c.ended, { timeoutMs: 5000, what: 'the agent to close the idle connection' });
      expect(performance.now() - idleFrom).toBeGreaterThanOrEqual(1000);
    } finally {
      await b.agent.stop({ immediate: true });
    }
  });
});

describe('client keep-alive timeout (createHttpProxy directly)', () => {
  // The proxy on its own listener, with the wiring the agent gives it, so the test can also close
  // it the way a stopping agent does.
  let proxy: HttpProxy;
  let listener: NetServer;
  let port: number;
  let traffic: ReturnType<typeof createTraffic>;

  beforeAll(async () => {
    const metrics = createAgentMetrics(new Registry());
    traffic = createTraffic({ clock: { now: Date.now }, metrics, emit: () => undefined, idPrefix: 'ka' });
    proxy = createHttpProxy({
      upstream: { host: '127.0.0.1', port: app.port },
      pod: 'pod-keepalive',
      traffic,
      metrics,
      connections: createUpstreamConnections(),
      onUpgrade: (r) => r.socket.destroy(),
      keepAliveTimeoutMs: 1000,
    });
    listener = createNetServer({ allowHalfOpen: true, noDelay: true }, (s) => proxy.accept(s));
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    port = (listener.address() as AddressInfo).port;
  });

  afterAll(async () => {
    proxy?.destroyAll();
    await new Promise<void>((resolve) => (listener?.listening ? listener.close(() => resolve()) : resolve()));
  });

  it('closes an idle keep-alive connection after the timeout, never one with a request in flight', async () => {
    let release: (() => void) | undefined;
    app.setHandler((req, res) => {
      if (req.url === '/hold') release = () => res.end('held');
      else res.end('ok');
    });
    const busy = await RawClient.connect(port);
    clients.push(busy);
    await busy.write('GET /hold HTTP/1.1\r\nHost: x\r\n\r\n');
    await pollUntil(() => release, { timeoutMs: 10_000, what: 'the held request at the app' });

    const idle = await RawClient.connect(port);
    clients.push(idle);
    await idle.write('GET /quick HTTP/1.1\r\nHost: x\r\n\r\n');
    const r = await idle.response();
    expect(r.body.toString()).toBe('ok');
    expect(r.all('connection')).toEqual([]);
    // 1 s timeout, swept each second: well before Node's (and the agent's default) 5 s.
    const idleAt = Date.now();
    await idle.waitEnded(3500);
    expect(Date.now() - idleAt).toBeLessThan(3500);
    expect(idle.pending.length).toBe(0);

    // The held request's connection lived through the same sweeps.
    expect(busy.ended).toBe(false);
    release!();
    expect((await busy.response()).body.toString()).toBe('held');
    // Idle now: it goes too.
    await busy.waitEnded(3500);
  });

  // Last: closeIdle() is for good.
  it('answers nothing a client sends after the response that closed its connection while draining', async () => {
    const hits: string[] = [];
    let release: (() => void) | undefined;
    app.setHandler((req, res) => {
      hits.push(req.url ?? '');
      if (req.url === '/in-flight') release = () => res.end('done');
      else res.end('ok');
    });
    const totals = (): number => {
      const r = traffic.totals().requests;
      return r.serving + r.prestop + r.draining + r.exited;
    };
    const before = totals();
    const c = await RawClient.connect(port, { allowHalfOpen: true });
    clients.push(c);
    await c.write('GET /in-flight HTTP/1.1\r\nHost: x\r\n\r\n');
    await pollUntil(() => release, { timeoutMs: 10_000, what: 'the in-flight request at the app' });
    // The agent is draining: every response now closes its connection.
    proxy.closeIdle();
    release!();
    const r = await c.response();
    expect(r.body.toString()).toBe('done');
    expect(r.all('connection')).toEqual(['close']);
    await c.waitEnded();
    // A keep-alive client that sent its next request before our FIN reached it.
    await c.write('GET /too-late HTTP/1.1\r\nHost: x\r\n\r\n');
    c.socket.end();
    await c.waitClosed();
    expect(hits).toEqual(['/in-flight']);
    expect(totals() - before).toBe(1);
  });
});
