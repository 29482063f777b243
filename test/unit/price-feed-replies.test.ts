import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { createReplySockets, isReplyPath, type ReplySockets } from '../../examples/price-feed/index.js';

// The price feed's `/echo` and `/rpc` sockets over loopback with the real `ws`: answers after the
// delay, and the fixed drain's order (every answer owed, then 1001, never a frame after it).

const QUOTE = JSON.stringify({ type: 'quote', data: { seq: 7 } });

interface Received {
  readonly frames: string[];
  readonly closed: Promise<number>;
}

async function serve(replies: ReplySockets): Promise<{ url: string; server: Server }> {
  const wss = new WebSocketServer({ noServer: true });
  const server = createServer();
  server.on('upgrade', (req, socket, head) => {
    const path = req.url ?? '';
    if (!isReplyPath(path)) return void socket.destroy();
    wss.handleUpgrade(req, socket, head, (ws) => replies.accept(ws, path, 'ada'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

async function open(url: string): Promise<{ ws: WebSocket; got: Received }> {
  const ws = new WebSocket(url);
  const frames: string[] = [];
  ws.on('message', (d) => frames.push(d.toString()));
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, got: { frames, closed } };
}

describe('price-feed reply sockets', () => {
  let server: Server | undefined;
  afterEach(async () => {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    server = undefined;
  });

  it('/echo sends back each message as it came; /rpc answers with the id at data.id', async () => {
    const replies = createReplySockets({ replyDelayMs: 20, quote: () => QUOTE });
    const s = await serve(replies);
    server = s.server;
    const echo = await open(`${s.url}/echo`);
    const rpc = await open(`${s.url}/rpc`);
    echo.ws.send('{"id":"s1.m1","from":"ada"}');
    rpc.ws.send(JSON.stringify({ type: 'request', id: 's1.m2', user: 'ada' }));
    rpc.ws.send('not json');
    await expect.poll(() => echo.got.frames.length + rpc.got.frames.length).toBe(3);
    expect(echo.got.frames).toEqual(['{"id":"s1.m1","from":"ada"}']);
    expect(JSON.parse(rpc.got.frames[0]!)).toEqual({
      type: 'reply',
      data: { id: 's1.m2', user: 'ada', quote: JSON.parse(QUOTE) },
    });
    expect(JSON.parse(rpc.got.frames[1]!)).toMatchObject({ type: 'error' });
    echo.ws.close();
    rpc.ws.close();
  });

  it('drain: the answers owed go out, then a 1001 close; repeated drains share one promise', async () => {
    const replies = createReplySockets({ replyDelayMs: 300, quote: () => QUOTE });
    const s = await serve(replies);
    server = s.server;
    const echo = await open(`${s.url}/echo`);
    echo.ws.send('a');
    echo.ws.send('b');
    // Both messages are read before the drain begins (they are owed, not on the wire).
    await new Promise((resolve) => setTimeout(resolve, 100).unref());
    const drained = replies.drain();
    expect(replies.drain()).toBe(drained);
    expect(await echo.got.closed).toBe(1001);
    expect(echo.got.frames).toEqual(['a', 'b']);
    await drained;
  });

  it('drain: a socket that sends nothing is closed with 1001 after DRAIN_IDLE_MS', async () => {
    const replies = createReplySockets({ replyDelayMs: 20, quote: () => QUOTE });
    const s = await serve(replies);
    server = s.server;
    const rpc = await open(`${s.url}/rpc`);
    const drained = replies.drain();
    expect(await rpc.got.closed).toBe(1001);
    expect(rpc.got.frames).toEqual([]);
    await drained;
  }, 10_000);
});
