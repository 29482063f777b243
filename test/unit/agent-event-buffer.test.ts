import { describe, expect, it } from 'vitest';
import { createEventBuffer } from '../../agent/event-buffer.js';
import type { AnyEvent } from '../../contract/index.js';
import { createEventSequencer } from '../../contract/validate.js';
import { SAMPLE_DATA } from '../helpers/sample-events.js';

const seq = () => createEventSequencer({ namespace: 'ns', workload: 'w', pod: 'p-1' });

function make(s: ReturnType<typeof seq>, kind: 'traffic.summary' | 'request' | 'sigterm'): AnyEvent {
  return s.next(kind, SAMPLE_DATA[kind]) as AnyEvent;
}

describe('agent event buffer', () => {
  it('hands events back in seq order across its tiers', () => {
    const s = seq();
    const b = createEventBuffer(100);
    const made = [
      make(s, 'sigterm'),
      make(s, 'request'),
      make(s, 'traffic.summary'),
      make(s, 'sigterm'),
      make(s, 'request'),
    ];
    for (const e of made) expect(b.push(e)).toBeUndefined();
    const out: number[] = [];
    for (let e = b.shift(); e; e = b.shift()) out.push(e.seq);
    expect(out).toEqual([1, 2, 3, 4, 5]);
  });

  it('drops summaries first, then traffic events, never lifecycle events, and counts drops', () => {
    const s = seq();
    const b = createEventBuffer(3);
    b.push(make(s, 'traffic.summary')); // 1
    b.push(make(s, 'request')); // 2
    b.push(make(s, 'sigterm')); // 3
    expect(b.push(make(s, 'request'))?.seq).toBe(1); // the summary goes first
    expect(b.push(make(s, 'traffic.summary'))?.seq).toBe(5); // a new summary goes before any request
    expect(b.push(make(s, 'sigterm'))?.seq).toBe(2); // then the oldest request
    expect(b.push(make(s, 'sigterm'))?.seq).toBe(4);
    // Only lifecycle events left: a new lifecycle event is kept beyond the bound, a request is not.
    expect(b.push(make(s, 'sigterm'))).toBeUndefined();
    expect(b.push(make(s, 'request'))?.seq).toBe(9);
    expect(b.size).toBe(4);
    expect(b.dropped).toBe(5);
    const out: string[] = [];
    for (let e = b.shift(); e; e = b.shift()) out.push(`${e.seq}:${e.kind}`);
    expect(out).toEqual(['3:sigterm', '6:sigterm', '7:sigterm', '8:sigterm']);
  });

  it('says beforehand whether a push would drop one, as push() then does (drain.summary counts its own)', () => {
    const s = seq();
    const b = createEventBuffer(2);
    b.push(make(s, 'request'));
    expect(b.wouldDrop('sigterm')).toBe(false);
    b.push(make(s, 'sigterm'));
    // Full, a request held: any push drops one.
    for (const kind of ['sigterm', 'request', 'traffic.summary'] as const)
      expect(b.wouldDrop(kind)).toBe(true);
    expect(b.push(make(s, 'sigterm'))?.kind).toBe('request');
    // Only lifecycle events held: a lifecycle push is kept beyond the bound, any other is dropped.
    expect(b.wouldDrop('sigterm')).toBe(false);
    expect(b.wouldDrop('request')).toBe(true);
    expect(b.push(make(s, 'sigterm'))).toBeUndefined();
    expect(b.push(make(s, 'request'))?.kind).toBe('request');
  });
});
