import { describe, expect, it } from 'vitest';
import { createReplayedBatcher, createRequestBatcher, type TimedEmit } from '../../agent/request-batcher.js';
import { type EventKind, MAX_REQUEST_BATCH_RECORDS } from '../../contract/index.js';
import { dataSchemas, type EventData } from '../../contract/validate.js';
import { createManualTime } from '../helpers/manual-time.js';
import { SAMPLE_DATA } from '../helpers/sample-events.js';

interface Sent {
  readonly kind: EventKind;
  readonly data: unknown;
  readonly time: string | undefined;
}

function setup(windowMs = 100, maxBytes?: number) {
  const time = createManualTime(Date.parse('2026-12-01T10:00:00.000Z'));
  const sent: Sent[] = [];
  const emit: TimedEmit = (kind, data, at) => {
    sent.push({ kind, data, time: at?.toISOString() });
  };
  const batcher = createRequestBatcher({
    emit,
    clock: time.clock,
    scheduler: time.scheduler,
    windowMs,
    ...(maxBytes !== undefined ? { maxBytes } : {}),
  });
  return { time, sent, batcher };
}

const request = (n: number): EventData<'request'> => ({ ...SAMPLE_DATA.request, requestId: `r-${n}` });
const ids = (s: Sent): string[] =>
  s.kind === 'request.batch'
    ? (s.data as EventData<'request.batch'>).records.map((r) => r.requestId)
    : [(s.data as EventData<'request'>).requestId];

