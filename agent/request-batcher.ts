import { type EventKind, MAX_REQUEST_BATCH_RECORDS } from '../contract/index.js';
import type { EventData } from '../contract/validate.js';
import type { Clock, Scheduler } from './time.js';

// The agent's request records leave in batches: the records that end within one short window go
// out as one `request.batch` event (contract schema 1.1), so a pod failing many requests at once
// costs the collector a few messages, not one per request (docs/scaling.md). Every other event
// passes straight through, after the open window: the pod's seq order stays the order things
// happened in, and a drain.summary never overtakes the records it sums up.

/** How the batcher hands on an event: the publisher's emit (`time`: the event's time if not now). */
export type TimedEmit = <K extends EventKind>(kind: K, data: EventData<K>, time?: Date) => void;

export interface RequestBatcherOptions {
  /** Where events go on (the publisher). */
  readonly emit: TimedEmit;
  readonly clock: Clock;
  readonly scheduler: Scheduler;
  /** The window in ms, opened by the first record; 0 passes every record through as its own event. */
  readonly windowMs: number;
  /** The most record JSON (bytes) one batch holds; the event limit is 64 KiB (MAX_EVENT_BYTES). */
  readonly maxBytes?: number;
}

export interface RequestBatcher {
  /** The emit the agent's parts use: `request` records join the window, anything else flushes it first. */
  readonly emit: TimedEmit;
  /** Sends the open window now (the agent calls it before its final flush). */
  flush(): void;
  /** Records in the open window. */
  readonly pending: number;
}

/**
 * The most record JSON (bytes, a comma counted per record) a batch holds by default: room left
 * under MAX_EVENT_BYTES (64 KiB) for the envelope (about 400 bytes).
 */
export const REQUEST_BATCH_MAX_BYTES = 48 * 1024;

type Record_ = EventData<'request.batch'>['records'][number];

/**
 * A window of request records flushed when it expires (`windowMs` after its first record), when it
 * holds MAX_REQUEST_BATCH_RECORDS records or `maxBytes` of record JSON, when any other event is
 * emitted, or on flush(). One record goes out as a plain `request` event with its own end time, two
 * or more as one `request.batch` at the flush time.
 */
export function createRequestBatcher(options: RequestBatcherOptions): RequestBatcher {
  const { clock, scheduler, windowMs } = options;
  const maxBytes = options.maxBytes ?? REQUEST_BATCH_MAX_BYTES;
  let records: Record_[] = [];
  let bytes = 0;
  let cancel: (() => void) | undefined;

  const flush = (): void => {
    cancel?.();
    cancel = undefined;
    const batch = records;
    if (batch.length === 0) return;
    records = [];
    bytes = 0;
    if (batch.length === 1) {
      const { at, ...data } = batch[0]!;
      options.emit('request', data, new Date(at));
    } else {
      options.emit('request.batch', { records: batch });
    }
  };

  const add = (data: EventData<'request'>): void => {
    const record: Record_ = { ...data, at: new Date(clock.now()).toISOString() };
    const size = Buffer.byteLength(JSON.stringify(record)) + 1;
    if (records.length > 0 && bytes + size > maxBytes) flush();
    records.push(record);
    bytes += size;
    if (records.length >= MAX_REQUEST_BATCH_RECORDS) flush();
    else if (records.length === 1) cancel = scheduler.setTimeout(flush, windowMs);
  };

  const emit: TimedEmit = (kind, data, time) => {
    if (kind === 'request' && windowMs > 0 && time === undefined) {
      add(data as EventData<'request'>);
      return;
    }
    flush();
    options.emit(kind, data, time);
  };

  return {
    emit,
    flush,
    get pending() {
      return records.length;
    },
  };
}

/**
 * What a replayed batcher hands on: an event as the agent publishes it, the replay's time (ms) it
 * leaves at, and the inputs it carries (the tokens given to emit, in emit order): the one input of
 * a plain event or lone `request`, or each record's input of a `request.batch`.
 */
export type ReplayedEmit<T> = <K extends EventKind>(
  kind: K,
  data: EventData<K>,
  atMs: number,
  inputs: readonly T[],
) => void;

export interface ReplayedBatcher<T> {
  /**
   * Moves the clock to `atMs` (never back), firing the window's expiry if due by then, then emits
   * `kind`/`data`; `input` is the caller's token for it, handed back with what carries it.
   */
  emit<K extends EventKind>(atMs: number, kind: K, data: EventData<K>, input: T): void;
  /** Lets an open window expire (the end of the script). */
  end(): void;
}

/**
 * createRequestBatcher on a clock the caller moves, with no real timers: what an agent sends for a
 * script of emits at given times (ms, any origin), decided by the agent's own rule. For the
 * simulations that need it (bench/scale.mjs's pods, the collector tests' batched streams), so that
 * the rule exists once.
 */
export function createReplayedBatcher<T>(options: {
  readonly windowMs: number;
  readonly maxBytes?: number;
  readonly emit: ReplayedEmit<T>;
}): ReplayedBatcher<T> {
  let now = Number.NEGATIVE_INFINITY;
  let timer: { readonly at: number; readonly fn: () => void } | undefined;
  // The inputs of the records the batcher holds, oldest first (it sends records in emit order),
  // and the input being emitted (what a plain event carries).
  const held: T[] = [];
  let current: T | undefined;
  const batcher = createRequestBatcher({
    windowMs: options.windowMs,
    ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes }),
    clock: { now: () => now },
    scheduler: {
      setTimeout(fn, ms) {
        const t = { at: now + ms, fn };
        timer = t;
        return () => {
          if (timer === t) timer = undefined;
        };
      },
    },
    emit: (kind, data) => {
      const inputs =
        kind === 'request.batch'
          ? held.splice(0, (data as EventData<'request.batch'>).records.length)
          : kind === 'request'
            ? held.splice(0, 1)
            : [current as T];
      options.emit(kind, data, now, inputs);
    },
  });
  const fireDue = (until: number): void => {
    while (timer && timer.at <= until) {
      const t = timer;
      timer = undefined;
      now = t.at;
      t.fn();
    }
  };
  return {
    emit(atMs, kind, data, input) {
      fireDue(atMs);
      now = Math.max(now, atMs);
      current = input;
      if (kind === 'request') held.push(input);
      batcher.emit(kind, data);
    },
    end() {
      fireDue(Number.POSITIVE_INFINITY);
    },
  };
}
