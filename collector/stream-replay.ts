import { DeliverPolicy, type JsMsg, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { streamSubjects } from '../contract/index.js';
import type { CollectorConfig } from './config.js';

// Re-reading the stream with an ordered consumer (no ack, no state on the server beyond its
// life): a rebuild reads it from its first message (history.ts), a replay after a Redis loss from
// the first message this collector acknowledged in the replay window (recovery.ts). The durable
// consumer carries on meanwhile; applying is idempotent by event id, so what both apply is a no-op.

export interface StreamRange {
  /** First stream seq to read; undefined: the stream's first message. */
  readonly fromSeq?: number;
  /** Last stream seq to read; undefined: the stream's last seq when the read starts. */
  readonly toSeq?: number;
}

export interface StreamReadResult {
  /** The stream seqs read, first to last; zero when nothing was read. */
  readonly fromSeq: number;
  readonly toSeq: number;
  readonly messages: number;
}

// A fetch waits this long for messages before the next try.
const FETCH_EXPIRES_MS = 2000;

/**
 * Reads `range` of the collector's stream (its subjects only) in batches of config.fetchBatch and
 * hands each to `onBatch`, awaited, in seq order. Messages purged meanwhile are skipped. Rejects
 * with the NATS error when the stream cannot be read.
 */
export async function readStream(
  nats: NatsConnection,
  config: CollectorConfig,
  range: StreamRange,
  onBatch: (msgs: readonly JsMsg[]) => Promise<void>,
): Promise<StreamReadResult> {
  const jsm = await jetstreamManager(nats);
  const { state } = await jsm.streams.info(config.stream);
  const toSeq = Math.min(range.toSeq ?? state.last_seq, state.last_seq);
  if (state.messages === 0 || toSeq < (range.fromSeq ?? 1)) return { fromSeq: 0, toSeq: 0, messages: 0 };
  const consumer = await jetstream(nats).consumers.get(config.stream, {
    filter_subjects: streamSubjects(config.subjectRoot),
    ...(range.fromSeq === undefined
      ? { deliver_policy: DeliverPolicy.All }
      : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: range.fromSeq }),
  });
  let fromSeq = 0;
  let messages = 0;
  let last = (range.fromSeq ?? 1) - 1;
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
    await onBatch(batch);
  }
  return { fromSeq, toSeq: messages > 0 ? last : 0, messages };
}
