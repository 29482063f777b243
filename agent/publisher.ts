import { type JetStreamClient, jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { AnyEvent, EventKind, EventSequencer } from '../contract/index.js';
import type { EventData } from '../contract/validate.js';
import { publishEvent } from '../lib/jetstream.js';
import { type Logger, SILENT_LOGGER } from '../lib/log.js';
import { delay } from '../lib/wait.js';
import { createEventBuffer } from './event-buffer.js';
import type { AgentMetrics } from './metrics.js';

// Events leave the pod through one sequential JetStream publisher: one event in flight at a time,
// acknowledged before the next, so the stream holds them in seq order even when an outage forces
// a replay. emit() only appends to the buffer, so the app's traffic never waits for NATS.

export interface PublisherOptions {
  readonly sequencer: EventSequencer;
  readonly subjectRoot: string;
  readonly capacity: number;
  readonly metrics: AgentMetrics;
  readonly publishTimeoutMs?: number;
  /** Called for every event made, before it is buffered (tracing uses it). */
  readonly onEvent?: (event: AnyEvent) => void;
  /** Outages, drops and the final flush's attempts; kinds and counts only, never payloads. */
  readonly log?: Logger;
  /** Wall clock in ms (rate-limits the drop lines); Date.now by default. */
  readonly now?: () => number;
}

export interface PublisherStats {
  readonly published: number;
  readonly buffered: number;
  readonly dropped: number;
}

/** What flush() leaves behind: the events not acknowledged, by kind. */
export interface FlushOutcome {
  readonly delivered: boolean;
  /** Publish attempts that failed during this flush. */
  readonly failedAttempts: number;
  /** Unacknowledged events by kind (the one in flight included); empty when delivered. */
  readonly undelivered: Readonly<Record<string, number>>;
}

export interface EventPublisher {
  /**
   * Makes the next event (next seq) and queues it; never blocks, never throws on NATS trouble.
   * `time`: the event's time when it is not now (a request record held in a batching window).
   */
  emit<K extends EventKind>(kind: K, data: EventData<K>, time?: Date): void;
  /** Publishes through this connection from now on (the agent may connect after it started). */
  attach(nc: NatsConnection): void;
  /**
   * Resolves once everything made so far is acknowledged, or at the deadline (timeoutMs) with
   * what was not. Each failed publish attempt meanwhile is logged (warn).
   */
  flush(timeoutMs: number): Promise<FlushOutcome>;
  /** Stops publishing; events still buffered are abandoned (flush first). */
  stop(): void;
  stats(): PublisherStats;
  /**
   * The events dropped so far plus the one emitting an event of `kind` now would drop: the count an
   * event that reports drops (drain.summary, traffic.summary) carries, its own eviction included.
   */
  droppedOnEmit(kind: EventKind): number;
}

const MIN_BACKOFF_MS = 50;
const MAX_BACKOFF_MS = 1000;
// At most one "events dropped" line per this long, however fast the buffer overflows.
const DROP_LOG_INTERVAL_MS = 10_000;

export function createEventPublisher(options: PublisherOptions): EventPublisher {
  const buffer = createEventBuffer(options.capacity);
  const { metrics } = options;
  const timeoutMs = options.publishTimeoutMs ?? 2000;
  let js: JetStreamClient | undefined;
  let sending: AnyEvent | undefined;
  let pumping = false;
  let stopped = false;
  let published = 0;
  let invalid = 0;
  let wake: (() => void) | undefined;
  let idleWaiters: Array<() => void> = [];
  const log = options.log ?? SILENT_LOGGER;
  const now = options.now ?? Date.now;
  // Failed attempts since the last success; flushing: failed attempts are logged one by one.
  let failing = 0;
  let flushing: { attempts: number } | undefined;
  let highWater = false;
  let dropsLogged = 0;
  let dropLogAt = Number.NEGATIVE_INFINITY;

  const pendingByKind = (): Record<string, number> => {
    const counts = buffer.countByKind();
    if (sending) counts[sending.kind] = (counts[sending.kind] ?? 0) + 1;
    return counts;
  };
  const noteFailure = (err: unknown): void => {
    failing += 1;
    const fields = { attempt: failing, pending: pending(), error: (err as Error)?.message ?? String(err) };
    if (flushing) {
      flushing.attempts += 1;
      log.warn(fields, 'final flush: publish attempt failed, retrying');
    } else if (failing === 1)
      log.warn(fields, 'publishing to NATS failed; buffering events until it answers');
  };
  const noteSuccess = (): void => {
    if (failing > 0) log.info({ failedAttempts: failing, pending: pending() }, 'publishing to NATS again');
    failing = 0;
  };
  const noteBuffered = (): void => {
    const size = pending();
    if (!highWater && size >= options.capacity / 2) {
      highWater = true;
      log.warn({ buffered: size, capacity: options.capacity }, 'event buffer half full');
    } else if (highWater && size === 0) {
      highWater = false;
      log.info({ capacity: options.capacity }, 'event buffer empty again');
    }
  };
  const noteDrop = (): void => {
    const t = now();
    if (t - dropLogAt < DROP_LOG_INTERVAL_MS) return;
    dropLogAt = t;
    const dropped = buffer.dropped + invalid;
    log.warn(
      { dropped, droppedSinceLastLine: dropped - dropsLogged, capacity: options.capacity },
      'event buffer full: dropping traffic events (never lifecycle ones)',
    );
    dropsLogged = dropped;
  };

  const pending = (): number => buffer.size + (sending ? 1 : 0);
  const updateGauge = (): void => {
    metrics.eventsBuffered.set(pending());
  };
  const notifyIdle = (): void => {
    if (pending() > 0) return;
    const waiters = idleWaiters;
    idleWaiters = [];
    for (const w of waiters) w();
  };

  const pause = (ms: number): Promise<void> =>
    new Promise<void>((resolve) => {
      wake = resolve;
      delay(ms).then(resolve, resolve);
    }).finally(() => {
      wake = undefined;
    });

  const pump = async (): Promise<void> => {
    if (pumping) return;
    pumping = true;
    let backoff = MIN_BACKOFF_MS;
    try {
      while (!stopped && js) {
        sending ??= buffer.shift();
        if (!sending) break;
        try {
          const ack = await publishEvent(js, sending, { root: options.subjectRoot, timeoutMs });
          // A retry whose earlier attempt was stored (its ack lost with a server): JetStream kept one.
          if (ack.duplicate)
            log.debug({ kind: sending.kind, seq: sending.seq }, 'publish was a duplicate; stored once');
          sending = undefined;
          published += 1;
          metrics.eventsPublished.inc();
          backoff = MIN_BACKOFF_MS;
          updateGauge();
          noteSuccess();
          noteBuffered();
        } catch (err) {
          // NATS down, slow, or the stream missing: the same event is retried (its id makes a
          // retry of an event that was in fact stored a duplicate JetStream drops).
          noteFailure(err);
          await pause(backoff);
          backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
        }
      }
    } finally {
      pumping = false;
      notifyIdle();
    }
  };

  const watchStatus = async (nc: NatsConnection): Promise<void> => {
    try {
      for await (const s of nc.status()) {
        if (s.type === 'disconnect') log.warn({ pending: pending() }, 'NATS connection lost');
        if (s.type === 'reconnect') {
          log.info({ pending: pending() }, 'NATS connection back');
          wake?.();
        }
      }
    } catch {
      // The status iterator ends with the connection.
    }
  };

  return {
    emit(kind, data, time) {
      let event: AnyEvent;
      try {
        event = options.sequencer.next(kind, data, time) as AnyEvent;
      } catch {
        // An event the sequencer refuses (the agent's is unchecked, so only an oversize one) is a
        // bug in the agent, never a reason to break traffic: it is counted as dropped (the
        // sequencer left no seq gap for it).
        invalid += 1;
        metrics.eventsDropped.inc({ kind });
        log.error({ kind }, 'an event the agent made was refused (oversize); dropped');
        return;
      }
      options.onEvent?.(event);
      const victim = buffer.push(event);
      if (victim) {
        metrics.eventsDropped.inc({ kind: victim.kind });
        noteDrop();
      }
      updateGauge();
      noteBuffered();
      void pump();
    },
    attach(nc) {
      js = jetstream(nc);
      void watchStatus(nc);
      void pump();
    },
    flush(flushTimeoutMs) {
      const run = { attempts: 0 };
      const outcome = (): FlushOutcome => {
        if (flushing === run) flushing = undefined;
        const left = pending();
        return {
          delivered: left === 0,
          failedAttempts: run.attempts,
          undelivered: left ? pendingByKind() : {},
        };
      };
      if (pending() === 0) return Promise.resolve(outcome());
      flushing = run;
      return new Promise<FlushOutcome>((resolve) => {
        const done = (): void => resolve(outcome());
        idleWaiters.push(done);
        wake?.();
        delay(flushTimeoutMs).then(() => {
          idleWaiters = idleWaiters.filter((w) => w !== done);
          resolve(outcome());
        });
      });
    },
    stop() {
      stopped = true;
      wake?.();
    },
    stats() {
      return { published, buffered: pending(), dropped: buffer.dropped + invalid };
    },
    droppedOnEmit(kind) {
      return buffer.dropped + invalid + (buffer.wouldDrop(kind) ? 1 : 0);
    },
  };
}
