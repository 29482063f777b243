import type { Clock } from './time.js';
import type { Emit, Traffic } from './traffic.js';

// The periodic traffic.summary event: the traffic counters since the previous summary, every
// DRAINWATCH_SUMMARY_INTERVAL while the agent runs, and a last one as it stops.

export interface TrafficSummariesOptions {
  readonly clock: Clock;
  readonly traffic: Traffic;
  readonly emit: Emit;
  /** Events dropped so far by the publisher's full buffer, with the one this summary's push drops. */
  readonly eventsDropped: () => number;
}

export interface TrafficSummaries {
  /** Emits a summary every intervalMs from now on (the timer never holds the process open). */
  start(intervalMs: number): void;
  stop(): void;
  /** Emits a summary now, covering the time since the previous one (or since creation). */
  emitNow(): void;
}

export function createTrafficSummaries(options: TrafficSummariesOptions): TrafficSummaries {
  const { clock, traffic, emit } = options;
  let lastAt = clock.now();
  let timer: NodeJS.Timeout | undefined;
  const emitNow = (): void => {
    const now = clock.now();
    const interval = traffic.takeInterval();
    emit('traffic.summary', {
      intervalMs: Math.max(0, now - lastAt),
      phase: traffic.phase,
      requests: interval.requests,
      failed: interval.failed,
      inFlight: traffic.inFlight,
      websockets: traffic.websockets,
      lateArrivals: interval.lateArrivals,
      healthChecks: interval.healthChecks,
      healthChecksFailed: interval.healthChecksFailed,
      eventsDropped: options.eventsDropped(),
      // Only pods that tunnel TCP carry the fields: HTTP pods' summaries stay as they were.
      ...(interval.tcpOpened > 0 || traffic.tcpOpen > 0
        ? { tcpOpened: interval.tcpOpened, tcpOpen: traffic.tcpOpen }
        : {}),
    });
    lastAt = now;
  };
  return {
    start(intervalMs) {
      timer = setInterval(emitNow, intervalMs);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
    },
    emitNow,
  };
}