describe('request batcher', () => {
  it('sends the records of one window as one request.batch when it expires, each with its own end time', async () => {
    const { time, sent, batcher } = setup();
    batcher.emit('request', request(1));
    await time.advance(30);
    batcher.emit('request', request(2));
    await time.advance(69);
    expect(sent).toEqual([]);
    await time.advance(1);
    expect(sent.map((s) => s.kind)).toEqual(['request.batch']);
    const batch = sent[0]!.data as EventData<'request.batch'>;
    expect(batch.records.map((r) => [r.requestId, r.at])).toEqual([
      ['r-1', '2026-12-01T10:00:00.000Z'],
      ['r-2', '2026-12-01T10:00:00.030Z'],
    ]);
    // What goes out is valid under the contract's schema (the agent itself never loads zod).
    expect(dataSchemas['request.batch'].safeParse(batch).success).toBe(true);
    expect(sent[0]!.time).toBeUndefined();
    expect(time.pending).toBe(0);
  });

  it('a window of one record sends a plain request event carrying the time it ended', async () => {
    const { time, sent, batcher } = setup();
    await time.advance(5);
    batcher.emit('request', request(1));
    await time.advance(100);
    expect(sent).toEqual([{ kind: 'request', data: request(1), time: '2026-12-01T10:00:00.005Z' }]);
  });

  it('any other event sends the open window first, so seq order is the order things happened in', async () => {
    const { time, sent, batcher } = setup();
    batcher.emit('request', request(1));
    batcher.emit('request', request(2));
    batcher.emit('sigterm', SAMPLE_DATA.sigterm);
    batcher.emit('request', request(3));
    batcher.emit('drain.summary', SAMPLE_DATA['drain.summary']);
    expect(sent.map((s) => [s.kind, ...(s.kind.startsWith('request') ? ids(s) : [])])).toEqual([
      ['request.batch', 'r-1', 'r-2'],
      ['sigterm'],
      ['request', 'r-3'],
      ['drain.summary'],
    ]);
    expect(time.pending).toBe(0);
    await time.advance(1000);
    expect(sent).toHaveLength(4);
  });

  it(`a window is sent at ${MAX_REQUEST_BATCH_RECORDS} records, and a record past the byte budget opens the next one`, () => {
    const { sent, batcher } = setup();
    for (let i = 0; i < MAX_REQUEST_BATCH_RECORDS + 1; i++) batcher.emit('request', request(i));
    expect(sent.map((s) => ids(s).length)).toEqual([MAX_REQUEST_BATCH_RECORDS]);
    expect(batcher.pending).toBe(1);

    const one = Buffer.byteLength(JSON.stringify({ ...request(0), at: '2026-12-01T10:00:00.000Z' })) + 1;
    const small = setup(100, one * 3);
    for (let i = 0; i < 7; i++) small.batcher.emit('request', request(i));
    small.batcher.flush();
    expect(small.sent.map((s) => ids(s).length)).toEqual([3, 3, 1]);
  });

  it('a record of the largest size the contract allows stays under the event limit in a full batch', () => {
    const long = 'x'.repeat(256);
    const big: EventData<'request'> = { ...request(0), requestId: long, probeId: long, route: long };
    const { sent, batcher } = setup();
    for (let i = 0; i < MAX_REQUEST_BATCH_RECORDS; i++) batcher.emit('request', big);
    batcher.flush();
    for (const s of sent) {
      // The envelope adds well under 1 KiB to the data.
      expect(Buffer.byteLength(JSON.stringify(s.data))).toBeLessThan(63 * 1024);
    }
    expect(sent.reduce((n, s) => n + ids(s).length, 0)).toBe(MAX_REQUEST_BATCH_RECORDS);
  });

  it('window 0 passes every record through at once, as before batching', () => {
    const { time, sent, batcher } = setup(0);
    batcher.emit('request', request(1));
    batcher.emit('request', request(2));
    expect(sent.map((s) => [s.kind, s.time])).toEqual([
      ['request', undefined],
      ['request', undefined],
    ]);
    expect(time.pending).toBe(0);
  });

  it('replayed on a moved clock (createReplayedBatcher), sends what it sends under real timers', async () => {
    // A seeded script: records 0-40 ms apart, now and then another event, 1,000 emits.
    let seed = 7;
    const next = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const script: { gap: number; kind: 'request' | 'traffic.summary'; n: number }[] = [];
    for (let n = 0; n < 1000; n++) {
      script.push({ gap: Math.floor(next() * 40), kind: next() < 0.05 ? 'traffic.summary' : 'request', n });
    }
    const shape = (kind: EventKind, data: unknown, atMs: number) =>
      `${kind}@${atMs}:${kind === 'traffic.summary' ? '' : ids({ kind, data, time: undefined }).join(',')}`;

    const time = createManualTime(Date.parse('2026-12-01T10:00:00.000Z'));
    const timed: string[] = [];
    const batcher = createRequestBatcher({
      emit: (kind, data) => timed.push(shape(kind, data, time.now)),
      clock: time.clock,
      scheduler: time.scheduler,
      windowMs: 100,
    });
    const start = time.now;
    for (const step of script) {
      await time.advance(step.gap);
      const data = step.kind === 'request' ? request(step.n) : SAMPLE_DATA['traffic.summary'];
      batcher.emit(step.kind, data as EventData<typeof step.kind>);
    }
    await time.advance(1000);

    const replayed: string[] = [];
    const carried: string[][] = [];
    const expected: string[][] = [];
    const replay = createReplayedBatcher<number>({
      windowMs: 100,
      emit: (kind, data, atMs, inputs) => {
        replayed.push(shape(kind, data, atMs));
        // Each message hands back the inputs it carries: a record's own, or the other event's.
        carried.push(kind === 'traffic.summary' ? inputs.map(() => 'other') : inputs.map((n) => `r-${n}`));
        expected.push(kind === 'traffic.summary' ? ['other'] : ids({ kind, data, time: undefined }));
      },
    });
    let at = start;
    for (const step of script) {
      at += step.gap;
      const data = step.kind === 'request' ? request(step.n) : SAMPLE_DATA['traffic.summary'];
      replay.emit(at, step.kind, data as EventData<typeof step.kind>, step.n);
    }
    replay.end();
    expect(timed.filter((t) => t.startsWith('request.batch')).length).toBeGreaterThan(50);
    expect(replayed).toEqual(timed);
    expect(carried).toEqual(expected);
  });
});
