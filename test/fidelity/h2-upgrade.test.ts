import { execFile } from 'node:child_process';
import type { IncomingMessage } from 'node:http';
import { createServer as createH2Server } from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { pollUntil } from '../../lib/wait.js';
import { type AppStarter, agentTotals, Conn, exchange, nodeApp, pythonApp, useFidelity } from './harness.js';

// `Upgrade: h2c` from HTTP/1.1 (RFC 7540 §3.2; RFC 9113 §3.1 deprecated it, and most servers ignore
// it): what a client sees must not change when the agent is in front. Node's http server and
// Python's http.server ignore the Upgrade and answer in HTTP/1.1; an HTTP/2-only server (node:http2)
// answers the HTTP/1.1 request with SETTINGS and GOAWAY; an app that accepts (below, as nghttpd and
// Go's x/net h2c handler do) answers 101 and the request as stream 1 in HTTP/2, and the agent then
// counts every stream of the connection. The client is curl (`--http2` on an http:// URL upgrades).

const fx = useFidelity();
const run = promisify(execFile);

const UPGRADE =
  'GET /up HTTP/1.1\r\nHost: fidelity\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n' +
  'HTTP2-Settings: AAMAAABkAAQCAAAAAAIAAAAA\r\n\r\n';

// ---- an app that accepts the upgrade: a minimal HTTP/2 server after its 101 ----------------------

const frame = (type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)) => {
  const head = Buffer.alloc(9);
  head.writeUIntBE(payload.length, 0, 3);
  head[3] = type;
  head[4] = flags;
  head.writeUInt32BE(stream, 5);
  return Buffer.concat([head, payload]);
};
const [DATA, HEADERS, SETTINGS, PING, GOAWAY] = [0, 1, 4, 6, 7];
const [END_STREAM, ACK, END_HEADERS] = [1, 1, 4];
/** HPACK: `:status: 200` (static index 8), then `x-app: h2c-upgrade` as a literal not indexed. */
const RESPONSE_BLOCK = Buffer.concat([
  Buffer.from([0x88, 0x00, 5]),
  Buffer.from('x-app'),
  Buffer.from([11]),
  Buffer.from('h2c-upgrade'),
]);

function respond(socket: Socket, stream: number, body: string): void {
  socket.write(frame(HEADERS, END_HEADERS, stream, RESPONSE_BLOCK));
  socket.write(frame(DATA, END_STREAM, stream, Buffer.from(body)));
}

/** Reads the client's preface and frames: SETTINGS are acknowledged, PINGs answered, requests answered. */
function serveH2(socket: Socket, firstPath: string): void {
  socket.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n');
  socket.write(frame(SETTINGS, 0, 0));
  respond(socket, 1, `stream 1 ${firstPath}`);
  let buf = Buffer.alloc(0);
  let prefaceRead = false;
  socket.on('data', (c: Buffer) => {
    buf = Buffer.concat([buf, c]);
    if (!prefaceRead) {
      if (buf.length < 24) return;
      prefaceRead = true;
      buf = buf.subarray(24);
    }
    while (buf.length >= 9 && buf.length >= 9 + buf.readUIntBE(0, 3)) {
      const length = buf.readUIntBE(0, 3);
      const [type, flags, stream] = [buf[3]!, buf[4]!, buf.readUInt32BE(5) & 0x7fffffff];
      const payload = buf.subarray(9, 9 + length);
      buf = buf.subarray(9 + length);
      if (type === SETTINGS && !(flags & ACK)) socket.write(frame(SETTINGS, ACK, 0));
      else if (type === PING && !(flags & ACK)) socket.write(frame(PING, ACK, 0, payload));
      else if (type === HEADERS && flags & END_STREAM) respond(socket, stream, `stream ${stream}`);
      else if (type === GOAWAY) socket.end();
    }
  });
  socket.on('end', () => socket.end());
}

