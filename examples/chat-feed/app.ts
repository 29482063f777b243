import { createServer } from 'node:http';
import type { Redis } from 'ioredis';
import { Server, type Socket } from 'socket.io';
import { delay } from '../../lib/wait.js';
import {
  feedHttpHandler,
  jsonRoute,
  listenOn,
  startTickLog,
  stopListening,
  userOfCookie,
} from '../feed-app.js';
import { LOG_TTL_S, logKey, recordSent } from '../price-feed/ledger.js';
import type { ChatFeedConfig } from './config.js';

// A Socket.IO chat feed: every connected user gets one `chat` event per tick, `seq` = the tick
// number, the same on every pod, so the sequence is the user's whatever pod serves it. Each tick's
// message is also written to a shared log in Redis (`SET NX`, first pod wins) from which the fixed
// variant replays what came after the handshake's `auth.serverOffset` (the Socket.IO tutorial's
// "server delivery" pattern). `ping` is acknowledged, for the probe's correlation. The ledger (what
// was sent to whom, recorded before each emit) is the price feed's (../price-feed/ledger.ts).

export interface ChatFeedApp {
  start(): Promise<{ host: string; port: number }>;
  /** fixed: stop accepting, emit what is queued, disconnect every socket, resolve when closed. */
  shutdown(): Promise<void>;
}

/** How long a client may take to close its connection after the DISCONNECT packet (ms). */
const DISCONNECT_WAIT_MS = 2000;

/** The most a reconnect replays; older numbers count as missed (the log keeps LOG_TTL_S). */
const MAX_REPLAY = 3000;

function messageAt(seq: number): string {
  return JSON.stringify({ seq, room: 'lobby', from: 'bot', text: `message ${seq}` });
}

interface Subscriber {
  readonly user: string;
  /** The next sequence number this socket gets; undefined once shutting down. */
  next: number | undefined;
  /** Emits are serial per socket: each waits for the ledger, then for the previous one. */
  chain: Promise<void>;
}

/** The handshake's `auth.serverOffset` as a sequence number; undefined when absent or not one. */
function offsetOf(socket: Socket): number | undefined {
  const raw = (socket.handshake.auth as { serverOffset?: unknown }).serverOffset;
  const n = typeof raw === 'string' && /^\d{1,15}$/.test(raw) ? Number(raw) : raw;
  return typeof n === 'number' && Number.isSafeInteger(n) ? n : undefined;
}

export function createChatFeedApp(config: ChatFeedConfig, redis: Redis): ChatFeedApp {
  let closing = false;
  const fixed = config.mode === 'fixed';
  const tickNow = (): number => Math.floor(Date.now() / config.tickMs);
  const subs = new Map<Socket, Subscriber>();
  /** Disconnects still waiting for their client to close; shutdown waits for all of them. */
  const farewells = new Set<Promise<void>>();

  // The DISCONNECT packet (the client's `io server disconnect`; `disconnect(true)` would close
  // without it: `transport close`), then the client closes the connection, with a close frame;
  // exiting before that would cut the connection instead.
  const farewell = async (socket: Socket): Promise<void> => {
    const gone = new Promise<void>((resolve) => socket.conn.once('close', () => resolve()));
    socket.disconnect();
    await Promise.race([gone, delay(DISCONNECT_WAIT_MS)]);
  };

  // Login, identity, readiness and the ledger's figures are every feed's (feed-app.ts).
  const route = jsonRoute('/api/room', () => JSON.parse(messageAt(tickNow())));
  const http = createServer(feedHttpHandler(redis, () => closing, route));
  // Long-polling keeps the session in the pod that issued it: any other pod answers a poll with
  // 400 "Session ID unknown". WebSocket-only needs no affinity (socket.io.docs, "Using multiple nodes").
  const io = new Server(http, {
    transports: fixed ? ['websocket'] : ['polling', 'websocket'],
    pingInterval: 2000,
    pingTimeout: 2000,
  });

  // Emits `from..to` (the log's entries; a tick no pod logged is generated, as every pod would).
  const deliver = (socket: Socket, s: Subscriber, from: number, to: number, useLog: boolean): void => {
    s.chain = s.chain.then(async () => {
      if (to < from || !socket.connected) return;
      const seqs = Array.from({ length: to - from + 1 }, (_, i) => from + i);
      const logged = useLog ? await redis.mget(...seqs.map(logKey)) : [];
      await recordSent(redis, s.user, seqs);
      for (const [i, seq] of seqs.entries())
        socket.emit('chat', JSON.parse(logged[i] ?? messageAt(seq)) as unknown);
    });
    s.chain = s.chain.catch(() => void socket.disconnect(true));
  };

  io.use((socket, next) => {
    next(userOfCookie(socket.request.headers.cookie) ? undefined : new Error('not logged in'));
  });
  io.on('connection', (socket) => {
    // A refusal in the middleware would stop the client for good; a disconnect sends it elsewhere.
    if (closing) return void farewells.add(farewell(socket));
    const s: Subscriber = {
      user: userOfCookie(socket.request.headers.cookie)!,
      next: undefined,
      chain: Promise.resolve(),
    };
    subs.set(socket, s);
    socket.once('disconnect', () => subs.delete(socket));
    socket.on('ping', (msg: { id?: unknown } | undefined, ack: unknown) => {
      if (typeof ack === 'function') ack({ id: msg?.id });
    });
    const k = tickNow();
    const after = offsetOf(socket);
    if (fixed && after !== undefined && after < k)
      deliver(socket, s, Math.max(after + 1, k - MAX_REPLAY), k, true);
    else deliver(socket, s, k, k, false);
    s.next = k + 1;
  });

  const timer = startTickLog(redis, {
    tickMs: config.tickMs,
    tickNow,
    key: logKey,
    entry: messageAt,
    ttlS: LOG_TTL_S,
    onTick(k) {
      for (const [socket, s] of subs) {
        if (s.next === undefined || s.next > k) continue;
        deliver(socket, s, s.next, k, false);
        s.next = k + 1;
      }
    },
  });

  let stopping: Promise<void> | undefined;
  return {
    start: () => listenOn(http, config.host, config.port),
    shutdown() {
      stopping ??= (async () => {
        closing = true;
        const closed = stopListening(http);
        // Every emit already queued goes out before the farewell: nothing recorded is cut.
        await Promise.all(
          [...subs].map(async ([socket, s]) => {
            s.next = undefined;
            await s.chain;
            await farewell(socket);
          }),
        );
        // Sockets that connected meanwhile (over a connection the entry kept open) leave the same way.
        while (farewells.size > 0) {
          const waiting = [...farewells];
          await Promise.all(waiting);
          for (const f of waiting) farewells.delete(f);
        }
        clearInterval(timer);
        await new Promise<void>((resolve) => io.close(() => resolve()));
        await closed.catch(() => undefined);
      })();
      return stopping;
    },
  };
}
