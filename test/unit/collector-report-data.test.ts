import { describe, expect, it } from 'vitest';
import { dataOf, distribution, eventsOf, ratio } from '../../collector/report-data.js';
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
});
