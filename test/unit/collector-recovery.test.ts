import { describe, expect, it } from 'vitest';
import { createAckLog } from '../../collector/recovery.js';

// The acknowledged seqs a collector keeps for its replay window (collector/recovery.ts): batches
// as runs of seqs, by when they were acknowledged.
describe('ack log', () => {
  it('gives the seqs acknowledged since a time as sorted, merged ranges', () => {
    const log = createAckLog();
    log.record([10, 11, 12, 14], 1000);
    log.record([13, 20], 2000);
    // A redelivered message acknowledged late: a lower seq, a later time.
    log.record([3], 3000);
    expect(log.since(0)).toEqual([
      [3, 3],
      [10, 14],
      [20, 20],
    ]);
    expect(log.since(2000)).toEqual([
      [3, 3],
      [13, 13],
      [20, 20],
    ]);
    expect(log.since(3001)).toEqual([]);
  });

  it('drops batches acknowledged before the pruning time, and only those', () => {
    const log = createAckLog();
    log.record([1, 2], 1000);
    log.record([3], 2000);
    log.record([4, 5], 3000);
    log.prune(2000);
    expect(log.since(0)).toEqual([[3, 5]]);
    log.prune(10_000);
    expect(log.since(0)).toEqual([]);
  });

  it('keeps a batch of one long run as two numbers', () => {
    const log = createAckLog();
    log.record(
      Array.from({ length: 500 }, (_, i) => 1001 + i),
      1,
    );
    expect(log.since(0)).toEqual([[1001, 1500]]);
  });
});
