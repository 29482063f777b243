import { createHash } from 'node:crypto';
import {
  type ClientHttp2Session,
  type ClientHttp2Stream,
  connect as h2Connect,
  constants as H2,
  createServer as createH2Server,
  type IncomingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import type { Socket } from 'node:net';
import { connect } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import { pollUntil } from '../../lib/wait.js';
import { type AgentUnderTest, createTestStream, waitForEvents } from '../helpers/agent-harness.js';
import { testNamespace } from '../helpers/servers.js';
import { type AppStarter, agentTotals, useFidelity } from './harness.js';

// HTTP/2 cleartext (prior knowledge) through the agent's frame relay: what a client sees of the
// app alone and through the agent must be the same (status, headers, body, trailers, RST_STREAM
// codes, GOAWAY, large bodies under flow control, a dying app), while the agent counts each stream.

const fx = useFidelity();

type StreamHandler = (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, session: ServerHttp2Session) => void;

/** A node:http2 app (h2c); close() destroys its sessions. */
function h2App(onStream: StreamHandler): AppStarter {
  return async () => {
    const server = createH2Server();
    const sessions = new Set<ServerHttp2Session>();
    const sockets = new Set<Socket>();
    server.on('connection', (s: Socket) => {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
    });
    server.on('session', (s) => {
      sessions.add(s);
      s.on('error', () => undefined);
      s.once('close', () => sessions.delete(s));
    });
    server.on('stream', (stream, headers) => {
      stream.on('error', () => undefined);
      onStream(stream, headers, stream.session!);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    return {
      port,
      close: () =>
        new Promise<void>((resolve) => {
          for (const s of sockets) s.destroy();
          server.close(() => resolve());
        }),
    };
  };
}

/** What one stream showed the client. */
interface Seen {
  status?: number | undefined;
  headers?: Record<string, unknown>;
  body?: string;
  trailers?: Record<string, unknown>;
  rstCode?: number;
  error?: string;
}

const NOT_COMPARED = new Set(['date']);
function plain(h: IncomingHttpHeaders): Record<string, unknown> {
  return Object.fromEntries(Object.entries(h).filter(([k]) => !NOT_COMPARED.has(k) && k !== ':status'));
}
function digest(b: Buffer): string {
  return b.length > 256 ? `${b.length} bytes sha256:${createHash('sha256').update(b).digest('hex')}` : b.toString();
}

/** Runs one request on `session` and records what came back; never rejects. */
function call(
  session: ClientHttp2Session,
  headers: Record<string, string>,
  body?: Buffer | string,
  onStream?: (s: ClientHttp2Stream) => void,
): Promise<Seen> {
  return new Promise((resolve) => {
    const seen: Seen = {};
    const chunks: Buffer[] = [];
    let req: ClientHttp2Stream;
    try {
      req = session.request({ ':method': 'POST', ...headers });
    } catch (err) {
      resolve({ error: (err as NodeJS.ErrnoException).code ?? 'throw' });
      return;
    }
    onStream?.(req);
    req.on('response', (h) => {
      seen.status = h[':status'];
      seen.headers = plain(h);
    });
    req.on('trailers', (t) => {
      seen.trailers = plain(t);
    });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('error', (err: NodeJS.ErrnoException) => {
      seen.error = err.code ?? 'error';
    });
    req.on('close', () => {
      seen.body = digest(Buffer.concat(chunks));
      if (req.rstCode !== undefined && req.rstCode !== H2.NGHTTP2_NO_ERROR) seen.rstCode = req.rstCode;
      resolve(seen);
    });
    req.end(body);
  });
}

function openSession(port: number): { session: ClientHttp2Session; goaways: number[][]; errors: string[] } {
  const session = h2Connect(`http://127.0.0.1:${port}`);
  const goaways: number[][] = [];
  const errors: string[] = [];
  session.on('goaway', (code: number, last: number) => goaways.push([code, last]));
  // A refused and a reset connection differ only below HTTP/2 (the agent can only reset): both
  // are "the connection failed" to an HTTP/2 client.
  session.on('error', (err: NodeJS.ErrnoException) =>
    errors.push(err.code === 'ECONNREFUSED' || err.code === 'ECONNRESET' ? 'connection-failed' : (err.code ?? '?')),
  );
  return { session, goaways, errors };
}

const GRPC_HEADERS = { ':path': '/quote.Quotes/Get', 'content-type': 'application/grpc', te: 'trailers' };

// A gRPC-shaped unary answer: headers, a body, and trailers carrying the status.
const unaryApp = h2App((stream, headers) => {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  stream.on('end', () => {
    stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'x-app': 'h2' }, { waitForTrailers: true });
    stream.on('wantTrailers', () => {
      const fail = headers[':path'] === '/quote.Quotes/Fail';
      stream.sendTrailers({ 'grpc-status': fail ? '14' : '0', 'grpc-message': fail ? 'unavailable' : '' });
    });
    stream.end(`${headers[':path']} ${Buffer.concat(chunks).length}`);
  });
});

describe('fidelity: HTTP/2 (h2c prior knowledge) through the frame relay', () => {
  it('unary calls with trailers, concurrent on one connection: same, and each stream counted', async () => {
    const script = async (port: number) => {
      const { session, goaways, errors } = openSession(port);
      try {
        const calls = await Promise.all([
          call(session, GRPC_HEADERS, 'abc'),
          call(session, { ...GRPC_HEADERS, ':path': '/quote.Quotes/Fail' }, 'x'),
          call(session, { ...GRPC_HEADERS, 'x-long': 'v'.repeat(5000) }, ''),
        ]);
        return { calls, goaways, errors };
      } finally {
        session.close();
      }
    };
    const { direct, agent } = await fx.compare(unaryApp, script);
    expect(direct.calls[0]).toMatchObject({ status: 200, trailers: { 'grpc-status': '0' }, body: '/quote.Quotes/Get 3' });
    expect(direct.calls[1]).toMatchObject({ trailers: { 'grpc-status': '14' } });
    // UNAVAILABLE from the app is the app's failure: counted as failed, like a 5xx.
    expect(await agentTotals(agent, 3)).toEqual({ requests: 3, failed: 1 });
  });

  it('RST_STREAM from the app mid-response: the same code reaches the client, the stream is counted cut', async () => {
    const app = h2App((stream) => {
      stream.respond({ ':status': 200 });
      stream.write('partial', () => stream.destroy(new Error('the app failed mid-response')));
    });
    const ns = testNamespace();
    const nc = await connect({ servers: fx.natsUrl });
    try {
      await createTestStream(nc, ns);
      const script = async (port: number) => {
        const { session } = openSession(port);
        try {
          return await call(session, GRPC_HEADERS, 'q');
        } finally {
          session.close();
        }
      };
      const { direct } = await fx.compare(app, script, {
        ns,
        after: async () => {
          const events = await waitForEvents(nc, ns, (es) => es.some((e) => e.kind === 'request'), 'the stream');
          const req = events.find((e) => e.kind === 'request')!;
          expect(req.data).toMatchObject({
            method: 'POST',
            route: '/quote.Quotes/Get',
            outcome: 'upstream-reset',
            rstCode: H2.NGHTTP2_INTERNAL_ERROR,
            protocol: 'h2',
          });
        },
      });
      expect(direct).toMatchObject({ status: 200, rstCode: H2.NGHTTP2_INTERNAL_ERROR });
    } finally {
      await nc.close();
    }
  });
});
