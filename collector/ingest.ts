import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  type JsMsg,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { type AnyEvent, streamSubjects } from '../contract/index.js';
import { ensureStream } from '../lib/jetstream.js';
import type { Logger } from '../lib/log.js';
import type { Applier } from './apply.js';
import type { CollectorConfig } from './config.js';
import { createBatchApply } from './ingest-apply.js';
import { createIngestQueue } from './ingest-queue.js';
import type { CollectorMetrics } from './metrics.js';
import type { RolloutNote } from './ops.js';
import { pullOptions, watchPullStatus } from './pull.js';
import type { ReplayCounts } from './recovery.js';

// The JetStream side: a durable pull consumer with explicit ack. Messages are applied in
// micro-batches (whatever has arrived, up to fetchBatch) and acked only after the Redis script
// that applied them returned. While Redis is down the batch is retried and kept alive with
// `working()`; nothing is acked, so nothing is lost. This file starts and stops the consumer;
// the queue and its worker are ingest-queue.ts, applying a batch ingest-apply.ts.

export interface Clock {
  now(): number;
}

export interface IngestDeps {
  readonly nats: NatsConnection;
  readonly applier: Applier;
  readonly metrics: CollectorMetrics;
  readonly clock: Clock;
  readonly log: Logger;
  readonly onRedisState: (up: boolean) => void;
  /** Rollout changes the apply script made. */
  readonly onNotes: (notes: readonly RolloutNote[]) => void;
  /** Observation hook: events applied for the first time, and when. Tests and bench use it. */
  readonly onApplied?: (events: readonly AnyEvent[], appliedAtMs: number) => void;
  /** A batch of the durable consumer was applied, and acked just now. */
  readonly onBatchApplied?: (msgs: readonly JsMsg[]) => void;
}

export interface Ingest {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** True when nothing fetched is waiting to be applied or acked by this process. */
  idle(): boolean;
  /** Why consuming or applying ended while not stopping (the collector is then not ready), or undefined. */
  failure(): string | undefined;
  /** Messages the stream holds that the consumer has not delivered, and delivered but unacked. */
  pending(): Promise<{ pending: number; ackPending: number }>;
  /** Applies messages re-read from the stream (a rebuild), retrying until Redis answers; no ack. */
  applyReplayed(msgs: readonly JsMsg[]): Promise<void>;
  /**
   * Applies again messages this process had acknowledged (recovery.ts), retrying until Redis
   * answers; no ack. They were counted when first applied: here they count only in
   * drainwatch_events_replayed_total. Refused messages are skipped (their dead letter was pushed).
   */
  applyAgain(msgs: readonly JsMsg[]): Promise<ReplayCounts>;
  /**
   * Resolves once every batch being applied at the call has been applied and acked, or given up
   * because the ingest stopped (bounded by the stop). A replay after a Redis Cluster master change
   * waits for it: a batch the old master took while the new one was already serving is acked only
   * after the change was seen (recovery.ts).
   */
  settled(): Promise<void>;
}

const NANOS_PER_MS = 1_000_000;

export function createIngest(config: CollectorConfig, deps: IngestDeps): Ingest {
  const { clock, log } = deps;
  const js = jetstream(deps.nats);
  const stopController = new AbortController();
  let messages: ConsumerMessages | undefined;
  let loop: Promise<void> | undefined;
  let failed: string | undefined;
  let stopping: Promise<void> | undefined;
  const batches = createBatchApply(config, deps, {
    signal: stopController.signal,
    holdQueued: () => queue.holdQueued(),
  });
  const queue = createIngestQueue({
    fetchBatch: config.fetchBatch,
    lingerMs: config.applyLingerMs,
    signal: stopController.signal,
    log,
    apply: (batch) => batches.flush(batch),
  });

  return {
    async start() {
      await ensureConsumer(deps.nats, config);
      const consumer = await js.consumers.get(config.stream, config.consumer);
      messages = await consumer.consume(pullOptions(config));
      const iter = messages;
      // Either loop ending on its own, or the consumer deleted, leaves a process that reads nothing:
      // /readyz and /healthz say so (a restart creates the consumer again).
      // The first cause is kept and logged; what follows from it is not.
      const fail = (what: string, detail: string): void => {
        if (failed !== undefined) return;
        failed = `${what}: ${detail}`;
        log.error({ error: detail }, what);
      };
      const ended = (what: string) => (err: unknown) => fail(what, (err as Error)?.message ?? String(err));
      watchPullStatus(
        iter,
        log,
        () => clock.now(),
        (reason) => fail('consumer ended', reason),
      );
      loop = Promise.all([
        queue.pump(iter).catch(ended('consumer ended')),
        queue.work().catch(ended('applying ended')),
      ]).then(() => undefined);
    },
    stop() {
      stopping ??= (async () => {
        stopController.abort();
        queue.wake();
        await messages?.close();
        await loop;
      })();
      return stopping;
    },
    idle: queue.idle,
    failure() {
      return failed;
    },
    applyReplayed(msgs) {
      return batches.flush(msgs, false);
    },
    applyAgain: batches.applyAgain,
    settled: batches.settled,
    async pending() {
      const consumer = await js.consumers.get(config.stream, config.consumer);
      const info = await consumer.info();
      return { pending: info.num_pending, ackPending: info.num_ack_pending };
    },
  };
}

/** Creates the stream and the durable consumer unless they exist. */
async function ensureConsumer(nats: NatsConnection, config: CollectorConfig): Promise<void> {
  const jsm = await jetstreamManager(nats);
  await ensureStream(jsm, {
    name: config.stream,
    root: config.subjectRoot,
    maxAgeSeconds: config.streamMaxAgeSeconds,
    maxBytes: config.streamMaxBytes,
    replicas: config.streamReplicas,
  });
  try {
    await jsm.consumers.info(config.stream, config.consumer);
  } catch {
    // Two replicas may race here; adding a durable with the same config twice is accepted.
    await jsm.consumers.add(config.stream, {
      durable_name: config.consumer,
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      ack_wait: config.ackWaitMs * NANOS_PER_MS,
      // Backpressure: the server stops delivering when this many are unacked, so nothing waits
      // in our queue long enough to be redelivered (the iterator itself does not hold back).
      max_ack_pending: config.fetchBatch * 4,
      filter_subject: streamSubjects(config.subjectRoot),
    });
  }
}
