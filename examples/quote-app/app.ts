import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import { type WebSocket, WebSocketServer } from 'ws';
import type { QuoteAppConfig } from './config.js';
import type { SessionStore } from './sessions.js';

// A small trading-quote service: the app a rehearsal rolls. Its flaws are switches (config.ts);
// with every switch on the safe side it survives a rolling update without a user noticing.

export interface QuoteApp {
  /** Listens; resolves with the bound address. */
  start(): Promise<{ host: string; port: number }>;
  /**
   * Graceful shutdown: stop accepting, finish in-flight requests, close idle keep-alive
   * connections and WebSockets (1001, or dropped without a close frame), then resolve.
   * Repeated calls return the same promise.
   */
  shutdown(): Promise<void>;
  /** Drops everything at once (what `QUOTE_GRACEFUL=off` amounts to, without exiting the process). */
  destroy(): void;
}

const SYMBOLS = ['ACME', 'GLOBEX', 'INITECH', 'UMBRELLA'] as const;
const SID_COOKIE = 'sid';

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim());
  }
  return undefined;
}

function sessionIdOf(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  if (auth?.startsWith('Bearer ')) return auth.slice(7).trim();
  return cookieValue(req.headers.cookie, SID_COOKIE);
}

function quoteFor(symbol: string, at: number): { symbol: string; bid: number; ask: number; at: string } {
  // Deterministic wobble: the feed needs plausible numbers, not a market model.
  const base = 100 + (symbol.charCodeAt(0) % 17) * 7;
  const mid = base + Math.sin(at / 5000 + symbol.length) * 2;
  return {
    symbol,
    bid: Math.round((mid - 0.05) * 100) / 100,
    ask: Math.round((mid + 0.05) * 100) / 100,
    at: new Date(at).toISOString(),
  };
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

export function createQuoteApp(config: QuoteAppConfig, sessions: SessionStore): QuoteApp {
  let closing = false;
  const app = express();
  app.disable('x-powered-by');

  // Once shutting down, every response asks the client to close its keep-alive connection, so
  // no new request can arrive on it after the in-flight ones are done.
  const pending = new Set<Response>();
  app.use((_req: Request, res: Response, next: NextFunction) => {
    if (closing) res.setHeader('connection', 'close');
    else {
      pending.add(res);
      res.once('close', () => pending.delete(res));
    }
    next();
  });

  app.get('/healthz', (_req, res) => {
    if (closing) res.status(503).json({ status: 'shutting-down' });
    else res.json({ status: 'ok' });
  });

  app.post('/login', express.json({ limit: '4kb' }), async (req, res) => {
    const user = (req.body as { user?: unknown } | undefined)?.user;
    if (typeof user !== 'string' || user.length === 0 || user.length > 128) {
      res.status(400).json({ error: 'body must be {"user": "<name>"}' });
      return;
    }
    const sid = await sessions.create(user);
    res.cookie(SID_COOKIE, sid, { httpOnly: true, sameSite: 'lax', path: '/' });
    res.json({ user, token: sid });
  });

  app.get('/whoami', async (req, res) => {
    const sid = sessionIdOf(req);
    const user = sid ? await sessions.lookup(sid) : undefined;
    if (!user) {
      res.status(401).json({ error: 'not logged in' });
      return;
    }
    res.json({ user });
  });

  // Quotes are for logged-in traders: every quote request depends on the session store.
  app.get('/api/quote', async (req, res) => {
    const sid = sessionIdOf(req);
    if (!sid || !(await sessions.lookup(sid))) {
      res.status(401).json({ error: 'not logged in' });
      return;
    }
    if (config.workMs > 0) await delay(config.workMs);
    const symbol = typeof req.query.symbol === 'string' ? req.query.symbol : SYMBOLS[0];
    res.json(quoteFor(symbol, Date.now()));
  });

  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const status = (err as { status?: number }).status ?? 500;
    res.status(status).json({ error: status >= 500 ? 'internal error' : (err as Error).message });
  });

  const server: Server = createServer(app);
  const wss = new WebSocketServer({ noServer: true, maxPayload: 16 * 1024 });
  const sockets = new Set<WebSocket>();
  // Acks not written yet, per socket: each is written config.ackDelayMs after its message.
  const unacked = new Map<WebSocket, Map<string, NodeJS.Timeout>>();
  const ack = (ws: WebSocket, id: string): void => {
    unacked.get(ws)?.delete(id);
    ws.send(JSON.stringify({ type: 'ack', id }));
  };
  const flushAcks = (): void => {
    for (const [ws, timers] of unacked)
      for (const [id, timer] of timers) {
        clearTimeout(timer);
        ack(ws, id);
      }
    unacked.clear();
  };
  const dropAcks = (ws: WebSocket): void => {
    for (const timer of unacked.get(ws)?.values() ?? []) clearTimeout(timer);
    unacked.delete(ws);
  };

  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/ws' || closing) {
      socket.end('HTTP/1.1 404 Not Found\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      const forget = (): void => {
        sockets.delete(ws);
        dropAcks(ws);
      };
      ws.on('close', forget);
      ws.on('error', forget);
      ws.on('message', (raw) => {
        let msg: { type?: unknown; id?: unknown };
        try {
          msg = JSON.parse(raw.toString()) as typeof msg;
        } catch {
          return;
        }
        if (msg?.type !== 'ping') return;
        const id = String(msg.id);
        if (config.ackDelayMs === 0) return ack(ws, id);
        const timers = unacked.get(ws) ?? new Map<string, NodeJS.Timeout>();
        unacked.set(ws, timers);
        const timer = setTimeout(() => ack(ws, id), config.ackDelayMs);
        timer.unref();
        timers.set(id, timer);
      });
    });
  });

  const priceTimer = setInterval(() => {
    if (sockets.size === 0) return;
    const now = Date.now();
    for (const ws of sockets) {
      const symbol = SYMBOLS[Math.floor(now / config.priceIntervalMs) % SYMBOLS.length]!;
      ws.send(JSON.stringify({ type: 'price', ...quoteFor(symbol, now) }));
    }
  }, config.priceIntervalMs);
  priceTimer.unref();

  let shuttingDown: Promise<void> | undefined;
  return {
    start() {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(config.port, config.host, () => {
          server.off('error', reject);
          const addr = server.address() as AddressInfo;
          resolve({ host: addr.address, port: addr.port });
        });
      });
    },
    shutdown() {
      shuttingDown ??= (async () => {
        closing = true;
        clearInterval(priceTimer);
        // Every message received gets its ack before its socket is closed.
        flushAcks();
        for (const res of pending) if (!res.headersSent) res.setHeader('connection', 'close');
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        // server.close() drops the connections idle right now; a connection that finishes its
        // in-flight request later closes because its response says `connection: close`.
        server.closeIdleConnections();
        for (const ws of sockets) {
          if (config.wsClose === '1001') ws.close(1001, 'server shutting down');
          else ws.terminate();
        }
        const timer = setTimeout(() => server.closeAllConnections(), config.shutdownTimeoutMs);
        timer.unref();
        await closed;
        clearTimeout(timer);
        for (const ws of sockets) ws.terminate();
      })();
      return shuttingDown;
    },
    destroy() {
      closing = true;
      clearInterval(priceTimer);
      for (const ws of unacked.keys()) dropAcks(ws);
      for (const ws of sockets) ws.terminate();
      server.closeAllConnections();
      server.close();
    },
  };
}
