import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { EventKind } from '../contract/index.js';
import { createEventSequencer, type EventData } from '../contract/validate.js';
import { publishEvent } from '../lib/jetstream.js';
import type { ResolvedProbeConfig } from './config.js';
import { createEventPublisher, type EventPublisher } from './publisher.js';
import type { ProbeSummary } from './types.js';

// A run's probe.* events: sequenced, validated by the contract and queued for NATS; without a
// NATS connection nothing is built or published.

const FLUSH_TIMEOUT_MS = 5000;

export interface RunEvents {
  /** True when NATS is attached. */
  readonly publishing: boolean;
  /** Queues an event; one the contract refuses is counted in `dropped()`, never thrown. */
  emit<K extends EventKind>(kind: K, data: EventData<K>): void;
  /** Events the publisher delivered so far; 0 without NATS. */
  published(): number;
  /** Events dropped from a full queue or refused by the contract. */
  dropped(): number;
  /**
   * Flushes the queue (up to 5 s), publishes `probe.summary` and returns `summary` with the final
   * event counts; `summary` unchanged without NATS.
   */
  finish(summary: ProbeSummary): Promise<ProbeSummary>;
}

export function createRunEvents(config: ResolvedProbeConfig, nats: NatsConnection | undefined): RunEvents {
  const sequencer = createEventSequencer({
    namespace: config.namespace,
    workload: config.workload,
    pod: null,
  });
  const publisher: EventPublisher | undefined = nats
    ? createEventPublisher(nats, { root: config.subjectRoot, capacity: config.eventQueueSize })
    : undefined;
  let invalidEvents = 0;

  async function publishSummary(nc: NatsConnection, summary: ProbeSummary): Promise<number> {
    try {
      const event = sequencer.next('probe.summary', {
        runId: config.runId,
        sessions: summary.sessionsStarted,
        sessionsLost: summary.sessionsLost,
        requests: summary.requests,
        failed: summary.failed,
        retriedOk: summary.retriedOk,
        messagesSent: summary.websockets.messagesSent,
        messagesLost: summary.websockets.messagesLost,
        messagesResent: summary.websockets.resent,
        messagesDuplicated: summary.websockets.messagesDuplicated,
        skewRatio: summary.maxSkewRatio,
        sticky: summary.sticky,
        unreliable: summary.unreliable,
        maxLoopLagMs: summary.maxLoopLagMs,
      });
      await publishEvent(jetstream(nc), event, {
        root: config.subjectRoot,
        timeoutMs: FLUSH_TIMEOUT_MS,
      });
      return 1;
    } catch {
      invalidEvents += 1;
      return 0;
    }
  }

  return {
    publishing: publisher !== undefined,
    emit(kind, data) {
      if (!publisher) return;
      try {
        publisher.offer(sequencer.next(kind, data));
      } catch {
        // An event the contract refuses (e.g. an oversize header echoed back) is counted, never thrown.
        invalidEvents += 1;
      }
    },
    published: () => publisher?.published ?? 0,
    dropped: () => (publisher?.dropped ?? 0) + invalidEvents,
    async finish(summary) {
      if (!publisher || !nats) return summary;
      await publisher.flush(FLUSH_TIMEOUT_MS);
      const summaryPublished = await publishSummary(nats, summary);
      return {
        ...summary,
        eventsPublished: publisher.published + summaryPublished,
        eventsDropped: publisher.dropped + invalidEvents,
      };
    },
  };
}
