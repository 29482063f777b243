import { once } from 'node:events';
import type { Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { pollUntil } from '../../lib/wait.js';
import { Conn, exchange, GET, nodeApp, useFidelity, wsApp } from './harness.js';

// Long-lived and streamed exchanges: Server-Sent Events, WebSockets, slow readers, cut uploads.

const fx = useFidelity();

// A raw WebSocket client, to write frames at chosen moments (e.g. after the app's close frame
// reached the client, so that they reach the agent after it too).
const MASK = [0x11, 0x22, 0x33, 0x44];
/** One short client frame, masked with a fixed key so both runs write the same bytes. */
function frame(opcode: number, payload: string | Buffer, fin = true): Buffer {
  const data = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const head = Buffer.from([(fin ? 0x80 : 0) | opcode, 0x80 | data.length, ...MASK]);
  return Buffer.concat([head, Buffer.from(data.map((b, i) => b ^ MASK[i & 3]!))]);
}
function closePayload(code: number, reason = ''): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(code);
  return Buffer.concat([b, Buffer.from(reason)]);
}
/** The app's short unmasked frames, as `opcode:payload` (a close as `8:code reason`). */
function serverFrames(bytes: Buffer): string[] {
  const out: string[] = [];
  for (let i = 0; i + 2 <= bytes.length; ) {
    const op = bytes[i]! & 0x0f;
    const len = bytes[i + 1]! & 0x7f;
    if (len > 125 || i + 2 + len > bytes.length)
      return [...out, `partial:${bytes.subarray(i).toString('hex')}`];
    const p = bytes.subarray(i + 2, i + 2 + len);
    out.push(`${op}:${op === 8 && p.length >= 2 ? `${p.readUInt16BE(0)} ${p.subarray(2)}` : p}`);
    i += 2 + len;
  }
  return out;
}
async function rawWebSocket(port: number): Promise<{ conn: Conn; status: string; frames: () => string[] }> {
  const conn = await Conn.open(port);
  await conn.write(
    'GET / HTTP/1.1\r\nHost: fidelity\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
      'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
  );
  await pollUntil(() => conn.received.includes('\r\n\r\n'), { timeoutMs: 5000, what: 'the 101' });
  const headEnd = conn.received.indexOf('\r\n\r\n');
  const status = conn.received.subarray(0, headEnd).toString('latin1').split('\r\n')[0]!;
  return { conn, status, frames: () => serverFrames(conn.received.subarray(headEnd + 4)) };
}
const untilAppClose = (frames: () => string[]) =>
  pollUntil(() => frames().some((f) => f.startsWith('8:')), {
    timeoutMs: 5000,
    what: "the app's close frame",
  });

/** The `ws` server socket's TCP socket (ws keeps it as `_socket`), to reset it or watch its errors. */
const socketOf = (ws: import('ws').WebSocket): Socket => (ws as unknown as { _socket: Socket })._socket;

/** Closes with 1001 on 'close-now', answers anything else; records what it saw, answers apart. */
function closingApp(log: { saw: string[]; answers: string[] }, afterClose?: (socket: Socket) => void) {
  return wsApp((ws) => {
    const state = () => (ws.readyState === ws.OPEN ? 'open' : 'closing');
    ws.on('message', (data, isBinary) => {
      const text = data.toString();
      log.saw.push(`message ${isBinary ? 'bin' : 'text'} ${text} (${state()})`);
      if (text !== 'close-now') {
        // Apart: the refusal comes on the next tick, whose place among later frames depends on
        // how TCP split the bytes.
        ws.send(`ack ${text}`, (err) => log.answers.push(`answer ${text} ${err ? 'refused' : 'sent'}`));
        return;
      }
      ws.close(1001, 'going away');
      afterClose?.(socketOf(ws));
    });
    ws.on('ping', (d) => log.saw.push(`ping ${d} (${state()})`));
    ws.on('close', (code, reason) => log.saw.push(`close ${code} ${reason}`));
  });
}

/**
 * A raw client session against closingApp: writes `first`, waits for the app's close frame, writes
 * each of `after`, then waits for the app's FIN, half-closes, and waits until the app saw the close.
 */
