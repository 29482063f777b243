import type { AnyEvent } from '../../contract/index.js';
import { createEventSequencer } from '../../contract/validate.js';
import { SAMPLE_DATA } from './sample-events.js';

// The rollout the HA tests script (scale-cluster.test.ts publishes it, collector-order.test.ts
// shuffles it): a controller's start and finish, and pods terminating 5 s apart, each with
// preStop, SIGTERM, a traffic summary and its exit, at fixed times in namespace `shop`.

export interface HaRollout {
  /** The controller's rollout.started, at the rollout's start. */
  readonly started: AnyEvent;
  /** Per pod, its events in seq order. */
  readonly pods: readonly (readonly AnyEvent[])[];
  /** The controller's rollout.finished, 60 s after the start. */
  readonly finished: AnyEvent;
}

/**
 * `pods` pods of `workload` (named `<podPrefix>-<n>`, podPrefix the workload unless given), the
 * n-th starting its termination 1 s + n × 5 s after `t0Ms` (ms since the epoch).
 */
export function haRollout(options: {
  readonly workload: string;
  readonly rolloutId: string;
  readonly t0Ms: number;
  readonly pods: number;
  readonly podPrefix?: string;
}): HaRollout {
  const { workload, rolloutId, pods } = options;
  const at = (ms: number) => new Date(options.t0Ms + ms);
  const ro = createEventSequencer({ namespace: 'shop', workload, pod: null }, `ctl-${rolloutId}`);
  const started = ro.next('rollout.started', { rolloutId, trigger: 'cli' }, at(0));
  const finished = ro.next(
    'rollout.finished',
    { rolloutId, outcome: 'complete', podsReplaced: pods },
    at(60_000),
  );
  const podEvents = Array.from({ length: pods }, (_, p) => {
    const pod = `${options.podPrefix ?? workload}-${p}`;
    const s = createEventSequencer({ namespace: 'shop', workload, pod }, `i-${pod}`);
    const start = 1000 + p * 5000;
    return [
      s.next('prestop.started', SAMPLE_DATA['prestop.started'], at(start)),
      s.next('sigterm', SAMPLE_DATA.sigterm, at(start + 100)),
      s.next('traffic.summary', SAMPLE_DATA['traffic.summary'], at(start + 2000)),
      s.next('app.exited', SAMPLE_DATA['app.exited'], at(start + 3000)),
    ];
  });
  return { started, pods: podEvents, finished };
}
