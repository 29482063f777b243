import { describe, expect, it } from 'vitest';
import { decidePrestop, type PrestopLimits } from '../../agent/index.js';

const adaptive: PrestopLimits = { policy: { mode: 'adaptive' }, minMs: 3000, quietMs: 2000, maxMs: 20_000 };
const at = (lastArrivalAt: number, endpointsTerminating = false) => ({
  startedAt: 0,
  lastArrivalAt,
  endpointsTerminating,
});

describe('preStop decision', () => {
  it('fixed waits exactly its time', () => {
    const fixed: PrestopLimits = { ...adaptive, policy: { mode: 'fixed', fixedMs: 5000 } };
    expect(decidePrestop(fixed, at(4999), 4999)).toEqual({ wakeAt: 5000 });
    expect(decidePrestop(fixed, at(4999), 5000)).toEqual({ done: 'fixed-elapsed' });
  });

  it('adaptive never ends before the minimum, even when quiet', () => {
    expect(decidePrestop(adaptive, at(-10_000), 100)).toEqual({ wakeAt: 3000 });
    expect(decidePrestop(adaptive, at(-10_000), 3000)).toEqual({ done: 'quiet' });
  });

  it('adaptive waits for a quiet window after the last arrival', () => {
    expect(decidePrestop(adaptive, at(2500), 3000)).toEqual({ wakeAt: 4500 });
    expect(decidePrestop(adaptive, at(2500), 4499)).toEqual({ wakeAt: 4500 });
    expect(decidePrestop(adaptive, at(2500), 4500)).toEqual({ done: 'quiet' });
  });

  it('adaptive is capped at the maximum under steady traffic', () => {
    expect(decidePrestop(adaptive, at(19_500), 19_900)).toEqual({ wakeAt: 20_000 });
    expect(decidePrestop(adaptive, at(19_999), 20_000)).toEqual({ done: 'max' });
  });

  it('ends on endpoints-terminating once the minimum passed', () => {
    expect(decidePrestop(adaptive, at(900, true), 1000)).toEqual({ wakeAt: 3000 });
    expect(decidePrestop(adaptive, at(2900, true), 3000)).toEqual({ done: 'endpoints-terminating' });
  });
});
