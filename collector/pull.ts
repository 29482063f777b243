import type { ConsumeMessages, ConsumerMessages } from '@nats-io/jetstream';
import type { Logger } from '../lib/log.js';
import type { CollectorConfig } from './config.js';

// The durable consumer's pull requests (nats.js `consume()`). A pull request waits on the
// consumer's leader only: JetStream does not replicate it. When that leader is lost (SIGKILL) or
// moves (a drain's lame duck mode, a stepdown: nats-server answers `409 Leadership Change`, which
// nats.js 3.3 ignores), the new leader holds no request and delivers nothing. nats.js pulls again
// only when the request expires (an answer that never comes from a lost node) or after two of its
// idle heartbeats were missed. With nats.js's defaults (expiry 30 s, heartbeat 15 s) the collector
// applied nothing for 30-45 s after such a loss (docs/scaling.md, "NATS in Kubernetes"); the
// heartbeat is half the expiry here too, so a lost request is noticed 1-1.5 expiries after its
// last sign of life.

/** How often the same notification kind may be logged: a flapping cluster must not flood the log. */
const LOG_INTERVAL_MS = 60_000;

/**
 * The options of the durable consumer's consume(): `max_messages` 2 batches, `expires` the
 * --pull-expiry (ms; nats.js refuses under 1 s, config.ts does too), `idle_heartbeat` half of it
 * (ms; nats.js clamps it to 0.5-30 s).
 */
export function pullOptions(config: Pick<CollectorConfig, 'fetchBatch' | 'pullExpiryMs'>): ConsumeMessages {
  return {
    max_messages: config.fetchBatch * 2,
    expires: config.pullExpiryMs,
    idle_heartbeat: Math.floor(config.pullExpiryMs / 2),
  };
}

/**
 * Logs what the consumer's status tells of a lost pull request or consumer (nats.js already pulls
 * again, or keeps looking for the consumer, by itself); at most one line per kind a minute. Ends
 * when `messages` is closed.
 */
export function watchPullStatus(messages: ConsumerMessages, log: Logger, now: () => number): void {
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
        (s.type === 'consumer_not_found' || s.type === 'consumer_deleted' || s.type === 'stream_not_found') &&
        once(s.type)
      ) {
        log.warn({ status: s.type }, 'the durable consumer is not found: looking for it again');
      }
    }
  })().catch(() => {
    // The status iterator ends with the messages; nothing to report.
  });
}
