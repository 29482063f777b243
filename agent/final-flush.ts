import type { Logger } from '../lib/log.js';
import type { EventPublisher } from './publisher.js';

// The agent's last act (issue #16): deliver what is buffered while the pod's grace period allows,
// and say exactly what was not delivered (kinds and counts, never payloads), because a lost tail
// of events leaves no seq gap for the collector to notice.

// The final flush stops this long before the pod's grace deadline: time to log what was not
// delivered, close and exit before the kubelet's SIGKILL. It never gets less than FLUSH_MIN_MS, so
// an agent stopped outside a termination still tries once.
export const FLUSH_DEADLINE_MARGIN_MS = 1000;
const FLUSH_MIN_MS = 250;

/**
 * How long the final flush may run, in ms: until `FLUSH_DEADLINE_MARGIN_MS` before the grace
 * deadline, which is `graceSeconds` after the termination started (`terminationStartedAt`, clock
 * ms: the first preStop call, stopped-listening, exit or SIGTERM the agent saw; `now` when none was
 * seen), and at least 250 ms. With a native sidecar the agent is the pod's last container, so
 * nothing else needs that time.
 */
export function finalFlushBudgetMs(
  graceSeconds: number,
  terminationStartedAt: number | undefined,
  now: number,
): number {
  const start = terminationStartedAt ?? now;
  return Math.round(Math.max(FLUSH_MIN_MS, start + graceSeconds * 1000 - FLUSH_DEADLINE_MARGIN_MS - now));
}

/**
 * Flushes the publisher for `budgetMs` and logs the outcome: `final flush done` (info) or
 * `final flush gave up` (error) with the undelivered events counted by kind. Never throws.
 */
export async function runFinalFlush(publisher: EventPublisher, log: Logger, budgetMs: number): Promise<void> {
  log.info({ pending: publisher.stats().buffered, budgetMs }, 'final flush started');
  const outcome = await publisher.flush(budgetMs);
  const { published, dropped, buffered } = publisher.stats();
  // Every event made: acknowledged, still unacknowledged, or dropped from a full buffer.
  const emitted = published + buffered + dropped;
  if (outcome.delivered) {
    log.info(
      { emitted, published, dropped, failedAttempts: outcome.failedAttempts },
      'final flush done: every event acknowledged',
    );
    return;
  }
  const lost = Object.values(outcome.undelivered).reduce((a, b) => a + b, 0);
  log.error(
    { undelivered: outcome.undelivered, undeliveredTotal: lost, emitted, published, dropped, budgetMs },
    'final flush gave up near the grace deadline: these events were not acknowledged and are likely lost',
  );
}
