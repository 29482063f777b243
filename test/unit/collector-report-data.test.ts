import { describe, expect, it } from 'vitest';
import {
  dataOf,
  distribution,
  eventsOf,
  latencyDistribution,
  nearestRank,
  ratio,
} from '../../collector/report-data.js';
import { SAMPLE_DATA } from '../helpers/sample-events.js';

describe('report data: typed reading and figures', () => {
  it('dataOf reads data of the asked kind that follows its schema, and nothing else', () => {
    const exited = { kind: 'app.exited', data: SAMPLE_DATA['app.exited'] };
    expect(dataOf(exited, 'app.exited')).toEqual(SAMPLE_DATA['app.exited']);
    expect(dataOf(exited, 'drain.summary')).toBeUndefined();
    expect(dataOf({ kind: 'app.exited', data: { code: 'zero' } }, 'app.exited')).toBeUndefined();
  });

  it('eventsOf keeps the events of a kind whose data is readable, in order, typed', () => {
    const events = [
      { id: 'a', kind: 'probe.summary', data: SAMPLE_DATA['probe.summary'] },
      { id: 'b', kind: 'probe.request', data: SAMPLE_DATA['probe.request'] },
      { id: 'c', kind: 'probe.request', data: { ok: true } },
      { id: 'd', kind: 'probe.request', data: { ...SAMPLE_DATA['probe.request'], ok: true } },
    ];
    const read = eventsOf(events, 'probe.request');
    expect(read.map((e) => [e.id, e.data.ok])).toEqual([
      ['b', false],
      ['d', true],
    ]);
  });

  it('distribution gives samples, the lower median and the maximum; nulls without samples', () => {
    expect(distribution([])).toEqual({ samples: 0, p50Ms: null, maxMs: null });
    expect(distribution([30, 10, 20])).toEqual({ samples: 3, p50Ms: 20, maxMs: 30 });
    expect(distribution([40, 10, 30, 20])).toEqual({ samples: 4, p50Ms: 20, maxMs: 40 });
  });

  it('ratio is null when there is nothing to divide by', () => {
    expect(ratio(0, 0)).toBeNull();
    expect(ratio(3, 4)).toBe(0.75);
  });

  it('latency percentiles are nearest-rank: always a measured sample, exact', () => {
    // 1..100 ms: p50 is the 50th sample, p95 the 95th, p99 the 99th.
    const hundred = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(latencyDistribution(hundred)).toEqual({
      samples: 100,
      p50Ms: 50,
      p95Ms: 95,
      p99Ms: 99,
      maxMs: 100,
    });
    // 10 samples: p95 and p99 are both the 10th (ceil(9.5) = ceil(9.9) = 10), p50 the 5th.
    const ten = [5, 1, 9, 3, 7, 2, 8, 4, 6, 250];
    expect(latencyDistribution(ten)).toEqual({ samples: 10, p50Ms: 5, p95Ms: 250, p99Ms: 250, maxMs: 250 });
    expect(nearestRank([7], 1)).toBe(7);
    expect(latencyDistribution([])).toEqual({
      samples: 0,
      p50Ms: null,
      p95Ms: null,
      p99Ms: null,
      maxMs: null,
    });
  });
});
