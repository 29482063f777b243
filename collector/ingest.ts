import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  type JsMsg,
  jetstream,
  jetstreamManager,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { type AnyEvent, ContractError, streamSubjects } from '../contract/index.js';
import { ensureStream } from '../lib/jetstream.js';
import type { Logger } from '../lib/log.js';
import { delay } from '../lib/wait.js';
import type { Applier, BatchResult } from './apply.js';
import type { CollectorConfig } from './config.js';
import { createMessageDecoder } from './decode.js';
import { deadLetterOp, eventEntry } from './event-ops.js';
import type { CollectorMetrics } from './metrics.js';
import type { Entry, RolloutNote } from './ops.js';
import { pullOptions, watchPullStatus } from './pull.js';
import type { ReplayCounts } from './recovery.js';

// The JetStream side: a durable pull consumer with explicit ack. Messages are applied in
// micro-batches (whatever has arrived, up to fetchBatch) and acked only after the Redis script
// that applied them returned. While Redis is down the batch is retried and kept alive with
// `working()`; nothing is acked, so nothing is lost.

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
}

const NANOS_PER_MS = 1_000_000;
const INVALID_LOG_INTERVAL_MS = 60_000;

export function createIngest(config: CollectorConfig, deps: IngestDeps): Ingest {
  const { metrics, clock, log } = deps;
  const js = jetstream(deps.nats);
  const stopController = new AbortController();
  let messages: ConsumerMessages | undefined;
  let loop: Promise<void> | undefined;
  let failed: string | undefined;
  let stopping: Promise<void> | undefined;
  const lastInvalidLog = new Map<string, number>();
  const decode = createMessageDecoder(config.subjectRoot);

  /** At most one line per key per minute: a flood of bad input or a long outage must not flood the log. */
  function once(key: string): boolean {
    const now = clock.now();
    const last = lastInvalidLog.get(key);
    if (last !== undefined && now - last < INVALID_LOG_INTERVAL_MS) return false;
    lastInvalidLog.set(key, now);
    return true;
  }

  // The reason and the field only: a decoder's message may quote the refused payload, and a log
  // line must never carry payload values (query strings, headers a buggy sender put in an event).
  function logInvalid(reason: string, field: string, subject: string): void {
    if (!once(reason)) return;
    log.warn(
      { reason, field, subject },
      `refused event (${reason}); it is kept as a dead letter, and further ${reason} refusals are counted, not logged, for a minute`,
    );
  }

  /** Counts an event received by kind: per batch, as one increment per kind (cheaper per event). */
  function countReceived(received: Map<string, number>): void {
    for (const [kind, n] of received) metrics.health.eventsReceived.inc({ kind }, n);
  }

  function toEntry(m: JsMsg, valid: AnyEvent[], received: Map<string, number>): Entry {
    try {
      const { event, raw } = decode(m);
      received.set(event.kind, (received.get(event.kind) ?? 0) + 1);
      valid.push(event);
      return eventEntry(event, { quietMs: config.rolloutQuietMs }, raw);
    } catch (err) {
      // Anything refused is counted, kept as a dead letter and acked: a poison message never blocks the stream.
      const reason = err instanceof ContractError ? err.code : 'internal';
      const field = err instanceof ContractError ? err.field : '';
      received.set('invalid', (received.get('invalid') ?? 0) + 1);
      metrics.health.eventsInvalid.inc({ reason });
      logInvalid(reason, field, m.subject);
      const raw = Buffer.from(m.data.subarray(0, 2048)).toString('utf8');
      return {
        id: null,
        workload: null,
        ops: [deadLetterOp({ reason, field, subject: m.subject, raw }, config.deadLetterMax)],
      };
    }
  }

  /**
   * Applies `entries`, retrying until Redis answers; undefined when stopped first. `held` are the
   * durable consumer's messages of this batch, kept from redelivery meanwhile.
   */
  async function applyRetrying(
    entries: readonly Entry[],
    held: readonly JsMsg[],
  ): Promise<BatchResult | undefined> {
    let result: BatchResult | undefined;
    let backoff = 100;
    // One application retried: the workloads a failed try applied are not applied (nor counted) again.
    const application = deps.applier.batch(entries);
    while (!result) {
      try {
        result = await application.run();
        deps.onRedisState(true);
      } catch (err) {
        metrics.health.redisErrors.inc();
        deps.onRedisState(false);
        if (once('redis-apply')) {
          log.error(
            { error: (err as Error).message },
            'Redis down: applying events failed, retrying until it answers',
          );
        }
        if (stopController.signal.aborted) return undefined; // unacked: JetStream redelivers them
        // Keep this batch and everything queued behind it from being redelivered meanwhile.
        for (const m of held) m.working();
        for (const m of queue) m.working();
        try {
          await delay(backoff, stopController.signal);
        } catch {
          return undefined;
        }
        backoff = Math.min(backoff * 2, 2000);
      }
    }
    return result;
  }

  async function flush(msgs: readonly JsMsg[], durable = true): Promise<void> {
    const valid: AnyEvent[] = [];
    const received = new Map<string, number>();
    const entries = msgs.map((m) => toEntry(m, valid, received));
    countReceived(received);
    const result = await applyRetrying(entries, durable ? msgs : []);
    if (!result) return;
    if (durable) {
      for (const m of msgs) m.ack();
      deps.onBatchApplied?.(msgs);
    }
    const now = clock.now();
    const applied: AnyEvent[] = [];
    let v = 0;
    entries.forEach((e, i) => {
      if (e.id === null) return;
      const event = valid[v++]!;
      if (result.applied[i]) {
        applied.push(event);
        metrics.health.ingestLag.observe(Math.max(0, now - Date.parse(event.time)) / 1000);
      } else {
        metrics.health.eventsDuplicate.inc();
      }
    });
    metrics.health.eventsApplied.inc(applied.length);
    if (result.notes.length > 0) deps.onNotes(result.notes);
    deps.onApplied?.(applied, now);
  }

  // The iterator's own pending count is not reliable (it counts internal control items), so
  // messages move to a queue of ours: a pump fills it, the worker applies whatever it holds.
  const queue: JsMsg[] = [];
  let wake: (() => void) | undefined;
  let pumpDone = false;

  async function pump(iter: ConsumerMessages): Promise<void> {
    try {
      for await (const m of iter) {
        queue.push(m);
        wake?.();
      }
      // nats.js ends the iterator itself only when it gives up (e.g. the consumer was deleted).
      if (!stopController.signal.aborted) throw new Error('the durable consumer stopped delivering');
    } finally {
      pumpDone = true;
      wake?.();
    }
  }

  // Two batches in flight: the next one is decoded while Redis runs the previous script. Order
  // between them does not matter, because applying is idempotent and reports are order-free.
  const inflight = new Set<Promise<void>>();
  const MAX_INFLIGHT = 2;

  async function work(): Promise<void> {
    for (;;) {
      if (stopController.signal.aborted) break;
      if (queue.length === 0 || inflight.size >= MAX_INFLIGHT) {
        if (queue.length === 0 && inflight.size === 0 && pumpDone) break;
        const woken = new Promise<void>((resolve) => {
          wake = resolve;
        });
        await Promise.race(queue.length === 0 ? [woken, ...inflight] : [...inflight]);
        wake = undefined;
        continue;
      }
      // Apply whatever has arrived: a full batch under load, a single event when traffic is thin.
      const batch = queue.splice(0, config.fetchBatch);
      const p: Promise<void> = flush(batch)
        .catch((err) =>
          log.error({ error: (err as Error).message }, 'a batch failed and will be redelivered'),
        )
        .finally(() => {
          inflight.delete(p);
        });
      inflight.add(p);
    }
    await Promise.all(inflight);
  }

  return {
    async start() {
      const jsm = await jetstreamManager(deps.nats);
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
        pump(iter).catch(ended('consumer ended')),
        work().catch(ended('applying ended')),
      ]).then(() => undefined);
    },
    stop() {
      stopping ??= (async () => {
        stopController.abort();
        wake?.();
        await messages?.close();
        await loop;
      })();
      return stopping;
    },
    idle() {
      return inflight.size === 0 && queue.length === 0;
    },
    failure() {
      return failed;
    },
    applyReplayed(msgs) {
      return flush(msgs, false);
    },
    async applyAgain(msgs) {
      const entries: Entry[] = [];
      for (const m of msgs) {
        try {
          const { event, raw } = decode(m);
          entries.push(eventEntry(event, { quietMs: config.rolloutQuietMs }, raw));
        } catch {
          // Refused when first delivered: its dead letter was pushed then, and is not pushed twice.
        }
      }
      const result = await applyRetrying(entries, []);
      if (!result) return { restored: 0, present: 0 };
      const restored = result.applied.filter(Boolean).length;
      // A rollout closed again here was reported when first closed: upkeep counts a rollout once.
      if (result.notes.length > 0) deps.onNotes(result.notes);
      return { restored, present: entries.length - restored };
    },
    async pending() {
      const consumer = await js.consumers.get(config.stream, config.consumer);
      const info = await consumer.info();
      return { pending: info.num_pending, ackPending: info.num_ack_pending };
    },
  };
}
