import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import type { NewsFeedConfig } from './config.js';
import { eventAt, HISTORY_TTL_S, historyKey } from './events.js';
import { createNewsLedger, readNewsSentFigures } from './ledger.js';
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

function userOf(req: IncomingMessage): string | undefined {
  const m = /(?:^|;\s*)u=([^;]+)/.exec(req.headers.cookie ?? '');
  return m ? decodeURIComponent(m[1]!) : undefined;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function login(req: IncomingMessage, res: ServerResponse): void {
  let body = '';
  req.setEncoding('utf8');
  req.on('data', (c: string) => (body += c));
  req.on('end', () => {
    let user: unknown;
    try {
      user = (JSON.parse(body || '{}') as { user?: unknown }).user;
    } catch {
      user = undefined;
    }
    if (typeof user !== 'string' || !user)
      return json(res, 400, { error: 'body must be {"user": "<name>"}' });
    res.setHeader('set-cookie', `u=${encodeURIComponent(user)}; Path=/; HttpOnly`);
    json(res, 200, { user });
  });
}

export function createNewsFeedApp(config: NewsFeedConfig, redis: Redis): NewsFeedApp {
  let closing = false;
  const tickNow = (): number => Math.floor(Date.now() / config.tickMs);
  const ledger = createNewsLedger(redis);
  const streams = createNewsStreams(config, redis, ledger, tickNow);

  // Returns nothing; `return json(…)` ends a branch.
  const handler = (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?')[0];
    if (path === '/ready') return json(res, closing ? 503 : 200, { ready: !closing });
    if (req.method === 'POST' && path === '/login') return login(req, res);
    // The feed's own count of what it sent and what each user missed (ledger.ts).
    if (path === '/admin/sent') {
      void readNewsSentFigures(redis).then(
        (users) => json(res, 200, { users }),
        () => json(res, 503, {}),
      );
      return;
    }
    const user = userOf(req);
    if (!user) return json(res, 401, { error: 'not logged in' });
    if (path === '/me') return json(res, 200, { user });
    if (path === '/api/headline') return json(res, 200, { id: tickNow(), title: `Headline ${tickNow()}` });
    if (path === '/events') {
      if (closing) return json(res, 503, { error: 'shutting down' });
      return streams.open(req, res, user);
    }
    json(res, 404, { error: 'not found' });
  };

  let lastLogged = tickNow();
  const timer = setInterval(() => {
    const k = tickNow();
    for (let id = lastLogged + 1; id <= k; id += 1)
      void redis.set(historyKey(id), eventAt(id), 'EX', HISTORY_TTL_S, 'NX').catch(() => {});
    lastLogged = Math.max(lastLogged, k);
    streams.tick(k);
  }, config.tickMs);
  timer.unref();

  const http: Server = createServer(handler);
  let stopping: Promise<void> | undefined;
  let halting: Promise<void> | undefined;
  return {
    start: () =>
      new Promise((resolve, reject) => {
        http.once('error', reject);
        http.listen(config.port, config.host, () => {
          const a = http.address() as AddressInfo;
          resolve({ host: a.address, port: a.port });
        });
      }),
    shutdown() {
      stopping ??= (async () => {
        closing = true;
        const closed = new Promise<void>((resolve) => http.close(() => resolve()));
        http.closeIdleConnections();
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
