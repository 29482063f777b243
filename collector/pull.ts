import type { ConsumeMessages, ConsumerMessages } from '@nats-io/jetstream';
import type { Logger } from '../lib/log.js';
import type { CollectorConfig } from './config.js';

// The durable consumer's pull requests (nats.js `consume()`). A pull request waits on the
// consumer's leader only: JetStream does not replicate it. When that leader is lost (SIGKILL) or
// moves (a drain's lame duck mode, a stepdown: nats-server answers `409 Leadership Change`, which
// nats.js 3.3 drops without pulling again), the new leader holds no request and delivers nothing.
// nats.js pulls again only when the request expires (an answer that never comes from a lost node)
// or after two of its idle heartbeats were missed; and before pulling again it asks for the
// consumer's info, retried one expiry later when that fails, as it does while the consumer elects
// its new leader. With nats.js's defaults (expiry 30 s, heartbeat 15 s) the collector applied
// nothing for 30-45 s after such a loss (docs/scaling.md, "NATS in Kubernetes"). Here the
// heartbeat is half an expiry of 2 s, and `bind` skips the info: a lost request is replaced 2-3 s
// after its last sign of life (the new leader's `409 Leadership Change` counts as one), and again
// at each missed heartbeat until a leader takes it (events flow once a new leader is elected:
// 1.2-10.6 s after a SIGKILL in the tests, the election included). The cost: one pull request per replica every
// 2 s while the stream is idle, and a heartbeat a second.

/** How often the same notification kind may be logged: a flapping cluster must not flood the log. */
const LOG_INTERVAL_MS = 60_000;

/**
 * The options of the durable consumer's consume(): `max_messages` 2 batches, `expires` the
 * --pull-expiry (ms; nats.js refuses under 1 s, config.ts does too), `idle_heartbeat` half of it
 * (ms; nats.js clamps it to 0.5-30 s), and `bind`: pull again without asking for the consumer's
 * info first (the collector created the durable consumer at start; the price is that a deleted
 * one is not reported as `consumer_not_found`).
 */
export function pullOptions(config: Pick<CollectorConfig, 'fetchBatch' | 'pullExpiryMs'>): ConsumeMessages {
  return {
    max_messages: config.fetchBatch * 2,
    expires: config.pullExpiryMs,
    idle_heartbeat: Math.floor(config.pullExpiryMs / 2),
    bind: true,
  };
}

/**
 * Logs what the consumer's status tells of a lost pull request or consumer (nats.js pulls again
 * by itself); at most one line per kind a minute. Calls `onGone` with the reason when the durable
 * consumer or its stream was deleted: with `bind`, nats.js then goes on pulling from nothing, and
 * only a restart (which creates the consumer again) reads on. Ends when `messages` is closed.
 */
export function watchPullStatus(
  messages: ConsumerMessages,
  log: Logger,
  now: () => number,
  onGone: (reason: string) => void,
): void {
  const last = new Map<string, number>();
  const once = (kind: string) => {
    const at = now();
    const prev = last.get(kind);
    if (prev !== undefined && at - prev < LOG_INTERVAL_MS) return false;
    last.set(kind, at);
    return true;
  };
  void (async () => {
    for await (const s of messages.status()) {
      if (s.type === 'heartbeats_missed' && once(s.type)) {
        log.warn(
          { missed: s.count },
          'no answer to the pull request (its consumer leader lost or moved): pulling again; further ones are not logged for a minute',
        );
      } else if (
        s.type === 'consumer_deleted' ||
        s.type === 'consumer_not_found' ||
        s.type === 'stream_not_found'
      ) {
        onGone(`the durable consumer is gone (${s.type})`);
      } else if (s.type === 'no_responders' && once(s.type)) {
        log.warn(
          { status: s.type },
          'no consumer leader took the pull request (a leader being elected, or the consumer deleted): pulling again at the next missed heartbeat',
        );
      }
    }
  })().catch(() => {
    // The status iterator ends with the messages; nothing to report.
  });
}
