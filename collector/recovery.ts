import type { JsMsg } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../lib/log.js';
import { settledWithin } from '../lib/wait.js';
import type { CollectorConfig } from './config.js';
import type { Clock } from './ingest.js';
import type { CollectorMetrics } from './metrics.js';
import { readStream } from './stream-replay.js';

// Redis may lose writes it acknowledged: replication is asynchronous, so a master that crashes
// loses what it had not sent to its replicas yet, and in a Sentinel failover the old master keeps
// taking writes (with a second replica still attached, min-replicas-to-write 1 holds) until the
// client follows +switch-master, writes that vanish when it resyncs from the promoted replica
// (test/integration/redis-sentinel-failover-writes.test.ts lost 890–1,575 of 6,054 events so). The
// collector has acked those events to JetStream, so nothing would apply them again, and the
// applied-seq marker (history.ts) survives such a partial loss. So the collector remembers which
// stream seqs it acknowledged in the last `redisReplayWindowMs`; when Redis comes back after the
// connection was lost (or a write failed, or a Redis Cluster node went away), it re-reads the
// messages it acknowledged from that window before the loss until then and applies them again.
// Applying is idempotent by event id: an event still stored is a no-op. Each replica replays only
// what it acknowledged itself, so every replayed event had been applied, and its rollout notes
// reported, by this very process.

/** Seqs acknowledged per batch, kept for the replay window (oldest first). */
export interface AckLog {
  /** Records a batch's seqs, acknowledged at `atMs` (ms since the epoch). */
  record(seqs: readonly number[], atMs: number): void;
  /** Drops batches acknowledged before `beforeMs`. */
  prune(beforeMs: number): void;
  /** Sorted, disjoint `[first, last]` seq ranges of the batches acknowledged at or after `sinceMs`. */
  since(sinceMs: number): readonly (readonly [number, number])[];
}

