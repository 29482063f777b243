import { createServer, type Server } from 'node:http';
import type { Redis } from 'ioredis';
import { type WebSocket, WebSocketServer } from 'ws';
import {
  feedHttpHandler,
  jsonRoute,
  listenOn,
  startTickLog,
  stopListening,
  userOfCookie,
} from '../feed-app.js';
import type { PriceFeedConfig } from './config.js';
import { LOG_TTL_S, logKey, recordSent } from './ledger.js';
import { createReplySockets, isReplyPath, type ReplySockets } from './replies.js';

// A raw-`ws` price feed using the subscribe pattern: after `{"type":"subscribe"}` the server pushes
// one quote per tick, `data.seq` = the tick number, the same on every pod, so the sequence is the
// user's whatever pod serves it. Each tick's quote is also written to a shared log in Redis
// (`SET NX`, first pod wins) from which the fixed variant serves `{"type":"resume","after":n}`.
// `/echo` and `/rpc` (replies.ts) serve the echo and request patterns; `/feed` without a subscribe
// serves `hold`.

export interface PriceFeedApp {
  start(): Promise<{ host: string; port: number }>;
  /** fixed: stop accepting, answer what arrived, close every socket with 1001, resolve when they are closed. */
  shutdown(): Promise<void>;
}

/** The most a resume replays; older numbers count as missed (the log keeps LOG_TTL_S). */
const MAX_REPLAY = 3000;

function quoteAt(seq: number): string {
  const bid = Math.round((100 + Math.sin(seq / 50) * 2) * 100) / 100;
  return JSON.stringify({ type: 'quote', symbol: 'ACME', data: { seq, bid, ask: bid + 0.1 } });
}

interface Subscriber {
  readonly user: string;
  /** The next sequence number this socket gets; undefined until subscribed. */
  next: number | undefined;
  /** Writes are serial per socket: each batch waits for the previous one's writes and ledger entries. */
  chain: Promise<void>;
}

type Deliver = (ws: WebSocket, s: Subscriber, from: number, to: number, useLog: boolean) => void;

/** A subscribe (push from tick k on) or a resume (fixed: replay after `after` from the log first). */
function subscribe(
  mode: PriceFeedConfig['mode'],
  k: number,
  ws: WebSocket,
  s: Subscriber,
  raw: string,
  deliver: Deliver,
): void {
  let msg: { type?: unknown; after?: unknown };
  try {
    msg = JSON.parse(raw) as typeof msg;
  } catch {
    return void ws.close(1003, 'json only');
  }
  if (s.next !== undefined) return;
  const after = Number(msg.after);
  if (msg.type === 'resume' && mode === 'fixed' && Number.isSafeInteger(after) && after < k) {
    deliver(ws, s, Math.max(after + 1, k - MAX_REPLAY), k, true);
  } else if (msg.type === 'subscribe' || msg.type === 'resume') {
    deliver(ws, s, k, k, false);
  } else return;
  s.next = k + 1;
}

/**
 * Upgrades `/feed` for a logged-in user (each socket a Subscriber in `subs`), and `/echo` and `/rpc`
 * (replies.ts), until shutdown.
 */
function acceptSockets(
  http: Server,
  closing: () => boolean,
  subs: Map<WebSocket, Subscriber>,
  onMessage: (ws: WebSocket, s: Subscriber, raw: string) => void,
  replies: ReplySockets,
): void {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 4096 });
  http.on('upgrade', (req, socket, head) => {
    const user = userOfCookie(req.headers.cookie);
    const path = (req.url ?? '').split('?')[0] ?? '';
    if (closing() || (path !== '/feed' && !isReplyPath(path)) || !user) {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      if (isReplyPath(path)) return replies.accept(ws, path, user);
      const s: Subscriber = { user, next: undefined, chain: Promise.resolve() };
      subs.set(ws, s);
      ws.on('message', (raw) => onMessage(ws, s, raw.toString()));
      ws.once('close', () => subs.delete(ws));
      ws.on('error', () => {});
    });
  });
}

export function createPriceFeedApp(config: PriceFeedConfig, redis: Redis): PriceFeedApp {
  let closing = false;
  const tickNow = (): number => Math.floor(Date.now() / config.tickMs);
  const subs = new Map<WebSocket, Subscriber>();

  // Sends `from..to` (the log's entries; a tick no pod logged is generated, as every pod would).
  // A push enters the ledger only once ws.send's callback reports it handed to the kernel without
  // error (ws 8: the callback of the socket write), so a push still in this process's buffers when
  // it dies is neither sent nor recorded.
  const deliver = (ws: WebSocket, s: Subscriber, from: number, to: number, useLog: boolean): void => {
    s.chain = s.chain.then(async () => {
      if (to < from || ws.readyState !== ws.OPEN) return;
      const seqs = Array.from({ length: to - from + 1 }, (_, i) => from + i);
      const logged = useLog ? await redis.mget(...seqs.map(logKey)) : [];
      const recorded = seqs.map(
        (seq, i) =>
          new Promise<void>((resolve, reject) =>
            ws.send(logged[i] ?? quoteAt(seq), (err) => {
              if (err) resolve();
              else recordSent(redis, s.user, [seq]).then(resolve, reject);
            }),
          ),
      );
      await Promise.all(recorded);
    });
    s.chain = s.chain.catch(() => ws.terminate());
  };

  const timer = startTickLog(redis, {
    tickMs: config.tickMs,
    tickNow,
    key: logKey,
    entry: quoteAt,
    ttlS: LOG_TTL_S,
    onTick(k) {
      for (const [ws, s] of subs) {
        if (s.next === undefined || s.next > k) continue;
        deliver(ws, s, s.next, k, false);
        s.next = k + 1;
      }
    },
  });

  const onMessage = (ws: WebSocket, s: Subscriber, raw: string): void =>
    subscribe(config.mode, tickNow(), ws, s, raw, deliver);

  // Login, identity, readiness and the ledger's figures are every feed's (feed-app.ts).
  const route = jsonRoute('/api/quote', () => JSON.parse(quoteAt(tickNow())));
  const http = createServer(feedHttpHandler(redis, () => closing, route));
  const replies = createReplySockets({ replyDelayMs: config.replyDelayMs, quote: () => quoteAt(tickNow()) });
  acceptSockets(http, () => closing, subs, onMessage, replies);

  let stopping: Promise<void> | undefined;
  return {
    start: () => listenOn(http, config.host, config.port),
    shutdown() {
      stopping ??= (async () => {
        closing = true;
        const closed = stopListening(http);
        // Every write already queued goes out before the close frame: nothing sent is cut.
        await Promise.all([
          ...[...subs].map(async ([ws, s]) => {
            s.next = undefined;
            await s.chain;
            ws.close(1001, 'shutting down');
          }),
          replies.drain(),
        ]);
        clearInterval(timer);
        await closed;
      })();
      return stopping;
    },
  };
}
