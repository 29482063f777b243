import { DeliverPolicy, type JsMsg, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { streamSubjects } from '../contract/index.js';
import type { Logger } from '../lib/log.js';
import type { RedisClient } from '../lib/redis.js';
import type { CollectorConfig } from './config.js';
import { KEYS } from './keys.js';

// Redis restarted without persistence comes back empty, while the stream still holds the events
// and the durable consumer has long acknowledged them: nothing would ever apply them again. The
// applied-seq marker tells the two apart. It is created once (SET NX) when the collector finds
// Redis and the consumer both fresh, or after a rebuild, and afterwards only updated in place
// (SET XX) with the highest stream seq of each applied batch, so an empty Redis never grows it
// back by itself. A missing marker while the consumer has acknowledged messages means Redis lost
// its data: the collector re-reads the stream from its first message with an ordered consumer and
// applies everything again (applying is idempotent by event id, reports are order-free), while
// the durable consumer carries on. Events the stream no longer holds (past its max age or size)
// cannot come back; docs/collector.md says so.

export interface HistoryDeps {
  readonly nats: NatsConnection;
  readonly redis: RedisClient;
  readonly log: Logger;
  /** Applies replayed messages (no ack: an ordered consumer has none); retries until Redis answers. */
  readonly apply: (msgs: readonly JsMsg[]) => Promise<void>;
  /** Called with each rebuild's figures (tests and metrics). */
  readonly onRebuilt?: (result: RebuildResult) => void;
}

export interface RebuildResult {
  /** The stream seqs replayed, first to last; zero when the stream was empty. */
  readonly fromSeq: number;
  readonly toSeq: number;
  readonly messages: number;
}

export interface History {
  /** Checks the marker; creates it on a fresh start, rebuilds when Redis lost its data. Never rejects. */
  check(): Promise<void>;
  /** Records a batch applied by the durable consumer; checks the marker when it is gone. */
  applied(maxSeq: number): void;
  /** True while a rebuild runs: reports are partial, quiet rollouts must not be closed. */
  readonly rebuilding: boolean;
}

// A rebuild's fetches wait this long for messages before the next try.
const FETCH_EXPIRES_MS = 2000;

export function createHistory(config: CollectorConfig, deps: HistoryDeps): History {
  const { redis, log } = deps;
  let running: Promise<void> | undefined;
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

  async function replay(): Promise<RebuildResult> {
    const jsm = await jetstreamManager(deps.nats);
    const { state } = await jsm.streams.info(config.stream);
    const toSeq = state.last_seq;
    if (state.messages === 0) return { fromSeq: 0, toSeq: 0, messages: 0 };
    const consumer = await jetstream(deps.nats).consumers.get(config.stream, {
      filter_subjects: streamSubjects(config.subjectRoot),
      deliver_policy: DeliverPolicy.All,
    });
    let fromSeq = 0;
    let messages = 0;
    let last = 0;
    while (last < toSeq) {
      const batch: JsMsg[] = [];
      const iter = await consumer.fetch({ max_messages: config.fetchBatch, expires: FETCH_EXPIRES_MS });
      for await (const m of iter) {
        if (m.seq > toSeq) break;
        batch.push(m);
        if (m.seq >= toSeq) break;
      }
      if (batch.length === 0) {
        // Nothing past `last`: what remains up to toSeq was filtered out or purged meanwhile.
        const now = await jsm.streams.info(config.stream);
        if (now.state.last_seq <= last || now.state.messages === 0) break;
        continue;
      }
      fromSeq ||= batch[0]!.seq;
      last = batch.at(-1)!.seq;
      messages += batch.length;
      await deps.apply(batch);
    }
    return { fromSeq, toSeq: last, messages };
  }

  async function checkOnce(): Promise<void> {
    if ((await redis.exists(KEYS.appliedSeq)) === 1) return;
    const acked = await consumerAcked();
    if (acked === 0) {
      // A fresh Redis and a fresh consumer: the durable consumer delivers the whole stream anyway.
      await redis.set(KEYS.appliedSeq, '0', 'NX');
      return;
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
  }

  function check(): Promise<void> {
    running ??= checkOnce()
      .catch((err) => log.error({ error: (err as Error).message }, 'checking Redis history failed'))
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