/** An AckLog storing each batch as runs of consecutive seqs (a batch is mostly one run). */
export function createAckLog(): AckLog {
  const batches: { atMs: number; runs: number[] }[] = [];
  return {
    record(seqs, atMs) {
      const runs: number[] = [];
      for (const s of seqs) {
        if (runs.length > 0 && runs[runs.length - 1] === s - 1) runs[runs.length - 1] = s;
        else runs.push(s, s);
      }
      batches.push({ atMs, runs });
    },
    prune(beforeMs) {
      let n = 0;
      while (n < batches.length && batches[n]!.atMs < beforeMs) n++;
      if (n > 0) batches.splice(0, n);
    },
    since(sinceMs) {
      const ranges: [number, number][] = [];
      for (const b of batches) {
        if (b.atMs < sinceMs) continue;
        for (let i = 0; i < b.runs.length; i += 2) ranges.push([b.runs[i]!, b.runs[i + 1]!]);
      }
      ranges.sort((x, y) => x[0] - y[0]);
      const merged: [number, number][] = [];
      for (const r of ranges) {
        const last = merged.at(-1);
        if (last && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
        else merged.push([r[0], r[1]]);
      }
      return merged;
    },
  };
}

/** What one replay applied again: `restored` events were missing from Redis, `present` were stored. */
export interface ReplayCounts {
  readonly restored: number;
  readonly present: number;
}

export interface RecoveryDeps {
  readonly nats: NatsConnection;
  readonly clock: Clock;
  readonly log: Logger;
  readonly metrics: CollectorMetrics;
  /** A rebuild check first (history.ts): true when it rebuilt everything, so no replay is needed. */
  readonly check: () => Promise<boolean>;
  /** Applies re-read messages, retrying until Redis answers; counts what was missing. */
  readonly apply: (msgs: readonly JsMsg[]) => Promise<ReplayCounts>;
  /** Resolves once the batches being applied now are applied and acked (Ingest.settled). */
  readonly settled: () => Promise<void>;
  /** How long (ms) a replay waits for them; IN_FLIGHT_WAIT_MS unless given (tests). */
  readonly inFlightWaitMs?: number;
}

export interface Recovery {
  /** The durable consumer acknowledged these messages now (hot path: one small array per batch). */
  acked(msgs: readonly JsMsg[]): void;
  /** Redis is down, or a write failed: remember when (the first time until it is back). */
  lost(): void;
  /** Redis answers again: re-apply what this process acknowledged in the window before the loss. */
  restored(): Promise<void>;
  /** Runs again a replay that failed (NATS unreachable meanwhile); the refresh calls it. */
  retryFailed(): Promise<void>;
  /** True from restored() until its replay ended: quiet rollouts must not be closed meanwhile. */
  readonly replaying: boolean;
  /**
   * No replay starts, nor reads or applies another batch, from now on; resolves once the one
   * running ended (its batch in progress finishes or is given up as the ingest stops).
   */
  stop(): Promise<void>;
}

/** How long (ms) a replay waits for the batches in flight at its trigger before it runs anyway. */
export const IN_FLIGHT_WAIT_MS = 10_000;

export function createRecovery(config: CollectorConfig, deps: RecoveryDeps): Recovery {
  const { clock, log, metrics } = deps;
  const windowMs = config.redisReplayWindowMs;
  const acks = createAckLog();
  /** When Redis was lost, until it is back; then when the replay to come was lost, until it starts. */
  let lostAtMs: number | undefined;
  let dueLostAtMs: number | undefined;
  /** The loss whose replay failed, if one did: retried by retryFailed(). */
  let failedLostAtMs: number | undefined;
  let queued = false;
  /** The loss of the replay running now, if one is. */
  let runningLostAtMs: number | undefined;
  let chain: Promise<void> = Promise.resolve();
  let stopped = false;

  const earliest = (...ts: (number | undefined)[]): number | undefined => {
    const known = ts.filter((t): t is number => t !== undefined);
    return known.length > 0 ? Math.min(...known) : undefined;
  };

  async function replay(): Promise<void> {
    let lostAt = dueLostAtMs!;
    runningLostAtMs = lostAt;
    try {
      // A batch sent to the old master before the change was seen may be acknowledged by it
      // after (it learns of the new master later than the node the map was read from) and then
      // dropped when it resyncs: its seqs must be in the ack log before the ranges are taken.
      // A batch held by a frozen master (no command timeout) must not hold up the replay of
      // every other slot's losses: past inFlightWaitMs the replay runs, and runs again once
      // that batch is acked.
      const inFlight = deps.settled();
      if (!(await settledWithin(inFlight, deps.inFlightWaitMs ?? IN_FLIGHT_WAIT_MS))) {
        const heldSince = lostAt;
        void inFlight.then(() => {
          if (!stopped) void schedule(heldSince);
        });
      }
      if (stopped) {
        queued = false;
        return;
      }
      // Until now this replay stayed queued: triggers that came while it waited (the slot map
      // and a node's connection telling one failover, ms apart) joined it, not a replay of their own.
      queued = false;
      lostAt = dueLostAtMs!;
      runningLostAtMs = lostAt;
      dueLostAtMs = undefined;
      // Everything acknowledged from the window before the loss until now.
      const ranges = acks.since(lostAt - windowMs);
      if (ranges.length === 0) return;
      if (await deps.check()) return; // a rebuild re-applied the whole stream
      await replayRanges(ranges, lostAt);
    } catch (err) {
      if (stopped) return;
      failedLostAtMs = earliest(failedLostAtMs, lostAt);
      log.error(
        { error: (err as Error).message },
        'replaying recent events after losing Redis failed; retried at the next refresh',
      );
    } finally {
      runningLostAtMs = undefined;
    }
  }

  async function replayRanges(ranges: readonly (readonly [number, number])[], lostAt: number): Promise<void> {
    let restored = 0;
    let present = 0;
    let r = 0;
    const read = await readStream(
      deps.nats,
      config,
      { fromSeq: ranges[0]![0], toSeq: ranges.at(-1)![1] },
      async (batch) => {
        if (stopped) throw new Error('the collector is stopping');
        // Only what this process acknowledged: the ranges are sorted and the batch in seq order.
        const mine = batch.filter((m) => {
          while (r < ranges.length && ranges[r]![1] < m.seq) r++;
          return r < ranges.length && ranges[r]![0] <= m.seq;
        });
        if (mine.length === 0) return;
        const counts = await deps.apply(mine);
        // Written again and acknowledged by the Redis of now: a loss within the window after
        // this one (a second failover) replays them again.
        acks.record(
          mine.map((m) => m.seq),
          clock.now(),
        );
        restored += counts.restored;
        present += counts.present;
      },
    );
    metrics.health.eventsReplayed.inc({ result: 'restored' }, restored);
    metrics.health.eventsReplayed.inc({ result: 'present' }, present);
    const fields = {
      lostAt: new Date(lostAt).toISOString(),
      windowMs,
      fromSeq: read.fromSeq,
      toSeq: read.toSeq,
      restored,
      present,
    };
    if (restored > 0) log.warn(fields, 'Redis had lost acknowledged events; replayed them from the stream');
    else log.info(fields, 'replayed the events acknowledged before losing Redis: none was missing');
  }

  /** Queues a replay for the loss at `at`; one queued and not started yet takes it over. */
  function schedule(at: number): Promise<void> {
    if (stopped) return chain;
    dueLostAtMs = earliest(dueLostAtMs, at);
    if (!queued) {
      // One running may have written to a master that is going away: this one runs after it.
      queued = true;
      chain = chain.then(replay);
    }
    return chain;
  }

  return {
    acked(msgs) {
      if (windowMs === 0) return;
      const now = clock.now();
      acks.record(
        msgs.map((m) => m.seq),
        now,
      );
      // What was acknowledged before a loss not replayed yet is kept until it is.
      acks.prune((earliest(now, lostAtMs, dueLostAtMs, runningLostAtMs, failedLostAtMs) ?? now) - windowMs);
    },
    lost() {
      if (windowMs === 0) return;
      lostAtMs ??= clock.now();
    },
    restored() {
      if (lostAtMs === undefined) return chain;
      const at = lostAtMs;
      lostAtMs = undefined;
      return schedule(at);
    },
    retryFailed() {
      if (failedLostAtMs === undefined) return Promise.resolve();
      const at = failedLostAtMs;
      failedLostAtMs = undefined;
      return schedule(at);
    },
    get replaying() {
      return queued || runningLostAtMs !== undefined;
    },
    stop() {
      stopped = true;
      return chain;
    },
  };
}
