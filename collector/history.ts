import { type JsMsg, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from '../lib/log.js';
import type { RedisClient } from '../lib/redis.js';
import type { CollectorConfig } from './config.js';
import { KEYS } from './keys.js';
import { readStream, type StreamReadResult } from './stream-replay.js';

// Redis restarted without persistence comes back empty, while the stream still holds the events
// and the durable consumer has long acknowledged them: nothing would ever apply them again. The
// applied-seq marker tells the two apart. It is created once (SET NX) when the collector finds
// Redis and the consumer both fresh, or after a rebuild, and afterwards only updated in place
// (SET XX) with the highest stream seq of each applied batch, so an empty Redis never grows it
// back by itself. A missing marker while the consumer has acknowledged messages means Redis lost
// its data: the collector re-reads the stream from its first message with an ordered consumer and
// applies everything again (applying is idempotent by event id, reports are order-free), while
// the durable consumer carries on. Events the stream no longer holds (past its max age or size)
// cannot come back; docs/collector.md says so. A Redis that lost only its last writes (a failover,
// a crash) keeps the marker: recovery.ts replays the recent window for that.

export interface HistoryDeps {
  readonly nats: NatsConnection;
  readonly redis: RedisClient;
  readonly log: Logger;
  /** Applies replayed messages (no ack: an ordered consumer has none); retries until Redis answers. */
  readonly apply: (msgs: readonly JsMsg[]) => Promise<void>;
  /** Called with each rebuild's figures (tests and metrics). */
  readonly onRebuilt?: (result: RebuildResult) => void;
}

/** The stream seqs replayed, first to last (zero when the stream was empty), and how many. */
export type RebuildResult = StreamReadResult;

export interface History {
  /**
   * Checks the marker; creates it on a fresh start, rebuilds when Redis lost its data. Resolves
   * true when it rebuilt (this call or the check already running), false otherwise; never rejects.
   */
  check(): Promise<boolean>;
  /** Records a batch applied by the durable consumer; checks the marker when it is gone. */
  applied(maxSeq: number): void;
  /** True while a rebuild runs: reports are partial, quiet rollouts must not be closed. */
  readonly rebuilding: boolean;
}

export function createHistory(config: CollectorConfig, deps: HistoryDeps): History {
  const { redis, log } = deps;
  let running: Promise<boolean> | undefined;
  let rebuilding = false;

  async function consumerAcked(): Promise<number> {
    const jsm = await jetstreamManager(deps.nats);
    try {
      const info = await jsm.consumers.info(config.stream, config.consumer);
      return info.ack_floor.stream_seq;
    } catch {
      return 0; // no durable consumer yet: nothing was ever acknowledged
    }
  }

  function replay(): Promise<RebuildResult> {
    return readStream(deps.nats, config, {}, deps.apply);
  }

  async function checkOnce(): Promise<boolean> {
    if ((await redis.exists(KEYS.appliedSeq)) === 1) return false;
    const acked = await consumerAcked();
    if (acked === 0) {
      // A fresh Redis and a fresh consumer: the durable consumer delivers the whole stream anyway.
      await redis.set(KEYS.appliedSeq, '0', 'NX');
      return false;
    }
    rebuilding = true;
    log.warn(
      { consumerAckedSeq: acked },
      'Redis lost its data (applied-seq marker missing); rebuilding from the stream',
    );
    // Set now, so a Redis that restarts again during the rebuild is noticed at its end.
    await redis.set(KEYS.appliedSeq, '0');
    const result = await replay();
    const kept = await redis.set(KEYS.appliedSeq, String(result.toSeq), 'XX');
    log.info({ ...result }, 'rebuilt Redis state from the stream');
    deps.onRebuilt?.(result);
    if (kept === null) {
      log.warn('Redis lost its data again during the rebuild; rebuilding once more');
      await checkOnce();
    }
    return true;
  }

  function check(): Promise<boolean> {
    running ??= checkOnce()
      .catch((err) => {
        log.error({ error: (err as Error).message }, 'checking Redis history failed');
        return false;
      })
      .finally(() => {
        rebuilding = false;
        running = undefined;
      });
    return running;
  }

  return {
    check,
    applied(maxSeq) {
      if (running) return;
      redis.set(KEYS.appliedSeq, String(maxSeq), 'XX').then(
        (ok) => {
          if (ok === null) void check();
        },
        () => undefined, // Redis down: the next batch or the refresh loop checks again
      );
    },
    get rebuilding() {
      return rebuilding;
    },
  };
}
