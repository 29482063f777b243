import { createServer, type Server } from 'node:http';
import type { Redis } from 'ioredis';
import { feedHttpHandler, json, listenOn, startTickLog, stopListening } from '../feed-app.js';
import type { NewsFeedConfig } from './config.js';
import { eventAt, HISTORY_TTL_S, historyKey } from './events.js';
import { createNewsLedger } from './ledger.js';
import { createNewsStreams } from './streams.js';

// A Server-Sent Events news feed (HTML Living Standard §9.2): `GET /events` streams one `headline`
// event per tick, `id:` = the tick number, the same on every pod, so the ids are the user's
// whatever pod serves them. Each tick's event is also written to a shared history in Redis
// (`SET NX`, first pod wins) from which the fixed variant resumes after `Last-Event-ID`.

export interface NewsFeedApp {
  start(): Promise<{ host: string; port: number }>;
  /** fixed: stop listening, end every stream after its queued events, resolve when they ended. */
  shutdown(): Promise<void>;
  /** naive: stop ticking and wait for the ledger's records in flight; streams stay open (cut at exit). */
  halt(): Promise<void>;
}

/** How long shutdown waits for the ended streams' connections to close before closing them (ms). */
const CLOSE_WAIT_MS = 2000;

export function createNewsFeedApp(config: NewsFeedConfig, redis: Redis): NewsFeedApp {
  let closing = false;
  const tickNow = (): number => Math.floor(Date.now() / config.tickMs);
  const ledger = createNewsLedger(redis);
  const streams = createNewsStreams(config, redis, ledger, tickNow);

  const timer = startTickLog(redis, {
    tickMs: config.tickMs,
    tickNow,
    key: historyKey,
    entry: eventAt,
    ttlS: HISTORY_TTL_S,
    onTick: (k) => streams.tick(k),
  });

  // Login, identity, readiness and the ledger's figures are every feed's (feed-app.ts).
  const http: Server = createServer(
    feedHttpHandler(
      redis,
      () => closing,
      (path, user, req, res) => {
        if (path === '/api/headline') {
          json(res, 200, { id: tickNow(), title: `Headline ${tickNow()}` });
          return true;
        }
        if (path !== '/events') return false;
        if (closing) json(res, 503, { error: 'shutting down' });
        else streams.open(req, res, user);
        return true;
      },
    ),
  );

  let stopping: Promise<void> | undefined;
  let halting: Promise<void> | undefined;
  return {
    start: () => listenOn(http, config.host, config.port),
    shutdown() {
      stopping ??= (async () => {
        closing = true;
        const closed = stopListening(http);
        await streams.endAll();
        clearInterval(timer);
        await ledger.settled();
        // Ended streams leave keep-alive connections; the proxy in front reconnects elsewhere.
        http.closeIdleConnections();
        const wait = setTimeout(() => http.closeAllConnections(), CLOSE_WAIT_MS);
        wait.unref();
        await closed;
        clearTimeout(wait);
      })();
      return stopping;
    },
    halt() {
      halting ??= (async () => {
        clearInterval(timer);
        await streams.quiesce();
        await ledger.settled();
      })();
      return halting;
    },
  };
}
