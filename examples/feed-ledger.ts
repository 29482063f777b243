import type { Redis } from 'ioredis';

// The ledger the realtime example feeds keep of what they sent, apart from the probe, in one key
// layout under the feed's Redis prefix: `users` (a set of user names), `sent:<user>` (a set of the
// sequence numbers or event ids sent) and `writes:<user>` (a count of writes). Each feed writes it
// its own way (price-feed/ledger.ts `recordSent`, also the chat feed's; news-feed/ledger.ts
// `createNewsLedger`); this reads it back, the same for all three (`GET /admin/sent`, the tests).

/** One user's figures from the ledger. */
export interface SentFigures {
  readonly user: string;
  readonly first: number;
  readonly last: number;
  /** Distinct numbers sent. */
  readonly distinct: number;
  /** Writes in all (a number written twice is a duplicate). */
  readonly writes: number;
  /** Numbers in first..last never sent to this user: what it lost. */
  readonly missing: number;
}

/** Every user's figures, sorted by user; a user with nothing sent is left out. */
export async function readSentFigures(redis: Redis): Promise<SentFigures[]> {
  const users = (await redis.smembers('users')).sort();
  const out: SentFigures[] = [];
  for (const user of users) {
    const seqs = (await redis.smembers(`sent:${user}`)).map(Number);
    const writes = Number((await redis.get(`writes:${user}`)) ?? 0);
    if (seqs.length === 0) continue;
    // A loop, not Math.min(...seqs): a long run's set would overflow the call's argument list.
    let first = seqs[0]!;
    let last = first;
    for (const s of seqs) {
      if (s < first) first = s;
      if (s > last) last = s;
    }
    out.push({ user, first, last, distinct: seqs.length, writes, missing: last - first + 1 - seqs.length });
  }
  return out;
}