function h2cUpgradeApp(): AppStarter {
  return nodeApp(
    (req, res) => res.end(`HTTP/1.1 ${req.url}`),
    (server) =>
      server.on('upgrade', (req: IncomingMessage, socket: Socket) => {
        socket.on('error', () => undefined);
        const upgrade = String(req.headers.upgrade ?? '').toLowerCase();
        // RFC 7540 §3.2.1: no upgrade without exactly one HTTP2-Settings.
        if (upgrade === 'h2c' && typeof req.headers['http2-settings'] === 'string') {
          serveH2(socket, req.url ?? '');
          return;
        }
        const body = `no upgrade (${upgrade}, settings ${req.headers['http2-settings'] ?? 'missing'})`;
        socket.end(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n${body}`);
      }),
  );
}

/** node:http2's cleartext server: HTTP/2 only, it answers an HTTP/1.1 request with GOAWAY. */
const h2OnlyApp: AppStarter = async () => {
  const server = createH2Server((_req, res) => res.end('h2'));
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.once('close', () => sockets.delete(s));
  });
  server.on('session', (s) => s.on('error', () => undefined));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
};

/** curl upgrading to h2c, two URLs on one connection: each body with its HTTP version and status. */
async function curlUpgrade(port: number): Promise<string> {
  const url = (p: string) => `http://127.0.0.1:${port}${p}`;
  const { stdout } = await run(
    'curl',
    [
      '-s',
      '--http2',
      '--max-time',
      '10',
      '-w',
      ' [%{http_version} %{response_code}]\n',
      url('/a'),
      url('/b'),
    ],
    { timeout: 15_000 },
  );
  return stdout;
}

describe('fidelity: Upgrade: h2c from HTTP/1.1', () => {
  it('an app that accepts: the 101, stream 1 and later streams reach curl the same, each stream counted', async () => {
    const { direct, agent } = await fx.compare(h2cUpgradeApp(), curlUpgrade);
    // The upgrade happened (HTTP2-Settings reached the app), and the second URL went over HTTP/2.
    expect(direct).toBe('stream 1 /a [2 200]\nstream 3 [2 200]\n');
    // The upgrade request and stream 3, both answered.
    expect(await agentTotals(agent, 2)).toEqual({ requests: 2, failed: 0 });
    await pollUntil(() => agent.agent.state().inFlight === 0, { timeoutMs: 5000, what: 'no stream open' });
    // Stream 3 is an HTTP/2 stream of the relay (stream 1 is the HTTP/1.1 upgrade request).
    const streams = await agent.registry.getSingleMetricAsString('drainwatch_agent_h2_streams_total');
    expect(streams).toMatch(/phase="serving",outcome="ok"} 1$/m);
  });

  it('the agent drains an upgraded connection like any HTTP/2 one: GOAWAY(2^31-1) and a PING', async () => {
    await fx.viaAgent(h2cUpgradeApp(), async (port, agent) => {
      const conn = await Conn.open(port);
      try {
        await conn.write(UPGRADE);
        expect((await conn.response({ noBody: true }))?.statusLine).toBe('101 Switching Protocols');
        await conn.write(
          Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n'), frame(SETTINGS, 0, 0)]),
        );
        await pollUntil(() => agent.agent.state().inFlight === 0, { timeoutMs: 5000, what: 'stream 1 done' });
        void fetch(`${agent.adminUrl}/prestop`).catch(() => undefined);
        // GOAWAY: length 8, type 7, stream 0, last stream id 2^31-1, NO_ERROR; then an 8-byte PING.
        const goaway = `000008${'07'}0000000000${'7fffffff'}00000000`;
        await pollUntil(() => conn.received.toString('hex').includes(goaway), {
          timeoutMs: 5000,
          what: "the agent's first GOAWAY",
        });
        expect(conn.received.toString('hex')).toContain('0000080600');
      } finally {
        conn.destroy();
      }
    });
  });

  it('an app that accepts, raw: the 101 and the HTTP/2 frames that follow are the same bytes', async () => {
    const script = async (port: number) => {
      const conn = await Conn.open(port);
      try {
        await conn.write(UPGRADE);
        const seen = await conn.response({ noBody: true });
        // The server's SETTINGS and the response on stream 1 (HEADERS, DATA) come after the 101.
        await pollUntil(() => conn.received.length >= 9 + 9 + RESPONSE_BLOCK.length + 9 + 12, {
          timeoutMs: 5000,
          what: 'the frames after the 101',
        });
        return { seen, frames: conn.received.toString('hex') };
      } finally {
        conn.destroy();
      }
    };
    const { direct } = await fx.compare(h2cUpgradeApp(), script);
    expect(direct.seen?.statusLine).toBe('101 Switching Protocols');
  });

  it("Node's http server ignores the Upgrade: the same HTTP/1.1 answer, the connection kept alive", async () => {
    const app = nodeApp((req, res) => res.end(`http/1.1 ${req.url} upgrade=${req.headers.upgrade}`));
    const { direct } = await fx.compare(app, exchange(UPGRADE));
    expect(direct.responses[0]).toMatchObject({ statusLine: '200 OK', body: 'http/1.1 /up upgrade=h2c' });
    expect(direct.fate).toBe('kept-alive');
  });

  it("Python's http.server ignores it too: the same answer", async () => {
    const app = pythonApp(
      [
        '    def do_GET(self):',
        "        b = ('python ' + self.path).encode()",
        '        self.send_response(200)',
        "        self.send_header('Content-Length', str(len(b)))",
        '        self.end_headers()',
        '        self.wfile.write(b)',
      ].join('\n'),
    );
    const { direct } = await fx.compare(app, exchange(UPGRADE));
    expect(direct.responses[0]).toMatchObject({ statusLine: '200 OK', body: 'python /up' });
  });

  it('an app that refuses in its upgrade handler (400 and close): the same answer and close', async () => {
    const app = nodeApp(
      (_req, res) => res.end('plain'),
      (server) =>
        server.on('upgrade', (_req: IncomingMessage, socket: Socket) =>
          socket.end('HTTP/1.1 400 Bad Request\r\nContent-Length: 10\r\nConnection: close\r\n\r\nno upgrade'),
        ),
    );
    const { direct } = await fx.compare(app, exchange(UPGRADE, { closes: true }));
    expect(direct.responses[0]).toMatchObject({ statusLine: '400 Bad Request', body: 'no upgrade' });
    expect(direct.fate).toBe('fin');
  });

  it('an HTTP/2-only app (node:http2): its SETTINGS and GOAWAY reach the client byte for byte, then the close', async () => {
    const script = async (port: number) => {
      const conn = await Conn.open(port);
      try {
        await conn.write(UPGRADE);
        const fate = await conn.ended();
        return { fate, bytes: conn.received.toString('hex') };
      } finally {
        conn.destroy();
      }
    };
    const { direct } = await fx.compare(h2OnlyApp, script);
    // A SETTINGS frame first (type 4 on stream 0), then a GOAWAY (type 7).
    expect(direct.bytes.slice(6, 8)).toBe('04');
    expect(direct.bytes).toContain('0700000000');
  });
});
