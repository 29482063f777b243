// The ticking core of the test feeds (feed-target.ts over WebSocket, sse-target.ts over SSE): one
// push per tick to each user, numbered per user across connections, with the feed's own count of
// what it sent and of the ticks a user missed while it had no open connection.

/** One user of a feed; `conn` is its open connection (a socket, a response), if any. */
export interface TickUser<C> {
  seq: number;
  conn: C | undefined;
  sent: number;
  missed: number;
  /** Ticks missed since the last push sent: a gap the user has not seen yet. */
  unseen: number;
  /** Every push by sequence number, for replays. */
  readonly log: Map<number, string>;
}

export interface TickFeed<C> {
  /** The user's record, created at first sight (its first subscribe or stream). */
  userOf(name: string): TickUser<C>;
  /** The user's record if it has one. */
  find(name: string): TickUser<C> | undefined;
  /** Sends push `seq` of `s` on its open connection and counts it. */
  push(s: TickUser<C>, seq: number): void;
  /** Stops ticking at the first tick at which every user has seen each gap it had. */
  settle(): Promise<void>;
  readonly sent: number;
  /** Ticks produced for a user with no open connection, less those replayed (the feed subtracts). */
  readonly missed: number;
  readonly users: number;
}

/**
 * Ticks every `tickMs` (the timer is unref'd): each user's next push is `format(user, seq)`,
 * delivered by `deliver` on its connection, or counted missed when it has none.
 */
export function createTickFeed<C>(options: {
  readonly tickMs: number;
  readonly format: (user: string, seq: number) => string;
  readonly deliver: (s: TickUser<C>, push: string, seq: number) => void;
}): TickFeed<C> {
  const users = new Map<string, TickUser<C>>();
  let settled: (() => void) | undefined;
  const push = (s: TickUser<C>, seq: number): void => {
    s.sent += 1;
    options.deliver(s, s.log.get(seq)!, seq);
  };
  const timer = setInterval(() => {
    if (settled && [...users.values()].every((s) => s.unseen === 0 && s.conn)) {
      clearInterval(timer);
      settled();
      return;
    }
    for (const [user, s] of users) {
      s.seq += 1;
      s.log.set(s.seq, options.format(user, s.seq));
      if (s.conn) {
        push(s, s.seq);
        s.unseen = 0;
      } else {
        s.missed += 1;
        s.unseen += 1;
      }
    }
  }, options.tickMs);
  timer.unref();
  const total = (key: 'sent' | 'missed'): number => [...users.values()].reduce((n, s) => n + s[key], 0);
  return {
    userOf(name) {
      let s = users.get(name);
      if (!s) {
        s = { seq: 0, conn: undefined, sent: 0, missed: 0, unseen: 0, log: new Map() };
        users.set(name, s);
      }
      return s;
    },
    find: (name) => users.get(name),
    push,
    settle: () =>
      new Promise((resolve) => {
        settled = resolve;
      }),
    get sent() {
      return total('sent');
    },
    get missed() {
      return total('missed');
    },
    get users() {
      return users.size;
    },
  };
}
