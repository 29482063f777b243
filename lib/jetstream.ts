import type { JetStreamClient, JetStreamManager, StreamInfo } from '@nats-io/jetstream';
import { DiscardPolicy, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import {
  type AnyEvent,
  DEFAULT_STREAM_NAME,
  DEFAULT_SUBJECT_ROOT,
  type DrainwatchEvent,
  encodeEvent,
  streamSubjects,
  subjectOf,
} from '../contract/index.js';

export interface StreamOptions {
  /** Stream name; tests use their own so they never see each other's events. */
  readonly name?: string;
  /** Subject root; the stream takes `<root>.v1.>`. */
  readonly root?: string;
  /** How long events are kept. */
  readonly maxAgeSeconds?: number;
  /** Bytes kept at most; the oldest events go first. */
  readonly maxBytes?: number;
  /** The window in which a repeated message id is dropped as a duplicate. */
  readonly duplicateWindowSeconds?: number;
  /** Copies JetStream keeps (1 on a single server; 3 on a 3-node cluster survives one node's loss). */
  readonly replicas?: number;
}

export const STREAM_DEFAULTS = {
  name: DEFAULT_STREAM_NAME,
  root: DEFAULT_SUBJECT_ROOT,
  maxAgeSeconds: 7 * 24 * 3600,
  maxBytes: 1024 * 1024 * 1024,
  // An agent may buffer through a long NATS outage and replay: dedup must cover that.
  duplicateWindowSeconds: 10 * 60,
  replicas: 1,
} as const;

/** The stream asks for more replicas than the JetStream cluster has servers. */
export class StreamReplicasError extends Error {
  readonly code = 'stream-replicas';
  constructor(replicas: number, detail: string) {
    super(
      `JetStream cannot keep ${replicas} replicas of the stream (${detail}); set --stream-replicas / DRAINWATCH_STREAM_REPLICAS to at most the number of JetStream servers`,
    );
    this.name = 'StreamReplicasError';
  }
}

const NANOS = 1_000_000_000;

/** Creates the stream if it is missing; an existing stream is left as its operator configured it. */
export async function ensureStream(jsm: JetStreamManager, options: StreamOptions = {}): Promise<StreamInfo> {
  const o = { ...STREAM_DEFAULTS, ...options };
  try {
    return await jsm.streams.info(o.name);
  } catch (err) {
    if (!isStreamNotFound(err)) throw err;
  }
  try {
    return await jsm.streams.add({
      name: o.name,
      subjects: [streamSubjects(o.root)],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      discard: DiscardPolicy.Old,
      max_age: o.maxAgeSeconds * NANOS,
      max_bytes: o.maxBytes,
      duplicate_window: Math.min(o.duplicateWindowSeconds, o.maxAgeSeconds) * NANOS,
      num_replicas: o.replicas,
    });
  } catch (err) {
    const message = String((err as Error).message);
    if (
      o.replicas > 1 &&
      /insufficient resources|replicas > 1 not supported|no suitable peers/i.test(message)
    ) {
      throw new StreamReplicasError(o.replicas, message);
    }
    // Two collectors starting together: the loser of the race finds the winner's stream.
    if (/already in use|name already/i.test(message)) return jsm.streams.info(o.name);
    throw err;
  }
}

function isStreamNotFound(err: unknown): boolean {
  const e = err as { code?: unknown; api_error?: { err_code?: number }; message?: string };
  return e?.api_error?.err_code === 10059 || /stream not found/i.test(String(e?.message));
}

export interface PublishResult {
  readonly seq: number;
  readonly duplicate: boolean;
}

/** Publishes with the event id as the JetStream message id, so a replayed event is stored once. */
export async function publishEvent(
  js: JetStreamClient,
  event: AnyEvent | DrainwatchEvent,
  options: { root?: string; timeoutMs?: number } = {},
): Promise<PublishResult> {
  const ack = await js.publish(subjectOf(event, options.root), encodeEvent(event), {
    msgID: event.id,
    timeout: options.timeoutMs ?? 5000,
  });
  return { seq: ack.seq, duplicate: ack.duplicate };
}
