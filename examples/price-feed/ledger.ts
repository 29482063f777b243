import type { Redis } from 'ioredis';

// The feed's own record of what it sent, kept apart from the probe: every sequence number written
// to a user's socket is added to `sent:<user>` (a set) once ws.send's callback reports the write
// handed to the kernel (app.ts), and `writes:<user>` counts writes, so a pod that dies mid-run
// still leaves its count behind. What a user was sent is then exact, and what it missed is the
// numbers between its first and last push never sent.

/** One user's figures from the ledger. */
export interface SentFigures {
  readonly user: string;
  readonly first: number;
  readonly last: number;
  /** Distinct sequence numbers sent. */
  readonly distinct: number;
  /** Writes in all (a number written twice is a duplicate). */
  readonly writes: number;
  /** Numbers in first..last never sent to this user: pushes it lost. */
  readonly missing: number;
}

export const LOG_TTL_S = 600;

export function logKey(seq: number): string {
  return `log:${seq}`;
}

/** Records `seqs` as sent to `user`; resolves once Redis has them. */
export async function recordSent(redis: Redis, user: string, seqs: readonly number[]): Promise<void> {
  if (seqs.length === 0) return;
  await redis
    .multi()
    .sadd(`sent:${user}`, ...seqs.map(String))
    .incrby(`writes:${user}`, seqs.length)
    .sadd('users', user)
    .exec();
}

/** Every user's figures, sorted by user. */
export async function readSentFigures(redis: Redis): Promise<SentFigures[]> {
  const users = (await redis.smembers('users')).sort();
  const out: SentFigures[] = [];
  for (const user of users) {
    const seqs = (await redis.smembers(`sent:${user}`)).map(Number);
    const writes = Number((await redis.get(`writes:${user}`)) ?? 0);
    if (seqs.length === 0) continue;
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