function afterAppClose(log: { saw: string[]; answers: string[] }, first: Buffer, after: readonly Buffer[]) {
  return async (port: number) => {
    log.saw = [];
    log.answers = [];
    const { conn, status, frames } = await rawWebSocket(port);
    try {
      await conn.write(first);
      await untilAppClose(frames);
      for (const bytes of after) await conn.write(bytes);
      const fate = await conn.ended();
      conn.halfClose();
      await pollUntil(() => log.saw.some((s) => s.startsWith('close ')), {
        timeoutMs: 5000,
        what: 'the app close',
      });
      return { status, frames: frames(), fate, app: log.saw, answers: log.answers };
    } finally {
      conn.destroy();
    }
  };
}

/** What the raw client of afterAppClose sees when the app closes cleanly: its 101, its 1001, its FIN. */
const appClosedCleanly = {
  status: 'HTTP/1.1 101 Switching Protocols',
  frames: ['8:1001 going away'],
  fate: 'fin',
};

describe('fidelity: streams', () => {
  it('Server-Sent Events: each event arrives as the app writes it', async () => {
    const app = nodeApp((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      let n = 0;
      const timer = setInterval(() => {
        n += 1;
        res.write(`id: ${n}\ndata: tick ${n}\n\n`);
        if (n === 3) {
          clearInterval(timer);
          res.end();
        }
      }, 20);
      timer.unref();
    });
    const { direct } = await fx.compare(app, async (port) => {
      const conn = await Conn.open(port);
      try {
        await conn.write(GET('/events', 'Accept: text/event-stream\r\n'));
        // The first event is readable before the stream ends (it is not buffered whole).
        await pollUntil(() => conn.received.includes('data: tick 1'), { timeoutMs: 5000, what: 'tick 1' });
        const early = !conn.received.includes('data: tick 3');
        const r = await conn.response();
        return { early, body: r?.body, headers: r?.headers, fate: await conn.fate() };
      } finally {
        conn.destroy();
      }
    });
    expect(direct.early).toBe(true);
    expect(direct.body).toBe('id: 1\ndata: tick 1\n\nid: 2\ndata: tick 2\n\nid: 3\ndata: tick 3\n\n');
  });

  it('WebSocket: messages echo, binary stays binary', async () => {
    const { direct } = await fx.compare(wsApp(), async (port) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/echo`);
      await once(ws, 'open');
      const got: string[] = [];
      ws.on('message', (data, isBinary) => got.push(`${isBinary ? 'bin' : 'text'}:${data.toString()}`));
      ws.send('hello');
      ws.send(Buffer.from('bytes'), { binary: true });
      await pollUntil(() => got.length === 2, { timeoutMs: 5000, what: 'two echoes' });
      ws.close(1000, 'done');
      const [code] = (await once(ws, 'close')) as [number, Buffer];
      return { got, code };
    });
    expect(direct).toEqual({ got: ['text:hello', 'bin:bytes'], code: 1000 });
  });

  it('WebSocket close from the client: the app sees its code and reason', async () => {
    let appSaw: string[] = [];
    const app = wsApp((ws) => {
      ws.on('close', (code, reason) => appSaw.push(`${code} ${reason.toString()}`));
    });
    const { direct } = await fx.compare(app, async (port) => {
      appSaw = [];
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
      await once(ws, 'open');
      ws.close(4001, 'client leaving');
      const [code, reason] = (await once(ws, 'close')) as [number, Buffer];
      await pollUntil(() => appSaw.length === 1, { timeoutMs: 5000, what: 'the app to see the close' });
      return { client: `${code} ${reason.toString()}`, app: appSaw[0] };
    });
    expect(direct).toEqual({ client: '4001 client leaving', app: '4001 client leaving' });
  });

  it('WebSocket close from the app: the client sees its code and reason', async () => {
    const app = wsApp((ws) => {
      ws.on('message', () => ws.close(4002, 'app leaving'));
    });
    const { direct } = await fx.compare(app, async (port) => {
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
      await once(ws, 'open');
      ws.send('bye?');
      const [code, reason] = (await once(ws, 'close')) as [number, Buffer];
      return `${code} ${reason.toString()}`;
    });
    expect(direct).toBe('4002 app leaving');
  });

  // The race a drain loses users' messages to: a pod closing its sockets with 1001 while a user's
  // message is on its way (RFC 6455 §5.5.1: after sending a Close frame an endpoint sends no more
  // data, but it may still receive some). The app must still receive that message, and its answer
  // must still be refused, exactly as without the agent.
  it('WebSocket message crossing the app close: the app still receives it, its answer is not sent', async () => {
    const log = { saw: [] as string[], answers: [] as string[] };
    const { direct } = await fx.compare(closingApp(log), async (port) => {
      log.saw = [];
      log.answers = [];
      const ws = new WebSocket(`ws://127.0.0.1:${port}/`);
      await once(ws, 'open');
      const got: string[] = [];
      ws.on('message', (data) => got.push(data.toString()));
      // Both written before the app's close frame can arrive: the second crosses it.
      ws.send('close-now');
      ws.send('in flight');
      const [code, reason] = (await once(ws, 'close')) as [number, Buffer];
      await pollUntil(() => log.saw.some((s) => s.startsWith('close ')), {
        timeoutMs: 5000,
        what: 'the app close',
      });
      return { client: { got, close: `${code} ${reason.toString()}` }, app: log.saw, answers: log.answers };
    });
    expect(direct).toEqual({
      client: { got: [], close: '1001 going away' },
      app: ['message text close-now (open)', 'message text in flight (closing)', 'close 1001 going away'],
      answers: ['answer in flight refused'],
    });
  });

  // The case above writes both messages in one tick: they reach the agent in one read, before the
  // app's close frame does, so only the client's close reply passes the agent after that frame.
  // Here the client waits for the app's close frame before writing: what follows reaches the agent
  // after it for certain.
  it('WebSocket data the client writes after the app close frame (text, binary, ping, then its reply) reaches the app', async () => {
    const log = { saw: [] as string[], answers: [] as string[] };
    const { direct } = await fx.compare(
      closingApp(log),
      afterAppClose(log, frame(1, 'close-now'), [
        frame(1, 'after close'),
        Buffer.concat([frame(2, Buffer.from([0, 1, 2])), frame(9, 'p'), frame(8, closePayload(1001))]),
      ]),
    );
    expect(direct).toEqual({
      ...appClosedCleanly,
      app: [
        'message text close-now (open)',
        'message text after close (closing)',
        'message bin \u0000\u0001\u0002 (closing)',
        'ping p (closing)',
        'close 1001 ',
      ],
      answers: ['answer after close refused', 'answer \u0000\u0001\u0002 refused'],
    });
  });

  // RFC 6455 §5.5.1: an endpoint may finish the message it is sending before its close reply.
  it('WebSocket fragmented message straddling the app close frame: the app gets it whole', async () => {
    const log = { saw: [] as string[], answers: [] as string[] };
    const { direct } = await fx.compare(
      closingApp(log),
      afterAppClose(log, Buffer.concat([frame(1, 'close-now'), frame(1, 'part1 ', false)]), [
        frame(9, 'mid'),
        Buffer.concat([frame(0, 'part2'), frame(8, closePayload(1001, 'bye'))]),
      ]),
    );
    expect(direct).toEqual({
      ...appClosedCleanly,
      app: [
        'message text close-now (open)',
        'ping mid (closing)',
        'message text part1 part2 (closing)',
        'close 1001 bye',
      ],
      answers: ['answer part1 part2 refused'],
    });
  });

  // A pod that dies right after its 1001 (a reset, as the kernel sends for data left unread). The
  // agent once answered the app's reset with a FIN (found by a reviewing helper).
  it('WebSocket: the app resets its socket after its 1001: the client sees the reset', async () => {
    const log = { saw: [] as string[], answers: [] as string[] };
    const app = closingApp(log, (socket) => setTimeout(() => socket.resetAndDestroy(), 100));
    const { direct } = await fx.compare(app, async (port) => {
      const { conn, status, frames } = await rawWebSocket(port);
      try {
        await conn.write(frame(1, 'close-now'));
        await untilAppClose(frames);
        return { status, frames: frames(), fate: await conn.ended() };
      } finally {
        conn.destroy();
      }
    });
    expect(direct).toEqual({ ...appClosedCleanly, fate: 'reset' });
  });

  // The other direction: a client that vanishes with a reset (a browser tab killed, a NAT entry
  // dropped mid-stream) is seen by the app as a reset, not as the agent's FIN.
  it("WebSocket: the client resets its socket: the app's socket sees the reset", async () => {
    let appSaw: string[] = [];
    const app = wsApp((ws) => {
      const socket = socketOf(ws);
      socket.on('error', (err: NodeJS.ErrnoException) => appSaw.push(`error ${err.code}`));
      socket.on('end', () => appSaw.push('end'));
      ws.on('message', (data) => appSaw.push(`message ${data}`));
      ws.on('close', (code) => appSaw.push(`close ${code}`));
    });
    const { direct } = await fx.compare(app, async (port) => {
      appSaw = [];
      const { conn, status } = await rawWebSocket(port);
      await conn.write(frame(1, 'hello'));
      await pollUntil(() => appSaw.includes('message hello'), { timeoutMs: 5000, what: 'the message' });
      conn.socket.resetAndDestroy();
      await pollUntil(() => appSaw.some((s) => s.startsWith('close ')), {
        timeoutMs: 5000,
        what: 'the app close',
      });
      return { status, app: appSaw };
    });
    expect(direct).toEqual({
      status: 'HTTP/1.1 101 Switching Protocols',
      app: ['message hello', 'error ECONNRESET', 'close 1006'],
    });
  });

  it('WebSocket handshake refused by the app: its HTTP answer reaches the client', async () => {
    const app = nodeApp((_req, res) => {
      res.statusCode = 403;
      res.end('no sockets here');
    });
    const { direct } = await fx.compare(
      app,
      exchange(
        GET(
          '/ws',
          'Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n',
        ),
      ),
    );
    expect(direct.responses[0]!.statusLine).toBe('403 Forbidden');
  });

  it('a slow reader: backpressure reaches the app, then every byte of 16 MiB arrives', async () => {
    const piece = Buffer.alloc(64 * 1024, 'slow');
    const pieces = 256;
    let stalled = false;
    const app = nodeApp((_req, res) => {
      res.setHeader('content-length', String(piece.length * pieces));
      let sent = 0;
      const more = (): void => {
        while (sent < pieces) {
          sent += 1;
          if (!res.write(piece)) {
            // The reader is not keeping up: the kernel's buffers (and the agent's) are full.
            stalled = true;
            res.once('drain', more);
            return;
          }
        }
        res.end();
      };
      more();
    });
    const { direct } = await fx.compare(app, async (port) => {
      stalled = false;
      const conn = await Conn.open(port);
      try {
        conn.socket.pause();
        await conn.write(GET());
        await pollUntil(() => stalled, { timeoutMs: 10_000, what: 'the app to feel the backpressure' });
        conn.socket.resume();
        const r = await conn.response({ timeoutMs: 30_000 });
        return { body: r?.body.slice(0, 9), fate: await conn.fate() };
      } finally {
        conn.destroy();
      }
    });
    expect(direct).toEqual({ body: '16777216 ', fate: 'kept-alive' });
  });

  it('an upload the client cuts: the app sees the request aborted', async () => {
    let appSaw: string[] = [];
    let bodyArrived = false;
    const app = nodeApp((req, res) => {
      let n = 0;
      req.on('data', (c: Buffer) => {
        n += c.length;
        bodyArrived = true;
      });
      req.on('end', () => res.end('complete'));
      req.on('close', () =>
        appSaw.push(req.complete ? 'complete' : `cut after ${n > 0 ? 'some' : 'no'} bytes`),
      );
    });
    const { direct } = await fx.compare(app, async (port) => {
      appSaw = [];
      bodyArrived = false;
      const conn = await Conn.open(port);
      await conn.write('POST /up HTTP/1.1\r\nHost: fidelity\r\nContent-Length: 100000\r\n\r\n');
      await conn.write(Buffer.alloc(1000, 'a'));
      await pollUntil(() => bodyArrived, { timeoutMs: 5000, what: 'the body to reach the app' });
      conn.destroy();
      await pollUntil(() => appSaw.length === 1, { timeoutMs: 5000, what: 'the app to see the cut' });
      return appSaw[0];
    });
    expect(direct).toMatch(/^cut after/);
  });

  it('an upload the app refuses early (413 and close): the client gets the 413', async () => {
    const app = nodeApp((req, res) => {
      res.writeHead(413, { connection: 'close', 'content-length': '8' });
      res.end('too big\n');
      req.destroy();
    });
    const { direct } = await fx.compare(app, async (port) => {
      const conn = await Conn.open(port);
      try {
        await conn.write('POST /up HTTP/1.1\r\nHost: fidelity\r\nContent-Length: 10000000\r\n\r\n');
        await conn.write(Buffer.alloc(64 * 1024, 'a'));
        const r = await conn.response();
        return { status: r?.statusLine, body: r?.body, fate: await conn.ended() };
      } finally {
        conn.destroy();
      }
    });
    expect(direct.status).toBe('413 Payload Too Large');
  });
});
