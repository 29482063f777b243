import { describe, expect, it } from 'vitest';
import { delay, MAX_TIMER_DELAY_MS, settledWithin } from '../../lib/wait.js';

// settledWithin bounds the collector's waits on work that may never end (drain()'s slot-map read,
// a replay's wait for the batches in flight).

describe('settledWithin', () => {
  it('is true for work that resolves or rejects in time, false for work that does not', async () => {
    expect(await settledWithin(Promise.resolve(1), 1000)).toBe(true);
    expect(await settledWithin(Promise.reject(new Error('no')), 1000)).toBe(true);
    expect(await settledWithin(new Promise(() => {}), 20)).toBe(false);
    expect(await settledWithin(delay(500), 20)).toBe(false);
  });

  it('waits, not fires at once, for a time past the longest timer (Infinity included)', async () => {
    // Node fires a longer delay after 1 ms: the work below would then count as late.
    expect(await settledWithin(delay(50), Number.POSITIVE_INFINITY)).toBe(true);
    expect(await settledWithin(delay(50), MAX_TIMER_DELAY_MS + 1)).toBe(true);
  });

  it('gives work already settled its answer at a time of 0', async () => {
    expect(await settledWithin(Promise.resolve(), 0)).toBe(true);
  });
});
