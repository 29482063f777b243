import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import type { NewsFeedConfig } from './config.js';
import { createNewsLedger, type NewsLedger, readNewsSentFigures } from './ledger.js';

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

/** The most a resume replays; older ids count as missed (the history keeps HISTORY_TTL_S). */
const MAX_REPLAY = 3000;
export const HISTORY_TTL_S = 600;
/** How long shutdown waits for the ended streams' connections to close before closing them (ms). */
const CLOSE_WAIT_MS = 2000;

export function historyKey(id: number): string {
  return `history:${id}`;
}

function eventAt(id: number): string {
  const data = JSON.stringify({ id, title: `Headline ${id}`, at: id });
  return `id: ${id}\nevent: headline\ndata: ${data}\n\n`;
}

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

interface Subscriber {
  readonly user: string;
  readonly res: ServerResponse;
  /** The next id this stream gets; undefined once it is ending. */
  next: number | undefined;
  /** Deliveries are serial per stream: a resume reads the history before the live events go on. */
  chain: Promise<void>;
}

/** `Last-Event-ID` as a tick number, or undefined (absent, not a number). */
function lastEventId(req: IncomingMessage): number | undefined {
  const raw = req.headers['last-event-id'];
  const n = typeof raw === 'string' && /^\d+$/.test(raw) ? Number(raw) : Number.NaN;
  return Number.isSafeInteger(n) ? n : undefined;
}

export function createNewsFeedApp(config: NewsFeedConfig, redis: Redis): NewsFeedApp {
  let closing = false;
  const tickNow = (): number => Math.floor(Date.now() / config.tickMs);
  const subs = new Set<Subscriber>();
  const ledger: NewsLedger = createNewsLedger(redis);

  // Writes `from..to` (history entries when asked; an id no pod logged is generated, as every
  // pod would). The ledger records an event only from its write's callback: handed to the kernel.
  const deliver = (s: Subscriber, from: number, to: number, useHistory: boolean): void => {
    s.chain = s.chain
      .then(async () => {
        if (to < from || s.res.destroyed) return;
        const ids = Array.from({ length: to - from + 1 }, (_, i) => from + i);
        const logged = useHistory ? await redis.mget(...ids.map(historyKey)) : [];
        for (const [i, id] of ids.entries()) {
          if (s.res.destroyed) return;
          s.res.write(logged[i] ?? eventAt(id), (err) => {
            if (!err) ledger.record(s.user, id);
          });
        }
      })
      .catch(() => void s.res.destroy());
  };

  const openStream = (req: IncomingMessage, res: ServerResponse, user: string): void => {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store' });
    res.write(`retry: ${config.retryMs}\n\n`);
    const s: Subscriber = { user, res, next: undefined, chain: Promise.resolve() };
    subs.add(s);
    res.once('close', () => subs.delete(s));
    const k = tickNow();
    const after = config.mode === 'fixed' ? lastEventId(req) : undefined;
    if (after === undefined) {
      deliver(s, k, k, false);
      s.next = k + 1;
    } else {
      // Resume: what came after the client's last id, then live; never an id it already has.
      deliver(s, Math.max(after + 1, k - MAX_REPLAY), k, true);
      s.next = Math.max(k, after) + 1;
    }
  };

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
      return openStream(req, res, user);
    }
    json(res, 404, { error: 'not found' });
  };

  let lastLogged = tickNow();
  const timer = setInterval(() => {
    const k = tickNow();
    for (let id = lastLogged + 1; id <= k; id += 1)
      void redis.set(historyKey(id), eventAt(id), 'EX', HISTORY_TTL_S, 'NX').catch(() => {});
    lastLogged = Math.max(lastLogged, k);
    for (const s of subs) {
      if (s.next === undefined || s.next > k) continue;
      deliver(s, s.next, k, false);
      s.next = k + 1;
    }
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
        // Every event already queued goes out before the stream's end: nothing written is cut.
        await Promise.all(
          [...subs].map(async (s) => {
            s.next = undefined;
            await s.chain;
            await new Promise<void>((resolve) => {
              s.res.once('close', () => resolve());
              s.res.end();
            });
          }),
        );
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
        for (const s of subs) s.next = undefined;
        // Write callbacks of bytes the kernel already took run on the next turns of the loop.
        await new Promise<void>((resolve) => setImmediate(resolve));
        await Promise.all([...subs].map((s) => s.chain));
        await new Promise<void>((resolve) => setImmediate(resolve));
        await ledger.settled();
      })();
      return halting;
    },
  };
}
