import { type JetStreamClient, jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { AnyEvent, EventKind, EventSequencer } from '../contract/index.js';
import type { EventData } from '../contract/validate.js';
import { publishEvent } from '../lib/jetstream.js';
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
}

export interface PublisherStats {
  readonly published: number;
  readonly buffered: number;
  readonly dropped: number;
}

export interface EventPublisher {
  /** Makes the next event (next seq) and queues it; never blocks, never throws on NATS trouble. */
  emit<K extends EventKind>(kind: K, data: EventData<K>): void;
  /** Publishes through this connection from now on (the agent may connect after it started). */
  attach(nc: NatsConnection): void;
  /** Resolves true once everything made so far is acknowledged, false at the deadline. */
  flush(timeoutMs: number): Promise<boolean>;
  /** Stops publishing; events still buffered are abandoned (flush first). */
  stop(): void;
  stats(): PublisherStats;
}

const MIN_BACKOFF_MS = 50;
const MAX_BACKOFF_MS = 1000;

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
          await publishEvent(js, sending, { root: options.subjectRoot, timeoutMs });
          sending = undefined;
          published += 1;
          metrics.eventsPublished.inc();
          backoff = MIN_BACKOFF_MS;
          updateGauge();
        } catch {
          // NATS down, slow, or the stream missing: the same event is retried (its id makes a
          // retry of an event that was in fact stored a duplicate JetStream drops).
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
        if (s.type === 'reconnect') wake?.();
      }
    } catch {
      // The status iterator ends with the connection.
    }
  };

  return {
    emit(kind, data) {
      let event: AnyEvent;
      try {
        event = options.sequencer.next(kind, data) as AnyEvent;
      } catch {
        // An event the sequencer refuses (the agent's is unchecked, so only an oversize one) is a
        // bug in the agent, never a reason to break traffic: it is counted as dropped (the
        // sequencer left no seq gap for it).
        invalid += 1;
        metrics.eventsDropped.inc({ kind });
        return;
      }
      options.onEvent?.(event);
      const victim = buffer.push(event);
      if (victim) metrics.eventsDropped.inc({ kind: victim.kind });
      updateGauge();
      void pump();
    },
    attach(nc) {
      js = jetstream(nc);
      void watchStatus(nc);
      void pump();
    },
    flush(flushTimeoutMs) {
      if (pending() === 0) return Promise.resolve(true);
      return new Promise<boolean>((resolve) => {
        const done = (): void => resolve(true);
        idleWaiters.push(done);
        wake?.();
        delay(flushTimeoutMs).then(() => {
          idleWaiters = idleWaiters.filter((w) => w !== done);
          resolve(pending() === 0);
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
  };
}
