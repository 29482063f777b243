import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Redis } from 'ioredis';
import type { NewsFeedConfig } from './config.js';
import { eventAt, historyKey } from './events.js';
import type { NewsLedger } from './ledger.js';

// The open `/events` streams: each gets the ticks from where it started (or, fixed, from after its
// `Last-Event-ID`, read from the shared history), one write per event, serial per stream.

/** The most a resume replays; older ids count as missed (the history keeps HISTORY_TTL_S). */
const MAX_REPLAY = 3000;

export interface NewsStreams {
  /** Answers `GET /events` for `user` with a stream that stays open. */
  open(req: IncomingMessage, res: ServerResponse, user: string): void;
  /** Sends tick `k` (and any tick a stream has not had) to every stream. */
  tick(k: number): void;
  /** fixed: after what each stream has queued, ends it properly; resolves when all are closed. */
  endAll(): Promise<void>;
  /** naive: sends nothing more, and resolves once the queued writes' callbacks had their turn. */
  quiesce(): Promise<void>;
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

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export function createNewsStreams(
  config: NewsFeedConfig,
  redis: Redis,
  ledger: NewsLedger,
  tickNow: () => number,
): NewsStreams {
  const subs = new Set<Subscriber>();

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

  return {
    open(req, res, user) {
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
    },
    tick(k) {
      for (const s of subs) {
        if (s.next === undefined || s.next > k) continue;
        deliver(s, s.next, k, false);
        s.next = k + 1;
      }
    },
    async endAll() {
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
    },
    async quiesce() {
      for (const s of subs) s.next = undefined;
      // Write callbacks of bytes the kernel already took run on the next turns of the loop.
      await nextTurn();
      await Promise.all([...subs].map((s) => s.chain));
      await nextTurn();
    },
  };
}
