import { describe, expect, it } from 'vitest';
import { REQUEST_BATCH_MAX_BYTES } from '../../agent/index.js';
import {
  observationsOf,
  podMessages,
  type ScriptMessage,
  type ScriptStep,
} from '../../bench/lib/scale-batches.mjs';
import { MAX_REQUEST_BATCH_RECORDS } from '../../contract/index.js';

// The scale bench's pods batched by the agent's own batcher (bench/scale.mjs --request-batch,
// createReplayedBatcher): which records leave together, and when.

/** A request record ending at `off`, its JSON padded by `pad` characters. */
const record = (off: number, pad = 0): ScriptStep => [off, 'request', () => ({ off, pad: 'x'.repeat(pad) })];
const other = (off: number, kind: string): ScriptStep => [off, kind, () => ({})];
const group = (steps: ScriptStep[], batchMs: number) => podMessages(steps, { batchMs });
/** [due, kind, the records' offsets (a plain request: its own)] of each message. */
const shape = (messages: ScriptMessage[]) =>
  messages.map((m) => [m.due, m.kind, m.records ? m.records.map((r) => r.due) : m.recordDue]);

describe('scale bench request batching', () => {
  it('sends every step as its own message at its own time with batching off', () => {
    const steps = [other(0, 'prestop.started'), record(5), record(6), other(7, 'sigterm')];
    expect(shape(group(steps, 0))).toEqual([
      [0, 'prestop.started', undefined],
      [5, 'request', undefined],
      [6, 'request', undefined],
      [7, 'sigterm', undefined],
    ]);
  });

  it('opens a window at a record, flushes it at expiry, and sends a lone record as a plain request', () => {
    const steps = [record(0), record(10), record(99), record(100), record(250)];
    expect(shape(group(steps, 100))).toEqual([
      [100, 'request.batch', [0, 10, 99]],
      [200, 'request', 100],
      [350, 'request', 250],
    ]);
  });

  it('flushes the window before any other event of the pod, at that event’s time', () => {
    const steps = [record(0), record(10), other(20, 'traffic.summary'), record(30), other(40, 'sigterm')];
    expect(shape(group(steps, 100))).toEqual([
      [20, 'request.batch', [0, 10]],
      [20, 'traffic.summary', undefined],
      [40, 'request', 30],
      [40, 'sigterm', undefined],
    ]);
  });

  it('flushes a window at its record limit and before its JSON would pass the byte limit', () => {
    const many = Array.from({ length: MAX_REQUEST_BATCH_RECORDS + 5 }, (_, i) => record(i < 50 ? 0 : 1));
    const full = group(many, 100);
    expect(full.map((m) => [m.due, m.records?.length])).toEqual([
      [1, MAX_REQUEST_BATCH_RECORDS],
      [101, 5],
    ]);
    // Two records fit with their commas, a third would pass the limit: it opens the next window.
    const unpadded = JSON.stringify({ off: 0, pad: '', at: new Date(0).toISOString() }).length + 1;
    const pad = Math.floor(REQUEST_BATCH_MAX_BYTES / 2) - unpadded;
    const padded = [record(0, pad), record(1, pad), record(2, pad), record(3, pad)];
    expect(shape(group(padded, 100))).toEqual([
      [2, 'request.batch', [0, 1]],
      [102, 'request.batch', [2, 3]],
    ]);
  });

  it('carries every step once, in order, whatever the window', () => {
    const steps = [other(0, 'prestop.started')];
    for (let i = 0; i < 293; i++) steps.push(record(Math.floor(((i + 0.5) / 293) * 5000)));
    steps.push(other(5000, 'drain.summary'));
    steps.sort((a, b) => a[0] - b[0]);
    for (const batchMs of [0, 1, 17, 100, 1000]) {
      const messages = group(steps, batchMs);
      expect(messages.reduce((n, m) => n + observationsOf(m), 0)).toBe(steps.length);
      const dues = messages.map((m) => m.due);
      expect(dues).toEqual([...dues].sort((a, b) => a - b));
      const order = messages.flatMap((m) =>
        m.records ? m.records.map((r) => r.due) : [m.recordDue ?? m.due],
      );
      expect(order).toEqual(steps.map((s) => s[0]));
    }
  });
});
