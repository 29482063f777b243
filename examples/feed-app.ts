import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Redis } from 'ioredis';
import { readSentFigures } from './feed-ledger.js';

// What the apps of the realtime example feeds (price-feed, news-feed, chat-feed) do alike: log a
// user in with a cookie naming it, answer the same HTTP routes, write each tick to a shared log in
// Redis, listen, and begin a shutdown. Their transports and their flaws (naive vs fixed) stay in
// each feed's app.ts; the process around them is feed-main.ts.

/** The user named by the `u` cookie (set by `POST /login`), or undefined. */
export function userOfCookie(cookie: string | undefined): string | undefined {
  const m = /(?:^|;\s*)u=([^;]+)/.exec(cookie ?? '');
  return m ? decodeURIComponent(m[1]!) : undefined;
}

export function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

/** `POST /login` with `{"user": "<name>"}`: sets the `u` cookie; 400 for any other body. */
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

/** A feed's own routes for a logged-in user: true when `path` was one of them and is answered. */
export type FeedRoute = (path: string, user: string, req: IncomingMessage, res: ServerResponse) => boolean;

/** A FeedRoute answering `path` with `body()` as JSON. */
export function jsonRoute(path: string, body: () => unknown): FeedRoute {
  return (p, _user, _req, res) => {
    if (p !== path) return false;
    json(res, 200, body());
    return true;
  };
}

/**
 * The HTTP handler every feed shares: `/ready` (200, or 503 once `closing()`), `POST /login`,
 * `/admin/sent` (the feed's own count of what it sent and what each user missed: feed-ledger.ts;
 * 503 when Redis fails), then, for a logged-in user (401 otherwise), `/me` and the feed's `route`,
 * 404 for the rest.
 */
export function feedHttpHandler(redis: Redis, closing: () => boolean, route: FeedRoute) {
  // Returns nothing; `return json(…)` ends a branch.
  return (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?')[0] ?? '';
    if (path === '/ready') return json(res, closing() ? 503 : 200, { ready: !closing() });
    if (req.method === 'POST' && path === '/login') return login(req, res);
    if (path === '/admin/sent') {
      void readSentFigures(redis).then(
        (users) => json(res, 200, { users }),
        () => json(res, 503, {}),
      );
      return;
    }
    const user = userOfCookie(req.headers.cookie);
    if (!user) return json(res, 401, { error: 'not logged in' });
    if (path === '/me') return json(res, 200, { user });
    if (route(path, user, req, res)) return;
    json(res, 404, { error: 'not found' });
  };
}

export interface TickLogOptions {
  /** One entry per tick (ms); the tick number is wall clock / tickMs (`tickNow`). */
  readonly tickMs: number;
  readonly tickNow: () => number;
  /** The Redis key of tick `seq`'s entry, and the entry itself (the same on every pod). */
  readonly key: (seq: number) => string;
  readonly entry: (seq: number) => string;
  /** How long the log keeps an entry (s). */
  readonly ttlS: number;
  /** Runs after each tick's writes were sent, with the tick number: the feed's deliveries. */
  readonly onTick: (k: number) => void;
}

/**
 * Every tick, writes each tick since the last one to the shared log in Redis (`SET NX`: the first
 * pod wins, so every pod's entry is the same; a failed write is dropped, the entry can be
 * generated again) and calls `onTick`. Returns the interval, unref()ed, for clearInterval.
 */
export function startTickLog(redis: Redis, options: TickLogOptions): NodeJS.Timeout {
  const { tickNow, key, entry, ttlS } = options;
  let lastLogged = tickNow();
  const timer = setInterval(() => {
    const k = tickNow();
    for (let seq = lastLogged + 1; seq <= k; seq += 1)
      void redis.set(key(seq), entry(seq), 'EX', ttlS, 'NX').catch(() => {});
    lastLogged = Math.max(lastLogged, k);
    options.onTick(k);
  }, options.tickMs);
  timer.unref();
  return timer;
}

/** Listens on host:port; resolves with the address bound, rejects with the listen error. */
export function listenOn(http: Server, host: string, port: number): Promise<{ host: string; port: number }> {
  return new Promise((resolve, reject) => {
    http.once('error', reject);
    http.listen(port, host, () => {
      const a = http.address() as AddressInfo;
      resolve({ host: a.address, port: a.port });
    });
  });
}

/**
 * A shutdown's first step: stop listening and close the idle keep-alive connections. Resolves once
 * the server has closed, i.e. once every connection still open has ended.
 */
export function stopListening(http: Server): Promise<void> {
  const closed = new Promise<void>((resolve) => http.close(() => resolve()));
  http.closeIdleConnections();
  return closed;
}
