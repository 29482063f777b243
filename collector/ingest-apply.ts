import type { JsMsg } from '@nats-io/jetstream';
import type { AnyEvent } from '../contract/index.js';
import { delay } from '../lib/wait.js';
import type { BatchResult } from './apply.js';
import type { CollectorConfig } from './config.js';
import type { Clock, IngestDeps } from './ingest.js';
import { createEntryReader } from './ingest-entries.js';
import type { CollectorMetrics } from './metrics.js';
import type { Entry } from './ops.js';
import type { ReplayCounts } from './recovery.js';

// Batches into Redis: decoded (ingest-entries.ts), applied by the apply script and retried while
// Redis is down, acked only after the script returned, then counted and reported.

const INVALID_LOG_INTERVAL_MS = 60_000;

export interface BatchApply {
  /**
   * Applies `msgs`, retrying until Redis answers; `durable` (the consumer's own messages) acks them
   * after. Returns without applying nor acking when the ingest stops first.
   */
  flush(msgs: readonly JsMsg[], durable?: boolean): Promise<void>;
  /** Ingest.applyAgain: applies again messages acknowledged before, no ack. */
  applyAgain(msgs: readonly JsMsg[]): Promise<ReplayCounts>;
  /** Ingest.settled: resolves once every flush begun before the call has ended. */
  settled(): Promise<void>;
}

export interface BatchApplyOptions {
  /** Aborted when the ingest stops: retrying ends, nothing more is acked. */
  readonly signal: AbortSignal;
  /** Keeps the messages queued behind a retried batch from being redelivered (their working()). */
  readonly holdQueued: () => void;
}

export function createBatchApply(
  config: CollectorConfig,
  deps: Omit<IngestDeps, 'nats'>,
  options: BatchApplyOptions,
): BatchApply {
  const { metrics, clock, log } = deps;
  const once = createLogLimit(clock);
  const reader = createEntryReader(config, metrics, log, once);

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
        if (options.signal.aborted) return undefined; // unacked: JetStream redelivers them
        // Keep this batch and everything queued behind it from being redelivered meanwhile.
        for (const m of held) m.working();
        options.holdQueued();
        try {
          await delay(backoff, options.signal);
        } catch {
          return undefined;
        }
        backoff = Math.min(backoff * 2, 2000);
      }
    }
    return result;
  }

  /** Flushes begun and not ended: settled() waits for them. */
  const inFlight = new Set<Promise<void>>();

  function flush(msgs: readonly JsMsg[], durable = true): Promise<void> {
    const running = applyAndAck(msgs, durable);
    inFlight.add(running);
    const forget = () => {
      inFlight.delete(running);
    };
    running.then(forget, forget);
    return running;
  }

  async function applyAndAck(msgs: readonly JsMsg[], durable: boolean): Promise<void> {
    const { entries, valid } = reader.read(msgs);
    const result = await applyRetrying(entries, durable ? msgs : []);
    if (!result) return;
    if (durable) {
      for (const m of msgs) m.ack();
      deps.onBatchApplied?.(msgs);
    }
    const now = clock.now();
    const applied = countApplied(entries, valid, result, now, metrics);
    if (result.notes.length > 0) deps.onNotes(result.notes);
    deps.onApplied?.(applied, now);
  }

  return {
    flush,
    async settled() {
      await Promise.allSettled([...inFlight]);
    },
    async applyAgain(msgs) {
      const entries = reader.reread(msgs);
      const result = await applyRetrying(entries, []);
      if (!result) return { restored: 0, present: 0 };
      const restored = result.applied.filter(Boolean).length;
      // A rollout closed again here was reported when first closed: upkeep counts a rollout once.
      if (result.notes.length > 0) deps.onNotes(result.notes);
      return { restored, present: entries.length - restored };
    },
  };
}

/**
 * A rate limit for log lines: `once(key)` is true at most once per key a minute, so a flood of bad
 * input or a long outage must not flood the log.
 */
function createLogLimit(clock: Clock): (key: string) => boolean {
  const lastLogged = new Map<string, number>();
  return (key) => {
    const now = clock.now();
    const last = lastLogged.get(key);
    if (last !== undefined && now - last < INVALID_LOG_INTERVAL_MS) return false;
    lastLogged.set(key, now);
    return true;
  };
}

/**
 * The events a batch applied for the first time (`valid` in entry order, `now` in clock ms): each
 * observed in the ingest lag, the others counted as duplicates, and their number as applied.
 */
function countApplied(
  entries: readonly Entry[],
  valid: readonly AnyEvent[],
  result: BatchResult,
  now: number,
  metrics: CollectorMetrics,
): AnyEvent[] {
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
  return applied;
}
