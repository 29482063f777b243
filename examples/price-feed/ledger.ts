import type { Redis } from 'ioredis';

// The feed's own record of what it sent, kept apart from the probe: every sequence number written
// to a user's socket is added to `sent:<user>` (a set) once ws.send's callback reports the write
// handed to the kernel (app.ts), and `writes:<user>` counts writes, so a pod that dies mid-run
// still leaves its count behind. What a user was sent is then exact, and what it missed is the
// numbers between its first and last push never sent (read back by ../feed-ledger.ts).

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
